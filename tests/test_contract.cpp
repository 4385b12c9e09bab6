// Input contract: state detection with evidence, and check_input's errors
// (file, field and fix named), warnings and the zero-total-cell option.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <stai/data/contract.hpp>
#include <stai/data/preprocess.hpp>
#include <stai/random.hpp>

using namespace stai;

namespace {

RowMatrix<float> counts(index_t n, index_t g, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> X(n, g);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < g; ++j)
      X(i, j) = static_cast<float>(std::floor(-std::log(1.0 - rng.uniform()) * static_cast<double>(1 + j % 7)));
  for (index_t i = 0; i < n; ++i) X(i, i % g) += 1;  // no empty cell
  return X;
}

AnnData make(const RowMatrix<float>& X, const std::string& source, bool coords = true) {
  AnnData a;
  a.source = source;
  a.X = X;
  for (index_t i = 0; i < X.rows(); ++i) a.obs_names.push_back("cell" + std::to_string(i));
  for (index_t j = 0; j < X.cols(); ++j) a.var_names.push_back("Gene" + std::to_string(j));
  if (coords) {
    RowMatrix<double> xy(X.rows(), 2);
    for (index_t i = 0; i < X.rows(); ++i) {
      xy(i, 0) = static_cast<double>(i % 10);
      xy(i, 1) = static_cast<double>(i / 10);
    }
    a.obsm["spatial"] = xy;
  }
  std::vector<std::string> lab;
  for (index_t i = 0; i < X.rows(); ++i) lab.push_back(i % 3 == 0 ? "Astro" : (i % 3 == 1 ? "Oligo" : "Neuron"));
  a.obs["celltype"] = Column::strings(lab);
  return a;
}

bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("detect_state classifies raw, log-normalised, scaled and unknown data") {
  const RowMatrix<float> raw = counts(120, 30, 1);
  SUBCASE("raw counts") {
    const StateEvidence ev = detect_state(raw);
    CHECK(ev.state == DataState::RawCounts);
    CHECK(ev.integer_fraction == 1.0);
    CHECK(ev.n_negative == 0);
    CHECK(ev.min == 0.0);
    CHECK(ev.n_zero_rows == 0);
    CHECK(ev.row_sum_min > 0);
    CHECK(ev.describe().find("raw counts") == 0);
  }
  SUBCASE("normalize_total + log1p") {
    RowMatrix<float> X = raw;
    normalize_total_log1p(X);
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::LogNormalized);
    CHECK(ev.expm1_row_sum_cv < 1e-3);
    CHECK(ev.expm1_row_sum_median == doctest::Approx(1e4).epsilon(1e-4));
    CHECK(ev.reason.find("normalize_total") != std::string::npos);
  }
  SUBCASE("log1p of counts") {
    RowMatrix<float> X = raw;
    log1p_inplace(X);
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::LogNormalized);
    CHECK(ev.expm1_integer_fraction >= 0.99);
  }
  SUBCASE("a gene subset of log-normalised data (weak rule)") {
    RowMatrix<float> X = raw;
    normalize_total_log1p(X);
    const RowMatrix<float> sub = X.leftCols(10);
    const StateEvidence ev = detect_state(sub);
    CHECK(ev.state == DataState::LogNormalized);
    CHECK(ev.reason.find("at most 15") != std::string::npos);
  }
  SUBCASE("scaled") {
    RowMatrix<float> X = raw;
    normalize_total_log1p(X);
    std::vector<std::string> names;
    for (int j = 0; j < 30; ++j) names.push_back("g" + std::to_string(j));
    const StateEvidence ev = detect_state(scale_genes(X, names, names));
    CHECK(ev.state == DataState::Scaled);
    CHECK(ev.n_negative > 0);
    CHECK(ev.median_abs_gene_mean < 0.1);
  }
  SUBCASE("normalised without log (CPM) is unknown") {
    RowMatrix<float> X = raw;
    normalize_total(X, 1e6);
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::Unknown);
    CHECK(ev.max > 15);
  }
  SUBCASE("negative but not centred is unknown") {
    RowMatrix<float> X = raw;
    X(3, 4) = -2;
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::Unknown);
    CHECK(ev.n_negative == 1);
    CHECK(ev.first_negative_cell == 3);
    CHECK(ev.first_negative_gene == 4);
  }
  SUBCASE("non-finite values are located") {
    RowMatrix<float> X = raw;
    X(7, 2) = NAN;
    X(9, 1) = INFINITY;
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::Unknown);
    CHECK(ev.n_nonfinite == 2);
    CHECK(ev.first_nonfinite_cell == 7);
    CHECK(ev.first_nonfinite_gene == 2);
  }
  SUBCASE("hand case: evidence numbers") {
    RowMatrix<float> X(3, 2);
    X << 0, 2, 0, 0, 5, 1;
    const StateEvidence ev = detect_state(X);
    CHECK(ev.state == DataState::RawCounts);
    CHECK(ev.zero_fraction == doctest::Approx(0.5));
    CHECK(ev.row_sum_min == 0);
    CHECK(ev.row_sum_median == 2);
    CHECK(ev.row_sum_max == 6);
    CHECK(ev.n_zero_rows == 1);
    CHECK(ev.max == 5);
  }
}

