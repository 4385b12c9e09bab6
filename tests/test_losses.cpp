// Losses other than the MMD (see test_loss_mmd.cpp): MSE, cosine
// consistency, Pearson imputation loss, cross-entropy (+ softmax and class
// weights), gene consistency (+ cross-correlation). Forward values against
// naive double loops written here, gradients against central differences,
// weight / accumulation semantics and edge cases.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/losses/cosine.hpp>
#include <stai/losses/cross_entropy.hpp>
#include <stai/losses/gene_consistency.hpp>
#include <stai/losses/mse.hpp>
#include <stai/losses/pearson.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::max_rel_error;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

namespace {

std::vector<double> vec(const RowMatrix<double>& m) { return {m.data(), m.data() + m.size()}; }
RowMatrix<double> zeros_like(const RowMatrix<double>& m) { return RowMatrix<double>::Zero(m.rows(), m.cols()); }

bool all_finite(const RowMatrix<double>& m) { return m.allFinite(); }

// ---- naive references (plain double loops) --------------------------------

double naive_mse(const RowMatrix<double>& p, const RowMatrix<double>& t) {
  double s = 0;
  for (index_t i = 0; i < p.rows(); ++i)
    for (index_t j = 0; j < p.cols(); ++j) s += (p(i, j) - t(i, j)) * (p(i, j) - t(i, j));
  return s / double(p.size());
}

double naive_cosine(const RowMatrix<double>& a, const RowMatrix<double>& b) {
  double s = 0;
  for (index_t i = 0; i < a.rows(); ++i) {
    double na = 0, nb = 0;
    for (index_t j = 0; j < a.cols(); ++j) {
      na += a(i, j) * a(i, j);
      nb += b(i, j) * b(i, j);
    }
    na = std::max(std::sqrt(na), 1e-12);
    nb = std::max(std::sqrt(nb), 1e-12);
    double c = 0;
    for (index_t j = 0; j < a.cols(); ++j) c += (a(i, j) / na) * (b(i, j) / nb);
    s += 1 - c;
  }
  return s / double(a.rows());
}

double naive_pearson(const RowMatrix<double>& x, const RowMatrix<double>& y) {
  const index_t n = x.rows();
  double rs = 0;
  for (index_t k = 0; k < x.cols(); ++k) {
    double mx = 0, my = 0;
    for (index_t i = 0; i < n; ++i) { mx += x(i, k); my += y(i, k); }
    mx /= double(n);
    my /= double(n);
    double num = 0, vx = 0, vy = 0;
    for (index_t i = 0; i < n; ++i) {
      num += (x(i, k) - mx) * (y(i, k) - my);
      vx += (x(i, k) - mx) * (x(i, k) - mx);
      vy += (y(i, k) - my) * (y(i, k) - my);
    }
    rs += (num / double(n)) / (std::sqrt(vx / double(n - 1)) * std::sqrt(vy / double(n - 1)) + 1e-6);
  }
  return 1 - rs / double(x.cols());
}

double naive_ce(const RowMatrix<double>& l, const std::vector<index_t>& y, const std::vector<double>* w) {
  double num = 0, den = 0;
  for (index_t i = 0; i < l.rows(); ++i) {
    const index_t c = y[std::size_t(i)];
    if (c < 0) continue;
    double z = 0;
    for (index_t k = 0; k < l.cols(); ++k) z += std::exp(l(i, k));
    const double nll = -std::log(std::exp(l(i, c)) / z);
    const double wc = w ? (*w)[std::size_t(c)] : 1.0;
    num += wc * nll;
    den += wc;
  }
  return num / den;
}

RowMatrix<double> naive_corr(const RowMatrix<double>& S, const RowMatrix<double>& X) {
  const index_t n = S.rows();
  RowMatrix<double> A(S.cols(), X.cols());
  for (index_t j = 0; j < S.cols(); ++j)
    for (index_t k = 0; k < X.cols(); ++k) {
      double ms = 0, mx = 0;
      for (index_t i = 0; i < n; ++i) { ms += S(i, j); mx += X(i, k); }
      ms /= double(n);
      mx /= double(n);
      double cov = 0, v1 = 0, v2 = 0;
      for (index_t i = 0; i < n; ++i) {
        cov += (S(i, j) - ms) * (X(i, k) - mx);
        v1 += (S(i, j) - ms) * (S(i, j) - ms);
        v2 += (X(i, k) - mx) * (X(i, k) - mx);
      }
      cov /= double(n - 1);
      v1 /= double(n - 1);
      v2 /= double(n - 1);
      A(j, k) = cov / std::sqrt(v1 * v2 + 1e-6);
    }
  return A;
}

double naive_gene(const RowMatrix<double>& A1, const RowMatrix<double>& A2, GeneLoss kind) {
  if (kind == GeneLoss::Frobenius) return std::sqrt((A1 - A2).squaredNorm());
  double rs = 0;
  for (index_t k = 0; k < A1.cols(); ++k) {
    double dot = 0, aa = 0, bb = 0;
    for (index_t j = 0; j < A1.rows(); ++j) {
      dot += A1(j, k) * A2(j, k);
      aa += A1(j, k) * A1(j, k);
      bb += A2(j, k) * A2(j, k);
    }
    rs += dot / std::sqrt(aa * bb + 1e-6);
  }
  return 1 - rs / double(A1.cols());
}

}  // namespace

