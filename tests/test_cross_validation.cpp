// Tests for the evaluation protocols (eval/cross_validation.hpp): the
// held-out sets of leave-one-gene-out and k-fold gene cross-validation, the
// authors' reuse of ONE RandomState for the inner calibration folds, that a
// held-out gene never enters its model, scoring against the measured (raw)
// spatial values, partial runs, progress and cancellation, per-gene scores
// and medians against hand-computed values, the Mann-Whitney comparison of
// two methods and the annotation scoring with a label map.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <stai/data/simulate.hpp>
#include <stai/eval/cross_validation.hpp>
#include <stai/io/cv_table.hpp>

using namespace stai;
using namespace stai::eval;

namespace {

/// A tiny tissue: 8 shared genes, 120 spatial and 90 reference cells.
const Simulation& tiny() {
  static const Simulation s = [] {
    SimulationOptions o;
    o.n_spatial = 120;
    o.n_reference = 90;
    o.n_types = 3;
    o.n_genes = 8;
    o.n_panel = 8;
    o.markers_per_type = 2;
    o.seed = 11;
    return simulate(o);
  }();
  return s;
}

Config tiny_config() {
  Config c = Config::imputation();
  c.d_hidden = 12;
  c.d_latent = 4;
  c.num_epoch = 4;
  c.eval_step = 2;
  c.k_folds = 2;
  c.topk = 15;
  c.seed = 8848;
  return c;
}

Cpu one_thread() {
  Cpu be;
  be.threads = 1;
  return be;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<double> column(const RowMatrix<float>& X, index_t j) {
  std::vector<double> v(static_cast<std::size_t>(X.rows()));
  for (index_t i = 0; i < X.rows(); ++i) v[static_cast<std::size_t>(i)] = X(i, j);
  return v;
}

/// The full leave-one-out run on the tiny tissue, made once.
const GeneCvResult& loo_run() {
  static const GeneCvResult r = [] {
    Cpu be = one_thread();
    GeneCvOptions o;
    o.keep_values = true;
    return cross_validate_genes(be, tiny().spatial, tiny().reference, tiny_config(), o);
  }();
  return r;
}

}  // namespace

TEST_CASE("cv: held-out sets of leave-one-out and k-fold") {
  SUBCASE("leave-one-out: every gene alone, in order") {
    const auto s = held_out_index_sets(5, GeneCvScheme::LeaveOneOut, 10, 1);
    REQUIRE(s.size() == 5);
    for (index_t g = 0; g < 5; ++g) CHECK(s[static_cast<std::size_t>(g)] == std::vector<index_t>{g});
  }
  SUBCASE("k-fold: scikit-learn's shuffled KFold with RandomState(seed)") {
    // rs = np.random.RandomState(8848); [te for tr, te in KFold(5, shuffle=True, random_state=rs).split(np.arange(32))]
    const auto s = held_out_index_sets(32, GeneCvScheme::KFold, 5, 8848);
    REQUIRE(s.size() == 5);
    CHECK(s[0] == std::vector<index_t>{6, 7, 8, 11, 12, 18, 27});
    CHECK(s[1] == std::vector<index_t>{0, 2, 5, 9, 14, 22, 28});
    CHECK(s[4] == std::vector<index_t>{4, 13, 20, 21, 26, 31});
  }
  SUBCASE("k-fold: the sets partition the genes, sizes n//k + 1 first") {
    const auto s = held_out_index_sets(11, GeneCvScheme::KFold, 3, 5);
    REQUIRE(s.size() == 3);
    CHECK(s[0].size() == 4);
    CHECK(s[1].size() == 4);
    CHECK(s[2].size() == 3);
    std::vector<int> seen(11, 0);
    for (const auto& f : s)
      for (index_t g : f) ++seen[static_cast<std::size_t>(g)];
    for (int c : seen) CHECK(c == 1);
  }
  SUBCASE("names") {
    const auto s = held_out_sets({"a", "b", "c"}, GeneCvScheme::LeaveOneOut, 0, 0);
    REQUIRE(s.size() == 3);
    CHECK(s[1] == std::vector<std::string>{"b"});
  }
  SUBCASE("errors") {
    CHECK_THROWS_AS(held_out_index_sets(4, GeneCvScheme::KFold, 5, 1), Error);
    CHECK_THROWS_AS(held_out_index_sets(4, GeneCvScheme::KFold, 1, 1), Error);
  }
}

TEST_CASE("cv: per-gene scores against hand-computed values") {
  SUBCASE("perfect up to scale") {
    const auto s = score_gene("g", {1, 2, 3, 4}, {2, 4, 6, 8});
    CHECK(s.pcc == doctest::Approx(1.0));
    CHECK(s.rmse == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(s.jsd == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(s.imputed_mean == doctest::Approx(2.5));
    CHECK(s.measured_mean == doctest::Approx(5.0));
  }
  SUBCASE("reversed") {
    const auto s = score_gene("g", {1, 2, 3, 4}, {4, 3, 2, 1});
    CHECK(s.pcc == doctest::Approx(-1.0));
    // z-scores are exact negatives: RMSE = 2 sqrt(mean z^2) = 2
    CHECK(s.rmse == doctest::Approx(2.0));
    // p = (.1,.2,.3,.4), q = reversed, m = .25: JS = .1 ln .4 + .2 ln .8 + .3 ln 1.2 + .4 ln 1.6
    const double js = 0.1 * std::log(0.4) + 0.2 * std::log(0.8) + 0.3 * std::log(1.2) + 0.4 * std::log(1.6);
    CHECK(s.jsd == doctest::Approx(js).epsilon(1e-12));
  }
  SUBCASE("constant imputation: PCC undefined, left out of the medians and counted") {
    GeneCvResult r;
    r.rows.push_back(score_gene("a", {1, 1, 1}, {1, 2, 3}));
    r.rows.push_back(score_gene("b", {1, 2, 3}, {1, 2, 4}));
    r.rows.push_back(score_gene("c", {3, 2, 1}, {1, 2, 4}));
    r.update_summary();
    CHECK(std::isnan(r.rows[0].pcc));
    CHECK(r.n_nonfinite_pcc == 1);
    CHECK(r.median_pcc == doctest::Approx(0.5 * (r.rows[1].pcc + r.rows[2].pcc)));
  }
  SUBCASE("mismatched lengths") { CHECK_THROWS_AS(score_gene("g", {1, 2}, {1, 2, 3}), Error); }
}

TEST_CASE("cv: leave-one-out trains one ensemble per gene without it, folds from ONE reused RandomState") {
  const Simulation& sim = tiny();
  const Config cfg = tiny_config();
  const GeneCvResult& r = loo_run();
  const index_t n = 8;
  REQUIRE(r.shared_genes == sim.spatial.var_names);
  REQUIRE(r.sets.size() == 8);
  REQUIRE(r.rows.size() == 8);
  REQUIRE(r.sets_scored.size() == 8);
  for (index_t g = 0; g < n; ++g) {
    CHECK(r.rows[static_cast<std::size_t>(g)].gene == sim.spatial.var_names[static_cast<std::size_t>(g)]);
    CHECK(r.rows[static_cast<std::size_t>(g)].set == g);
  }
  REQUIRE(r.imputed.rows() == sim.spatial.n_obs());
  REQUIRE(r.imputed.cols() == 8);

  // Replicate sets 0 and 3 by hand: the inner folds of set s are the
  // (s+1)-th draw of one NumpyRandomState(seed) over n - 1 genes.
  NumpyRandomState rs(static_cast<std::uint32_t>(cfg.seed));
  std::vector<std::vector<Fold>> draws;
  for (int s = 0; s < 4; ++s) draws.push_back(kfold_split(n - 1, cfg.k_folds, rs));
  CHECK(draws[0][0].calibration != draws[1][0].calibration);  // the state moves on between sets
  for (int s : {0, 3}) {
    CAPTURE(s);
    const std::string gene = sim.spatial.var_names[static_cast<std::size_t>(s)];
    Cpu be = one_thread();
    Pipeline<> m;
    FitOptions fo;
    fo.held_out = {gene};
    fo.folds = draws[static_cast<std::size_t>(s)];
    const FitReport rep = m.fit(be, sim.spatial, sim.reference, cfg, fo);
    CHECK(std::find(rep.model_genes.begin(), rep.model_genes.end(), gene) == rep.model_genes.end());
    CHECK(rep.model_genes.size() == 7);
    const Imputation imp = m.impute(be, {gene});
    const auto a = column(imp.mean, 0);
    CHECK(same_bits(a, column(r.imputed, s)));
    // scored against the raw measured counts of that gene
    const auto meas = column(sim.spatial.X, s);
    CHECK(same_bits(meas, column(r.measured, s)));
    CHECK(same_bits(r.rows[static_cast<std::size_t>(s)].pcc, pearson(a, meas)));
    CHECK(same_bits(r.rows[static_cast<std::size_t>(s)].rmse, rmse_zscored(a, meas)));
    CHECK(same_bits(r.rows[static_cast<std::size_t>(s)].jsd, jensen_shannon(a, meas)));
    // A fresh RandomState for every set would have given set 3 other folds.
    if (s == 3) {
      NumpyRandomState fresh(static_cast<std::uint32_t>(cfg.seed));
      CHECK(kfold_split(n - 1, cfg.k_folds, fresh)[0].calibration != draws[3][0].calibration);
    }
  }
  // medians over the rows
  CHECK(same_bits(r.median_pcc, median(metric_values(r.rows, Metric::PCC))));
  CHECK(same_bits(r.median_rmse, median(metric_values(r.rows, Metric::RMSE))));
  CHECK(same_bits(r.median_jsd, median(metric_values(r.rows, Metric::JSD))));
  CHECK(r.median_of(Metric::JSD) == r.median_jsd);
}

TEST_CASE("cv: a held-out gene's own values never reach its model") {
  const Simulation& sim = tiny();
  const Config cfg = tiny_config();
  const GeneCvResult& full = loo_run();
  const int s = 5;
  const std::string gene = sim.spatial.var_names[s];
  // Change the held-out gene's measured values (reversed over cells, + 1).
  AnnData sp = sim.spatial;
  const index_t n1 = sp.n_obs();
  for (index_t i = 0; i < n1; ++i) sp.X(i, s) = sim.spatial.X(n1 - 1 - i, s) + 1.0f;
  Cpu be = one_thread();
  GeneCvOptions o;
  o.only_genes = {gene};
  o.keep_values = true;
  const GeneCvResult r = cross_validate_genes(be, sp, sim.reference, cfg, o);
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].gene == gene);
  CHECK(r.rows[0].set == s);
  CHECK(r.sets_scored == std::vector<int>{s});
  // the imputation is bit-identical to the full run's (same folds: the skipped
  // sets still advanced the random state) ...
  CHECK(same_bits(column(r.imputed, 0), column(full.imputed, s)));
  // ... but it is scored against the new measured values
  CHECK(same_bits(column(r.measured, 0), column(sp.X, s)));
  CHECK(r.rows[0].pcc != full.rows[static_cast<std::size_t>(s)].pcc);
}

TEST_CASE("cv: partial runs reproduce the first sets of a full run") {
  const Simulation& sim = tiny();
  const GeneCvResult& full = loo_run();
  Cpu be = one_thread();
  GeneCvOptions o;
  o.max_genes = 2;
  const GeneCvResult r = cross_validate_genes(be, sim.spatial, sim.reference, tiny_config(), o);
  REQUIRE(r.rows.size() == 2);
  CHECK(r.sets.size() == 8);  // all sets are listed, two are scored
  CHECK(r.sets_scored == std::vector<int>{0, 1});
  for (std::size_t q = 0; q < 2; ++q) {
    CHECK(r.rows[q].gene == full.rows[q].gene);
    CHECK(same_bits(r.rows[q].pcc, full.rows[q].pcc));
    CHECK(same_bits(r.rows[q].jsd, full.rows[q].jsd));
  }
  CHECK(r.imputed.size() == 0);  // keep_values off
}

TEST_CASE("cv: k-fold over genes") {
  const Simulation& sim = tiny();
  const Config cfg = tiny_config();
  Cpu be = one_thread();
  GeneCvOptions o;
  o.scheme = GeneCvScheme::KFold;
  o.gene_folds = 3;
  o.keep_values = true;
  const GeneCvResult r = cross_validate_genes(be, sim.spatial, sim.reference, cfg, o);
  const auto expect = held_out_sets(sim.spatial.var_names, GeneCvScheme::KFold, 3, cfg.seed);
  REQUIRE(r.sets == expect);
  CHECK(r.sets[0].size() == 3);
  CHECK(r.sets[1].size() == 3);
  CHECK(r.sets[2].size() == 2);
  REQUIRE(r.rows.size() == 8);
  // every gene scored once, by the model of the set that holds it
  std::vector<std::string> scored;
  for (const auto& row : r.rows) {
    scored.push_back(row.gene);
    const auto& set = r.sets[static_cast<std::size_t>(row.set)];
    CHECK(std::find(set.begin(), set.end(), row.gene) != set.end());
  }
  std::sort(scored.begin(), scored.end());
  auto all = sim.spatial.var_names;
  std::sort(all.begin(), all.end());
  CHECK(scored == all);

  // Replicate set 1 by hand: outer folds from RandomState(seed), inner folds
  // from a second RandomState(seed) drawn once per set, in set order.
  NumpyRandomState inner(static_cast<std::uint32_t>(cfg.seed));
  kfold_split(8 - 3, cfg.k_folds, inner);  // set 0
  FitOptions fo;
  fo.held_out = r.sets[1];
  fo.folds = kfold_split(8 - 3, cfg.k_folds, inner);
  Pipeline<> m;
  m.fit(be, sim.spatial, sim.reference, cfg, fo);
  const Imputation imp = m.impute(be, r.sets[1]);
  for (std::size_t q = 0; q < r.sets[1].size(); ++q) {
    const std::size_t row = 3 + q;  // set 1's genes follow set 0's three
    REQUIRE(r.rows[row].gene == r.sets[1][q]);
    CHECK(same_bits(column(imp.mean, static_cast<index_t>(q)), column(r.imputed, static_cast<index_t>(row))));
  }

  SUBCASE("max_genes stops after the set that reaches it") {
    GeneCvOptions p = o;
    p.max_genes = 1;
    const GeneCvResult q = cross_validate_genes(be, sim.spatial, sim.reference, cfg, p);
    CHECK(q.rows.size() == 3);
    CHECK(same_bits(q.rows[2].pcc, r.rows[2].pcc));
  }
}

TEST_CASE("cv: progress passthrough, set callback and cancellation") {
  const Simulation& sim = tiny();
  const Config cfg = tiny_config();
  Cpu be = one_thread();
  GeneCvOptions o;
  o.max_genes = 2;
  std::vector<std::pair<int, int>> seen;  // (set, epoch)
  std::vector<std::size_t> rows_at_done;
  const auto r = cross_validate_genes(
      be, sim.spatial, sim.reference, cfg, o,
      [&](const GeneCvProgress& p) {
        CHECK(p.n_sets == 8);
        REQUIRE(p.held_out.size() == 1);
        CHECK(p.held_out[0] == sim.spatial.var_names[static_cast<std::size_t>(p.set)]);
        CHECK(p.fit.n_submodels == cfg.k_folds);
        seen.emplace_back(p.set, p.fit.epoch);
        return true;
      },
      [&](const GeneCvResult& partial) { rows_at_done.push_back(partial.rows.size()); });
  // 2 sets x 2 submodels x 2 reports (epochs 2 and 4)
  REQUIRE(seen.size() == 8);
  CHECK(seen.front() == std::pair<int, int>{0, 2});
  CHECK(seen.back() == std::pair<int, int>{1, 4});
  CHECK(rows_at_done == std::vector<std::size_t>{1, 2});
  CHECK(r.rows.size() == 2);

  int calls = 0;
  CHECK_THROWS_AS(cross_validate_genes(be, sim.spatial, sim.reference, cfg, o,
                                       [&](const GeneCvProgress&) { return ++calls < 3; }),
                  Cancelled);
  CHECK(calls == 3);
}

TEST_CASE("cv: invalid requests are refused with clear errors") {
  const Simulation& sim = tiny();
  Cpu be = one_thread();
  Config cfg = tiny_config();
  SUBCASE("held_out or folds given by the caller") {
    GeneCvOptions o;
    o.fit.held_out = {"Gene1"};
    CHECK_THROWS_WITH_AS(cross_validate_genes(be, sim.spatial, sim.reference, cfg, o),
                         doctest::Contains("held_out must be empty"), Error);
    GeneCvOptions p;
    p.fit.folds = {Fold{}};
    CHECK_THROWS_WITH_AS(cross_validate_genes(be, sim.spatial, sim.reference, cfg, p),
                         doctest::Contains("folds must be empty"), Error);
  }
  SUBCASE("too few model genes for k_folds") {
    cfg.k_folds = 7;  // LOO leaves 7 model genes; 7 folds need 8
    CHECK_THROWS_WITH_AS(cross_validate_genes(be, sim.spatial, sim.reference, cfg),
                         doctest::Contains("k_folds = 7"), Error);
  }
  SUBCASE("unknown gene in only_genes") {
    GeneCvOptions o;
    o.only_genes = {"NotAGene"};
    CHECK_THROWS_WITH_AS(cross_validate_genes(be, sim.spatial, sim.reference, cfg, o),
                         doctest::Contains("NotAGene"), Error);
  }
}

TEST_CASE("cv: per-gene table as CSV") {
  std::vector<GeneScore> rows{score_gene("Gad1", {1, 2, 3}, {1, 2, 3}), score_gene("a,b", {1, 1, 1}, {1, 2, 3})};
  rows[1].set = 4;
  const std::string csv = to_csv(rows);
  CHECK(csv.rfind("gene,set,pcc,rmse_z,jsd,measured_mean,imputed_mean\nGad1,0,1,", 0) == 0);
  CHECK(csv.find("\n\"a,b\",4,nan,") != std::string::npos);

  SUBCASE("read back") {
    const auto back = scores_from_csv(csv);
    REQUIRE(back.size() == 2);
    CHECK(back[0].gene == "Gad1");
    CHECK(back[0].pcc == rows[0].pcc);  // 17 digits: exact
    CHECK(back[0].rmse == rows[0].rmse);
    CHECK(back[0].jsd == rows[0].jsd);
    CHECK(back[1].gene == "a,b");
    CHECK(back[1].set == 4);
    CHECK(std::isnan(back[1].pcc));
    CHECK(back[1].measured_mean == doctest::Approx(2));
  }
  SUBCASE("gene names that need quoting read back unchanged") {
    std::vector<GeneScore> odd{score_gene("q\"uote", {1, 2, 3}, {1, 2, 4}), score_gene("two\nlines", {1, 2, 3}, {3, 2, 1}),
                               score_gene(" padded ", {1, 2, 3}, {2, 2, 3}), score_gene("", {1, 2, 3}, {1, 3, 3})};
    const std::string text = to_csv(odd);
    CHECK(text.find("\n\"q\"\"uote\",0,") != std::string::npos);
    CHECK(text.find("\n\"two\nlines\",0,") != std::string::npos);
    const auto back = scores_from_csv(text);
    REQUIRE(back.size() == odd.size());
    for (std::size_t i = 0; i < odd.size(); ++i) {
      CHECK(back[i].gene == odd[i].gene);
      CHECK(back[i].pcc == odd[i].pcc);
      CHECK(back[i].imputed_mean == odd[i].imputed_mean);
    }
  }
  SUBCASE("CRLF line ends and blank lines") {
    std::string crlf;
    for (char c : csv) crlf += c == '\n' ? std::string("\r\n\r\n") : std::string(1, c);
    const auto back = scores_from_csv(crlf);
    REQUIRE(back.size() == 2);
    CHECK(back[1].gene == "a,b");
    CHECK(back[0].jsd == rows[0].jsd);
  }
  SUBCASE("malformed tables are errors that name the line") {
    CHECK_THROWS_WITH_AS(scores_from_csv("gene,pcc\n", "t.csv"), doctest::Contains("t.csv"), Error);
    CHECK_THROWS_WITH_AS(scores_from_csv("", "t.csv"), doctest::Contains("the first line must be the header"), Error);
    CHECK_THROWS_WITH_AS(scores_from_csv(to_csv({}) + "g,1,0.5\n", "t.csv"), doctest::Contains("t.csv:2"), Error);
    CHECK_THROWS_WITH_AS(scores_from_csv(to_csv({}) + "g,1,0.5\n", "t.csv"),
                         doctest::Contains("expected 7 fields, found 3"), Error);
    CHECK_THROWS_WITH_AS(scores_from_csv(to_csv({}) + "g,1,x,1,1,1,1\n", "t.csv"), doctest::Contains("pcc"), Error);
    // the line of a record after a quoted line break
    CHECK_THROWS_WITH_AS(scores_from_csv(to_csv({}) + "\"a\nb\",1,1,1,1,1,1\ng,1,1,1,1,oops,1\n", "t.csv"),
                         doctest::Contains("t.csv:4: column measured_mean holds 'oops', which is not a number"),
                         Error);
    CHECK_THROWS_WITH_AS(scores_from_csv(to_csv({}) + "\"open,1,1,1,1,1,1\n", "t.csv"),
                         doctest::Contains("never closed"), Error);
  }
}

TEST_CASE("cv: one-sided Mann-Whitney comparison of two methods") {
  // a = {.5,.6,.7} beats b = {.1,.2,.3} in all 9 pairs: U = 9, mu = 4.5,
  // var = 9/12 * 7 = 5.25, z = (9 - 4.5 - 0.5)/sqrt(5.25), p = P(Z > z).
  const double z = 4.0 / std::sqrt(5.25);
  const double p = 0.5 * std::erfc(z / std::sqrt(2.0));
  SUBCASE("higher is better (PCC)") {
    const auto m = compare_scores({0.5, 0.6, 0.7}, {0.1, 0.2, 0.3}, Metric::PCC);
    CHECK(m.u == doctest::Approx(9));
    CHECK(m.z == doctest::Approx(z));
    CHECK(m.p_value == doctest::Approx(p));  // ~0.0404
  }
  SUBCASE("lower is better (RMSE, JSD): the larger values lose") {
    const auto m = compare_scores({0.5, 0.6, 0.7}, {0.1, 0.2, 0.3}, Metric::RMSE);
    CHECK(m.u == doctest::Approx(0));
    CHECK(m.p_value > 0.9);
    const auto w = compare_scores({0.1, 0.2, 0.3}, {0.5, 0.6, 0.7}, Metric::JSD);
    CHECK(w.u == doctest::Approx(9));
    CHECK(w.p_value == doctest::Approx(p));
  }
  SUBCASE("tables are compared on their shared genes") {
    std::vector<GeneScore> a(4), b(3);
    const char* names[] = {"g1", "g2", "g3", "only_a"};
    const double pa[] = {0.5, 0.6, 0.7, -5};
    for (int i = 0; i < 4; ++i) {
      a[static_cast<std::size_t>(i)].gene = names[i];
      a[static_cast<std::size_t>(i)].pcc = pa[i];
    }
    for (int i = 0; i < 3; ++i) {
      b[static_cast<std::size_t>(i)].gene = names[2 - i];
      b[static_cast<std::size_t>(i)].pcc = 0.1 * (i + 1);
    }
    const auto m = compare_methods(a, b, Metric::PCC);
    CHECK(m.u == doctest::Approx(9));  // "only_a" (-5) is not compared
    std::vector<GeneScore> c(1);
    c[0].gene = "other";
    CHECK_THROWS_AS(compare_methods(a, c, Metric::PCC), Error);
  }
}

TEST_CASE("cv: annotation scoring with a label map") {
  const std::vector<std::string> classes{"A", "B", "C"};
  const std::vector<std::string> truth{"a1", "a2", "B", "B", "X", "C"};
  const std::vector<std::string> pred{"A", "B", "B", "B", "A", "C"};
  const LabelMap map{{"a1", "A"}, {"a2", "A"}};
  CHECK(map_labels(truth, map) == std::vector<std::string>{"A", "A", "B", "B", "X", "C"});
  const auto ev = evaluate_annotation(truth, pred, classes, map);
  // X is not a reference class: 5 cells scored, truth A A B B C, pred A B B B C
  CHECK(ev.n_cells == 6);
  CHECK(ev.n_evaluated == 5);
  REQUIRE(ev.excluded.size() == 1);
  CHECK(ev.excluded[0] == std::pair<std::string, index_t>{"X", 1});
  CHECK(ev.shared_types == classes);
  CHECK(ev.report.accuracy == doctest::Approx(0.8));
  // A: P 1, R 1/2, F1 2/3; B: P 2/3, R 1, F1 0.8; C: F1 1
  REQUIRE(ev.report.classes.size() == 3);
  CHECK(ev.report.classes[0].f1 == doctest::Approx(2.0 / 3));
  CHECK(ev.report.classes[1].precision == doctest::Approx(2.0 / 3));
  CHECK(ev.report.macro_f1 == doctest::Approx((2.0 / 3 + 0.8 + 1.0) / 3));
  CHECK(ev.report.weighted_f1 == doctest::Approx((2 * 2.0 / 3 + 2 * 0.8 + 1.0) / 5));
  CHECK(ev.report.confusion[0][1] == 1);

  SUBCASE("through an Annotation") {
    Annotation ann;
    ann.class_names = classes;
    ann.labels = pred;
    CHECK(evaluate_annotation(ann, truth, map).report.accuracy == doctest::Approx(0.8));
  }
  SUBCASE("errors") {
    CHECK_THROWS_AS(evaluate_annotation(truth, {"A"}, classes), Error);
    CHECK_THROWS_WITH_AS(evaluate_annotation({"A"}, {"Z"}, classes), doctest::Contains("'Z'"), Error);
    CHECK_THROWS_WITH_AS(evaluate_annotation({"x", "y"}, {"A", "B"}, classes), doctest::Contains("label map"),
                         Error);
  }
  SUBCASE("labels from obs") {
    AnnData a;
    a.obs["celltype"] = Column::strings({"A", "B"});
    CHECK(obs_labels(a, "celltype") == std::vector<std::string>{"A", "B"});
    CHECK_THROWS_AS(obs_labels(a, "missing"), Error);
  }
}