TEST_CASE("check_input accepts good data") {
  AnnData st = make(counts(50, 8, 2), "st.h5ad");
  InputSpec spec;
  spec.role = Role::Spatial;
  spec.declared = DataState::RawCounts;
  spec.knn_k = 10;
  spec.label_key = "celltype";
  const InputReport rep = check_input(st, spec);
  CHECK(rep.state == DataState::RawCounts);
  CHECK(rep.evidence.state == DataState::RawCounts);
  CHECK(rep.warnings.empty());
  CHECK(rep.n_classes == 3);

  AnnData sc = make(counts(40, 8, 3), "sc.h5ad", false);
  InputSpec rs;
  rs.role = Role::Reference;
  rs.label_key = "celltype";
  const InputReport r2 = check_input(sc, rs);  // state detected
  CHECK(r2.state == DataState::RawCounts);
}

TEST_CASE("check_input rejects bad values with file, position and fix") {
  InputSpec spec;
  spec.role = Role::Reference;
  spec.declared = DataState::RawCounts;
  SUBCASE("NaN") {
    AnnData a = make(counts(20, 5, 4), "sc.h5ad", false);
    a.X(6, 3) = NAN;
    CHECK_THROWS_WITH_AS(check_input(a, spec),
                         doctest::Contains("sc.h5ad (reference): X has 1 NaN or infinite value(s), the first at cell 6 ('cell6'), gene 3 ('Gene3')"),
                         Error);
  }
  SUBCASE("negative values where counts are expected") {
    AnnData a = make(counts(20, 5, 4), "sc.h5ad", false);
    a.X(2, 1) = -1;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("negative value(s), the first at cell 2 ('cell2'), gene 1"), Error);
    spec.declared = DataState::Unknown;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("the reference must hold non-negative"), Error);
  }
  SUBCASE("empty matrix") {
    AnnData a;
    a.source = "x.h5ad";
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("X is empty"), Error);
  }
}

TEST_CASE("check_input: declared state against detected state") {
  RowMatrix<float> logn = counts(60, 12, 5);
  normalize_total_log1p(logn);
  InputSpec spec;
  spec.role = Role::Reference;
  SUBCASE("reference declared raw but already log-normalised: error by default") {
    AnnData a = make(logn, "zeisel.h5ad", false);
    spec.declared = DataState::RawCounts;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("zeisel.h5ad (reference): X is declared as raw counts but looks log-normalised"), Error);
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("log-transform twice"), Error);
    ContractOptions o;
    o.state_mismatch_is_error = false;
    const InputReport rep = check_input(a, spec, o);
    CHECK(rep.state == DataState::RawCounts);
    CHECK(any_contains(rep.warnings, "log-transform twice"));
  }
  SUBCASE("declared log-normalised but raw counts") {
    AnnData a = make(counts(60, 12, 5), "sc.h5ad", false);
    spec.declared = DataState::LogNormalized;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("declare it as raw counts"), Error);
  }
  SUBCASE("undeclared reference whose state cannot be told") {
    RowMatrix<float> cpm = counts(60, 12, 5);
    normalize_total(cpm, 1e6);
    AnnData a = make(cpm, "sc.h5ad", false);
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("Declare the state of the reference"), Error);
    spec.declared = DataState::LogNormalized;  // declared but unconfirmed: a warning
    const InputReport rep = check_input(a, spec);
    CHECK(any_contains(rep.warnings, "could not confirm"));
  }
  SUBCASE("scaled reference is rejected, scaled spatial data warned about") {
    std::vector<std::string> names;
    for (int j = 0; j < 12; ++j) names.push_back("Gene" + std::to_string(j));
    const RowMatrix<float> z = scale_genes(logn, names, names);
    AnnData a = make(z, "sc.h5ad", false);
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("the reference is scaled"), Error);
    AnnData b = make(z, "st.h5ad");
    InputSpec s2;
    const InputReport rep = check_input(b, s2);
    CHECK(rep.state == DataState::Scaled);
    CHECK(any_contains(rep.warnings, "already scaled"));
  }
}