// ============================================================== MSE =========

TEST_CASE("MSE: value, gradient, weight and accumulation") {
  Cpu be;
  Context<Cpu> ctx{be};
  MseLoss<Cpu, double> loss;
  RowMatrix<double> p = random_matrix(11, 7, 1), t = random_matrix(11, 7, 2);
  SUBCASE("hand-computed case") {
    RowMatrix<double> a(2, 2), b(2, 2);
    a << 1, 2, 3, 4;
    b << 1, 0, 5, 1;  // squared errors 0, 4, 4, 9
    CHECK(loss.value_and_grad(ctx, cref(a), cref(b)) == doctest::Approx(17.0 / 4));
  }
  SUBCASE("naive value and central differences") {
    RowMatrix<double> g = zeros_like(p);
    const double v = loss.value_and_grad(ctx, cref(p), cref(t), ref(g));
    CHECK(v == doctest::Approx(naive_mse(p, t)).epsilon(1e-13));
    auto f = [&] { return loss.value_and_grad(ctx, cref(p), cref(t)); };
    check_gradient("MSE wrt pred", vec(g), numeric_gradient(f, p.data(), p.size()), 1e-7);
  }
  SUBCASE("the gradient is added, scaled by the weight") {
    RowMatrix<double> g = zeros_like(p), h = RowMatrix<double>::Constant(11, 7, 2.0);
    loss.value_and_grad(ctx, cref(p), cref(t), ref(g));
    loss.value_and_grad(ctx, cref(p), cref(t), ref(h), 0.25);
    CHECK(max_rel_error(vec((h.array() - 2.0).matrix()), vec((0.25 * g).eval())) < 1e-10);
  }
  SUBCASE("shape errors") {
    RowMatrix<double> q(11, 6), e(0, 7), g(3, 7);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(p), cref(q)), stai::Error);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(e), cref(e)), stai::Error);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(p), cref(t), ref(g)), stai::Error);
  }
  SUBCASE("float agrees with double") {
    MseLoss<Cpu, float> lf;
    RowMatrix<float> pf = p.cast<float>(), tf = t.cast<float>();
    CHECK(lf.value_and_grad(ctx, cref(pf), cref(tf)) == doctest::Approx(naive_mse(p, t)).epsilon(1e-5));
  }
}

// ==================================================== cosine consistency ====

