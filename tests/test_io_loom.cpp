// Tests for the .loom reader on files generated with the stai::h5 wrappers.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>
#include <stai/io/loom.hpp>

using namespace stai;
namespace fs = std::filesystem;

namespace {

std::string loom_tmp(const std::string& name) {
  // One scratch directory per test run, removed at exit.
  struct Dir {
    fs::path p = fs::temp_directory_path() / ("stai_test_io_loom_" + std::to_string(::getpid()));
    Dir() { fs::create_directories(p); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  };
  static const Dir dir;
  return (dir.p / name).string();
}

constexpr int kG = 4, kC = 6;

/// genes x cells, as stored in a loom file.
std::vector<std::int64_t> loom_matrix() {
  std::vector<std::int64_t> m(kG * kC);
  for (int g = 0; g < kG; ++g)
    for (int c = 0; c < kC; ++c) m[std::size_t(g * kC + c)] = (g + 1) * 100 + c;
  return m;
}

struct LoomSpec {
  bool string_matrix = false;
  int gene_attr_len = kG;
  bool with_gene = true;
};

void write_loom(const std::string& path, const LoomSpec& s = {}) {
  auto f = h5::File::create(path);
  auto m = loom_matrix();
  if (s.string_matrix) {
    std::vector<std::string> v(std::size_t(kG * kC), "x");
    h5::write_fixed_strings(f, "matrix", v);
  } else {
    h5::write(f, "matrix", m.data(), {kG, kC}, H5T_STD_I64LE);
  }
  auto rows = h5::create_group(f, "row_attrs");
  std::vector<std::string> genes{"Gad2", "Vip", "Sst", "Pvalb", "Extra"};
  genes.resize(std::size_t(s.gene_attr_len));
  if (s.with_gene) h5::write_fixed_strings(rows, "Gene", genes);
  std::vector<double> hyb{1, 2, 3, 4};
  h5::write(rows, "Hybridization", hyb.data(), {kG}, H5T_IEEE_F64LE);
  auto cols = h5::create_group(f, "col_attrs");
  h5::write_fixed_strings(cols, "CellID", {"c0", "c1", "c2", "c3", "c4", "c5"});
  std::vector<std::int64_t> valid{1, 0, 1, 1, 0, 1};
  h5::write(cols, "Valid", valid.data(), {kC}, H5T_STD_I64LE);
  std::vector<double> x{0, 1, 2, 3, 4, 5}, y{10, 11, 12, 13, 14, 15};
  h5::write(cols, "X", x.data(), {kC}, H5T_IEEE_F64LE);
  h5::write(cols, "Y", y.data(), {kC}, H5T_IEEE_F64LE);
  h5::write_fixed_strings(cols, "ClusterName", {"A", "B", "A", "C", "B", "A"});
  std::vector<float> emb(kC * 2);
  for (int i = 0; i < kC * 2; ++i) emb[std::size_t(i)] = float(i);
  h5::write(cols, "tSNE", emb.data(), {kC, 2}, H5T_IEEE_F32LE);
  h5::create_group(f, "layers");
  std::vector<float> spliced(kG * kC, 0.5f);
  h5::Group layers(h5::Hid(H5Gopen2(f.id(), "layers", H5P_DEFAULT)), path, "/layers");
  h5::write(layers, "spliced", spliced.data(), {kG, kC}, H5T_IEEE_F32LE);
  f.close();
}

}  // namespace

TEST_CASE("loom: genes x cells on disk becomes cells x genes") {
  const std::string p = loom_tmp("basic.loom");
  write_loom(p);
  AnnData a = read_loom(p);
  REQUIRE(a.n_obs() == kC);
  REQUIRE(a.n_vars() == kG);
  const auto m = loom_matrix();
  for (int c = 0; c < kC; ++c)
    for (int g = 0; g < kG; ++g) CHECK(a.X(c, g) == float(m[std::size_t(g * kC + c)]));
  CHECK(a.var_names == std::vector<std::string>{"Gad2", "Vip", "Sst", "Pvalb"});
  CHECK(a.obs_names == std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "c5"});
  CHECK(a.obs.at("ClusterName").str == std::vector<std::string>{"A", "B", "A", "C", "B", "A"});
  CHECK(a.obs.at("Valid").num == std::vector<double>{1, 0, 1, 1, 0, 1});
  CHECK(a.obs.count("CellID") == 0);
  REQUIRE(a.obsm.count("tSNE") == 1);
  CHECK(a.obsm.at("tSNE")(5, 1) == 11.0);
  CHECK(a.var.at("Hybridization").num == std::vector<double>{1, 2, 3, 4});
  CHECK(a.obsm.count("spatial") == 0);

