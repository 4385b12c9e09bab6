// Imputation heads: Euclidean top-k attention and learnable attention.
// Forward against an independent naive double implementation (full distance
// matrix, std::sort with the (distance, index) tie rule), gradients against
// central differences w.r.t. every input and every parameter.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/heads/learnable_attention.hpp>
#include <stai/heads/topk_attention.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

namespace {

using TopKD = TopKAttention<Cpu, double>;
using LearnD = LearnableAttention<Cpu, double>;

// ---- naive references -------------------------------------------------------

struct NaiveTopK {
  std::vector<std::vector<index_t>> idx;  // per row, ascending (D, j)
  std::vector<std::vector<double>> w;
  RowMatrix<double> y;
};

NaiveTopK naive_topk(const RowMatrix<double>& z1, const RowMatrix<double>& z2,
                     const RowMatrix<double>& v, index_t k) {
  const index_t n1 = z1.rows(), n2 = z2.rows();
  const index_t kk = std::min(k, n2);
  NaiveTopK out;
  out.y = RowMatrix<double>::Zero(n1, v.cols());
  for (index_t i = 0; i < n1; ++i) {
    std::vector<double> D(static_cast<std::size_t>(n2));
    for (index_t j = 0; j < n2; ++j) {
      double s = 0;
      for (index_t c = 0; c < z1.cols(); ++c) s += (z1(i, c) - z2(j, c)) * (z1(i, c) - z2(j, c));
      D[j] = std::sqrt(s);
    }
    std::vector<index_t> order(static_cast<std::size_t>(n2));
    std::iota(order.begin(), order.end(), index_t(0));
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
      return D[a] < D[b] || (D[a] == D[b] && a < b);
    });
    order.resize(static_cast<std::size_t>(kk));
    std::vector<double> w(static_cast<std::size_t>(kk));
    double mx = -1e300, sum = 0;
    for (index_t t = 0; t < kk; ++t) mx = std::max(mx, -D[order[t]]);
    for (index_t t = 0; t < kk; ++t) sum += (w[t] = std::exp(-D[order[t]] - mx));
    for (auto& x : w) x /= sum;
    for (index_t t = 0; t < kk; ++t)
      for (index_t c = 0; c < v.cols(); ++c) out.y(i, c) += w[t] * v(order[t], c);
    out.idx.push_back(order);
    out.w.push_back(w);
  }
  return out;
}

std::vector<double> to_vec(const RowMatrix<double>& m) {
  return std::vector<double>(m.data(), m.data() + m.size());
}

// Forward against the naive implementation: indices (when k < n2), weights
// aligned with the indices, imputed values.
void check_topk_forward(TopKAttention<Cpu, double>& head, const RowMatrix<double>& z1,
                        const RowMatrix<double>& z2, const RowMatrix<double>& v, index_t k,
                        bool compare_indices = true) {
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<double> y(z1.rows(), v.cols());
  head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  const NaiveTopK ref_ = naive_topk(z1, z2, v, k);
  const index_t kk = std::min(k, static_cast<index_t>(z2.rows()));
  REQUIRE(head.k_eff() == kk);
  CHECK(head.uses_all_cells() == (k >= z2.rows()));
  for (index_t i = 0; i < z1.rows(); ++i) {
    // map the head's (index, weight) pairs of row i
    std::vector<double> w_by_j(static_cast<std::size_t>(z2.rows()), -1.0);
    for (index_t t = 0; t < kk; ++t) {
      const index_t j = head.uses_all_cells() ? t : head.indices()(i, t);
      w_by_j[j] = head.weights()(i, t);
      if (compare_indices && !head.uses_all_cells()) CHECK(j == ref_.idx[i][t]);
    }
    for (index_t t = 0; t < kk; ++t)
      CHECK(w_by_j[ref_.idx[i][t]] == doctest::Approx(ref_.w[i][t]).epsilon(1e-12));
    for (index_t c = 0; c < v.cols(); ++c)
      CHECK(y(i, c) == doctest::Approx(ref_.y(i, c)).epsilon(1e-12));
  }
}