TEST_CASE("cosine consistency: value, gradients wrt both inputs, zero rows") {
  Cpu be;
  Context<Cpu> ctx{be};
  CosineConsistencyLoss<Cpu, double> loss;
  RowMatrix<double> a = random_matrix(9, 6, 3), b = random_matrix(9, 6, 4);
  SUBCASE("hand-computed case") {
    RowMatrix<double> x(2, 2), y(2, 2);
    x << 1, 0, 3, 4;
    y << 0, 2, 6, 8;  // cos 0 and 1 -> mean(1 - cos) = 0.5
    CHECK(loss.value_and_grad(ctx, cref(x), cref(y)) == doctest::Approx(0.5));
  }
  SUBCASE("naive value and central differences") {
    RowMatrix<double> ga = zeros_like(a), gb = zeros_like(b);
    const double v = loss.value_and_grad(ctx, cref(a), cref(b), ref(ga), ref(gb));
    CHECK(v == doctest::Approx(naive_cosine(a, b)).epsilon(1e-13));
    auto f = [&] { return loss.value_and_grad(ctx, cref(a), cref(b)); };
    check_gradient("cosine wrt a", vec(ga), numeric_gradient(f, a.data(), a.size()), 1e-7);
    check_gradient("cosine wrt b", vec(gb), numeric_gradient(f, b.data(), b.size()), 1e-7);
    // only db, weighted and added
    RowMatrix<double> hb = RowMatrix<double>::Constant(9, 6, -1.0);
    loss.value_and_grad(ctx, cref(a), cref(b), MatRef<double>{}, ref(hb), 3.0);
    CHECK(max_rel_error(vec((hb.array() + 1.0).matrix()), vec((3.0 * gb).eval())) < 1e-10);
  }
  SUBCASE("all-zero rows: finite value and gradient, torch's eps semantics") {
    a.row(2).setZero();
    b.row(5).setZero();
    RowMatrix<double> ga = zeros_like(a), gb = zeros_like(b);
    const double v = loss.value_and_grad(ctx, cref(a), cref(b), ref(ga), ref(gb));
    CHECK(std::isfinite(v));
    CHECK(v == doctest::Approx(naive_cosine(a, b)).epsilon(1e-13));
    CHECK(all_finite(ga));
    CHECK(all_finite(gb));
    // the partner of a zero row gets no gradient from it
    CHECK(gb.row(2).cwiseAbs().maxCoeff() == 0.0);
    CHECK(ga.row(5).cwiseAbs().maxCoeff() == 0.0);
    // the zero row itself: d/db of <a_hat, b / eps> = a_hat / eps (PyTorch's value)
    const double na = a.row(5).norm();
    for (index_t j = 0; j < 6; ++j)
      CHECK(gb(5, j) == doctest::Approx(-a(5, j) / na / 1e-12 / 9.0).epsilon(1e-10));
    // elsewhere the gradient still matches central differences
    auto f = [&] { return loss.value_and_grad(ctx, cref(a), cref(b)); };
    const auto num = numeric_gradient(f, b.data(), b.size());
    for (index_t i = 0; i < 9; ++i) {
      if (i == 5) continue;
      for (index_t j = 0; j < 6; ++j)
        CHECK(gb(i, j) == doctest::Approx(num[std::size_t(i * 6 + j)]).epsilon(1e-6));
    }
    // both rows zero: 1 - 0
    RowMatrix<double> z = RowMatrix<double>::Zero(1, 4);
    CHECK(loss.value_and_grad(ctx, cref(z), cref(z)) == 1.0);
  }
  SUBCASE("shape errors") {
    RowMatrix<double> q(9, 5);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(a), cref(q)), stai::Error);
  }
}

// ============================================================ Pearson =======

TEST_CASE("Pearson imputation loss: value, gradient, constant columns") {
  Cpu be;
  Context<Cpu> ctx{be};
  PearsonLoss<Cpu, double> loss;
  RowMatrix<double> x = random_matrix(25, 4, 5), y = random_matrix(25, 4, 6);
  x += 0.7 * y;  // some correlation
  SUBCASE("hand-computed case: mean numerator, n-1 deviations") {
    // x = y = [1, 2, 3]: cov_n = 2/3, std1 = 1 -> r = (2/3) / (1 + 1e-6)
    RowMatrix<double> v(3, 1);
    v << 1, 2, 3;
    CHECK(loss.value_and_grad(ctx, cref(v), cref(v)) == doctest::Approx(1 - (2.0 / 3) / (1 + 1e-6)).epsilon(1e-14));
  }
  SUBCASE("naive value and central differences") {
    RowMatrix<double> g = zeros_like(x);
    const double v = loss.value_and_grad(ctx, cref(x), cref(y), ref(g));
    CHECK(v == doctest::Approx(naive_pearson(x, y)).epsilon(1e-12));
    auto f = [&] { return loss.value_and_grad(ctx, cref(x), cref(y)); };
    check_gradient("Pearson wrt x", vec(g), numeric_gradient(f, x.data(), x.size()), 1e-6);
    RowMatrix<double> h = RowMatrix<double>::Constant(25, 4, 0.5);
    loss.value_and_grad(ctx, cref(x), cref(y), ref(h), 2.0);
    CHECK(max_rel_error(vec((h.array() - 0.5).matrix()), vec((2.0 * g).eval())) < 1e-10);
  }
  SUBCASE("constant imputed or measured column: r = 0, no NaN") {
    x.col(1).setConstant(3.0);
    y.col(2).setConstant(-1.0);
    RowMatrix<double> g = zeros_like(x);
    const double v = loss.value_and_grad(ctx, cref(x), cref(y), ref(g));
    CHECK(v == doctest::Approx(naive_pearson(x, y)).epsilon(1e-12));
    CHECK(all_finite(g));
    CHECK(loss.per_gene_r()[1] == 0.0);
    CHECK(loss.per_gene_r()[2] == 0.0);
    // the measured-constant column has no gradient; the others match central
    // differences (the imputed-constant column's gradient is the limit
    // y_c / (n 1e-6), checked on its own)
    CHECK(g.col(2).cwiseAbs().maxCoeff() == 0.0);
    for (index_t i = 0; i < 25; ++i)
      CHECK(g(i, 1) == doctest::Approx(-(y(i, 1) - y.col(1).mean()) / (25 * 1e-6) / 4).epsilon(1e-10));
    auto f = [&] { return loss.value_and_grad(ctx, cref(x), cref(y)); };
    const auto num = numeric_gradient(f, x.data(), x.size());
    for (index_t i = 0; i < 25; ++i)
      for (index_t k : {0, 2, 3})
        CHECK(g(i, k) == doctest::Approx(num[std::size_t(i * 4 + k)]).epsilon(1e-6).scale(1e-6));
  }
  SUBCASE("errors") {
    RowMatrix<double> one(1, 4), q(25, 3);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(one), cref(one)), stai::Error);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(x), cref(q)), stai::Error);
  }
}

