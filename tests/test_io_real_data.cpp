// The real data in ../shared/data read through every reader, checked against
// the shapes and label counts documented in shared/data/README.md.
// Tests whose files are absent are reported as skipped (doctest::skip), and
// the "availability" test prints which files are missing.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/loom.hpp>
#include <stai/io/text.hpp>
#include <unordered_map>

using namespace stai;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() {
#ifdef STAI_SHARED_DATA_DIR
  return fs::path(STAI_SHARED_DATA_DIR);
#else
  // tests/ lives in the source tree; the data is ../shared/data next to it.
  return fs::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data";
#endif
}

std::string data(const std::string& rel) { return (data_dir() / rel).string(); }
bool have(const std::string& rel) { return fs::exists(data_dir() / rel); }

const char* const kOsm = "osmfish_zeisel/osmFISH_spatial.h5ad";
const char* const kOsmF = "osmfish_zeisel/osmFISH_spatial_filtered.h5ad";
const char* const kScvi = "osmfish_zeisel/scvi_smfish.h5ad";
const char* const kLoom = "osmfish_zeisel/osmFISH_SScortex_mouse_all_cells.loom";
const char* const kMer = "merfish_moffitt/orgaccc_slice/merfish.h5ad";
const char* const kSpat = "osmfish_allen_tissue/Spatial_count.txt";
const char* const kLoc = "osmfish_allen_tissue/Locations.txt";
const char* const kSc = "osmfish_allen_tissue/scRNA_count.txt";
const char* const kRef = "merfish_moffitt/stged_scrna/ref_exp_clear_100um.csv";
const char* const kRefLab = "merfish_moffitt/stged_scrna/ref_label_clear_100um.csv";

std::map<std::string, int> counts(const Column& c) {
  std::map<std::string, int> m;
  for (auto& s : c.str) ++m[s];
  return m;
}

/// Up to n leading bytes of a file.
std::string leading_bytes(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string b(n, '\0');
  in.read(b.data(), static_cast<std::streamsize>(n));
  b.resize(static_cast<std::size_t>(in.gcount()));
  return b;
}

fs::path anndata_written_dir() { return fs::temp_directory_path() / "stai_anndata_written"; }

}  // namespace

TEST_CASE("real data: availability; every present file holds data, not a placeholder") {
  int missing = 0;
  for (const char* f : {kOsm, kOsmF, kScvi, kLoom, kMer, kSpat, kLoc, kSc, kRef, kRefLab}) {
    if (!have(f)) {
      MESSAGE("real data file absent, its test is skipped: " << data(f));
      ++missing;
      continue;
    }
    // The leading bytes, against the formats' own definitions (not the
    // readers): a Git LFS or git-annex pointer or an HTML error page checked
    // out in place of the data would otherwise only surface as a reader error.
    CAPTURE(f);
    const std::string head = leading_bytes(data(f), 256);
    CHECK(fs::file_size(data_dir() / f) > 4096);
    CHECK(head.rfind("version https://git-lfs", 0) == std::string::npos);
    CHECK(head.find("/annex/objects/") == std::string::npos);
    CHECK(head.rfind("<!DOCTYPE", 0) == std::string::npos);
    const std::string name = f;
    if (name.ends_with(".h5ad") || name.ends_with(".loom")) {
      // HDF5 format signature at offset 0 (HDF5 File Format Specification, superblock)
      CHECK(head.substr(0, 8) == std::string("\x89HDF\r\n\x1a\n", 8));
    } else {
      // a delimited text table: printable first line with tab or comma separators
      const std::string line = head.substr(0, head.find('\n'));
      CHECK(line.find_first_of(",\t") != std::string::npos);
      CHECK(std::all_of(line.begin(), line.end(),
                        [](char c) { return c == '\t' || c == '\r' || (c >= 32 && c < 127); }));
    }
  }
  if (missing == 0) MESSAGE("all real data files found under " << data_dir().string());
  if (!fs::exists(anndata_written_dir()))
    MESSAGE("files written by python anndata absent (" << anndata_written_dir().string()
                                                       << "); run dev/check_h5ad_with_anndata.py to create them");
}

