// Preprocessing: normalize_total + log1p, per-gene scaling with n-1 std and
// clipping above only, saved/loaded statistics applied by gene name.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

#include <stai/data/preprocess.hpp>
#include <stai/random.hpp>

using namespace stai;
using V = std::vector<std::string>;

namespace {
RowMatrix<float> random_counts(index_t n, index_t g, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> X(n, g);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < g; ++j) X(i, j) = static_cast<float>(std::floor(rng.uniform(0.0, 1.0) * (j + 3) * rng.uniform()));
  return X;
}
}  // namespace

TEST_CASE("normalize_total_log1p: hand-computed values") {
  RowMatrix<float> X(3, 4);
  X << 1, 3, 0, 4,   //
      0, 0, 0, 0,    // zero total stays zero
      2, 2, 2, 2;
  RowMatrix<float> Y = X;
  normalize_total_log1p(Y);
  // row 0: total 8 -> x * 1e4 / 8 = 1250, 3750, 0, 5000 -> log1p
  CHECK(Y(0, 0) == static_cast<float>(7.1316985104669115));
  CHECK(Y(0, 1) == static_cast<float>(8.229777750081887));
  CHECK(Y(0, 2) == 0.0f);
  CHECK(Y(0, 3) == static_cast<float>(8.517393171418904));
  for (index_t j = 0; j < 4; ++j) CHECK(Y(1, j) == 0.0f);
  for (index_t j = 0; j < 4; ++j) CHECK(Y(2, j) == static_cast<float>(std::log1p(2500.0)));

  SUBCASE("separate normalize_total then log1p agree to float precision") {
    RowMatrix<float> Z = X;
    normalize_total(Z);
    CHECK(Z(0, 0) == 1250.0f);
    CHECK(Z(0, 3) == 5000.0f);
    log1p_inplace(Z);
    for (index_t e = 0; e < Z.size(); ++e) CHECK(Z.data()[e] == doctest::Approx(Y.data()[e]).epsilon(1e-6));
  }
  SUBCASE("other target sum") {
    RowMatrix<float> Z = X;
    normalize_total_log1p(Z, 1e6);
    CHECK(Z(0, 0) == static_cast<float>(std::log1p(125000.0)));
  }
  SUBCASE("errors") {
    RowMatrix<float> B = X;
    B(2, 1) = -1;
    CHECK_THROWS_WITH_AS(normalize_total_log1p(B, 1e4, "sc.h5ad"),
                         doctest::Contains("sc.h5ad: normalize_total_log1p: value at (cell 2, gene 1) is negative"),
                         Error);
    B(2, 1) = NAN;
    CHECK_THROWS_WITH_AS(normalize_total_log1p(B), doctest::Contains("must be finite"), Error);
    CHECK_THROWS_AS(normalize_total(B), Error);
    RowMatrix<float> C = X;
    CHECK_THROWS_AS(normalize_total_log1p(C, 0.0), Error);
    C(0, 0) = -2;
    CHECK_THROWS_AS(log1p_inplace(C), Error);
  }
}

