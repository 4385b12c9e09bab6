// stai — AnnData .h5ad reader and writer (HDF5 C API).
//
// Reads both on-disk layouts found in the wild:
//  * anndata >= 0.8: every element carries encoding-type / encoding-version;
//    obs/var are "dataframe" groups (attribute _index names the index
//    dataset, column-order lists the columns); categoricals are groups with
//    "categories" and "codes"; sparse matrices are groups "csr_matrix" /
//    "csc_matrix" with a "shape" attribute and data / indices / indptr.
//  * older files: anndata 0.7 dataframes without encodings whose categorical
//    columns are integer codes with a "categories" object-reference attribute
//    (pointing into __categories/); anndata <= 0.6 obs/var as compound
//    (structured) datasets whose categoricals keep their categories in
//    /uns/<column>_categories; sparse groups marked by h5sparse_format
//    ("csr"/"csc") and h5sparse_shape.
// X may be dense (float32/64, (u)int8..64) or sparse CSR/CSC with int32 or
// int64 indices. A gene subset is read without densifying the full matrix.
//
// Writes the current layout (anndata 0.8+ encodings), atomically.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../data/anndata.hpp"
#include "../data/names.hpp"
#include "atomic_file.hpp"
#include "hdf5.hpp"

namespace stai {

struct H5adReadOptions {
  /// "" reads X; otherwise the matrix /layers/<layer> (e.g. "counts").
  std::string layer;
  /// Read /raw/X and /raw/var instead of X and var (obs and obsm are shared).
  bool use_raw = false;
  /// Genes (var names) to read, in this order; empty = all genes. For sparse
  /// X only the requested columns are materialised.
  std::vector<std::string> genes;
  /// obs columns to load; std::nullopt = all, {} = none.
  std::optional<std::vector<std::string>> obs_columns;
  /// obsm keys to load; std::nullopt = all, {} = none.
  std::optional<std::vector<std::string>> obsm_keys;
  /// Load var columns (restricted to the selected genes).
  bool var_columns = true;
  /// Load uns scalars / small arrays as text (best effort; other entries skipped).
  bool uns = true;
  /// Accept a matrix with zero cells or zero genes (otherwise an error).
  bool allow_empty = false;
};

struct H5adWriteOptions {
  int gzip_level = 0;  ///< 0 = uncompressed; 1..9 = gzip-compressed X and obsm
};

namespace h5ad_detail {

inline std::string encoding_of(const h5::Object& o) {
  return o.attr_string_or("encoding-type", "");
}

inline std::string format_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

/// Strings of a dataset that may hold strings or numbers (e.g. categories, index).
inline std::vector<std::string> read_labels(const h5::Dataset& d) {
  auto t = d.type();
  if (t.cls == h5::TypeInfo::Class::String) return d.read_strings();
  if (t.numeric()) {
    auto v = d.read<double>();
    std::vector<std::string> s(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) s[i] = format_number(v[i]);
    return s;
  }
  d.fail(std::string("expected strings or numbers as labels but found ") + t.name());
}

/// codes (-1 = missing) + categories -> strings.
inline Column decode_categorical(const std::vector<std::int64_t>& codes,
                                 std::vector<std::string> categories, const std::string& file,
                                 const std::string& where) {
  std::set<std::string> seen;
  for (auto& c : categories)
    if (!seen.insert(c).second)
      h5::fail(file, where, "categories contain the duplicate '" + c + "'");
  std::vector<std::string> s(codes.size());
  const auto ncat = static_cast<std::int64_t>(categories.size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::int64_t c = codes[i];
    if (c == -1) continue;  // missing value -> ""
    if (c < 0 || c >= ncat)
      h5::fail(file, where,
               detail::concat("categorical code ", c, " at position ", i,
                              " is out of range (there are ", ncat, " categories)"));
    s[i] = categories[static_cast<std::size_t>(c)];
  }
  Column col = Column::strings(std::move(s), true);
  col.categories = std::move(categories);
  return col;
}

/// A dataframe as read from disk.
struct Frame {
  std::vector<std::string> index;
  bool has_index = false;  ///< false: no index stored (rows are named by position)
  std::map<std::string, Column> columns;
};

inline Column read_column_group(const h5::Group& g) {
  const std::string enc = encoding_of(g);
  if (enc == "categorical" || (enc.empty() && g.has_dataset("codes") && g.has_dataset("categories"))) {
    auto cats = read_labels(g.dataset("categories"));
    auto codes_ds = g.dataset("codes");
    if (!codes_ds.type().numeric())
      codes_ds.fail("categorical codes must be integers");
    auto codes = codes_ds.read<std::int64_t>();
    return decode_categorical(codes, std::move(cats), g.file(), g.path());
  }
  if (enc == "nullable-integer" || enc == "nullable-boolean" || enc == "nullable-float") {
    auto vals = g.dataset("values").read<double>();
    auto mask = g.dataset("mask").read<std::int64_t>();
    if (mask.size() != vals.size())
      g.fail(detail::concat("mask has ", mask.size(), " entries but values has ", vals.size()));
    for (std::size_t i = 0; i < vals.size(); ++i)
      if (mask[i]) vals[i] = std::nan("");
    return Column::numeric(std::move(vals));
  }
  g.fail("column has unsupported encoding '" + enc +
         "' (stai reads numeric, string, categorical and nullable columns); drop it or "
         "exclude it with the obs_columns option");
}

inline Column read_column_dataset(const h5::Dataset& d, const h5::Group* uns,
                                  const std::string& col_name) {
  auto t = d.type();
  if (d.rank() != 1)
    d.fail(detail::concat("column must be 1-D but has rank ", d.rank()));
  if (t.cls == h5::TypeInfo::Class::String) return Column::strings(d.read_strings(), false);
  if (!t.numeric())
    d.fail(std::string("column holds ") + t.name() + " values; expected numbers or strings");
  // anndata 0.7: integer codes with an object reference to the categories.
  if (d.has_attr("categories")) {
    std::vector<std::string> cats;
    if (d.attr_type("categories").cls == h5::TypeInfo::Class::Reference) {
      std::string p = d.attr_reference_path("categories");
      h5::Group root(h5::Hid(H5Oopen(d.id(), "/", H5P_DEFAULT)), d.file(), "/");
      cats = read_labels(root.dataset_at(p));
    } else {
      cats = d.attr_strings("categories");
    }
    return decode_categorical(d.read<std::int64_t>(), std::move(cats), d.file(), d.path());
  }
  // anndata <= 0.6: categories in /uns/<col>_categories.
  if (uns && t.cls == h5::TypeInfo::Class::Integer && uns->has_dataset(col_name + "_categories"))
    return decode_categorical(d.read<std::int64_t>(),
                              read_labels(uns->dataset(col_name + "_categories")), d.file(),
                              d.path());
  return Column::numeric(d.read<double>());
}

inline void check_wanted(const std::vector<std::string>& available,
                         const std::vector<std::string>& wanted, const std::string& file,
                         const std::string& where) {
  for (const auto& w : wanted)
    if (std::find(available.begin(), available.end(), w) == available.end()) {
      std::string list;
      for (std::size_t i = 0; i < available.size() && i < 30; ++i)
        list += (i ? ", " : "") + available[i];
      h5::fail(file, where, "has no column '" + w + "'; available: " + (list.empty() ? "(none)" : list));
    }
}

/// Reads a dataframe stored either as a group (anndata >= 0.7) or as a
/// compound dataset (anndata <= 0.6). `wanted` = nullopt reads all columns.
inline Frame read_frame(const h5::Group& parent, const std::string& name,
                        const std::optional<std::vector<std::string>>& wanted,
                        const h5::Group* uns) {
  Frame fr;
  const auto kind = parent.kind(name);
  if (kind == h5::Group::Kind::Missing)
    parent.fail("'" + name + "' is missing; this does not look like an AnnData file");
  if (kind == h5::Group::Kind::Dataset) {
    // Legacy structured array.
    auto d = parent.dataset(name);
    if (d.type().cls != h5::TypeInfo::Class::Compound)
      d.fail("expected a dataframe (group or compound dataset) but found a plain array");
    if (d.rank() != 1) d.fail("compound dataframe must be 1-D");
    auto members = d.member_names();
    std::string index_name;
    for (const char* cand : {"index", "_index"})
      if (std::find(members.begin(), members.end(), cand) != members.end()) {
        index_name = cand;
        break;
      }
    if (!index_name.empty()) {
      fr.has_index = true;
      if (d.member_type(index_name).cls == h5::TypeInfo::Class::String)
        fr.index = d.read_member_strings(index_name);
      else {
        auto v = d.read_member_numeric(index_name);
        for (double x : v) fr.index.push_back(format_number(x));
      }
    } else {
      h5::check_alloc(d.file(), d.path(), d.size(), 32, "the index");
      for (std::uint64_t i = 0; i < d.size(); ++i) fr.index.push_back(std::to_string(i));
      fr.has_index = true;
    }
    std::vector<std::string> cols;
    for (auto& m : members)
      if (m != index_name) cols.push_back(m);
    if (wanted) {
      check_wanted(cols, *wanted, d.file(), d.path());
      cols = *wanted;
    }
    for (auto& c : cols) {
      auto t = d.member_type(c);
      if (t.cls == h5::TypeInfo::Class::String) {
        fr.columns[c] = Column::strings(d.read_member_strings(c), false);
      } else if (t.numeric()) {
        auto v = d.read_member_numeric(c);
        if (uns && t.cls == h5::TypeInfo::Class::Integer && uns->has_dataset(c + "_categories")) {
          std::vector<std::int64_t> codes(v.begin(), v.end());
          fr.columns[c] = decode_categorical(codes, read_labels(uns->dataset(c + "_categories")),
                                             d.file(), d.path() + "." + c);
        } else {
          fr.columns[c] = Column::numeric(std::move(v));
        }
      } else {
        h5::fail(d.file(), d.path() + "." + c,
                 std::string("field holds ") + t.name() + " values; expected numbers or strings");
      }
    }
    return fr;
  }
  if (kind != h5::Group::Kind::Group) parent.fail("'" + name + "' is neither a group nor a dataset");
  auto g = parent.group(name);
  const std::string enc = encoding_of(g);
  if (!enc.empty() && enc != "dataframe")
    g.fail("expected a dataframe but the encoding-type is '" + enc + "'");

  std::string index_name = g.attr_string_or("_index", "");
  if (index_name.empty()) index_name = g.has("_index") ? "_index" : (g.has("index") ? "index" : "");
  if (!index_name.empty()) {
    if (!g.has_dataset(index_name))
      g.fail("the index dataset '" + index_name + "' named by the _index attribute is missing");
    fr.index = read_labels(g.dataset(index_name));
    fr.has_index = true;
  }

  std::vector<std::string> cols;
  bool have_order = false;
  if (g.has_attr("column-order") && g.attr_type("column-order").cls == h5::TypeInfo::Class::String) {
    cols = g.attr_strings("column-order");
    have_order = true;
  } else if (g.has_attr("column-order") && g.attr_size("column-order") == 0) {
    have_order = true;  // anndata writes an empty float array when there are no columns
  }
  if (!have_order)
    for (auto& c : g.children())
      if (c != index_name && c != "__categories") cols.push_back(c);
  for (auto& c : cols)
    if (!g.has(c)) g.fail("column '" + c + "' is listed in column-order but missing");
  if (wanted) {
    check_wanted(cols, *wanted, g.file(), g.path());
    cols = *wanted;
  }
  for (auto& c : cols) {
    auto k = g.kind(c);
    if (k == h5::Group::Kind::Group) fr.columns[c] = read_column_group(g.group(c));
    else if (k == h5::Group::Kind::Dataset) fr.columns[c] = read_column_dataset(g.dataset(c), uns, c);
    else g.fail("column '" + c + "' is neither a dataset nor a group");
  }
  return fr;
}

/// Sparse matrix description, or nullopt for a dense dataset.
struct SparseInfo {
  bool csr = true;
  std::uint64_t rows = 0, cols = 0;
};

inline SparseInfo sparse_info(const h5::Group& g) {
  SparseInfo s;
  const std::string enc = encoding_of(g);
  std::string fmt;
  if (enc == "csr_matrix") fmt = "csr";
  else if (enc == "csc_matrix") fmt = "csc";
  else if (enc.empty() && g.has_attr("h5sparse_format")) fmt = g.attr_string("h5sparse_format");
  else if (!enc.empty())
    g.fail("matrix has encoding-type '" + enc + "'; expected a dense array, csr_matrix or csc_matrix");
  else
    g.fail("group is not a sparse matrix (no encoding-type or h5sparse_format attribute)");
  if (fmt != "csr" && fmt != "csc") g.fail("unknown sparse format '" + fmt + "' (expected csr or csc)");
  s.csr = fmt == "csr";
  const char* shape_attr = g.has_attr("shape") ? "shape" : "h5sparse_shape";
  if (!g.has_attr(shape_attr)) g.fail("sparse matrix has no 'shape' (or 'h5sparse_shape') attribute");
  auto shape = g.attr_int64s(shape_attr);
  if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0)
    g.fail("sparse matrix shape must be two non-negative integers");
  s.rows = static_cast<std::uint64_t>(shape[0]);
  s.cols = static_cast<std::uint64_t>(shape[1]);
  return s;
}

/// Reads a dense or sparse matrix element into a cells x selected-genes float matrix.
/// `cols` lists the source columns to keep (in output order); nullptr = all.
inline RowMatrix<float> read_matrix(const h5::Group& parent, const std::string& name,
                                    const std::vector<index_t>* cols) {
  const auto kind = parent.kind(name);
  if (kind == h5::Group::Kind::Missing) parent.fail("matrix '" + name + "' is missing");
  RowMatrix<float> out;
  if (kind == h5::Group::Kind::Dataset) {
    auto d = parent.dataset(name);
    auto t = d.type();
    if (t.cls != h5::TypeInfo::Class::Integer && t.cls != h5::TypeInfo::Class::Float)
      d.fail(std::string("the matrix holds ") + t.name() +
             " values; expected numbers (float or integer)");
    auto dims = d.dims();
    if (dims.size() != 2) d.fail(detail::concat("the matrix must be 2-D but has rank ", dims.size()));
    const std::uint64_t n = dims[0], m = dims[1];
    if (!cols) {
      h5::check_alloc(d.file(), d.path(), n * (m ? m : 1), sizeof(float), "the matrix");
      out.resize(static_cast<index_t>(n), static_cast<index_t>(m));
      d.read_into(out.data(), n * m);
      return out;
    }
    for (index_t c : *cols)
      if (c < 0 || static_cast<std::uint64_t>(c) >= m) d.fail("gene column out of range");
    const auto k = static_cast<index_t>(cols->size());
    h5::check_alloc(d.file(), d.path(), n * std::max<std::uint64_t>(k, 1), sizeof(float), "the matrix");
    out.resize(static_cast<index_t>(n), k);
    if (n == 0 || k == 0) return out;
    const std::uint64_t block = std::max<std::uint64_t>(1, (std::uint64_t(1) << 22) / std::max<std::uint64_t>(m, 1));
    std::vector<float> buf(static_cast<std::size_t>(std::min(block, n) * m));
    for (std::uint64_t r0 = 0; r0 < n; r0 += block) {
      const std::uint64_t nb = std::min(block, n - r0);
      d.read_rows(r0, nb, buf.data());
      for (std::uint64_t r = 0; r < nb; ++r)
        for (index_t c = 0; c < k; ++c)
          out(static_cast<index_t>(r0 + r), c) = buf[r * m + static_cast<std::uint64_t>((*cols)[c])];
    }
    return out;
  }
  if (kind != h5::Group::Kind::Group) parent.fail("'" + name + "' is neither a dataset nor a group");
  auto g = parent.group(name);
  const SparseInfo si = sparse_info(g);
  auto data = g.dataset("data");
  auto indices = g.dataset("indices");
  auto indptr = g.dataset("indptr");
  for (auto* d : {&data, &indices, &indptr})
    if (d->rank() != 1) d->fail("must be 1-D");
  if (!data.type().numeric() || data.type().cls == h5::TypeInfo::Class::Enum)
    data.fail(std::string("sparse values hold ") + data.type().name() + " values; expected numbers");
  if (indices.type().cls != h5::TypeInfo::Class::Integer)
    indices.fail(std::string("sparse indices must be integers but are ") + indices.type().name());
  if (indptr.type().cls != h5::TypeInfo::Class::Integer)
    indptr.fail(std::string("sparse indptr must be integers but is ") + indptr.type().name());
  const std::uint64_t major = si.csr ? si.rows : si.cols;
  const std::uint64_t minor = si.csr ? si.cols : si.rows;
  const std::uint64_t nnz = data.size();
  if (indices.size() != nnz)
    g.fail(detail::concat("indices has ", indices.size(), " entries but data has ", nnz,
                          "; the sparse matrix is corrupt"));
  if (indptr.size() != major + 1)
    indptr.fail(detail::concat("has ", indptr.size(), " entries but the ", si.csr ? "CSR" : "CSC",
                               " matrix of shape (", si.rows, ", ", si.cols, ") needs ", major + 1));
  auto ptr = indptr.read<std::int64_t>();
  if (ptr[0] != 0) indptr.fail(detail::concat("must start at 0 but starts at ", ptr[0]));
  for (std::uint64_t i = 0; i < major; ++i)
    if (ptr[i + 1] < ptr[i])
      indptr.fail(detail::concat("decreases at position ", i + 1, " (", ptr[i], " -> ", ptr[i + 1], ")"));
  if (static_cast<std::uint64_t>(ptr[major]) != nnz)
    indptr.fail(detail::concat("ends at ", ptr[major], " but there are ", nnz, " stored values"));

  // Output columns: map source gene -> output column (-1 = not wanted).
  const std::uint64_t ngenes = si.cols;
  std::vector<index_t> sel;
  if (cols) {
    for (index_t c : *cols)
      if (c < 0 || static_cast<std::uint64_t>(c) >= ngenes) g.fail("gene column out of range");
    sel = *cols;
  } else {
    h5::check_alloc(g.file(), g.path(), ngenes, sizeof(index_t), "the gene list");
    sel.resize(ngenes);
    for (std::uint64_t j = 0; j < ngenes; ++j) sel[j] = static_cast<index_t>(j);
  }
  const auto k = static_cast<index_t>(sel.size());
  h5::check_alloc(g.file(), g.path(), si.rows * std::max<index_t>(k, 1), sizeof(float), "the dense matrix");
  out.setZero(static_cast<index_t>(si.rows), k);

  constexpr std::uint64_t kChunk = std::uint64_t(1) << 20;
  std::vector<std::int64_t> ibuf;
  std::vector<float> vbuf;
  auto bad_index = [&](std::uint64_t e, std::int64_t j) {
    indices.fail(detail::concat("stored value ", e, " has index ", j, " outside [0, ", minor,
                                "); the sparse matrix is corrupt"));
  };
  if (si.csr) {
    std::vector<index_t> colmap(static_cast<std::size_t>(ngenes), -1);
    for (index_t c = 0; c < k; ++c) colmap[static_cast<std::size_t>(sel[c])] = c;
    std::uint64_t row = 0;
    for (std::uint64_t e0 = 0; e0 < nnz; e0 += kChunk) {
      const std::uint64_t ne = std::min(kChunk, nnz - e0);
      ibuf.resize(ne);
      vbuf.resize(ne);
      indices.read_slice(e0, ne, ibuf.data());
      data.read_slice(e0, ne, vbuf.data());
      for (std::uint64_t q = 0; q < ne; ++q) {
        const std::uint64_t e = e0 + q;
        while (static_cast<std::uint64_t>(ptr[row + 1]) <= e) ++row;
        const std::int64_t j = ibuf[q];
        if (j < 0 || static_cast<std::uint64_t>(j) >= minor) bad_index(e, j);
        const index_t c = colmap[static_cast<std::size_t>(j)];
        if (c >= 0) out(static_cast<index_t>(row), c) += vbuf[q];
      }
    }
  } else {
    for (index_t c = 0; c < k; ++c) {
      const auto j = static_cast<std::size_t>(sel[c]);
      const auto b = static_cast<std::uint64_t>(ptr[j]), e = static_cast<std::uint64_t>(ptr[j + 1]);
      for (std::uint64_t e0 = b; e0 < e; e0 += kChunk) {
        const std::uint64_t ne = std::min(kChunk, e - e0);
        ibuf.resize(ne);
        vbuf.resize(ne);
        indices.read_slice(e0, ne, ibuf.data());
        data.read_slice(e0, ne, vbuf.data());
        for (std::uint64_t q = 0; q < ne; ++q) {
          const std::int64_t i = ibuf[q];
          if (i < 0 || static_cast<std::uint64_t>(i) >= minor) bad_index(e0 + q, i);
          out(static_cast<index_t>(i), c) += vbuf[q];
        }
      }
    }
  }
  return out;
}

/// Shape (rows, cols) of a dense or sparse matrix element without reading it.
inline std::pair<std::uint64_t, std::uint64_t> matrix_shape(const h5::Group& parent,
                                                            const std::string& name) {
  const auto kind = parent.kind(name);
  if (kind == h5::Group::Kind::Missing) parent.fail("matrix '" + name + "' is missing");
  if (kind == h5::Group::Kind::Dataset) {
    auto d = parent.dataset(name);
    auto dims = d.dims();
    if (dims.size() != 2) d.fail(detail::concat("the matrix must be 2-D but has rank ", dims.size()));
    return {dims[0], dims[1]};
  }
  auto si = sparse_info(parent.group(name));
  return {si.rows, si.cols};
}

/// Where the matrix and var live for the given options.
struct Source {
  std::string matrix_parent;  ///< "/" , "/layers" or "/raw"
  std::string matrix_name;    ///< "X" or the layer name
  std::string var_parent;     ///< "/" or "/raw"
};

inline Source source_of(const h5::File& f, const H5adReadOptions& o) {
  Source s{"/", "X", "/"};
  if (o.use_raw) {
    if (!f.has_group("raw"))
      f.fail("use_raw was requested but the file has no /raw group; read X instead");
    STAI_CHECK(o.layer.empty(), f.file(), ": use_raw and layer cannot be combined");
    s = {"/raw", "X", "/raw"};
  } else if (!o.layer.empty()) {
    if (!f.has_group("layers") || !f.group("layers").has(o.layer)) {
      std::string avail;
      if (f.has_group("layers"))
        for (auto& c : f.group("layers").children()) avail += (avail.empty() ? "" : ", ") + c;
      f.fail("layer '" + o.layer + "' is not in /layers; available: " + (avail.empty() ? "(none)" : avail));
    }
    s = {"/layers", o.layer, "/"};
  }
  return s;
}

inline h5::Group open_path(const h5::File& f, const std::string& p) {
  if (p == "/") return h5::Group(h5::Hid(H5Oopen(f.id(), "/", H5P_DEFAULT)), f.file(), "/");
  return f.group(p.substr(1));
}

inline std::string uns_value_text(const h5::Dataset& d) {
  auto t = d.type();
  const auto n = d.size();
  if (t.cls == h5::TypeInfo::Class::String) {
    auto v = d.read_strings();
    if (d.rank() == 0 && v.size() == 1) return v[0];
    std::string o = "[";
    for (std::size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + json_string(v[i]);
    return o + "]";
  }
  if (t.numeric() && n <= 100000) {
    auto v = d.read<double>();
    if (d.rank() == 0 && v.size() == 1) return format_number(v[0]);
    std::string o = "[";
    for (std::size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + format_number(v[i]);
    return o + "]";
  }
  return {};
}

}  // namespace h5ad_detail

/// var names of the matrix read_h5ad would return with `opts` (before the gene subset).
inline std::vector<std::string> read_h5ad_var_names(const h5::File& f, const H5adReadOptions& opts = {}) {
  auto src = h5ad_detail::source_of(f, opts);
  auto vparent = h5ad_detail::open_path(f, src.var_parent);
  auto fr = h5ad_detail::read_frame(vparent, "var", std::vector<std::string>{}, nullptr);
  return fr.index;
}
inline std::vector<std::string> read_h5ad_var_names(const std::string& path,
                                                    const H5adReadOptions& opts = {}) {
  return read_h5ad_var_names(h5::File::open(path), opts);
}

/// Reads an .h5ad file already opened (e.g. from a memory image).
inline AnnData read_h5ad(const h5::File& f, const H5adReadOptions& opts = {}) {
  using namespace h5ad_detail;
  AnnData a;
  a.source = f.file();
  const std::string enc = encoding_of(f);
  if (!enc.empty() && enc != "anndata")
    f.fail("root encoding-type is '" + enc + "', not 'anndata'");
  if (!f.has("X") && !(opts.use_raw || !opts.layer.empty()))
    f.fail("no X matrix; this is not an AnnData (.h5ad) file (for .loom files use read_loom)");

  std::optional<h5::Group> uns;
  if (f.has_group("uns")) uns = f.group("uns");
  const h5::Group* uns_ptr = uns ? &*uns : nullptr;

  const Source src = source_of(f, opts);
  auto mparent = open_path(f, src.matrix_parent);
  auto vparent = open_path(f, src.var_parent);
  const auto [n_obs, n_vars] = matrix_shape(mparent, src.matrix_name);
  const std::string mpath = mparent.child_path(src.matrix_name);

  // var (index first: the gene subset needs it).
  Frame var = read_frame(vparent, "var",
                         opts.var_columns ? std::nullopt
                                          : std::optional<std::vector<std::string>>(std::vector<std::string>{}),
                         uns_ptr);
  if (!var.has_index) {
    h5::check_alloc(f.file(), mpath, n_vars, 32, "the gene names");
    for (std::uint64_t j = 0; j < n_vars; ++j) var.index.push_back(std::to_string(j));
  }
  if (var.index.size() != n_vars)
    h5::fail(f.file(), vparent.child_path("var"),
             detail::concat("has ", var.index.size(), " rows but ", mpath, " has ", n_vars, " columns"));

  std::vector<index_t> cols;
  const bool subset = !opts.genes.empty();
  if (subset) {
    std::unordered_map<std::string, index_t> pos;
    for (std::size_t j = 0; j < var.index.size(); ++j) pos.emplace(var.index[j], static_cast<index_t>(j));
    std::vector<std::string> missing;
    std::set<std::string> seen;
    for (auto& gname : opts.genes) {
      STAI_CHECK(seen.insert(gname).second, f.file(), ": gene '", gname,
                 "' is requested twice; pass each gene once");
      auto it = pos.find(gname);
      if (it == pos.end()) missing.push_back(gname);
      else cols.push_back(it->second);
    }
    if (!missing.empty()) {
      std::string list;
      for (std::size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + missing[i];
      if (missing.size() > 10) list += detail::concat(", ... (", missing.size(), " in all)");
      f.fail("requested genes not found in var names: " + list +
             " (intersect with read_h5ad_var_names() first, or check the gene-name column)");
    }
  }
  a.X = read_matrix(mparent, src.matrix_name, subset ? &cols : nullptr);
  if (!opts.allow_empty && (a.X.rows() == 0 || a.X.cols() == 0))
    h5::fail(f.file(), mpath,
             detail::concat("the matrix is empty (", a.X.rows(), " cells x ", a.X.cols(),
                            " genes); nothing to analyse"));
  if (subset) {
    for (index_t c : cols) a.var_names.push_back(var.index[static_cast<std::size_t>(c)]);
  } else {
    a.var_names = std::move(var.index);
  }
  if (opts.var_columns) {
    for (auto& [k, c] : var.columns) {
      if (c.size() != static_cast<index_t>(n_vars))
        h5::fail(f.file(), vparent.child_path("var/" + k),
                 detail::concat("column has ", c.size(), " entries but there are ", n_vars, " genes"));
      if (!subset) {
        a.var[k] = std::move(c);
        continue;
      }
      Column s = c;
      if (c.kind == Column::Kind::Numeric) {
        s.num.clear();
        for (index_t j : cols) s.num.push_back(c.num[static_cast<std::size_t>(j)]);
      } else {
        s.str.clear();
        for (index_t j : cols) s.str.push_back(c.str[static_cast<std::size_t>(j)]);
      }
      a.var[k] = std::move(s);
    }
  }

  // obs.
  Frame obs = read_frame(f, "obs", opts.obs_columns, uns_ptr);
  if (!obs.has_index) {
    h5::check_alloc(f.file(), mpath, n_obs, 32, "the cell names");
    for (std::uint64_t i = 0; i < n_obs; ++i) obs.index.push_back(std::to_string(i));
  }
  if (obs.index.size() != n_obs)
    h5::fail(f.file(), "/obs",
             detail::concat("has ", obs.index.size(), " rows but ", mpath, " has ", n_obs, " rows (cells)"));
  a.obs_names = std::move(obs.index);
  for (auto& [k, c] : obs.columns) {
    if (c.size() != static_cast<index_t>(n_obs))
      h5::fail(f.file(), "/obs/" + k,
               detail::concat("column has ", c.size(), " entries but there are ", n_obs, " cells"));
    a.obs[k] = std::move(c);
  }

  // obsm.
  if (!(opts.obsm_keys && opts.obsm_keys->empty())) {
    if (!f.has_group("obsm")) {
      if (opts.obsm_keys) f.fail("obsm keys were requested but the file has no /obsm group");
    } else {
      auto g = f.group("obsm");
      auto keys = g.children();
      if (opts.obsm_keys) {
        for (auto& k : *opts.obsm_keys)
          if (!g.has(k)) {
            std::string avail;
            for (auto& c : keys) avail += (avail.empty() ? "" : ", ") + c;
            g.fail("has no key '" + k + "'; available: " + (avail.empty() ? "(none)" : avail));
          }
        keys = *opts.obsm_keys;
      }
      for (auto& k : keys) {
        auto kind = g.kind(k);
        if (kind == h5::Group::Kind::Group) {
          auto sub = g.group(k);
          const std::string e = encoding_of(sub);
          sub.fail("is stored as " + (e.empty() ? std::string("a group") : "a '" + e + "'") +
                   "; stai reads obsm entries only as dense 2-D numeric arrays. Convert it in "
                   "Python (adata.obsm['" + k + "'] = np.asarray(adata.obsm['" + k +
                   "'])) or skip it with H5adReadOptions::obsm_keys");
        }
        auto d = g.dataset(k);
        auto t = d.type();
        if (t.cls != h5::TypeInfo::Class::Integer && t.cls != h5::TypeInfo::Class::Float)
          d.fail(std::string("obsm entry holds ") + t.name() +
                 " values; expected a numeric array (skip it with H5adReadOptions::obsm_keys)");
        auto dims = d.dims();
        if (dims.empty() || dims.size() > 2)
          d.fail(detail::concat("obsm entry must be 1-D or 2-D but has rank ", dims.size()));
        if (dims[0] != n_obs)
          d.fail(detail::concat("obsm entry has ", dims[0], " rows but there are ", n_obs, " cells"));
        const std::uint64_t w = dims.size() == 2 ? dims[1] : 1;
        h5::check_alloc(d.file(), d.path(), n_obs * std::max<std::uint64_t>(w, 1), 8, "obsm entry");
        RowMatrix<double> m(static_cast<index_t>(n_obs), static_cast<index_t>(w));
        d.read_into(m.data(), n_obs * w);
        a.obsm[k] = std::move(m);
      }
    }
  }

  // uns (best effort: scalars and 1-D arrays as text).
  if (opts.uns && uns) {
    for (auto& k : uns->children()) {
      if (k.size() > 11 && k.compare(k.size() - 11, 11, "_categories") == 0 &&
          (a.obs.count(k.substr(0, k.size() - 11)) || a.var.count(k.substr(0, k.size() - 11))))
        continue;  // legacy categories, already applied
      if (uns->kind(k) != h5::Group::Kind::Dataset) continue;
      try {
        auto d = uns->dataset(k);
        if (d.rank() > 1) continue;
        std::string text = uns_value_text(d);
        if (!text.empty() || d.type().cls == h5::TypeInfo::Class::String) a.uns[k] = std::move(text);
      } catch (const Error&) {
        // uns is free-form metadata: entries stai cannot represent are skipped.
      }
    }
  }
  a.validate();
  check_names(a);
  return a;
}

/// Reads an AnnData .h5ad file.
inline AnnData read_h5ad(const std::string& path, const H5adReadOptions& opts = {}) {
  return read_h5ad(h5::File::open(path), opts);
}

namespace h5ad_detail {

inline void write_dict(const h5::Group& parent, const std::string& name) {
  parent.create_group(name).write_encoding("dict", "0.1.0");
}

inline void check_key(const std::string& what, const std::string& k) {
  STAI_CHECK(!k.empty() && k.find('/') == std::string::npos && k != "_index" && k != "__categories",
             "cannot write ", what, " key '", k,
             "': keys must be non-empty, contain no '/' and not be '_index' or '__categories'; rename it");
}

inline void write_column(const h5::Group& g, const std::string& name, const Column& c) {
  if (c.kind == Column::Kind::Numeric) {
    g.write(name, c.num.data(), {c.num.size()}, H5T_IEEE_F64LE).write_encoding("array", "0.2.0");
    return;
  }
  if (!c.categorical) {
    g.write_strings(name, c.str).write_encoding("string-array", "0.2.0");
    return;
  }
  std::vector<std::string> cats = c.categories;
  std::unordered_map<std::string, std::int64_t> code;
  for (std::size_t i = 0; i < cats.size(); ++i)
    STAI_CHECK(code.emplace(cats[i], static_cast<std::int64_t>(i)).second, "cannot write column '",
               name, "': category '", cats[i], "' is listed twice");
  const bool fixed = !cats.empty();
  std::vector<std::int64_t> codes(c.str.size());
  for (std::size_t i = 0; i < c.str.size(); ++i) {
    auto it = code.find(c.str[i]);
    if (it == code.end()) {
      if (c.str[i].empty()) {
        codes[i] = -1;  // "" is pandas' missing value
        continue;
      }
      STAI_CHECK(!fixed, "cannot write column '", name, "': value '", c.str[i],
                 "' is not one of its categories; add it to Column::categories");
      it = code.emplace(c.str[i], static_cast<std::int64_t>(cats.size())).first;
      cats.push_back(c.str[i]);
    }
    codes[i] = it->second;
  }
  auto cg = g.create_group(name);
  cg.write_encoding("categorical", "0.2.0");
  cg.write_attr_bool("ordered", false);
  cg.write_strings("categories", cats).write_encoding("string-array", "0.2.0");
  if (cats.size() < 128) {
    std::vector<std::int8_t> v(codes.begin(), codes.end());
    cg.write("codes", v.data(), {v.size()}, H5T_STD_I8LE).write_encoding("array", "0.2.0");
  } else if (cats.size() < 32768) {
    std::vector<std::int16_t> v(codes.begin(), codes.end());
    cg.write("codes", v.data(), {v.size()}, H5T_STD_I16LE).write_encoding("array", "0.2.0");
  } else {
    std::vector<std::int32_t> v(codes.begin(), codes.end());
    cg.write("codes", v.data(), {v.size()}, H5T_STD_I32LE).write_encoding("array", "0.2.0");
  }
}

inline void write_frame(const h5::Group& parent, const std::string& name,
                        const std::vector<std::string>& index,
                        const std::map<std::string, Column>& cols) {
  auto g = parent.create_group(name);
  g.write_encoding("dataframe", "0.2.0");
  g.write_attr_string("_index", "_index");
  std::vector<std::string> order;
  for (auto& [k, c] : cols) {
    check_key(name + " column", k);
    order.push_back(k);
  }
  if (order.empty()) g.write_attr_empty_array("column-order");
  else g.write_attr_strings("column-order", order);
  g.write_strings("_index", index).write_encoding("string-array", "0.2.0");
  for (auto& [k, c] : cols) write_column(g, k, c);
}

}  // namespace h5ad_detail

/// Writes `a` into an open, empty HDF5 file in the anndata >= 0.8 layout.
inline void write_h5ad(const h5::File& f, const AnnData& a, const H5adWriteOptions& o = {}) {
  using namespace h5ad_detail;
  a.validate();
  h5::DatasetWriteOptions dw;
  dw.gzip_level = o.gzip_level;
  f.write_encoding("anndata", "0.1.0");
  f.write(std::string("X"), a.X.data(),
          {static_cast<std::uint64_t>(a.X.rows()), static_cast<std::uint64_t>(a.X.cols())},
          H5T_IEEE_F32LE, dw)
      .write_encoding("array", "0.2.0");
  write_frame(f, "obs", a.obs_names, a.obs);
  write_frame(f, "var", a.var_names, a.var);
  auto obsm = f.create_group("obsm");
  obsm.write_encoding("dict", "0.1.0");
  for (auto& [k, m] : a.obsm) {
    check_key("obsm", k);
    obsm.write(k, m.data(), {static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())},
               H5T_IEEE_F64LE, dw)
        .write_encoding("array", "0.2.0");
  }
  auto uns = f.create_group("uns");
  uns.write_encoding("dict", "0.1.0");
  for (auto& [k, v] : a.uns) {
    check_key("uns", k);
    uns.write_string(k, v).write_encoding("string", "0.2.0");
  }
  for (const char* d : {"layers", "obsp", "varm", "varp"}) write_dict(f, d);
}

/// Writes `a` to `path` as .h5ad, atomically (temporary file + rename).
inline void write_h5ad(const std::string& path, const AnnData& a, const H5adWriteOptions& o = {}) {
  try {
    a.validate();
  } catch (const Error& e) {
    std::string w = e.what();
    if (w.rfind("stai: ", 0) == 0) w.erase(0, 6);
    throw Error("cannot write " + path + ": " + w);
  }
  write_atomically(path, [&](const std::string& tmp) {
    // Built in memory, then written out: see h5::File::create_in_memory.
    std::vector<unsigned char> image;
    {
      h5::File f = h5::File::create_in_memory(path);
      write_h5ad(f, a, o);
      image = f.close_to_image();
    }
    write_file_bytes(tmp, image, path);
  });
}

}  // namespace stai