// ====================================================== cross-entropy =======

TEST_CASE("cross-entropy: weighted mean, gradient, ignored rows, saturation") {
  Cpu be;
  Context<Cpu> ctx{be};
  CrossEntropyLoss<Cpu, double> loss;
  const index_t n = 10, C = 4;
  RowMatrix<double> l = random_matrix(n, C, 7, 2.0);
  std::vector<index_t> y = {0, 1, 2, 3, 1, 1, 0, 2, 1, 3};
  const std::vector<double> w = {0.5, 2.0, 0.0, 1.5};
  SUBCASE("hand-computed case") {
    RowMatrix<double> a(1, 2);
    a << 0, 0;
    const index_t lab[] = {1};
    CHECK(loss.value_and_grad(ctx, cref(a), lab) == doctest::Approx(std::log(2.0)));
  }
  SUBCASE("unweighted and weighted: naive value and central differences") {
    for (const std::vector<double>* cw : {static_cast<const std::vector<double>*>(nullptr), &w}) {
      CAPTURE(cw != nullptr);
      RowMatrix<double> g = zeros_like(l);
      const double* wp = cw ? cw->data() : nullptr;
      const double v = loss.value_and_grad(ctx, cref(l), y.data(), wp, ref(g));
      CHECK(v == doctest::Approx(naive_ce(l, y, cw)).epsilon(1e-12));
      auto f = [&] { return loss.value_and_grad(ctx, cref(l), y.data(), wp); };
      check_gradient("CE wrt logits", vec(g), numeric_gradient(f, l.data(), l.size(), 1e-4), 1e-6);
      RowMatrix<double> h = RowMatrix<double>::Constant(n, C, 1.0);
      loss.value_and_grad(ctx, cref(l), y.data(), wp, ref(h), 0.1);
      CHECK(max_rel_error(vec((h.array() - 1.0).matrix()), vec((0.1 * g).eval())) < 1e-10);
    }
  }
  SUBCASE("negative labels are ignored") {
    std::vector<index_t> y2 = y;
    y2[3] = -1;
    y2[7] = -100;
    RowMatrix<double> g = zeros_like(l);
    const double v = loss.value_and_grad(ctx, cref(l), y2.data(), w.data(), ref(g));
    CHECK(v == doctest::Approx(naive_ce(l, y2, &w)).epsilon(1e-12));
    CHECK(g.row(3).cwiseAbs().maxCoeff() == 0.0);
    CHECK(g.row(7).cwiseAbs().maxCoeff() == 0.0);
    auto f = [&] { return loss.value_and_grad(ctx, cref(l), y2.data(), w.data()); };
    check_gradient("CE wrt logits (ignored rows)", vec(g), numeric_gradient(f, l.data(), l.size(), 1e-4), 1e-6);
  }
  SUBCASE("saturated logits (1e4 scale) stay finite and exact") {
    RowMatrix<double> s(2, 3);
    s << 1e4, 0, -1e4, -1e4, 2e4, 1e4;
    const index_t lab[] = {1, 1};
    RowMatrix<double> g = zeros_like(s);
    // row 0: nll = 1e4 (+ log(1 + e^-1e4 + ...)); row 1: nll ~ 0
    CHECK(loss.value_and_grad(ctx, cref(s), lab, nullptr, ref(g)) == doctest::Approx(5e3));
    CHECK(all_finite(g));
    CHECK(g(0, 0) == doctest::Approx(0.5));
    CHECK(g(0, 1) == doctest::Approx(-0.5));
    CHECK(std::abs(g(1, 1)) < 1e-300);
    CrossEntropyLoss<Cpu, float> lf;
    RowMatrix<float> sf = s.cast<float>(), gf = RowMatrix<float>::Zero(2, 3);
    CHECK(lf.value_and_grad(ctx, cref(sf), lab, nullptr, ref(gf)) == doctest::Approx(5e3));
    CHECK(gf.allFinite());
  }
  SUBCASE("zero class weights and errors") {
    // a class with weight 0 contributes nothing
    const std::vector<double> w0 = {0.0, 1.0, 1.0, 1.0};
    RowMatrix<double> g = zeros_like(l);
    loss.value_and_grad(ctx, cref(l), y.data(), w0.data(), ref(g));
    CHECK(g.row(0).cwiseAbs().maxCoeff() == 0.0);
    // all weights of the present labels zero -> error; all rows ignored -> error
    const std::vector<double> wz(4, 0.0);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(l), y.data(), wz.data()), stai::Error);
    std::vector<index_t> none(std::size_t(n), -1);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(l), none.data()), stai::Error);
    std::vector<index_t> bad = y;
    bad[4] = C;
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(l), bad.data()), stai::Error);
  }
}

