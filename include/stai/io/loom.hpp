// stai — .loom reader (HDF5; loompy layout).
//
// A loom file stores /matrix as genes x cells (one gene per row), optional
// /layers/<name> of the same shape, per-gene /row_attrs/<name> and per-cell
// /col_attrs/<name> 1-D (or 2-D) datasets. read_loom transposes to stai's
// cells x genes layout; 1-D column attributes become obs columns, 2-D column
// attributes become obsm entries, row attributes become var columns.
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../data/anndata.hpp"
#include "../data/names.hpp"
#include "h5ad/frame.hpp"
#include "hdf5/file.hpp"

namespace stai {

struct LoomReadOptions {
  /// "" reads /matrix; otherwise /layers/<layer>.
  std::string layer;
  /// Row attribute holding gene names.
  std::string gene_attr = "Gene";
  /// Column attribute holding cell ids; nullopt = "CellID" when present, else
  /// the cells are named by position ("0", "1", ...).
  std::optional<std::string> cell_attr;
  /// Keep only cells whose column attribute `filter_attr` equals
  /// `filter_value` (e.g. "Valid" == 1); "" keeps every cell.
  std::string filter_attr;
  double filter_value = 1.0;
  /// Store column attributes x_attr / y_attr as obsm[spatial_key] (n x 2).
  bool spatial_from_xy = false;
  std::string x_attr = "X", y_attr = "Y", spatial_key = "spatial";
  /// Column attributes to load into obs; nullopt = all, {} = none.
  std::optional<std::vector<std::string>> obs_columns;
  /// Load row attributes as var columns.
  bool var_columns = true;
  /// Genes to read (in this order); empty = all.
  std::vector<std::string> genes;
  /// Accept zero cells or zero genes after filtering.
  bool allow_empty = false;
};

namespace loom_detail {

inline Column read_attr_column(const h5::Dataset& d) {
  auto t = d.type();
  if (t.cls == h5::TypeInfo::Class::String) return Column::strings(d.read_strings(), false);
  if (t.numeric()) return Column::numeric(d.read<double>());
  d.fail(std::string("attribute holds ") + t.name() + " values; expected numbers or strings");
}

inline std::string list(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < 30; ++i) s += (i ? ", " : "") + v[i];
  return s.empty() ? "(none)" : s;
}

}  // namespace loom_detail