TEST_CASE("scaling: hand-computed case, zero deviation, clip above only") {
  RowMatrix<float> X(4, 3);
  X << 1, 5, 0,  //
      2, 5, 1,   //
      3, 5, 2,   //
      4, 5, 3;
  const V names{"a", "const", "c"};
  ScalingStats st;
  const RowMatrix<float> Y = scale_genes(X, names, {"const", "a"}, 10.0, &st);
  REQUIRE(Y.cols() == 2);
  CHECK(st.genes == V{"const", "a"});
  CHECK(st.means[0] == 5.0);
  CHECK(st.stds[0] == 0.0);
  CHECK(st.divisor(0) == 1.0);
  CHECK(st.means[1] == 2.5);
  CHECK(st.stds[1] == doctest::Approx(std::sqrt(5.0 / 3.0)).epsilon(1e-15));
  for (index_t i = 0; i < 4; ++i) CHECK(Y(i, 0) == 0.0f);
  CHECK(Y(0, 1) == static_cast<float>(-1.161895003862225));
  CHECK(Y(1, 1) == static_cast<float>(-0.3872983346207417));
  CHECK(Y(2, 1) == static_cast<float>(0.3872983346207417));
  CHECK(Y(3, 1) == static_cast<float>(1.161895003862225));

  SUBCASE("clip above 10 only, never below -10") {
    RowMatrix<float> Z(201, 2);
    Z.setZero();
    Z(200, 0) = 100;   // z = 14.1069... -> clipped to 10
    Z(200, 1) = -100;  // z = -14.1069... -> kept
    ScalingStats s2;
    const RowMatrix<float> W = scale_genes(Z, {"up", "down"}, {"up", "down"}, 10.0, &s2);
    CHECK(s2.means[0] == doctest::Approx(0.4975124378109453).epsilon(1e-15));
    CHECK(s2.stds[0] == doctest::Approx(7.053456158585983).epsilon(1e-14));
    CHECK(W(200, 0) == 10.0f);
    CHECK(W(0, 0) == static_cast<float>(-0.07053456158585983));
    CHECK(W(200, 1) == doctest::Approx(-14.106912317171965).epsilon(1e-6));
    CHECK(W(0, 1) == static_cast<float>(0.07053456158585983));
    const RowMatrix<float> U = scale_genes(Z, {"up", "down"}, {"up"}, INFINITY);
    CHECK(U(200, 0) == doctest::Approx(14.106912317171965).epsilon(1e-6));
  }
}

TEST_CASE("scaling matches naive long-double loops on random data") {
  const RowMatrix<float> X = random_counts(300, 12, 5);
  V names;
  for (int j = 0; j < 12; ++j) names.push_back(std::string("g").append(std::to_string(j)));  // GCC 12 -Wrestrict false positive on "g" + string
  const V genes{"g7", "g0", "g3", "g11", "g5"};
  RowMatrix<float> L = X;
  normalize_total_log1p(L);
  ScalingStats st;
  const RowMatrix<float> Y = scale_genes(L, names, genes, 10.0, &st);
  for (std::size_t q = 0; q < genes.size(); ++q) {
    const index_t c = std::stoi(genes[q].substr(1));
    long double s = 0, ss = 0;
    for (index_t i = 0; i < 300; ++i) {
      // independent: log-normalise this entry again from the raw counts
      long double tot = 0;
      for (index_t j = 0; j < 12; ++j) tot += X(i, j);
      const long double v = tot > 0 ? std::log1p(static_cast<long double>(X(i, c)) * 1e4L / tot) : 0.0L;
      CHECK(L(i, c) == doctest::Approx(static_cast<double>(v)).epsilon(1e-6));
      s += L(i, c);
    }
    const long double m = s / 300;
    for (index_t i = 0; i < 300; ++i) ss += (L(i, c) - m) * (L(i, c) - m);
    const long double sd = std::sqrt(ss / 299);
    CHECK(st.means[q] == doctest::Approx(static_cast<double>(m)).epsilon(1e-13));
    CHECK(st.stds[q] == doctest::Approx(static_cast<double>(sd)).epsilon(1e-13));
    for (index_t i = 0; i < 300; ++i) {
      long double z = (L(i, c) - m) / (sd == 0 ? 1 : sd);
      if (z > 10) z = 10;
      CHECK(Y(i, static_cast<index_t>(q)) == doctest::Approx(static_cast<double>(z)).epsilon(1e-6));
    }
  }
}

