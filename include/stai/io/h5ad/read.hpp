// stai — the AnnData .h5ad reader: X (or a layer, or raw/X) with a gene
// subset, obs and var (frame.hpp), obsm and uns, from files written by
// anndata 0.6 to the current layout (see frame.hpp and matrix.hpp for the
// layouts).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../data/anndata.hpp"
#include "../../data/names.hpp"
#include "../hdf5/file.hpp"
#include "encoding.hpp"
#include "frame.hpp"
#include "matrix.hpp"

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

namespace h5ad_detail {

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

}  // namespace stai