TEST_CASE("softmax probabilities and class weights") {
  Cpu be;
  Context<Cpu> ctx{be};
  SUBCASE("softmax rows sum to 1 and match exp / sum, also saturated") {
    RowMatrix<double> l = random_matrix(5, 3, 8), p(5, 3);
    l(4, 0) = 1e4;
    softmax_rows(ctx, cref(l), ref(p));
    for (index_t i = 0; i < 4; ++i) {
      const double z = l.row(i).array().exp().sum();
      for (index_t c = 0; c < 3; ++c) CHECK(p(i, c) == doctest::Approx(std::exp(l(i, c)) / z).epsilon(1e-13));
    }
    CHECK(p(4, 0) == 1.0);
    CHECK(p(4, 1) == 0.0);
    CHECK(all_finite(p));
    // in place
    softmax_rows(ctx, cref(l), ref(l));
    CHECK(max_rel_error(vec(l), vec(p)) < 1e-15);
  }
  SUBCASE("w_c = 1 / count^p, absent classes 0, ignored labels skipped") {
    const std::vector<index_t> y = {0, 0, 1, 2, 2, 2, 2, -1};
    const auto w = class_weights(y, 4, 2.0);
    REQUIRE(w.size() == 4);
    CHECK(w[0] == doctest::Approx(0.25));
    CHECK(w[1] == doctest::Approx(1.0));
    CHECK(w[2] == doctest::Approx(1.0 / 16));
    CHECK(w[3] == 0.0);
    const auto w1 = class_weights(y, 4, 1.0);
    CHECK(w1[2] == doctest::Approx(0.25));
    CHECK_THROWS_AS(class_weights(std::vector<index_t>{0, 5}, 4), stai::Error);
    CHECK_THROWS_AS(class_weights(y, 0), stai::Error);
  }
}

// =================================================== gene consistency =======

TEST_CASE("cross-correlation matches naive loops") {
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<double> S = random_matrix(30, 6, 9), X = random_matrix(30, 3, 10), A(6, 3);
  X.col(0) += S.col(2);
  S.col(4).setConstant(2.0);  // zero variance: A row = 0, no NaN
  gene_correlation(ctx, cref(S), cref(X), ref(A));
  const RowMatrix<double> ref_A = naive_corr(S, X);
  CHECK(max_rel_error(vec(A), vec(ref_A), 1e-12) < 1e-10);
  CHECK(all_finite(A));
  RowMatrix<double> bad(5, 3), one(1, 6);
  CHECK_THROWS_AS(gene_correlation(ctx, cref(S), cref(X), ref(bad)), stai::Error);
  CHECK_THROWS_AS(gene_correlation(ctx, cref(one), cref(one), ref(bad)), stai::Error);
}