// Central-difference gradient check of <S v, R> w.r.t. z1 and z2; also checks
// Grad::Accumulate and skipping.
void check_topk_gradients(index_t k, index_t tile, RowMatrix<double> z1, RowMatrix<double> z2,
                          const RowMatrix<double>& v) {
  Cpu be;
  Context<Cpu> ctx{be};
  TopKAttention<Cpu, double> head(k, tile);
  const RowMatrix<double> R = random_matrix(z1.rows(), v.cols(), 901);
  RowMatrix<double> y(z1.rows(), v.cols());
  auto f = [&] {
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    return test::dot(cref(y), cref(R));
  };
  f();
  RowMatrix<double> dz1(z1.rows(), z1.cols()), dz2(z2.rows(), z2.cols());
  dz1.setConstant(123.0);  // Grad::Write must overwrite
  dz2.setConstant(-7.0);
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2));
  const auto g1 = to_vec(dz1), g2 = to_vec(dz2);
  check_gradient("top-k attention z1", g1, numeric_gradient(f, z1.data(), z1.size()));
  check_gradient("top-k attention z2", g2, numeric_gradient(f, z2.data(), z2.size()));
  f();  // restore the selection of the unperturbed inputs

  // Accumulate adds, null skips
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2), Grad::Accumulate);
  for (index_t i = 0; i < dz1.size(); ++i) CHECK(dz1.data()[i] == doctest::Approx(2 * g1[i]));
  for (index_t i = 0; i < dz2.size(); ++i) CHECK(dz2.data()[i] == doctest::Approx(2 * g2[i]));
  RowMatrix<double> only2(z2.rows(), z2.cols());
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), MatRef<double>{}, ref(only2));
  CHECK(to_vec(only2) == g2);
  RowMatrix<double> only1(z1.rows(), z1.cols());
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(only1), MatRef<double>{});
  CHECK(to_vec(only1) == g1);
}

}  // namespace

TEST_CASE("TopKAttention forward matches a naive full-distance implementation") {
  const RowMatrix<double> z1 = random_matrix(37, 5, 1), z2 = random_matrix(23, 5, 2),
                          v = random_matrix(23, 4, 3);
  for (index_t k : {index_t(1), index_t(2), index_t(7), index_t(22), index_t(23), index_t(50)}) {
    for (index_t tile : {index_t(1), index_t(8), index_t(37), index_t(256)}) {
      CAPTURE(k);
      CAPTURE(tile);
      TopKAttention<Cpu, double> head(k, tile);
      check_topk_forward(head, z1, z2, v, k);
    }
  }
}

TEST_CASE("TopKAttention hand-computed case") {
  // z1 = (0,0); z2 = (3,4), (1,0), (0,-2), (0,1) -> D = 5, 1, 2, 1; k = 2 keeps
  // j = 1 and j = 3 (tie at D = 1, both kept, smaller index first): weights 1/2, 1/2.
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<double> z1(1, 2), z2(4, 2), v(4, 1), y(1, 1);
  z1 << 0, 0;
  z2 << 3, 4, 1, 0, 0, -2, 0, 1;
  v << 10, 20, 30, 40;
  TopKAttention<Cpu, double> head(2);
  head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  CHECK(head.indices()(0, 0) == 1);
  CHECK(head.indices()(0, 1) == 3);
  CHECK(head.distances()(0, 0) == 1.0);
  CHECK(head.weights()(0, 0) == doctest::Approx(0.5));
  CHECK(y(0, 0) == doctest::Approx(30.0));
  // k = 3 adds j = 2 (D = 2): weights e^-1, e^-1, e^-2 normalised
  TopKAttention<Cpu, double> head3(3);
  head3.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  const double a = std::exp(-1.0), b = std::exp(-2.0), s = 2 * a + b;
  CHECK(head3.indices()(0, 2) == 2);
  CHECK(y(0, 0) == doctest::Approx((a * 20 + a * 40 + b * 30) / s));
}