TEST_CASE("real data: osmFISH_spatial.h5ad (sparse CSR, anndata 0.8 layout)" * doctest::skip(!have(kOsm))) {
  AnnData a = read_h5ad(data(kOsm));
  REQUIRE(a.n_obs() == 4839);
  REQUIRE(a.n_vars() == 33);
  CHECK(a.X.maxCoeff() == 342.f);
  std::vector<float> totals(static_cast<std::size_t>(a.n_obs()));
  for (index_t i = 0; i < a.n_obs(); ++i) totals[std::size_t(i)] = a.X.row(i).sum();
  std::nth_element(totals.begin(), totals.begin() + 4839 / 2, totals.end());
  CHECK(totals[4839 / 2] == 163.f);
  const std::map<std::string, int> expect{
      {"Pyramidal", 1944}, {"Oligodendrocyte", 957}, {"Interneurons", 779}, {"Endothelial", 357},
      {"Astrocyte", 218},  {"Hippocampus", 148},     {"Ependymal", 112},    {"Pericytes", 106},
      {"Perivascular Macrophages", 72}, {"Microglia", 55}, {"C. Plexus", 54},
      {"Vascular Smooth Muscle", 37}};
  REQUIRE(a.obs.count("celltype") == 1);
  CHECK(counts(a.obs.at("celltype")) == expect);
  CHECK(a.obs.at("celltype").categories.size() == 12);
  CHECK(a.obs.at("ClusterName").categories.size() == 31);
  CHECK(a.obs.count("Region") == 1);
  REQUIRE(a.obsm.count("spatial") == 1);
  const auto& sp = a.obsm.at("spatial");
  REQUIRE(sp.cols() == 2);
  for (index_t i = 0; i < a.n_obs(); ++i) {
    CHECK(sp(i, 0) == a.obs.at("X").num[std::size_t(i)]);
    CHECK(sp(i, 1) == a.obs.at("Y").num[std::size_t(i)]);
  }
  for (const char* v : {"Fluorophore", "Hybridization", "cv_group", "cv_group5", "cv_group10"})
    CHECK(a.var.count(v) == 1);

  SUBCASE("gene subset from sparse X equals the columns of the full read") {
    H5adReadOptions o;
    o.genes = {"Vip", "Gad2", "Acta2"};
    AnnData s = read_h5ad(data(kOsm), o);
    for (index_t c = 0; c < 3; ++c) {
      const auto j = std::find(a.var_names.begin(), a.var_names.end(), o.genes[std::size_t(c)]) - a.var_names.begin();
      CHECK(s.X.col(c) == a.X.col(j));
    }
  }
}

TEST_CASE("real data: osmFISH_spatial_filtered.h5ad" * doctest::skip(!have(kOsmF))) {
  AnnData a = read_h5ad(data(kOsmF));
  CHECK(a.n_obs() == 4310);
  CHECK(a.n_vars() == 33);
  const std::map<std::string, int> expect{{"Pyramidal", 1944}, {"Oligodendrocyte", 957},
                                          {"Interneurons", 779}, {"Endothelial", 357},
                                          {"Astrocyte", 218},  {"Microglia", 55}};
  CHECK(counts(a.obs.at("celltype")) == expect);
}

TEST_CASE("real data: scvi_smfish.h5ad (dense int64)" * doctest::skip(!have(kScvi))) {
  AnnData a = read_h5ad(data(kScvi));
  CHECK(a.n_obs() == 4530);
  CHECK(a.n_vars() == 33);
  CHECK(a.X.minCoeff() >= 0.f);
  CHECK(a.X == a.X.array().round().matrix());  // integer counts
  REQUIRE(a.obs.count("str_labels") == 1);
  CHECK(counts(a.obs.at("str_labels")).size() == 6);
  CHECK(a.obs.count("x_coord") == 1);
  CHECK(a.obs.count("y_coord") == 1);
}

TEST_CASE("real data: merfish.h5ad (anndata 0.7 layout)" * doctest::skip(!have(kMer))) {
  AnnData a = read_h5ad(data(kMer));
  REQUIRE(a.n_obs() == 4975);
  REQUIRE(a.n_vars() == 160);
  auto c = counts(a.obs.at("celltype"));
  CHECK(c.size() == 15);
  CHECK(c["Inhibitory"] == 1694);
  CHECK(c["Excitatory"] == 1024);
  CHECK(c["Astrocyte"] == 724);
  CHECK(c["Ependymal"] == 314);
  CHECK(c["Microglia"] == 90);
  CHECK(c["Pericytes"] == 73);
  CHECK(c.count("") == 0);
  REQUIRE(a.obsm.count("spatial") == 1);
  CHECK(a.obsm.at("spatial").cols() == 2);
  CHECK(std::count(a.var_names.begin(), a.var_names.end(), "Fos") == 0);
  for (int b = 1; b <= 5; ++b)
    CHECK(std::count(a.var_names.begin(), a.var_names.end(), "Blank_" + std::to_string(b)) == 1);
}

