// Shared by the .h5ad tests (test_io_h5ad*.cpp): temporary paths, sample
// matrices, files of every on-disk layout written with the stai::h5 wrappers,
// a rich AnnData and the field-by-field comparison of two.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>

namespace h5ad_test {

using namespace stai;
namespace fs = std::filesystem;


inline std::string tmp_path(const std::string& name) {
  // One scratch directory per test run, removed at exit.
  struct Dir {
    fs::path p = fs::temp_directory_path() / ("stai_test_io_h5ad_" + std::to_string(::getpid()));
    Dir() { fs::create_directories(p); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  };
  static const Dir dir;
  return (dir.p / name).string();
}

inline std::vector<std::string> names(int n, const std::string& prefix) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

/// Cells x genes test matrix with zeros (sparse-ish) and integer-valued entries.
inline RowMatrix<float> sample_matrix(int rows, int cols) {
  RowMatrix<float> m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = ((i * 7 + j * 3) % 4 == 0) ? 0.f : float(i * 10 + j + 1);
  return m;
}

/// Writes a modern (anndata >= 0.8) dataframe group with only an index.
inline void write_frame(const h5::Group& parent, const std::string& name, const std::vector<std::string>& index) {
  auto g = h5::create_group(parent, name);
  h5::write_encoding(g, "dataframe", "0.2.0");
  h5::write_attr_string(g, "_index", "_index");
  h5::write_attr_empty_array(g, "column-order");
  h5::write_encoding(h5::write_strings(g, "_index", index), "string-array", "0.2.0");
}

/// Writes X as a dense dataset of the given on-disk type.
inline void write_dense_file(const std::string& path, const RowMatrix<float>& x, hid_t file_type) {
  auto f = h5::File::create(path);
  h5::write_encoding(f, "anndata", "0.1.0");
  RowMatrix<double> xd = x.cast<double>();
  h5::write_encoding(h5::write(f, "X", xd.data(), {std::uint64_t(x.rows()), std::uint64_t(x.cols())}, file_type),
                     "array", "0.2.0");
  write_frame(f, "obs", names(int(x.rows()), "cell"));
  write_frame(f, "var", names(int(x.cols()), "gene"));
  f.close();
}

struct SparseParts {
  std::vector<float> data;
  std::vector<std::int64_t> indices, indptr;
};
inline SparseParts to_sparse(const RowMatrix<float>& x, bool csr) {
  SparseParts s;
  const index_t major = csr ? x.rows() : x.cols(), minor = csr ? x.cols() : x.rows();
  s.indptr.push_back(0);
  for (index_t a = 0; a < major; ++a) {
    for (index_t b = 0; b < minor; ++b) {
      const float v = csr ? x(a, b) : x(b, a);
      if (v != 0) {
        s.data.push_back(v);
        s.indices.push_back(b);
      }
    }
    s.indptr.push_back(static_cast<std::int64_t>(s.data.size()));
  }
  return s;
}

/// Writes a sparse matrix group (modern encoding attributes, or the old
/// h5sparse_format / h5sparse_shape attributes) under `parent/name`.
inline void write_sparse_group(const h5::Group& parent, const std::string& name, const SparseParts& s,
                        index_t rows, index_t cols, bool csr, bool idx64, bool legacy) {
  auto g = h5::create_group(parent, name);
  if (legacy) {
    h5::write_attr_string(g, "h5sparse_format", csr ? "csr" : "csc");
    h5::write_attr_int64s(g, "h5sparse_shape", {rows, cols});
  } else {
    h5::write_encoding(g, csr ? "csr_matrix" : "csc_matrix", "0.1.0");
    h5::write_attr_int64s(g, "shape", {rows, cols});
  }
  h5::write(g, "data", s.data.data(), {s.data.size()}, H5T_IEEE_F32LE);
  if (idx64) {
    h5::write(g, "indices", s.indices.data(), {s.indices.size()}, H5T_STD_I64LE);
    h5::write(g, "indptr", s.indptr.data(), {s.indptr.size()}, H5T_STD_I64LE);
  } else {
    std::vector<std::int32_t> i32(s.indices.begin(), s.indices.end()), p32(s.indptr.begin(), s.indptr.end());
    h5::write(g, "indices", i32.data(), {i32.size()}, H5T_STD_I32LE);
    h5::write(g, "indptr", p32.data(), {p32.size()}, H5T_STD_I32LE);
  }
}

inline void write_sparse_file(const std::string& path, const RowMatrix<float>& x, bool csr, bool idx64,
                       bool legacy) {
  auto f = h5::File::create(path);
  if (!legacy) h5::write_encoding(f, "anndata", "0.1.0");
  write_sparse_group(f, "X", to_sparse(x, csr), x.rows(), x.cols(), csr, idx64, legacy);
  write_frame(f, "obs", names(int(x.rows()), "cell"));
  write_frame(f, "var", names(int(x.cols()), "gene"));
  f.close();
}

inline AnnData rich_anndata() {
  AnnData a;
  a.X = sample_matrix(5, 4);
  a.obs_names = {"c0", "c1", "c2", "c3", "c4"};
  a.var_names = {"Gad2", "Vip", "Sst", "Pvalb"};
  a.obs["total"] = Column::numeric({1.5, 2.0, -3.25, 4e10, 0.0});
  a.obs["celltype"] = Column::strings({"B", "A", "B", "C", "A"});  // order of appearance: B, A, C
  auto ct = Column::strings({"x", "", "y", "x", "y"});
  ct.categories = {"y", "x"};  // explicit order; "" = missing
  a.obs["fixed_order"] = ct;
  a.obs["note"] = Column::strings({"n0", "n,1", "n\"2", "üñí", ""}, false);
  a.var["hyb"] = Column::numeric({1, 2, 3, 4});
  a.var["dye"] = Column::strings({"Cy5", "Cy3", "Cy5", "A594"});
  RowMatrix<double> sp(5, 2);
  sp << 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5;
  a.obsm["spatial"] = sp;
  a.uns["description"] = "stai round trip";
  a.uns["params"] = "{\"k\": 50}";
  return a;
}

inline void check_same(const AnnData& a, const AnnData& b) {
  REQUIRE(b.X.rows() == a.X.rows());
  REQUIRE(b.X.cols() == a.X.cols());
  CHECK((a.X - b.X).cwiseAbs().maxCoeff() == 0.f);
  CHECK(a.obs_names == b.obs_names);
  CHECK(a.var_names == b.var_names);
  REQUIRE(a.obs.size() == b.obs.size());
  for (auto& [k, c] : a.obs) {
    INFO("obs column " << k);
    REQUIRE(b.obs.count(k) == 1);
    const auto& d = b.obs.at(k);
    CHECK(d.kind == c.kind);
    CHECK(d.num == c.num);
    CHECK(d.str == c.str);
    CHECK(d.categorical == c.categorical);
  }
  REQUIRE(a.var.size() == b.var.size());
  for (auto& [k, c] : a.var) {
    INFO("var column " << k);
    REQUIRE(b.var.count(k) == 1);
    CHECK(b.var.at(k).num == c.num);
    CHECK(b.var.at(k).str == c.str);
  }
  REQUIRE(a.obsm.size() == b.obsm.size());
  for (auto& [k, m] : a.obsm) CHECK(b.obsm.at(k) == m);
  CHECK(a.uns == b.uns);
}


}  // namespace h5ad_test