TEST_CASE("check_input: cells with zero total") {
  RowMatrix<float> X = counts(30, 6, 6);
  X.row(4).setZero();
  X.row(17).setZero();
  AnnData a = make(X, "st.h5ad");
  a.obs["area"] = Column::numeric(std::vector<double>(30, 1.5));
  a.obs["area"].num[18] = 99;
  InputSpec spec;
  CHECK_THROWS_WITH_AS(check_input(a, spec),
                       doctest::Contains("st.h5ad (spatial data): 2 cell(s) have zero total expression: cell 4 ('cell4'), cell 17 ('cell17')"),
                       Error);
  CHECK(a.n_obs() == 30);  // untouched on error
  ContractOptions o;
  o.drop_zero_total_cells = true;
  const InputReport rep = check_input(a, spec, o);
  CHECK(rep.dropped_cells == std::vector<index_t>{4, 17});
  CHECK(rep.dropped_cell_names == std::vector<std::string>{"cell4", "cell17"});
  CHECK(any_contains(rep.warnings, "dropped 2 cell(s)"));
  REQUIRE(a.n_obs() == 28);
  a.validate();
  CHECK(a.obs_names[4] == "cell5");
  CHECK(a.obs_names[16] == "cell18");
  CHECK(a.obs["area"].num[16] == 99);
  CHECK(a.obs["celltype"].str[16] == "Astro");  // cell 18: 18 % 3 == 0
  CHECK(a.obsm["spatial"](16, 0) == 8.0);        // cell 18: (8, 1)
  CHECK(a.obsm["spatial"](16, 1) == 1.0);
  CHECK(a.X.row(16) == X.row(18));
}

TEST_CASE("check_input: coordinates, kNN size and labels") {
  InputSpec spec;
  spec.role = Role::Spatial;
  SUBCASE("missing coordinates name the key and the available keys") {
    AnnData a = make(counts(20, 4, 7), "st.h5ad");
    a.obsm["X_umap"] = a.obsm["spatial"];
    a.obsm.erase("spatial");
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("obsm['spatial'] is missing (obsm keys: 'X_umap')"), Error);
    spec.coords_key = "X_umap";
    CHECK_NOTHROW(check_input(a, spec));
  }
  SUBCASE("coordinates must be 2-D or 3-D and finite") {
    AnnData a = make(counts(20, 4, 7), "st.h5ad");
    a.obsm["spatial"] = RowMatrix<double>::Zero(20, 4);
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("has 4 columns"), Error);
    a.obsm["spatial"] = RowMatrix<double>::Zero(20, 3);
    CHECK_NOTHROW(check_input(a, spec));
    a.obsm["spatial"](5, 2) = NAN;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("cell 5 ('cell5'), column 2"), Error);
  }
  SUBCASE("fewer cells than k") {
    AnnData a = make(counts(8, 4, 7), "st.h5ad");
    spec.knn_k = 10;
    CHECK_THROWS_WITH_AS(check_input(a, spec), doctest::Contains("8 cells but the spatial graph needs k = 10"), Error);
    spec.knn_k = 8;
    CHECK_NOTHROW(check_input(a, spec));
  }
  SUBCASE("labels") {
    AnnData a = make(counts(20, 4, 7), "sc.h5ad", false);
    InputSpec rs;
    rs.role = Role::Reference;
    rs.label_key = "cell_type";
    CHECK_THROWS_WITH_AS(check_input(a, rs), doctest::Contains("obs['cell_type'] is missing (obs columns: 'celltype')"), Error);
    rs.label_key = "celltype";
    CHECK(check_input(a, rs).n_classes == 3);
    a.obs["celltype"].str[2] = "";
    CHECK_THROWS_WITH_AS(check_input(a, rs), doctest::Contains("1 cell(s) without a label: cell 2"), Error);
    a.obs["celltype"] = Column::strings(std::vector<std::string>(20, "Astro"));
    CHECK_THROWS_WITH_AS(check_input(a, rs), doctest::Contains("1 cell type(s); annotation needs at least 2"), Error);
    a.obs["celltype"] = Column::numeric(std::vector<double>(20, 1.0));
    a.obs["celltype"].num[0] = 2.0;
    CHECK(check_input(a, rs).n_classes == 2);
    // spatial labels (evaluation only): a single class is a warning
    AnnData b = make(counts(20, 4, 7), "st.h5ad");
    b.obs["celltype"] = Column::strings(std::vector<std::string>(20, "Astro"));
    spec.label_key = "celltype";
    const InputReport rep = check_input(b, spec);
    CHECK(any_contains(rep.warnings, "only 1 cell type(s)"));
  }
}