TEST_CASE("ScalingStats: save / load round trip and application to new data by name") {
  RowMatrix<float> X = random_counts(50, 4, 9);
  const V names{"Gad1", "Sox10", "Mbp", "Xist"};
  ScalingStats st = fit_scaling(X, names, {"Mbp", "Gad1", "Sox10"}, 10.0);
  st.means[0] = 0.1;  // a value without an exact short decimal form

  SUBCASE("text round trip is bit exact") {
    const ScalingStats back = ScalingStats::from_text(st.to_text());
    CHECK(back.genes == st.genes);
    CHECK(back.means == st.means);
    CHECK(back.stds == st.stds);
    CHECK(back.clip == st.clip);
    ScalingStats inf = st;
    inf.clip = INFINITY;
    CHECK(std::isinf(ScalingStats::from_text(inf.to_text()).clip));
  }
  SUBCASE("file round trip") {
    const std::string path = "/tmp/stai_test_scaling_stats_" + std::to_string(::getpid()) + ".txt";
    st.save(path);
    const ScalingStats back = ScalingStats::load(path);
    std::remove(path.c_str());
    CHECK(back.means == st.means);
    CHECK(back.stds == st.stds);
    CHECK_THROWS_WITH_AS(ScalingStats::load(path), doctest::Contains("cannot open"), Error);
  }
  SUBCASE("applied to data with other column order and extra genes") {
    const RowMatrix<float> ref = apply_scaling(st, X, names);
    // new data: same cells, columns permuted, one extra gene
    RowMatrix<float> Y(50, 5);
    const V ynames{"Extra", "Sox10", "Xist", "Gad1", "Mbp"};
    for (index_t i = 0; i < 50; ++i) {
      Y(i, 0) = 7;
      Y(i, 1) = X(i, 1);
      Y(i, 2) = X(i, 3);
      Y(i, 3) = X(i, 0);
      Y(i, 4) = X(i, 2);
    }
    const RowMatrix<float> out = apply_scaling(st, Y, ynames);
    CHECK(out == ref);
    // hand check of one value
    CHECK(out(3, 1) == static_cast<float>(std::min(10.0, (X(3, 0) - st.means[1]) / st.divisor(1))));
  }
  SUBCASE("missing gene is an error naming it") {
    const V other{"Gad1", "Sox10", "Plp1", "Xist"};
    CHECK_THROWS_WITH_AS(apply_scaling(st, X, other, "new.h5ad"),
                         doctest::Contains("new.h5ad: 1 of the 3 required genes are missing from the data (var_names): 'Mbp'"),
                         Error);
  }
  SUBCASE("malformed text and unsavable names are errors") {
    CHECK_THROWS_WITH_AS(ScalingStats::from_text("hello\n"), doctest::Contains("first line"), Error);
    std::string t = st.to_text();
    t.replace(t.find("Sox10\t"), 6, "Sox10 ");
    CHECK_THROWS_WITH_AS(ScalingStats::from_text(t), doctest::Contains("bad gene line 3"), Error);
    CHECK_THROWS_WITH_AS(ScalingStats::from_text("stai-scaling-stats 1\nclip\t10\ngenes\t2\na\t0\t1\n"),
                         doctest::Contains("expected 2 genes, found 1"), Error);
    CHECK_THROWS_WITH_AS(ScalingStats::from_text("stai-scaling-stats 1\nclip\t10\ngenes\t1\na\t0\t-1\n"),
                         doctest::Contains("deviation >= 0"), Error);
    ScalingStats bad = st;
    bad.genes[0] = "a\tb";
    CHECK_THROWS_AS(bad.to_text(), Error);
  }
  SUBCASE("fit errors") {
    CHECK_THROWS_WITH_AS(fit_scaling(X.topRows(1), names, {"Gad1"}), doctest::Contains("at least 2 cells"), Error);
    CHECK_THROWS_AS(fit_scaling(X, {"a"}, {"a"}), Error);
    RowMatrix<float> B = X;
    B(4, 0) = NAN;
    CHECK_THROWS_WITH_AS(fit_scaling(B, names, {"Gad1"}), doctest::Contains("cell 4, gene 'Gad1'"), Error);
    CHECK_THROWS_AS(select_genes(X, names, {"Nope"}), Error);
    CHECK(select_genes(X, names, {"Xist", "Gad1"})(7, 0) == X(7, 3));
  }
}
