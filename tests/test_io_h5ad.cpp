// The .h5ad reader/writer: round trips, atomic writes, dense X of every dtype
// and sparse X in every layout. Older anndata layouts and selections are in
// test_io_h5ad_layouts.cpp, malformed inputs in test_io_h5ad_errors.cpp.
#include "h5ad_fixture.hpp"

using namespace h5ad_test;

TEST_CASE("h5ad: write then read round-trips every field") {
  const AnnData a = rich_anndata();
  const std::string p = tmp_path("round.h5ad");
  write_h5ad(p, a);
  AnnData b = read_h5ad(p);
  check_same(a, b);
  // Category order: explicit order kept, otherwise order of first appearance.
  CHECK(b.obs.at("celltype").categories == std::vector<std::string>{"B", "A", "C"});
  CHECK(b.obs.at("fixed_order").categories == std::vector<std::string>{"y", "x"});
  CHECK(b.source == p);

  SUBCASE("gzip-compressed output reads back the same") {
    H5adWriteOptions o;
    o.gzip_level = 4;
    write_h5ad(tmp_path("round_gz.h5ad"), a, o);
    check_same(a, read_h5ad(tmp_path("round_gz.h5ad")));
  }
  SUBCASE("layout: encodings written where anndata expects them") {
    auto f = h5::File::open(p);
    CHECK(f.attr_string("encoding-type") == "anndata");
    CHECK(f.attr_string("encoding-version") == "0.1.0");
    CHECK(f.dataset("X").attr_string("encoding-type") == "array");
    auto obs = f.group("obs");
    CHECK(obs.attr_string("encoding-type") == "dataframe");
    CHECK(obs.attr_string("encoding-version") == "0.2.0");
    CHECK(obs.attr_string("_index") == "_index");
    CHECK(obs.attr_strings("column-order") == std::vector<std::string>{"celltype", "fixed_order", "note", "total"});
    CHECK(obs.group("celltype").attr_string("encoding-type") == "categorical");
    CHECK(obs.group("celltype").attr_int64s("ordered") == std::vector<std::int64_t>{0});
    CHECK(obs.group("fixed_order").dataset("codes").read<std::int64_t>() ==
          std::vector<std::int64_t>{1, -1, 0, 1, 0});
    CHECK(obs.dataset("note").attr_string("encoding-type") == "string-array");
    CHECK(f.group("obsm").attr_string("encoding-type") == "dict");
    CHECK(f.group("uns").dataset("description").attr_string("encoding-type") == "string");
    for (const char* g : {"layers", "obsp", "varm", "varp"}) CHECK(f.has_group(g));
  }
  // Leave a copy for dev/check_h5ad_with_anndata.py.
  fs::copy_file(p, fs::temp_directory_path() / "stai_h5ad_roundtrip.h5ad", fs::copy_options::overwrite_existing);
}

TEST_CASE("h5ad: atomic writes leave no partial output") {
  const std::string p = tmp_path("atomic.h5ad");
  const std::string tmpname = p + ".tmp-" + std::to_string(::getpid());
  AnnData good = rich_anndata();
  write_h5ad(p, good);
  const auto size_before = fs::file_size(p);

  SUBCASE("a failing write keeps the old file and removes the temporary") {
    AnnData bad = good;
    bad.obs["a/b"] = Column::numeric({1, 2, 3, 4, 5});  // '/' is not allowed in keys
    CHECK_THROWS_WITH_AS(write_h5ad(p, bad), doctest::Contains("contain no '/'"), Error);
    CHECK(!fs::exists(tmpname));
    CHECK(fs::file_size(p) == size_before);
    check_same(good, read_h5ad(p));
  }
  SUBCASE("inconsistent data is refused before anything is written") {
    AnnData bad = good;
    bad.obs_names.pop_back();
    const std::string q = tmp_path("never.h5ad");
    CHECK_THROWS_WITH_AS(write_h5ad(q, bad), doctest::Contains("obs_names has 4 entries"), Error);
    CHECK(!fs::exists(q));
  }
  SUBCASE("missing output directory") {
    CHECK_THROWS_WITH_AS(write_h5ad(tmp_path("no/such/dir/x.h5ad"), good),
                         doctest::Contains("does not exist"), Error);
  }
  SUBCASE("category list missing a value") {
    AnnData bad = good;
    bad.obs["fixed_order"].str[0] = "z";
    CHECK_THROWS_WITH_AS(write_h5ad(p, bad), doctest::Contains("not one of its categories"), Error);
    CHECK(!fs::exists(tmpname));
    CHECK(fs::file_size(p) == size_before);
  }
}

