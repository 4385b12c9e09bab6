// stai — reading the expression matrix of an .h5ad file (X, a layer or
// raw/X) into a dense cells x genes float matrix: a dense array of
// float32/64 or (u)int8..64, or a sparse CSR/CSC group (anndata >= 0.8
// "csr_matrix"/"csc_matrix" with a "shape" attribute, or an older group
// marked by h5sparse_format ("csr"/"csc") and h5sparse_shape) with int32 or
// int64 indices. A gene subset is read without densifying the full matrix.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../../tensor/matrix.hpp"
#include "../hdf5/group.hpp"
#include "encoding.hpp"

namespace stai::h5ad_detail {

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

}  // namespace stai::h5ad_detail