  SUBCASE("filter, coordinates, gene subset, columns") {
    LoomReadOptions o;
    o.filter_attr = "Valid";
    o.spatial_from_xy = true;
    o.genes = {"Pvalb", "Gad2"};
    o.obs_columns = std::vector<std::string>{"ClusterName"};
    AnnData b = read_loom(p, o);
    REQUIRE(b.n_obs() == 4);
    REQUIRE(b.n_vars() == 2);
    CHECK(b.obs_names == std::vector<std::string>{"c0", "c2", "c3", "c5"});
    CHECK(b.var_names == std::vector<std::string>{"Pvalb", "Gad2"});
    CHECK(b.X(1, 0) == float(4 * 100 + 2));
    CHECK(b.X(3, 1) == float(1 * 100 + 5));
    CHECK(b.obs.size() == 1);
    CHECK(b.obs.at("ClusterName").str == std::vector<std::string>{"A", "A", "C", "A"});
    REQUIRE(b.obsm.count("spatial") == 1);
    CHECK(b.obsm.at("spatial")(2, 0) == 3.0);
    CHECK(b.obsm.at("spatial")(2, 1) == 13.0);
    CHECK(b.var.at("Hybridization").num == std::vector<double>{4, 1});
  }
  SUBCASE("layer") {
    LoomReadOptions o;
    o.layer = "spliced";
    CHECK(read_loom(p, o).X(2, 3) == 0.5f);
  }
  SUBCASE("loom -> h5ad -> read gives the same data") {
    const std::string q = loom_tmp("from_loom.h5ad");
    write_h5ad(q, a);
    AnnData b = read_h5ad(q);
    CHECK(b.X == a.X);
    CHECK(b.obs_names == a.obs_names);
    CHECK(b.obs.at("ClusterName").str == a.obs.at("ClusterName").str);
  }
  SUBCASE("filter value other than 1") {
    LoomReadOptions o;
    o.filter_attr = "Valid";
    o.filter_value = 0;
    CHECK(read_loom(p, o).obs_names == std::vector<std::string>{"c1", "c4"});
  }
}

TEST_CASE("loom: malformed inputs give clear errors") {
  SUBCASE("gene attribute missing") {
    const std::string p = loom_tmp("nogene.loom");
    LoomSpec s;
    s.with_gene = false;
    write_loom(p, s);
    CHECK_THROWS_WITH_AS(read_loom(p), doctest::Contains("has no gene-name attribute 'Gene'; available: Hybridization"), Error);
    LoomReadOptions o;
    o.gene_attr = "Hybridization";  // numeric names are accepted as text
    CHECK(read_loom(p, o).var_names == std::vector<std::string>{"1", "2", "3", "4"});
  }
  SUBCASE("row attribute length mismatch") {
    const std::string p = loom_tmp("len.loom");
    LoomSpec s;
    s.gene_attr_len = 5;
    write_loom(p, s);
    CHECK_THROWS_WITH_AS(read_loom(p), doctest::Contains("/row_attrs/Gene: has 5 entries but the matrix has 4 genes"), Error);
  }
  SUBCASE("string matrix") {
    const std::string p = loom_tmp("str.loom");
    LoomSpec s;
    s.string_matrix = true;
    write_loom(p, s);
    CHECK_THROWS_WITH_AS(read_loom(p), doctest::Contains("the matrix holds string values"), Error);
  }
  SUBCASE("options naming absent attributes") {
    const std::string p = loom_tmp("opts.loom");
    write_loom(p);
    LoomReadOptions o;
    o.filter_attr = "Passed";
    CHECK_THROWS_WITH_AS(read_loom(p, o), doctest::Contains("no filter attribute 'Passed'"), Error);
    o = {};
    o.filter_attr = "Valid";
    o.filter_value = 7;
    CHECK_THROWS_WITH_AS(read_loom(p, o), doctest::Contains("nothing to read: 0 cells"), Error);
    o = {};
    o.cell_attr = "Barcode";
    CHECK_THROWS_WITH_AS(read_loom(p, o), doctest::Contains("no cell-id attribute 'Barcode'"), Error);
    o = {};
    o.genes = {"Vip", "Nope"};
    CHECK_THROWS_WITH_AS(read_loom(p, o), doctest::Contains("requested genes not found"), Error);
    o = {};
    o.spatial_from_xy = true;
    o.x_attr = "x_um";
    CHECK_THROWS_WITH_AS(read_loom(p, o), doctest::Contains("no coordinate attribute 'x_um'"), Error);
  }
  SUBCASE("an .h5ad file given to read_loom") {
    const std::string p = loom_tmp("x.h5ad");
    AnnData a;
    a.X = RowMatrix<float>::Ones(2, 2);
    a.obs_names = {"a", "b"};
    a.var_names = {"g", "h"};
    write_h5ad(p, a);
    CHECK_THROWS_WITH_AS(read_loom(p), doctest::Contains("this is not a .loom file"), Error);
  }
}