TEST_CASE("real data: osmFISH loom agrees with the stAI h5ad" * doctest::skip(!have(kLoom))) {
  AnnData all = read_loom(data(kLoom));
  CHECK(all.n_obs() == 6471);
  CHECK(all.n_vars() == 33);
  LoomReadOptions o;
  o.filter_attr = "Valid";
  o.spatial_from_xy = true;
  AnnData v = read_loom(data(kLoom), o);
  REQUIRE(v.n_obs() == 4839);
  CHECK(v.obsm.at("spatial").rows() == 4839);
  CHECK(v.obs.count("ClusterName") == 1);
  if (have(kOsm)) {
    AnnData h = read_h5ad(data(kOsm));
    REQUIRE(h.var_names == v.var_names);
    std::unordered_map<std::string, index_t> row;
    for (index_t i = 0; i < v.n_obs(); ++i) row[v.obs_names[std::size_t(i)]] = i;
    int matched = 0, equal = 0;
    for (index_t i = 0; i < h.n_obs(); ++i) {
      auto it = row.find(h.obs_names[std::size_t(i)]);
      if (it == row.end()) continue;
      ++matched;
      equal += (h.X.row(i) == v.X.row(it->second)) &&
               h.obs.at("ClusterName").str[std::size_t(i)] == v.obs.at("ClusterName").str[std::size_t(it->second)] &&
               h.obsm.at("spatial").row(i) == v.obsm.at("spatial").row(it->second);
    }
    CHECK(matched == 4839);
    CHECK(equal == 4839);
  }
}

TEST_CASE("real data: TISSUE osmFISH text tables" * doctest::skip(!have(kSpat) || !have(kLoc) || !have(kSc))) {
  AnnData s = read_table(data(kSpat));
  CHECK(s.n_obs() == 3405);
  CHECK(s.n_vars() == 33);
  add_coordinates(s, data(kLoc));
  REQUIRE(s.obsm.at("spatial").rows() == 3405);
  CHECK(s.obsm.at("spatial")(0, 0) == doctest::Approx(18171.23094));
  ExpressionTableOptions t;
  t.transpose = true;
  AnnData r = read_table(data(kSc), t);
  CHECK(r.n_obs() == 1000);
  CHECK(r.n_vars() == 33);
  CHECK(r.obs_names[0] == "SM-DAIFH_S33_E1-50");
  auto a = s.var_names, b = r.var_names;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);
}

TEST_CASE("real data: Moffitt scRNA-seq reference CSV + labels by position" * doctest::skip(!have(kRef) || !have(kRefLab))) {
  ExpressionTableOptions t;
  t.transpose = true;
  AnnData r = read_table(data(kRef), t);
  REQUIRE(r.n_obs() == 9873);
  REQUIRE(r.n_vars() == 133);
  CHECK(r.obs_names[0] == "Cell1");
  CHECK(r.var_names[0] == "Oprk1");
  CHECK(r.X == r.X.array().round().matrix());
  add_labels(r, data(kRefLab));
  const std::map<std::string, int> expect{{"OD Mature", 1977}, {"Excitatory", 1963}, {"Inhibitory", 1906},
                                          {"OD Immature", 1647}, {"Microglia", 730},  {"Astrocyte", 574},
                                          {"Endothelial", 514}, {"Mural", 508},       {"Ependymal", 54}};
  CHECK(counts(r.obs.at("celltype")) == expect);
  if (have(kMer)) {
    auto m = read_h5ad_var_names(data(kMer));
    int shared = 0;
    for (auto& g : r.var_names) shared += std::count(m.begin(), m.end(), g) > 0;
    CHECK(shared == 133);
  }
}

TEST_CASE("anndata-written files (from dev/check_h5ad_with_anndata.py)" *
          doctest::skip(!fs::exists(anndata_written_dir() / "expected_X.csv"))) {
  const fs::path d = anndata_written_dir();
  AnnData expect = read_table((d / "expected_X.csv").string());
  TextTable labels = read_text_table((d / "expected_obs.csv").string());
  int files = 0;
  for (auto& e : fs::directory_iterator(d)) {
    if (e.path().extension() != ".h5ad") continue;
    ++files;
    INFO("file " << e.path().string());
    AnnData a = read_h5ad(e.path().string());
    CHECK(a.X == expect.X);
    CHECK(a.obs_names == expect.obs_names);
    CHECK(a.var_names == expect.var_names);
    for (index_t j = 0; j < labels.cols(); ++j) {
      const auto& name = labels.col_names[std::size_t(j)];
      INFO("obs column " << name);
      REQUIRE(a.obs.count(name) == 1);
      const Column& c = a.obs.at(name);
      for (index_t i = 0; i < labels.rows(); ++i) {
        const std::string& want = labels.cells[std::size_t(i)][std::size_t(j)];
        if (c.kind == Column::Kind::String) {
          CHECK(c.str[std::size_t(i)] == want);
        } else {
          double v = 0;
          REQUIRE(parse_number(want, v));
          if (std::isnan(v)) CHECK(std::isnan(c.num[std::size_t(i)]));
          else CHECK(c.num[std::size_t(i)] == v);
        }
      }
    }
    if (a.obsm.count("spatial")) CHECK(a.obsm.at("spatial")(1, 0) == 1.0);
  }
  CHECK(files >= 3);
}