TEST_CASE("h5ad: dense X of every numeric dtype") {
  const RowMatrix<float> x = sample_matrix(6, 5);
  const std::pair<const char*, hid_t> types[] = {
      {"float32", H5T_IEEE_F32LE}, {"float64", H5T_IEEE_F64LE}, {"int32", H5T_STD_I32LE},
      {"int64", H5T_STD_I64LE},    {"uint16", H5T_STD_U16LE},   {"uint8", H5T_STD_U8LE},
      {"int32 big-endian", H5T_STD_I32BE}};
  for (auto [name, t] : types) {
    SUBCASE(name) {
      const std::string p = tmp_path(std::string("dense_") + name + ".h5ad");
      write_dense_file(p, x, t);
      AnnData a = read_h5ad(p);
      CHECK(a.X == x);
      CHECK(a.obs_names == names(6, "cell"));
      CHECK(a.var_names == names(5, "gene"));
      // Gene subset from a dense matrix, in the requested order.
      H5adReadOptions o;
      o.genes = {"gene4", "gene1"};
      AnnData s = read_h5ad(p, o);
      REQUIRE(s.X.cols() == 2);
      CHECK(s.X.col(0) == x.col(4));
      CHECK(s.X.col(1) == x.col(1));
      CHECK(s.var_names == std::vector<std::string>{"gene4", "gene1"});
    }
  }
}

TEST_CASE("h5ad: sparse X, CSR and CSC, int32 and int64 indices, both layouts") {
  const RowMatrix<float> x = sample_matrix(7, 6);
  for (bool csr : {true, false})
    for (bool idx64 : {false, true})
      for (bool legacy : {false, true}) {
        const std::string tag = std::string(csr ? "csr" : "csc") + (idx64 ? "_i64" : "_i32") +
                                (legacy ? "_h5sparse" : "_encoded");
        SUBCASE(tag.c_str()) {
          const std::string p = tmp_path("sparse_" + tag + ".h5ad");
          write_sparse_file(p, x, csr, idx64, legacy);
          AnnData a = read_h5ad(p);
          CHECK(a.X == x);
          H5adReadOptions o;
          o.genes = {"gene5", "gene0", "gene3"};
          AnnData s = read_h5ad(p, o);
          REQUIRE(s.X.rows() == 7);
          REQUIRE(s.X.cols() == 3);
          CHECK(s.X.col(0) == x.col(5));
          CHECK(s.X.col(1) == x.col(0));
          CHECK(s.X.col(2) == x.col(3));
          CHECK(read_h5ad_var_names(p) == names(6, "gene"));
        }
      }
  SUBCASE("duplicate entries are summed, as scipy does") {
    SparseParts s;
    s.data = {1, 2, 5};
    s.indices = {1, 1, 0};
    s.indptr = {0, 2, 3};
    const std::string p = tmp_path("sparse_dup.h5ad");
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 2, 2, true, true, false);
      write_frame(f, "obs", names(2, "c"));
      write_frame(f, "var", names(2, "g"));
      f.close();
    }
    AnnData a = read_h5ad(p);
    CHECK(a.X(0, 1) == 3.f);
    CHECK(a.X(1, 0) == 5.f);
    CHECK(a.X(0, 0) == 0.f);
  }
}
