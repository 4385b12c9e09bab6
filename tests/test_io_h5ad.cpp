// Tests for the .h5ad reader/writer: round trips, every on-disk layout
// (generated here with the stai::h5 wrappers), gene subsets, layers/raw and
// malformed inputs.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>

using namespace stai;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
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

std::vector<std::string> names(int n, const std::string& prefix) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

/// Cells x genes test matrix with zeros (sparse-ish) and integer-valued entries.
RowMatrix<float> sample_matrix(int rows, int cols) {
  RowMatrix<float> m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = ((i * 7 + j * 3) % 4 == 0) ? 0.f : float(i * 10 + j + 1);
  return m;
}

/// Writes a modern (anndata >= 0.8) dataframe group with only an index.
void write_frame(const h5::Group& parent, const std::string& name, const std::vector<std::string>& index) {
  auto g = h5::create_group(parent, name);
  h5::write_encoding(g, "dataframe", "0.2.0");
  h5::write_attr_string(g, "_index", "_index");
  h5::write_attr_empty_array(g, "column-order");
  h5::write_encoding(h5::write_strings(g, "_index", index), "string-array", "0.2.0");
}

/// Writes X as a dense dataset of the given on-disk type.
void write_dense_file(const std::string& path, const RowMatrix<float>& x, hid_t file_type) {
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
SparseParts to_sparse(const RowMatrix<float>& x, bool csr) {
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
void write_sparse_group(const h5::Group& parent, const std::string& name, const SparseParts& s,
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

void write_sparse_file(const std::string& path, const RowMatrix<float>& x, bool csr, bool idx64,
                       bool legacy) {
  auto f = h5::File::create(path);
  if (!legacy) h5::write_encoding(f, "anndata", "0.1.0");
  write_sparse_group(f, "X", to_sparse(x, csr), x.rows(), x.cols(), csr, idx64, legacy);
  write_frame(f, "obs", names(int(x.rows()), "cell"));
  write_frame(f, "var", names(int(x.cols()), "gene"));
  f.close();
}

AnnData rich_anndata() {
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

void check_same(const AnnData& a, const AnnData& b) {
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

}  // namespace

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

TEST_CASE("h5ad: layers, raw, and column / obsm selection") {
  const RowMatrix<float> x = sample_matrix(4, 3);
  const RowMatrix<float> counts = x * 2.f;
  const RowMatrix<float> raw = sample_matrix(4, 5);
  AnnData a;
  a.X = x;
  a.obs_names = names(4, "c");
  a.var_names = names(3, "g");
  a.obs["n"] = Column::numeric({1, 2, 3, 4});
  a.obs["t"] = Column::strings({"a", "b", "a", "b"});
  a.obsm["spatial"] = RowMatrix<double>::Ones(4, 2);
  a.obsm["X_pca"] = RowMatrix<double>::Zero(4, 3);
  const std::string p = tmp_path("layers.h5ad");
  {
    auto f = h5::File::create(p);
    write_h5ad(f, a);
    // add a dense layer and a sparse /raw with more genes
    h5::Group layers(h5::Hid(H5Gopen2(f.id(), "layers", H5P_DEFAULT)), p, "/layers");
    h5::write_encoding(h5::write(layers, "counts", counts.data(), {4, 3}, H5T_IEEE_F32LE), "array", "0.2.0");
    auto rg = h5::create_group(f, "raw");
    write_sparse_group(rg, "X", to_sparse(raw, true), 4, 5, true, false, false);
    write_frame(rg, "var", names(5, "rawg"));
    f.close();
  }
  SUBCASE("layer") {
    H5adReadOptions o;
    o.layer = "counts";
    CHECK(read_h5ad(p, o).X == counts);
    o.layer = "spliced";
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("layer 'spliced' is not in /layers; available: counts"), Error);
  }
  SUBCASE("raw") {
    H5adReadOptions o;
    o.use_raw = true;
    AnnData r = read_h5ad(p, o);
    CHECK(r.X == raw);
    CHECK(r.var_names == names(5, "rawg"));
    CHECK(r.obs_names == a.obs_names);
    o.genes = {"rawg3"};
    CHECK(read_h5ad(p, o).X.col(0) == raw.col(3));
  }
  SUBCASE("obs columns and obsm keys") {
    H5adReadOptions o;
    o.obs_columns = std::vector<std::string>{"t"};
    o.obsm_keys = std::vector<std::string>{"spatial"};
    AnnData r = read_h5ad(p, o);
    CHECK(r.obs.size() == 1);
    CHECK(r.obs.count("t") == 1);
    CHECK(r.obsm.size() == 1);
    CHECK(r.obsm.count("spatial") == 1);
    o.obs_columns = std::vector<std::string>{};
    o.obsm_keys = std::vector<std::string>{};
    r = read_h5ad(p, o);
    CHECK(r.obs.empty());
    CHECK(r.obsm.empty());
    o.obs_columns = std::vector<std::string>{"celltype"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("has no column 'celltype'; available: n, t"), Error);
    o.obs_columns.reset();
    o.obsm_keys = std::vector<std::string>{"umap"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("has no key 'umap'"), Error);
  }
  SUBCASE("no raw") {
    const std::string q = tmp_path("noraw.h5ad");
    write_h5ad(q, a);
    H5adReadOptions o;
    o.use_raw = true;
    CHECK_THROWS_WITH_AS(read_h5ad(q, o), doctest::Contains("no /raw group"), Error);
  }
}

TEST_CASE("h5ad: anndata 0.7 layout (categories by object reference)") {
  // Mirrors merfish.h5ad: dataframe groups without per-column encodings,
  // codes with an attribute 'categories' referencing obs/__categories/<col>.
  const std::string p = tmp_path("v07.h5ad");
  const RowMatrix<float> x = sample_matrix(4, 2);
  {
    auto f = h5::File::create(p);
    h5::write(f, "X", x.data(), {4, 2}, H5T_IEEE_F32LE);
    auto obs = h5::create_group(f, "obs");
    h5::write_attr_string(obs, "_index", "_index");
    h5::write_attr_strings(obs, "column-order", {"celltype", "area"});
    h5::write_encoding(obs, "dataframe", "0.1.0");
    h5::write_strings(obs, "_index", {"a", "b", "c", "d"});
    auto cats = h5::create_group(obs, "__categories");
    h5::write_fixed_strings(cats, "celltype", {"Astro", "Neuron"});
    std::vector<std::int8_t> codes{1, 0, 1, -1};
    auto ct = h5::write(obs, "celltype", codes.data(), {4}, H5T_STD_I8LE);
    hobj_ref_t ref{};
    REQUIRE(H5Rcreate(&ref, f.id(), "/obs/__categories/celltype", H5R_OBJECT, -1) >= 0);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(ct.id(), "categories", H5T_STD_REF_OBJ, s, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(at, H5T_STD_REF_OBJ, &ref) >= 0);
    H5Aclose(at);
    H5Sclose(s);
    std::vector<double> area{1, 2, 3, 4};
    h5::write(obs, "area", area.data(), {4}, H5T_IEEE_F64LE);
    auto var = h5::create_group(f, "var");
    h5::write_attr_string(var, "_index", "_index");
    h5::write_attr_empty_array(var, "column-order");
    h5::write_encoding(var, "dataframe", "0.1.0");
    h5::write_strings(var, "_index", {"G1", "G2"});
    auto obsm = h5::create_group(f, "obsm");
    std::vector<std::int32_t> xyz(12);
    for (int i = 0; i < 12; ++i) xyz[std::size_t(i)] = i;
    h5::write(obsm, "spatial3d", xyz.data(), {4, 3}, H5T_STD_I32LE);
    f.close();
  }
  AnnData a = read_h5ad(p);
  CHECK(a.X == x);
  CHECK(a.obs_names == std::vector<std::string>{"a", "b", "c", "d"});
  REQUIRE(a.obs.count("celltype") == 1);
  CHECK(a.obs.at("celltype").str == std::vector<std::string>{"Neuron", "Astro", "Neuron", ""});
  CHECK(a.obs.at("celltype").categories == std::vector<std::string>{"Astro", "Neuron"});
  CHECK(a.obs.at("area").num == std::vector<double>{1, 2, 3, 4});
  REQUIRE(a.obsm.count("spatial3d") == 1);
  CHECK(a.obsm.at("spatial3d")(3, 2) == 11.0);
  CHECK(a.obsm.at("spatial3d").cols() == 3);
}

TEST_CASE("h5ad: anndata <= 0.6 layout (compound obs/var, categories in uns)") {
  const std::string p = tmp_path("v06.h5ad");
  const RowMatrix<float> x = sample_matrix(3, 2);
  {
    auto f = h5::File::create(p);
    write_sparse_group(f, "X", to_sparse(x, true), 3, 2, true, false, true);  // h5sparse layout
    // obs: {index: S8, louvain: int8 codes, n_counts: float32, flag: bool enum}
    struct ObsRow {
      char index[8];
      std::int8_t louvain;
      float n_counts;
      std::int8_t flag;
    };
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 8);
    hid_t be = H5Tenum_create(H5T_NATIVE_INT8);
    std::int8_t v0 = 0, v1 = 1;
    H5Tenum_insert(be, "FALSE", &v0);
    H5Tenum_insert(be, "TRUE", &v1);
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(ObsRow));
    H5Tinsert(ct, "index", HOFFSET(ObsRow, index), st);
    H5Tinsert(ct, "louvain", HOFFSET(ObsRow, louvain), H5T_NATIVE_INT8);
    H5Tinsert(ct, "n_counts", HOFFSET(ObsRow, n_counts), H5T_NATIVE_FLOAT);
    H5Tinsert(ct, "flag", HOFFSET(ObsRow, flag), be);
    ObsRow rows[3] = {{"AAAC", 1, 10.5f, 1}, {"AAAG", 0, 20.f, 0}, {"AATT", 1, 30.f, 1}};
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t ds = H5Dcreate2(f.id(), "obs", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Dwrite(ds, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(ct);
    // var: {index: vlen string}
    struct VarRow {
      const char* index;
    };
    hid_t vs = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs, H5T_VARIABLE);
    hid_t vt = H5Tcreate(H5T_COMPOUND, sizeof(VarRow));
    H5Tinsert(vt, "index", 0, vs);
    VarRow vrows[2] = {{"Snap25"}, {"Gfap"}};
    n = 2;
    sp = H5Screate_simple(1, &n, nullptr);
    ds = H5Dcreate2(f.id(), "var", vt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Dwrite(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vrows) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(vt);
    H5Tclose(vs);
    H5Tclose(st);
    H5Tclose(be);
    auto uns = h5::create_group(f, "uns");
    h5::write_fixed_strings(uns, "louvain_categories", {"0", "1"});
    h5::write_string(uns, "title", "old file");
    f.close();
  }
  AnnData a = read_h5ad(p);
  CHECK(a.X == x);
  CHECK(a.obs_names == std::vector<std::string>{"AAAC", "AAAG", "AATT"});
  CHECK(a.var_names == std::vector<std::string>{"Snap25", "Gfap"});
  REQUIRE(a.obs.count("louvain") == 1);
  CHECK(a.obs.at("louvain").kind == Column::Kind::String);
  CHECK(a.obs.at("louvain").str == std::vector<std::string>{"1", "0", "1"});
  CHECK(a.obs.at("n_counts").num == std::vector<double>{10.5, 20, 30});
  CHECK(a.obs.at("flag").num == std::vector<double>{1, 0, 1});
  CHECK(a.uns.count("louvain_categories") == 0);  // consumed by the categorical
  CHECK(a.uns.at("title") == "old file");
  H5adReadOptions o;
  o.obs_columns = std::vector<std::string>{"n_counts"};
  CHECK(read_h5ad(p, o).obs.size() == 1);
}

TEST_CASE("h5ad: nullable columns, fixed-length names, numeric categories") {
  const std::string p = tmp_path("misc.h5ad");
  {
    auto f = h5::File::create(p);
    h5::write_encoding(f, "anndata", "0.1.0");
    RowMatrix<float> x = sample_matrix(3, 2);
    h5::write(f, "X", x.data(), {3, 2}, H5T_IEEE_F32LE);
    auto obs = h5::create_group(f, "obs");
    h5::write_encoding(obs, "dataframe", "0.2.0");
    h5::write_attr_string(obs, "_index", "cell_id");
    h5::write_attr_strings(obs, "column-order", {"cnt", "cluster"});
    h5::write_fixed_strings(obs, "cell_id", {"x1", "x22", "x333"});
    auto cnt = h5::create_group(obs, "cnt");
    h5::write_encoding(cnt, "nullable-integer", "0.1.0");
    std::vector<std::int64_t> vals{5, 0, 7};
    h5::write(cnt, "values", vals.data(), {3}, H5T_STD_I64LE);
    h5::write_bools(cnt, "mask", {0, 1, 0});
    auto cl = h5::create_group(obs, "cluster");
    h5::write_encoding(cl, "categorical", "0.2.0");
    h5::write_attr_bool(cl, "ordered", true);
    std::vector<std::int64_t> cats{3, 11};
    h5::write(cl, "categories", cats.data(), {2}, H5T_STD_I64LE);
    std::vector<std::int8_t> codes{1, 1, 0};
    h5::write(cl, "codes", codes.data(), {3}, H5T_STD_I8LE);
    write_frame(f, "var", {"a", "b"});
    f.close();
  }
  AnnData a = read_h5ad(p);
  CHECK(a.obs_names == std::vector<std::string>{"x1", "x22", "x333"});
  CHECK(a.obs.at("cnt").num[0] == 5);
  CHECK(std::isnan(a.obs.at("cnt").num[1]));
  CHECK(a.obs.at("cluster").str == std::vector<std::string>{"11", "11", "3"});
}

TEST_CASE("h5ad: malformed inputs give stai::Error, never a crash") {
  const RowMatrix<float> x = sample_matrix(4, 3);
  auto base = [&](const std::string& name) {
    return tmp_path(name);
  };

  SUBCASE("file does not exist") {
    CHECK_THROWS_WITH_AS(read_h5ad(base("absent.h5ad")), doctest::Contains("does not exist"), Error);
  }
  SUBCASE("not an HDF5 file") {
    const std::string p = base("text.h5ad");
    std::ofstream(p) << "gene,cell\n1,2\n";
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("not an HDF5 file"), Error);
  }
  SUBCASE("truncated file") {
    const std::string good = base("full.h5ad");
    write_h5ad(good, rich_anndata());
    const auto size = fs::file_size(good);
    for (double frac : {0.9, 0.5, 0.1}) {
      const std::string p = base("trunc.h5ad");
      fs::copy_file(good, p, fs::copy_options::overwrite_existing);
      fs::resize_file(p, static_cast<std::uintmax_t>(double(size) * frac));
      CHECK_THROWS_AS(read_h5ad(p), Error);
    }
  }
  SUBCASE("strings as X") {
    const std::string p = base("strx.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "tmp");
      (void)g;
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 4);
      hsize_t d[2] = {2, 2};
      hid_t s = H5Screate_simple(2, d, nullptr);
      hid_t ds = H5Dcreate2(f.id(), "X", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      const char buf[16] = "abcdefghijklmno";
      H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      H5Dclose(ds);
      H5Sclose(s);
      H5Tclose(t);
      write_frame(f, "obs", names(2, "c"));
      write_frame(f, "var", names(2, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/X: the matrix holds string values; expected numbers"), Error);
  }
  SUBCASE("missing obs group") {
    const std::string p = base("noobs.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("'obs' is missing"), Error);
  }
  SUBCASE("missing X") {
    const std::string p = base("nox.h5ad");
    {
      auto f = h5::File::create(p);
      write_frame(f, "obs", names(3, "c"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("no X matrix"), Error);
  }
  SUBCASE("indptr length mismatch") {
    const std::string p = base("badptr.h5ad");
    auto s = to_sparse(x, true);
    s.indptr.pop_back();
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, false, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/X/indptr: has 4 entries but the CSR matrix of shape (4, 3) needs 5"), Error);
  }
  SUBCASE("indices and data lengths differ") {
    const std::string p = base("badidx.h5ad");
    auto s = to_sparse(x, true);
    s.indices.push_back(0);
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, true, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("indices has"), Error);
  }
  SUBCASE("index out of range in sparse data") {
    for (bool csr : {true, false}) {
      const std::string p = base("oob.h5ad");
      auto s = to_sparse(x, csr);
      s.indices[1] = csr ? 3 : 4;
      {
        auto f = h5::File::create(p);
        write_sparse_group(f, "X", s, 4, 3, csr, false, false);
        write_frame(f, "obs", names(4, "c"));
        write_frame(f, "var", names(3, "g"));
        f.close();
      }
      CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("outside [0,"), Error);
    }
  }
  SUBCASE("decreasing indptr / wrong final indptr") {
    const std::string p = base("decr.h5ad");
    auto s = to_sparse(x, true);
    std::swap(s.indptr[1], s.indptr[2]);
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, false, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("decreases at position"), Error);
  }
  SUBCASE("bad sparse shape attribute") {
    const std::string p = base("shape.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "X");
      h5::write_encoding(g, "csr_matrix", "0.1.0");
      h5::write_attr_int64s(g, "shape", {4});
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("shape must be two non-negative integers"), Error);
  }
  SUBCASE("obs length mismatch") {
    const std::string p = base("obslen.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      write_frame(f, "obs", names(3, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obs: has 3 rows but /X has 4 rows"), Error);
  }
  SUBCASE("obs column length mismatch") {
    const std::string p = base("collen.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      auto obs = h5::create_group(f, "obs");
      h5::write_attr_string(obs, "_index", "_index");
      h5::write_strings(obs, "_index", names(4, "c"));
      std::vector<double> v{1, 2};
      h5::write(obs, "short", v.data(), {2}, H5T_IEEE_F64LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obs/short: column has 2 entries but there are 4 cells"), Error);
  }
  SUBCASE("categorical code out of range") {
    const std::string p = base("code.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      auto obs = h5::create_group(f, "obs");
      h5::write_encoding(obs, "dataframe", "0.2.0");
      h5::write_attr_string(obs, "_index", "_index");
      h5::write_attr_strings(obs, "column-order", {"ct"});
      h5::write_strings(obs, "_index", names(4, "c"));
      auto ct = h5::create_group(obs, "ct");
      h5::write_encoding(ct, "categorical", "0.2.0");
      h5::write_strings(ct, "categories", {"a"});
      std::vector<std::int8_t> codes{0, 0, 5, 0};
      h5::write(ct, "codes", codes.data(), {4}, H5T_STD_I8LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("categorical code 5 at position 2 is out of range"), Error);
  }
  SUBCASE("empty matrix") {
    const std::string p = base("empty.h5ad");
    RowMatrix<float> e(0, 3);
    write_dense_file(p, e, H5T_IEEE_F32LE);
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("the matrix is empty (0 cells x 3 genes)"), Error);
    H5adReadOptions o;
    o.allow_empty = true;
    CHECK(read_h5ad(p, o).n_obs() == 0);
  }
  SUBCASE("requested genes missing") {
    const std::string p = base("genes.h5ad");
    write_dense_file(p, x, H5T_IEEE_F32LE);
    H5adReadOptions o;
    o.genes = {"gene1", "Nope", "Zilch"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("requested genes not found in var names: Nope, Zilch"), Error);
    o.genes = {"gene1", "gene1"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("requested twice"), Error);
  }
  SUBCASE("obsm stored as a dataframe") {
    const std::string p = base("obsmdf.h5ad");
    {
      auto f = h5::File::create(p);
      write_h5ad(f, rich_anndata());
      h5::Group obsm(h5::Hid(H5Gopen2(f.id(), "obsm", H5P_DEFAULT)), p, "/obsm");
      write_frame(obsm, "coords", names(5, "c"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obsm/coords: is stored as a 'dataframe'"), Error);
    H5adReadOptions o;
    o.obsm_keys = std::vector<std::string>{"spatial"};
    CHECK(read_h5ad(p, o).obsm.size() == 1);
  }
  SUBCASE("read limit guards huge allocations") {
    const std::string p = base("limit.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "X");
      h5::write_encoding(g, "csr_matrix", "0.1.0");
      h5::write_attr_int64s(g, "shape", {std::int64_t(1) << 40, std::int64_t(1) << 40});
      std::vector<float> d;
      std::vector<std::int32_t> i;
      h5::write(g, "data", d.data(), {0}, H5T_IEEE_F32LE);
      h5::write(g, "indices", i.data(), {0}, H5T_STD_I32LE);
      h5::write(g, "indptr", i.data(), {0}, H5T_STD_I32LE);
      h5::create_group(f, "obs");  // no index: names would be generated for 2^40 cells
      h5::create_group(f, "var");
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("more than the read limit"), Error);
  }
}