TEST_CASE("TopKAttention edge cases") {
  Cpu be;
  Context<Cpu> ctx{be};

  SUBCASE("ties: duplicated reference cells and equal distances follow the index rule") {
    // Integer coordinates: every squared distance is exact, so ties are exact.
    RowMatrix<double> z2(30, 3), z1(9, 3);
    Rng rng(5);
    for (index_t j = 0; j < 10; ++j)
      for (index_t c = 0; c < 3; ++c) z2(j, c) = static_cast<double>(rng.below(5)) - 2.0;
    for (index_t j = 10; j < 30; ++j) z2.row(j) = z2.row(j % 10);  // duplicates, later indices
    // spatial cells on lattice points too (many equal distances, incl. 0)
    for (index_t i = 0; i < 9; ++i)
      for (index_t c = 0; c < 3; ++c) z1(i, c) = static_cast<double>(rng.below(5)) - 2.0;
    const RowMatrix<double> v = random_matrix(30, 3, 6);
    for (index_t k : {index_t(1), index_t(3), index_t(4), index_t(11), index_t(15), index_t(29)}) {
      CAPTURE(k);
      TopKAttention<Cpu, double> head(k, 4);
      check_topk_forward(head, z1, z2, v, k);
      // the same bits on a second call
      RowMatrix<double> y1(9, 3), y2(9, 3);
      head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y1));
      const std::vector<index_t> i1(head.indices().data, head.indices().data + 9 * head.k_eff());
      head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y2));
      const std::vector<index_t> i2(head.indices().data, head.indices().data + 9 * head.k_eff());
      CHECK(i1 == i2);
      CHECK(std::memcmp(y1.data(), y2.data(), sizeof(double) * y1.size()) == 0);
    }
  }
  SUBCASE("ties among random duplicated rows (GEMM path) keep the smaller index") {
    RowMatrix<double> z2 = random_matrix(40, 6, 11);
    for (index_t j = 20; j < 40; ++j) z2.row(j) = z2.row(39 - j);  // j and 39-j identical
    const RowMatrix<double> z1 = random_matrix(13, 6, 12), v = random_matrix(40, 2, 13);
    for (index_t k : {index_t(1), index_t(5), index_t(9)}) {
      CAPTURE(k);
      TopKAttention<Cpu, double> head(k, 5);
      check_topk_forward(head, z1, z2, v, k);
    }
  }
  SUBCASE("k >= n2 uses all cells (paper variant)") {
    const RowMatrix<double> z1 = random_matrix(11, 4, 21), z2 = random_matrix(7, 4, 22),
                            v = random_matrix(7, 3, 23);
    TopKAttention<Cpu, double> head(TopKAttention<Cpu, double>::kAllCells);
    check_topk_forward(head, z1, z2, v, 7);
    CHECK(head.uses_all_cells());
    CHECK(head.indices().data == nullptr);
    check_topk_gradients(7, 3, z1, z2, v);
    check_topk_gradients(100, 4, z1, z2, v);
    // several blocks of the dense z2 gather (16 reference cells each), the last partial
    const RowMatrix<double> z2b = random_matrix(37, 4, 24), vb = random_matrix(37, 2, 25);
    check_topk_gradients(TopKD::kAllCells, 4, z1, z2b, vb);
  }
  SUBCASE("k = 1 (no gradient: the single weight is 1)") {
    const RowMatrix<double> z1 = random_matrix(6, 3, 31), z2 = random_matrix(9, 3, 32),
                            v = random_matrix(9, 2, 33);
    TopKAttention<Cpu, double> head(1, 4);
    check_topk_forward(head, z1, z2, v, 1);
    RowMatrix<double> y(6, 2), dz1(6, 3), dz2(9, 3);
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    for (index_t i = 0; i < 6; ++i) {
      CHECK(head.weights()(i, 0) == 1.0);
      for (index_t c = 0; c < 2; ++c) CHECK(y(i, c) == v(head.indices()(i, 0), c));
    }
    const RowMatrix<double> R = random_matrix(6, 2, 34);
    head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2));
    CHECK(dz1.cwiseAbs().maxCoeff() == 0.0);
    CHECK(dz2.cwiseAbs().maxCoeff() == 0.0);
  }
  SUBCASE("n2 = 1") {
    const RowMatrix<double> z1 = random_matrix(5, 3, 41), z2 = random_matrix(1, 3, 42),
                            v = random_matrix(1, 2, 43);
    for (index_t k : {index_t(1), index_t(50)}) {
      TopKAttention<Cpu, double> head(k, 2);
      check_topk_forward(head, z1, z2, v, k);
      CHECK(head.k_eff() == 1);
    }
  }
  SUBCASE("identical z1 and z2 rows (D = 0)") {
    const RowMatrix<double> z1 = random_matrix(8, 4, 51);
    RowMatrix<double> z2 = random_matrix(12, 4, 52);
    z2.row(3) = z1.row(0);
    z2.row(7) = z1.row(5);
    z2.row(10) = z1.row(5);  // two reference cells at distance 0 from spatial cell 5
    const RowMatrix<double> v = random_matrix(12, 3, 53);
    TopKAttention<Cpu, double> head(4, 3);
    check_topk_forward(head, z1, z2, v, 4);
    CHECK(head.indices()(0, 0) == 3);
    CHECK(head.distances()(0, 0) == 0.0);  // exact zero (direct recomputation)
    CHECK(head.indices()(5, 0) == 7);
    CHECK(head.indices()(5, 1) == 10);
    // At D = 0 the norm has a cone-shaped kink: central differences are
    // exact for the cone itself but pick up O(eps) cross terms with the
    // softmax normalisation (small against each tensor's scale).
    check_topk_gradients(12, 3, z1, z2, v);
    // With k < n2, duplicated reference rows can sit exactly at another
    // cell's selection boundary, where the output is discontinuous
    // (the selection is not differentiable): keep one zero per cell.
    z2.row(10) = random_matrix(1, 4, 54);
    check_topk_gradients(4, 3, z1, z2, v);
  }
  SUBCASE("gradients: tiles not dividing n1, several k") {
    const RowMatrix<double> z1 = random_matrix(13, 4, 61), z2 = random_matrix(17, 4, 62),
                            v = random_matrix(17, 3, 63);
    for (index_t k : {index_t(2), index_t(5), index_t(16)}) {
      CAPTURE(k);
      check_topk_gradients(k, 5, z1, z2, v);
    }
  }
  SUBCASE("n1 = 0") {
    RowMatrix<double> z1(0, 3), z2 = random_matrix(4, 3, 71), v = random_matrix(4, 2, 72), y(0, 2),
                      dz1(0, 3), dz2(4, 3);
    TopKAttention<Cpu, double> head(2);
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    head.backward(ctx, cref(z1), cref(z2), cref(v), cref(y), ref(dz1), ref(dz2));
    CHECK(dz2.cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("TopKAttention apply() imputes new values with the stored attention") {
  Cpu be;
  Context<Cpu> ctx{be};
  const RowMatrix<double> z1 = random_matrix(20, 4, 81), z2 = random_matrix(15, 4, 82),
                          v = random_matrix(15, 3, 83), v2 = random_matrix(15, 6, 84);
  TopKAttention<Cpu, double> head(5, 6);
  RowMatrix<double> y(20, 3), y2(20, 6), y2b(20, 6);
  head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  head.apply(ctx, cref(v2), ref(y2));
  head.forward(ctx, cref(z1), cref(z2), cref(v2), ref(y2b));
  CHECK(to_vec(y2) == to_vec(y2b));
  const NaiveTopK nv = naive_topk(z1, z2, v2, 5);
  for (index_t i = 0; i < y2.size(); ++i) CHECK(y2.data()[i] == doctest::Approx(nv.y.data()[i]));
}

TEST_CASE("TopKAttention float at a moderate size agrees with the double reference") {
  Cpu be;
  Context<Cpu> ctx{be};
  const index_t n1 = 300, n2 = 220, d = 16, g = 8, k = 50;
  const RowMatrix<double> z1 = random_matrix(n1, d, 91), z2 = random_matrix(n2, d, 92),
                          v = random_matrix(n2, g, 93);
  const RowMatrix<float> z1f = z1.cast<float>(), z2f = z2.cast<float>(), vf = v.cast<float>();
  RowMatrix<float> yf(n1, g);
  TopKAttention<Cpu, float> head(k, 64);
  head.forward(ctx, cref(z1f), cref(z2f), cref(vf), ref(yf));
  const NaiveTopK nv = naive_topk(z1, z2, v, k);
  double worst = 0;
  for (index_t i = 0; i < yf.size(); ++i)
    worst = std::max(worst, std::abs(double(yf.data()[i]) - nv.y.data()[i]));
  CHECK(worst < 1e-4);
}

TEST_CASE("TopKAttention float selection (packed keys) follows the same tie rule") {
  // Small integer coordinates: squared distances are exact in float too.
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<double> z2(60, 4), z1(25, 4);
  Rng rng(17);
  for (index_t i = 0; i < z2.size(); ++i) z2.data()[i] = static_cast<double>(rng.below(4)) - 1.5;
  for (index_t j = 30; j < 60; ++j) z2.row(j) = z2.row(59 - j);  // duplicates
  for (index_t i = 0; i < z1.size(); ++i) z1.data()[i] = static_cast<double>(rng.below(4)) - 1.5;
  const RowMatrix<double> v = random_matrix(60, 2, 18);
  const RowMatrix<float> z1f = z1.cast<float>(), z2f = z2.cast<float>(), vf = v.cast<float>();
  for (index_t k : {index_t(1), index_t(7), index_t(20), index_t(59)}) {
    CAPTURE(k);
    TopKAttention<Cpu, float> head(k, 6);
    RowMatrix<float> y(25, 2);
    head.forward(ctx, cref(z1f), cref(z2f), cref(vf), ref(y));
    const NaiveTopK nv = naive_topk(z1, z2, v, k);
    for (index_t i = 0; i < 25; ++i)
      for (index_t t = 0; t < k; ++t) CHECK(head.indices()(i, t) == nv.idx[i][t]);
  }
}

TEST_CASE("TopKAttention is bitwise deterministic across thread counts") {
  const index_t n1 = 700, n2 = 500, d = 16, g = 8;
  const RowMatrix<float> z1 = random_matrix(n1, d, 101).cast<float>(),
                         z2 = random_matrix(n2, d, 102).cast<float>(),
                         v = random_matrix(n2, g, 103).cast<float>(),
                         R = random_matrix(n1, g, 104).cast<float>();
  auto run = [&](int threads, index_t tile, index_t k = 50) {
    Cpu be;
    be.threads = threads;
    Context<Cpu> ctx{be};
    TopKAttention<Cpu, float> head(k, tile);
    RowMatrix<float> y(n1, g), dz1(n1, d), dz2(n2, d);
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2));
    std::vector<float> all(y.data(), y.data() + y.size());
    all.insert(all.end(), dz1.data(), dz1.data() + dz1.size());
    all.insert(all.end(), dz2.data(), dz2.data() + dz2.size());
    return all;
  };
  const auto a = run(1, 256), b = run(2, 256), c = run(2, 97);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  // k = 120: n1 k = 84,000 selected pairs, so with 2 threads the transposed
  // selection (the CSR behind the z2 gradient) is built by 2 threads; the
  // tiles are also re-cut into equal shares. Same bits as 1 thread.
  const auto e1 = run(1, 256, 120), e2 = run(2, 256, 120), e3 = run(2, 61, 120);
  CHECK(std::memcmp(e1.data(), e2.data(), e1.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(e1.data(), e3.data(), e1.size() * sizeof(float)) == 0);
  // All reference cells (dense path): its GEMM over the n2 reference cells
  // is reproducible for a given thread count only (Eigen's blocking depends
  // on the thread count), so across thread counts the results agree to
  // rounding.
  const auto d1 = run(2, 256, n2), d2 = run(2, 256, n2), d3 = run(1, 256, n2);
  CHECK(std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(float)) == 0);
  double worst = 0;
  for (std::size_t i = 0; i < d1.size(); ++i)
    worst = std::max(worst, double(std::abs(d1[i] - d3[i])) / (1.0 + std::abs(d1[i])));
  CHECK(worst < 1e-5);
}