TEST_CASE("gene consistency: both variants, value and gradient wrt the imputed genes") {
  Cpu be;
  Context<Cpu> ctx{be};
  const index_t n = 21, p = 5, c = 3;
  RowMatrix<double> st = random_matrix(n, p, 11), imp = random_matrix(n, c, 12);
  imp.col(1) += 0.8 * st.col(0);
  RowMatrix<double> sc = random_matrix(40, p, 13), scc = random_matrix(40, c, 14), A2(p, c);
  scc.col(1) += sc.col(0);
  gene_correlation(ctx, cref(sc), cref(scc), ref(A2));
  for (GeneLoss kind : {GeneLoss::Cosine, GeneLoss::Frobenius}) {
    CAPTURE(int(kind));
    GeneConsistencyLoss<Cpu, double> loss(kind);
    SUBCASE("naive value and central differences") {
      RowMatrix<double> g = zeros_like(imp);
      const double v = loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2), ref(g));
      CHECK(v == doctest::Approx(naive_gene(naive_corr(st, imp), A2, kind)).epsilon(1e-12));
      auto f = [&] { return loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2)); };
      check_gradient("gene consistency wrt imputed", vec(g), numeric_gradient(f, imp.data(), imp.size(), 1e-5), 1e-6);
      RowMatrix<double> h = RowMatrix<double>::Constant(n, c, 1.0);
      loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2), ref(h), 0.3);
      CHECK(max_rel_error(vec((h.array() - 1.0).matrix()), vec((0.3 * g).eval())) < 1e-10);
    }
    SUBCASE("constant imputed gene and constant training gene: finite, still exact") {
      imp.col(2).setConstant(0.4);
      st.col(3).setConstant(-2.0);
      RowMatrix<double> g = zeros_like(imp);
      const double v = loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2), ref(g));
      CHECK(std::isfinite(v));
      CHECK(all_finite(g));
      CHECK(v == doctest::Approx(naive_gene(naive_corr(st, imp), A2, kind)).epsilon(1e-12));
      auto f = [&] { return loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2)); };
      check_gradient("gene consistency wrt imputed (constant columns)", vec(g),
                     numeric_gradient(f, imp.data(), imp.size(), 1e-8));
    }
  }
  SUBCASE("A1 == A2: cosine ~ 0 loss, Frobenius 0 with zero gradient") {
    RowMatrix<double> A1(p, c);
    gene_correlation(ctx, cref(st), cref(imp), ref(A1));
    GeneConsistencyLoss<Cpu, double> fro(GeneLoss::Frobenius), cosl(GeneLoss::Cosine);
    RowMatrix<double> g = zeros_like(imp);
    CHECK(fro.value_and_grad(ctx, cref(st), cref(imp), cref(A1), ref(g)) == 0.0);
    CHECK(g.cwiseAbs().maxCoeff() == 0.0);
    // 1 - mean_c |a_c|^2 / sqrt(|a_c|^4 + 1e-6): ~0, exactly the naive value
    const double v = cosl.value_and_grad(ctx, cref(st), cref(imp), cref(A1));
    CHECK(v == doctest::Approx(naive_gene(A1, A1, GeneLoss::Cosine)).epsilon(1e-12));
    CHECK(std::abs(v) < 1e-3);
  }
  SUBCASE("float agrees with double") {
    GeneConsistencyLoss<Cpu, float> lf;
    RowMatrix<float> stf = st.cast<float>(), impf = imp.cast<float>(), A2f = A2.cast<float>();
    const double v = lf.value_and_grad(ctx, cref(stf), cref(impf), cref(A2f));
    CHECK(v == doctest::Approx(naive_gene(naive_corr(st, imp), A2, GeneLoss::Cosine)).epsilon(1e-4));
  }
  SUBCASE("shape errors") {
    GeneConsistencyLoss<Cpu, double> loss;
    RowMatrix<double> A2bad(p, c + 1), imp_short(n - 1, c);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(st), cref(imp), cref(A2bad)), stai::Error);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(st), cref(imp_short), cref(A2)), stai::Error);
  }
}
