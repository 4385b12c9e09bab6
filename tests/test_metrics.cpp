// Evaluation metrics against hand-computed values and values computed
// independently with scipy/scikit-learn (the Python calls are quoted).
#include <doctest/doctest.h>

#include <cmath>

#include <stai/eval/metrics.hpp>

using namespace stai::eval;

TEST_CASE("pearson, z-scored RMSE and JSD on hand-checkable cases") {
  // y = 2x + 1 exactly: r = 1, z-scores identical, RMSE 0.
  std::vector<double> x{1, 2, 3, 4}, y{3, 5, 7, 9}, yneg{9, 7, 5, 3};
  CHECK(pearson(x, y) == doctest::Approx(1.0));
  CHECK(pearson(x, yneg) == doctest::Approx(-1.0));
  CHECK(rmse_zscored(x, y) == doctest::Approx(0.0));
  // anti-correlated: z-scores are negatives, RMSE = sqrt(mean((2z)^2)) = 2.
  CHECK(rmse_zscored(x, yneg) == doctest::Approx(2.0));
  // hand case: x = {1,2,3}, y = {1,3,2}: cov = 0.5*... sxy = (-1)(-1)+0+(1)(0) = 1,
  // sxx = 2, syy = 2 -> r = 0.5
  CHECK(pearson({1, 2, 3}, {1, 3, 2}) == doctest::Approx(0.5));
  SUBCASE("constant vector gives NaN correlation, not a number that looks valid") {
    CHECK(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));
  }
  SUBCASE("JSD") {
    CHECK(jensen_shannon(x, x) == doctest::Approx(0.0));
    // disjoint supports: JSD = ln 2
    CHECK(jensen_shannon({1, 0}, {0, 1}) == doctest::Approx(std::log(2.0)));
    // scipy.spatial.distance.jensenshannon(x, y)**2 (natural log)
    CHECK(jensen_shannon({1, 0, 3, 2, 5, 0, 1}, {0.5, 0.2, 2.5, 2.0, 4.0, 0.1, 1.5}) ==
          doctest::Approx(0.016922201446667708).epsilon(1e-9));
  }
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 2, 3}) == 2.5);
  CHECK(median({NAN, 1, 3}) == 2);
}

TEST_CASE("annotation report matches scikit-learn") {
  // sklearn: accuracy_score, f1_score(average='macro'/'weighted'),
  // precision_recall_fscore_support on the same labels.
  std::vector<stai::index_t> t{0, 0, 1, 1, 1, 2, 2, 2, 2, 0}, p{0, 1, 1, 1, 0, 2, 2, 1, 2, 0};
  const auto r = annotation_report(t, p, {"a", "b", "c"});
  CHECK(r.accuracy == doctest::Approx(0.7));
  CHECK(r.macro_f1 == doctest::Approx(0.6984126984126985));
  CHECK(r.weighted_f1 == doctest::Approx(0.7142857142857142));
  CHECK(r.classes[1].precision == doctest::Approx(0.5));
  CHECK(r.classes[2].recall == doctest::Approx(0.75));
  CHECK(r.classes[2].support == 4);
  CHECK(r.confusion[2][1] == 1);
  SUBCASE("cells with an unknown true type are ignored") {
    auto t2 = t, p2 = p;
    t2.push_back(-1);
    p2.push_back(0);
    CHECK(annotation_report(t2, p2, {"a", "b", "c"}).accuracy == doctest::Approx(0.7));
  }
}

TEST_CASE("one-sided Mann-Whitney U matches scipy") {
  // scipy.stats.mannwhitneyu(a, b, alternative='greater', method='asymptotic')
  std::vector<double> a{0.42, 0.39, 0.51, 0.33, 0.47, 0.39, 0.28, 0.60};
  std::vector<double> b{0.30, 0.29, 0.39, 0.22, 0.35, 0.18, 0.25};
  const auto m = mann_whitney_greater(a, b);
  CHECK(m.u == doctest::Approx(49.0));
  CHECK(m.p_value == doctest::Approx(0.00863443621006087).epsilon(1e-6));
  // reversed alternative gives a large p-value
  CHECK(mann_whitney_greater(b, a).p_value > 0.99);
  SUBCASE("all values tied") { CHECK(mann_whitney_greater({1, 1}, {1, 1}).p_value == 1.0); }
}