TEST_CASE("TopKAttention reports misuse clearly") {
  Cpu be;
  Context<Cpu> ctx{be};
  CHECK_THROWS_AS(TopKD(0), Error);
  CHECK_THROWS_AS(TopKD(5, 0), Error);
  TopKAttention<Cpu, double> head(3);
  RowMatrix<double> z1 = random_matrix(4, 3, 1), z2 = random_matrix(5, 2, 2),
                    v = random_matrix(5, 2, 3), y(4, 2);
  CHECK_THROWS_AS(head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y)), Error);  // d differs
  RowMatrix<double> z2ok = random_matrix(5, 3, 4), v_bad = random_matrix(6, 2, 5);
  CHECK_THROWS_AS(head.forward(ctx, cref(z1), cref(z2ok), cref(v_bad), ref(y)), Error);
  RowMatrix<double> empty(0, 3);
  CHECK_THROWS_AS(head.forward(ctx, cref(z1), cref(empty), cref(RowMatrix<double>(0, 2)), ref(y)),
                  Error);
  RowMatrix<double> dz1(4, 3);
  CHECK_THROWS_AS(head.backward(ctx, cref(z1), cref(z2ok), cref(v), cref(y), ref(dz1),
                                MatRef<double>{}),
                  Error);  // before forward
}

