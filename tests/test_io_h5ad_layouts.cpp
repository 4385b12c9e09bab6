// The .h5ad reader on layers, raw and column / obsm selection, the anndata 0.7
// and <= 0.6 layouts, nullable columns, fixed-length names and numeric
// categories.
#include "h5ad_fixture.hpp"

using namespace h5ad_test;

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