/// Reads an already opened .loom file.
inline AnnData read_loom(const h5::File& f, const LoomReadOptions& opts = {}) {
  using loom_detail::list;
  AnnData a;
  a.source = f.file();
  if (!f.has("matrix"))
    f.fail("no /matrix dataset; this is not a .loom file (for AnnData files use read_h5ad)");
  h5::Dataset m;
  if (opts.layer.empty()) {
    m = f.dataset("matrix");
  } else {
    if (!f.has_group("layers") || !f.group("layers").has(opts.layer))
      f.fail("layer '" + opts.layer + "' is not in /layers");
    m = f.group("layers").dataset(opts.layer);
  }
  auto t = m.type();
  if (t.cls != h5::TypeInfo::Class::Integer && t.cls != h5::TypeInfo::Class::Float)
    m.fail(std::string("the matrix holds ") + t.name() + " values; expected numbers");
  auto dims = m.dims();
  if (dims.size() != 2) m.fail(::stai::detail::concat("the matrix must be 2-D but has rank ", dims.size()));
  const std::uint64_t G = dims[0], C = dims[1];

  if (!f.has_group("row_attrs")) f.fail("no /row_attrs group; the loom file is incomplete");
  if (!f.has_group("col_attrs")) f.fail("no /col_attrs group; the loom file is incomplete");
  auto rows = f.group("row_attrs");
  auto colsg = f.group("col_attrs");
  auto row_names = rows.children();
  auto col_names = colsg.children();

  auto check_len = [&](const h5::Dataset& d, std::uint64_t n, const char* what) {
    auto dd = d.dims();
    if (dd.empty() || dd[0] != n)
      d.fail(::stai::detail::concat("has ", dd.empty() ? 0 : dd[0], " entries but the matrix has ", n, " ", what));
  };

  // Genes.
  if (!rows.has_dataset(opts.gene_attr))
    rows.fail("has no gene-name attribute '" + opts.gene_attr + "'; available: " + list(row_names) +
              " (set LoomReadOptions::gene_attr)");
  auto gd = rows.dataset(opts.gene_attr);
  check_len(gd, G, "genes (rows)");
  std::vector<std::string> genes = h5ad_detail::read_labels(gd);
  std::vector<index_t> gsel;
  if (opts.genes.empty()) {
    for (std::uint64_t g = 0; g < G; ++g) gsel.push_back(static_cast<index_t>(g));
  } else {
    std::unordered_map<std::string, index_t> pos;
    for (std::size_t g = 0; g < genes.size(); ++g) pos.emplace(genes[g], static_cast<index_t>(g));
    std::vector<std::string> missing;
    std::set<std::string> seen;
    for (auto& name : opts.genes) {
      STAI_CHECK(seen.insert(name).second, f.file(), ": gene '", name, "' is requested twice");
      auto it = pos.find(name);
      if (it == pos.end()) missing.push_back(name);
      else gsel.push_back(it->second);
    }
    if (!missing.empty()) f.fail("requested genes not found in row attribute '" + opts.gene_attr + "': " + list(missing));
  }

  // Cells (filter).
  std::vector<index_t> csel;
  if (!opts.filter_attr.empty()) {
    if (!colsg.has_dataset(opts.filter_attr))
      colsg.fail("has no filter attribute '" + opts.filter_attr + "'; available: " + list(col_names));
    auto fd = colsg.dataset(opts.filter_attr);
    check_len(fd, C, "cells (columns)");
    if (!fd.type().numeric()) fd.fail("filter attribute must be numeric");
    auto v = fd.read<double>();
    for (std::uint64_t c = 0; c < C; ++c)
      if (v[c] == opts.filter_value) csel.push_back(static_cast<index_t>(c));
  } else {
    h5::check_alloc(f.file(), "/col_attrs", C, sizeof(index_t), "the cell list");
    for (std::uint64_t c = 0; c < C; ++c) csel.push_back(static_cast<index_t>(c));
  }
  const auto n = static_cast<index_t>(csel.size());
  const auto k = static_cast<index_t>(gsel.size());
  if (!opts.allow_empty && (n == 0 || k == 0))
    m.fail(::stai::detail::concat("nothing to read: ", n, " cells x ", k, " genes",
                                  opts.filter_attr.empty() ? "" : " after filtering on '" + opts.filter_attr + "'"));
  h5::check_alloc(f.file(), m.path(), static_cast<std::uint64_t>(n) * std::max<index_t>(k, 1), sizeof(float), "the matrix");
  a.X.setZero(n, k);

  // Matrix: read blocks of gene rows, transpose the kept cells.
  if (n > 0 && k > 0) {
    const std::uint64_t block = std::max<std::uint64_t>(1, std::min<std::uint64_t>(64, (std::uint64_t(1) << 24) / std::max<std::uint64_t>(C, 1)));
    h5::check_alloc(f.file(), m.path(), block * C, sizeof(float), "a block of the matrix");
    std::vector<float> buf(static_cast<std::size_t>(block * C));
    // Output column(s) for each source gene row.
    std::vector<std::vector<index_t>> outcol(static_cast<std::size_t>(G));
    for (index_t j = 0; j < k; ++j) outcol[static_cast<std::size_t>(gsel[j])].push_back(j);
    for (std::uint64_t g0 = 0; g0 < G; g0 += block) {
      const std::uint64_t nb = std::min(block, G - g0);
      bool any = false;
      for (std::uint64_t g = g0; g < g0 + nb && !any; ++g) any = !outcol[g].empty();
      if (!any) continue;
      m.read_rows(g0, nb, buf.data());
      for (std::uint64_t g = g0; g < g0 + nb; ++g)
        for (index_t j : outcol[g]) {
          const float* src = buf.data() + (g - g0) * C;
          for (index_t i = 0; i < n; ++i) a.X(i, j) = src[csel[static_cast<std::size_t>(i)]];
        }
    }
  }

  for (index_t j : gsel) a.var_names.push_back(genes[static_cast<std::size_t>(j)]);

  // Cell names.
  std::string cell_attr = opts.cell_attr.value_or("CellID");
  if (colsg.has_dataset(cell_attr)) {
    auto cd = colsg.dataset(cell_attr);
    check_len(cd, C, "cells (columns)");
    auto ids = h5ad_detail::read_labels(cd);
    for (index_t c : csel) a.obs_names.push_back(ids[static_cast<std::size_t>(c)]);
  } else if (opts.cell_attr) {
    colsg.fail("has no cell-id attribute '" + cell_attr + "'; available: " + list(col_names));
  } else {
    for (index_t c : csel) a.obs_names.push_back(std::to_string(c));
  }

  // obs / obsm from column attributes.
  std::vector<std::string> want;
  if (opts.obs_columns) {
    for (auto& c : *opts.obs_columns)
      if (!colsg.has_dataset(c))
        colsg.fail("has no column attribute '" + c + "'; available: " + list(col_names));
    want = *opts.obs_columns;
  } else {
    for (auto& c : col_names)
      if (c != cell_attr && colsg.kind(c) == h5::Group::Kind::Dataset) want.push_back(c);
  }
  for (auto& name : want) {
    auto d = colsg.dataset(name);
    check_len(d, C, "cells (columns)");
    if (d.rank() == 2) {
      auto dd = d.dims();
      auto all = d.read<double>();
      RowMatrix<double> mm(n, static_cast<index_t>(dd[1]));
      for (index_t i = 0; i < n; ++i)
        for (index_t q = 0; q < mm.cols(); ++q)
          mm(i, q) = all[static_cast<std::size_t>(csel[static_cast<std::size_t>(i)]) * dd[1] + static_cast<std::size_t>(q)];
      a.obsm[name] = std::move(mm);
      continue;
    }
    if (d.rank() != 1) d.fail("column attribute must be 1-D or 2-D");
    Column full = loom_detail::read_attr_column(d);
    Column c = full;
    c.num.clear();
    c.str.clear();
    for (index_t i : csel) {
      if (full.kind == Column::Kind::Numeric) c.num.push_back(full.num[static_cast<std::size_t>(i)]);
      else c.str.push_back(full.str[static_cast<std::size_t>(i)]);
    }
    a.obs[name] = std::move(c);
  }
  if (opts.spatial_from_xy) {
    for (auto* nm : {&opts.x_attr, &opts.y_attr})
      if (!colsg.has_dataset(*nm))
        colsg.fail("has no coordinate attribute '" + *nm + "'; available: " + list(col_names));
    auto xd = colsg.dataset(opts.x_attr), yd = colsg.dataset(opts.y_attr);
    check_len(xd, C, "cells (columns)");
    check_len(yd, C, "cells (columns)");
    auto xv = xd.read<double>(), yv = yd.read<double>();
    RowMatrix<double> s(n, 2);
    for (index_t i = 0; i < n; ++i) {
      s(i, 0) = xv[static_cast<std::size_t>(csel[static_cast<std::size_t>(i)])];
      s(i, 1) = yv[static_cast<std::size_t>(csel[static_cast<std::size_t>(i)])];
    }
    a.obsm[opts.spatial_key] = std::move(s);
  }

  // var from row attributes.
  if (opts.var_columns) {
    for (auto& name : row_names) {
      if (name == opts.gene_attr || rows.kind(name) != h5::Group::Kind::Dataset) continue;
      auto d = rows.dataset(name);
      if (d.rank() != 1) continue;  // 2-D row attributes (e.g. embeddings) are not kept
      check_len(d, G, "genes (rows)");
      Column full = loom_detail::read_attr_column(d);
      Column c = full;
      c.num.clear();
      c.str.clear();
      for (index_t j : gsel) {
        if (full.kind == Column::Kind::Numeric) c.num.push_back(full.num[static_cast<std::size_t>(j)]);
        else c.str.push_back(full.str[static_cast<std::size_t>(j)]);
      }
      a.var[name] = std::move(c);
    }
  }
  a.validate();
  check_names(a);
  return a;
}

/// Reads a .loom file (genes x cells on disk) as cells x genes.
inline AnnData read_loom(const std::string& path, const LoomReadOptions& opts = {}) {
  return read_loom(h5::File::open(path), opts);
}

}  // namespace stai