// ---- learnable attention -------------------------------------------------

namespace {

struct LearnableFixture {
  Cpu be;
  Context<Cpu> ctx{be};
  ParamArena<Cpu, double> arena;
  LearnableAttention<Cpu, double> head;
  LearnableFixture(index_t d, bool bias, index_t tile) : head(d, bias, 1.0, tile) {
    head.declare(arena, "attn");
    arena.allocate(be);
    head.bind(arena);
    Rng rng(8848);
    arena.initialize(be, rng);
  }
};

// softmax((z1 Wq^T + bq)(z2 Wk^T + bk)^T) v in naive double loops.
RowMatrix<double> naive_learnable(const ParamArena<Cpu, double>& a, bool bias,
                                  const RowMatrix<double>& z1, const RowMatrix<double>& z2,
                                  const RowMatrix<double>& v) {
  const index_t d = z1.cols(), n1 = z1.rows(), n2 = z2.rows();
  const double* Wq = a.param(a.find("attn.query.weight"));
  const double* Wk = a.param(a.find("attn.key.weight"));
  const double* bq = bias ? a.param(a.find("attn.query.bias")) : nullptr;
  const double* bk = bias ? a.param(a.find("attn.key.bias")) : nullptr;
  auto lin = [&](const RowMatrix<double>& z, const double* W, const double* b) {
    RowMatrix<double> o(z.rows(), d);
    for (index_t i = 0; i < z.rows(); ++i)
      for (index_t r = 0; r < d; ++r) {
        double s = b ? b[r] : 0.0;
        for (index_t c = 0; c < d; ++c) s += z(i, c) * W[r * d + c];
        o(i, r) = s;
      }
    return o;
  };
  const RowMatrix<double> Q = lin(z1, Wq, bq), K = lin(z2, Wk, bk);
  RowMatrix<double> y = RowMatrix<double>::Zero(n1, v.cols());
  for (index_t i = 0; i < n1; ++i) {
    std::vector<double> s(static_cast<std::size_t>(n2));
    double mx = -1e300, sum = 0;
    for (index_t j = 0; j < n2; ++j) {
      double acc = 0;
      for (index_t c = 0; c < d; ++c) acc += Q(i, c) * K(j, c);
      s[j] = acc;
      mx = std::max(mx, acc);
    }
    for (auto& x : s) sum += (x = std::exp(x - mx));
    for (index_t j = 0; j < n2; ++j)
      for (index_t c = 0; c < v.cols(); ++c) y(i, c) += s[j] / sum * v(j, c);
  }
  return y;
}

void check_learnable(index_t n1, index_t n2, index_t d, index_t g, bool bias, index_t tile,
                     bool all_zero = false) {
  LearnableFixture fx(d, bias, tile);
  auto& ctx = fx.ctx;
  auto& head = fx.head;
  auto& arena = fx.arena;
  RowMatrix<double> z1 = random_matrix(n1, d, 201), z2 = random_matrix(n2, d, 202);
  const RowMatrix<double> v = random_matrix(n2, g, 203), R = random_matrix(n1, g, 204);
  RowMatrix<double> y(n1, g);
  head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  const RowMatrix<double> yn = naive_learnable(arena, bias, z1, z2, v);
  for (index_t i = 0; i < y.size(); ++i)
    CHECK(y.data()[i] == doctest::Approx(yn.data()[i]).epsilon(1e-12));
  for (index_t i = 0; i < n1; ++i) {
    double s = 0;
    for (index_t j = 0; j < n2; ++j) s += head.attention()(i, j);
    CHECK(s == doctest::Approx(1.0));
  }

  auto f = [&] {
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    return test::dot(cref(y), cref(R));
  };
  f();
  arena.zero_grad(fx.be);
  RowMatrix<double> dz1(n1, d), dz2(n2, d);
  dz1.setConstant(5.0);
  dz2.setConstant(5.0);
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2));
  const std::vector<double> gp(arena.grads(), arena.grads() + arena.size());
  const auto g1 = to_vec(dz1), g2 = to_vec(dz2);
  // The key bias adds q_i . b_k to every score of row i: the softmax is
  // invariant to it, so its gradient is zero up to rounding (also in
  // PyTorch). With n2 = 1 the softmax is constant: every gradient is 0.
  std::vector<test::ZeroGradient> zero{{"attn.key.bias", 1e-12, 1e-8}};
  if (all_zero) zero.push_back({"attn"});
  test::check_arena_gradient(arena, f, gp, zero);
  const auto n1g = numeric_gradient(f, z1.data(), z1.size()), n2g = numeric_gradient(f, z2.data(), z2.size());
  if (all_zero) {
    test::check_zero_gradient("learnable attention z1", g1, n1g);
    test::check_zero_gradient("learnable attention z2", g2, n2g);
  } else {
    check_gradient("learnable attention z1", g1, n1g);
    check_gradient("learnable attention z2", g2, n2g);
  }
  f();
  // parameter gradients accumulate, Grad::Accumulate adds, null skips
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2), Grad::Accumulate);
  for (index_t i = 0; i < arena.size(); ++i)
    CHECK(arena.grads()[i] == doctest::Approx(2 * gp[static_cast<std::size_t>(i)]));
  for (index_t i = 0; i < dz1.size(); ++i) CHECK(dz1.data()[i] == doctest::Approx(2 * g1[i]));
  for (index_t i = 0; i < dz2.size(); ++i) CHECK(dz2.data()[i] == doctest::Approx(2 * g2[i]));
  RowMatrix<double> only1(n1, d);
  head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(only1), MatRef<double>{});
  for (index_t i = 0; i < only1.size(); ++i) CHECK(only1.data()[i] == doctest::Approx(g1[i]));
}

}  // namespace

TEST_CASE("LearnableAttention forward and gradients (Q, K parameters, z1, z2)") {
  SUBCASE("with bias (the authors' nn.Linear default), tiles not dividing n1") {
    check_learnable(11, 9, 4, 3, true, 4);
  }
  SUBCASE("without bias, one tile") { check_learnable(6, 13, 3, 2, false, 256); }
  SUBCASE("tile of one row") { check_learnable(5, 4, 2, 2, true, 1); }
  SUBCASE("n2 = 1: attention is 1, all gradients vanish") { check_learnable(4, 1, 3, 2, true, 2, true); }
}

TEST_CASE("LearnableAttention: parameters, apply, scale and errors") {
  LearnableFixture fx(4, true, 3);
  auto& ctx = fx.ctx;
  REQUIRE(fx.arena.find("attn.query.weight") >= 0);
  REQUIRE(fx.arena.find("attn.query.bias") >= 0);
  REQUIRE(fx.arena.find("attn.key.weight") >= 0);
  REQUIRE(fx.arena.find("attn.key.bias") >= 0);
  CHECK(fx.arena.size() == 2 * (16 + 4));
  // PyTorch default init bound 1/sqrt(d)
  for (index_t i = 0; i < fx.arena.size(); ++i) CHECK(std::abs(fx.arena.params()[i]) <= 0.5);
  const RowMatrix<double> z1 = random_matrix(7, 4, 301), z2 = random_matrix(5, 4, 302),
                          v = random_matrix(5, 2, 303), v2 = random_matrix(5, 3, 304);
  RowMatrix<double> y(7, 2), y2(7, 3), y2b(7, 3);
  fx.head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
  fx.head.apply(ctx, cref(v2), ref(y2));
  fx.head.forward(ctx, cref(z1), cref(z2), cref(v2), ref(y2b));
  CHECK(to_vec(y2) == to_vec(y2b));
  CHECK_THROWS_AS(fx.head.forward(ctx, cref(z1), cref(random_matrix(5, 3, 1)), cref(v), ref(y)),
                  Error);
  CHECK_THROWS_AS(fx.head.apply(ctx, cref(random_matrix(6, 2, 1)), ref(y)), Error);
  CHECK_THROWS_AS(LearnD(0), Error);
  CHECK_THROWS_AS(LearnD(4, true, 1.0, 0), Error);
  LearnableAttention<Cpu, double> fresh(4);
  CHECK_THROWS_AS(fresh.apply(ctx, cref(v), ref(y)), Error);
}

TEST_CASE("LearnableAttention is reproducible for a given thread count") {
  const index_t n1 = 300, n2 = 200, d = 16, g = 8;
  const RowMatrix<float> z1 = random_matrix(n1, d, 401).cast<float>(),
                         z2 = random_matrix(n2, d, 402).cast<float>(),
                         v = random_matrix(n2, g, 403).cast<float>(),
                         R = random_matrix(n1, g, 404).cast<float>();
  auto run = [&] {
    Cpu be;
    be.threads = 2;
    Context<Cpu> ctx{be};
    ParamArena<Cpu, float> arena;
    LearnableAttention<Cpu, float> head(d, true, 1.0, 64);
    head.declare(arena, "attn");
    arena.allocate(be);
    head.bind(arena);
    Rng rng(8848);
    arena.initialize(be, rng);
    RowMatrix<float> y(n1, g), dz1(n1, d), dz2(n2, d);
    head.forward(ctx, cref(z1), cref(z2), cref(v), ref(y));
    head.backward(ctx, cref(z1), cref(z2), cref(v), cref(R), ref(dz1), ref(dz2));
    std::vector<float> all(y.data(), y.data() + y.size());
    all.insert(all.end(), dz1.data(), dz1.data() + dz1.size());
    all.insert(all.end(), dz2.data(), dz2.data() + dz2.size());
    const auto gp = arena.grads_to_host(be);
    all.insert(all.end(), gp.begin(), gp.end());
    return all;
  };
  const auto a = run(), b = run();
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The CPU backend's own building blocks are the ones the head uses on it.
static_assert(std::is_same_v<decltype(topk_select_kernels(Cpu{})), TopKCpuKernels>);

TEST_CASE("TopKSelectRow: rank selection and heap agree with a full sort on crafted rows") {
  // Rows of keys are given directly (sq1 = sq2 = 0, g = key), so the
  // expected selection is a plain sort of (clamped key, j). Both scratch
  // modes run: the bounded heap (cap 0) and, where compiled in, the rank
  // selection with its fall-backs (fewer than k keys under the sampled
  // threshold, more than cap of them, thresholds of +inf).
  const float inf = std::numeric_limits<float>::infinity();
  auto expected = [&](const std::vector<float>& keys, index_t k) {
    std::vector<std::pair<float, index_t>> e;
    for (index_t j = 0; j < static_cast<index_t>(keys.size()); ++j) {
      float c = keys[static_cast<std::size_t>(j)];
      c = std::isnan(c) ? inf : (c > 0 ? c : 0.0f);
      e.emplace_back(c, j);
    }
    std::sort(e.begin(), e.end());
    std::vector<index_t> out;
    for (index_t t = 0; t < k; ++t) out.push_back(e[static_cast<std::size_t>(t)].second);
    return out;
  };
  // K: the CPU's building blocks (SIMD where compiled in) or the plain loops
  auto run_with = [&](auto kernels, std::vector<float> keys, index_t k, index_t cap) {
    using Sel = ops::TopKSelectRow<float, decltype(kernels)>;
    const index_t n2 = static_cast<index_t>(keys.size());
    std::vector<float> sq2(keys.size(), 0.0f);
    const float sq1 = 0.0f;
    std::vector<ops::TopKEntry<float>> scratch(static_cast<std::size_t>(Sel::scratch_stride(k, cap)));
    std::vector<index_t> idx(static_cast<std::size_t>(k), -1);
    const Sel sel{keys.data(), &sq1, sq2.data(), scratch.data(), idx.data(), n2, k, inf, cap};
    sel(0);
    return idx;
  };
  auto run = [&](std::vector<float> keys, index_t k, index_t cap) {
    return run_with(topk_select_kernels(Cpu{}), std::move(keys), k, cap);
  };
  Rng rng(77);
  std::vector<std::pair<std::string, std::vector<float>>> rows;
  {  // random keys, long row: the sampled threshold is used
    std::vector<float> r(3005);
    for (auto& x : r) x = static_cast<float>(rng.uniform());
    rows.emplace_back("random 3005", r);
  }
  {  // few distinct values: many exact ties, far more than cap keys pass
    std::vector<float> r(2000);
    for (auto& x : r) x = static_cast<float>(rng.below(4));
    rows.emplace_back("ties 2000", r);
  }
  {  // the sampled keys are small but few: fewer than k pass the threshold
    std::vector<float> r(3005, 1.0f);
    const index_t stride = 3005 / 256;
    for (index_t s = 0; s < 9; ++s) r[static_cast<std::size_t>(s * 7 * stride)] = 0.5f;
    rows.emplace_back("sparse samples", r);
  }
  {  // short row (no sampling: threshold +inf), negative, -0 and NaN keys
    std::vector<float> r(150);
    for (auto& x : r) x = static_cast<float>(rng.uniform()) - 0.2f;
    r[3] = -0.0f;
    r[7] = std::numeric_limits<float>::quiet_NaN();
    r[149] = std::numeric_limits<float>::quiet_NaN();
    rows.emplace_back("short with negatives and NaN", r);
  }
  {  // one block-aligned row length with duplicates of the smallest key
    std::vector<float> r(1024 + 16);
    for (auto& x : r) x = static_cast<float>(rng.uniform()) + 1.0f;
    for (index_t j = 100; j < 1040; j += 97) r[static_cast<std::size_t>(j)] = 0.25f;
    rows.emplace_back("duplicated minimum", r);
  }
  for (const auto& [name, keys] : rows) {
    for (index_t k : {index_t(1), index_t(5), index_t(50), index_t(120)}) {
      if (k > static_cast<index_t>(keys.size())) continue;
      CAPTURE(name);
      CAPTURE(k);
      const auto want = expected(keys, k);
      CHECK(run(keys, k, 0) == want);
      CHECK(run_with(ops::TopKScalar{}, keys, k, 0) == want);
      const index_t cap = decltype(topk_select_kernels(Cpu{}))::capacity<float>(k);
      if (cap > 0) {
        CHECK(run(keys, k, cap) == want);
        CHECK(run(keys, k, ((k + 3) / 4) * 4) == want);  // smallest capacity: overflows often
      }
    }
  }
}
