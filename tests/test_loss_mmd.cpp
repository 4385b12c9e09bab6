// MMD with the RBF mixture kernel: tiled implementation against a naive
// double implementation (plain loops over the full n x n matrix), gradients
// against central differences, the CPU fast path against the shared functor,
// and the edge cases (identical sets, single rows, identical points).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/losses/mmd.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::max_rel_error;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

namespace {

struct NaiveMmd {
  double value = 0, b = 0;
  RowMatrix<double> g1, g2;  // dMMD/dz1, dMMD/dz2 with b constant
};

// The reference's formula written out: stacked Z, full L, b = sum L / (n^2 - n)
// (or the given b), K = sum_m exp(-L / (b m)), block means.
NaiveMmd naive_mmd(const RowMatrix<double>& z1, const RowMatrix<double>& z2, double fixed_b = 0) {
  const index_t n1 = z1.rows(), n2 = z2.rows(), n = n1 + n2, d = z1.cols();
  RowMatrix<double> Z(n, d);
  Z << z1, z2;
  RowMatrix<double> L(n, n);
  double sumL = 0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = 0;
      for (index_t k = 0; k < d; ++k) s += (Z(i, k) - Z(j, k)) * (Z(i, k) - Z(j, k));
      L(i, j) = s;
      sumL += s;
    }
  NaiveMmd r;
  r.b = fixed_b > 0 ? fixed_b : sumL / double(n * n - n);
  const double mult[5] = {0.25, 0.5, 1, 2, 4};
  RowMatrix<double> G = RowMatrix<double>::Zero(n, d);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      double K = 0, dK = 0;  // dK/dL
      for (double m : mult) {
        const double e = std::exp(-L(i, j) / (r.b * m));
        K += e;
        dK += -e / (r.b * m);
      }
      const bool a = i < n1, c = j < n1;
      const double C = a && c ? 1.0 / double(n1 * n1)
                       : !a && !c ? 1.0 / double(n2 * n2)
                                  : -1.0 / double(n1 * n2);
      r.value += C * K;
      // d L_ij / d Z_i = 2 (Z_i - Z_j), d L_ij / d Z_j = -2 (Z_i - Z_j)
      for (index_t k = 0; k < d; ++k) {
        G(i, k) += C * dK * 2 * (Z(i, k) - Z(j, k));
        G(j, k) -= C * dK * 2 * (Z(i, k) - Z(j, k));
      }
    }
  r.g1 = G.topRows(n1);
  r.g2 = G.bottomRows(n2);
  return r;
}

std::vector<double> vec(const RowMatrix<double>& m) { return {m.data(), m.data() + m.size()}; }

struct Run {
  double value;
  RowMatrix<double> g1, g2;
};
template <class T>
Run run_mmd(MmdLoss<Cpu, T>& loss, const RowMatrix<double>& z1, const RowMatrix<double>& z2,
            double weight = 1.0) {
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<T> a = z1.cast<T>(), b = z2.cast<T>();
  RowMatrix<T> g1 = RowMatrix<T>::Zero(a.rows(), a.cols()), g2 = RowMatrix<T>::Zero(b.rows(), b.cols());
  const double v = loss.value_and_grad(ctx, cref(a), cref(b), ref(g1), ref(g2), weight);
  return {v, g1.template cast<double>(), g2.template cast<double>()};
}

}  // namespace

TEST_CASE("MMD: tiled value and gradient match the naive double implementation") {
  struct Case {
    index_t n1, n2, d, tr, tc;
  };
  // Sizes that are not multiples of the tile, tiles smaller and larger than
  // the sets, a row block straddling the z1/z2 boundary.
  const Case cases[] = {{37, 23, 5, 8, 16}, {23, 37, 3, 7, 7},  {1, 9, 3, 4, 4},
                        {9, 1, 3, 4, 5},    {5, 6, 2, 256, 512}, {300, 211, 16, 256, 512},
                        {130, 70, 4, 64, 100}, {41, 50, 8, 8, 24}};
  for (const auto& c : cases) {
    CAPTURE(c.n1);
    CAPTURE(c.n2);
    CAPTURE(c.tr);
    CAPTURE(c.tc);
    RowMatrix<double> z1 = random_matrix(c.n1, c.d, 1), z2 = random_matrix(c.n2, c.d, 2, 1.3);
    z2.array() += 0.4;  // shifted distribution: MMD clearly > 0
    const NaiveMmd ref = naive_mmd(z1, z2);
    for (bool generic : {false, true}) {
      CAPTURE(generic);
      MmdLoss<Cpu, double> loss(c.tr, c.tc);
      loss.use_generic_kernel(generic);
      const Run r = run_mmd(loss, z1, z2);
      CHECK(loss.bandwidth() == doctest::Approx(ref.b).epsilon(1e-12));
      CHECK(r.value == doctest::Approx(ref.value).epsilon(1e-10));
      CHECK(max_rel_error(vec(r.g1), vec(ref.g1), 1e-12) < 1e-9);
      CHECK(max_rel_error(vec(r.g2), vec(ref.g2), 1e-12) < 1e-9);
    }
  }
}

TEST_CASE("MMD: gradients match central differences") {
  RowMatrix<double> z1 = random_matrix(13, 4, 5), z2 = random_matrix(9, 4, 6, 0.8);
  z2.array() += 0.3;
  Cpu be;
  Context<Cpu> ctx{be};

  SUBCASE("fixed bandwidth: differentiate the loss itself") {
    MmdLoss<Cpu, double> loss(5, 7);
    loss.set_bandwidth(3.7);
    RowMatrix<double> g1 = RowMatrix<double>::Zero(13, 4), g2 = RowMatrix<double>::Zero(9, 4);
    loss.value_and_grad(ctx, cref(z1), cref(z2), ref(g1), ref(g2));
    auto f = [&] { return loss.value_and_grad(ctx, cref(z1), cref(z2)); };
    check_gradient("MMD wrt z1", vec(g1), numeric_gradient(f, z1.data(), z1.size()), 1e-6);
    check_gradient("MMD wrt z2", vec(g2), numeric_gradient(f, z2.data(), z2.size()), 1e-6);
    CHECK(naive_mmd(z1, z2, 3.7).value == doctest::Approx(f()).epsilon(1e-12));
  }
  SUBCASE("data-driven bandwidth, held constant as in the reference") {
    MmdLoss<Cpu, double> loss(5, 7);
    RowMatrix<double> g1 = RowMatrix<double>::Zero(13, 4), g2 = RowMatrix<double>::Zero(9, 4);
    loss.value_and_grad(ctx, cref(z1), cref(z2), ref(g1), ref(g2));
    const double b = loss.bandwidth();
    auto f = [&] { return naive_mmd(z1, z2, b).value; };
    check_gradient("MMD wrt z1 (b frozen)", vec(g1), numeric_gradient(f, z1.data(), z1.size()), 1e-6);
    check_gradient("MMD wrt z2 (b frozen)", vec(g2), numeric_gradient(f, z2.data(), z2.size()), 1e-6);
  }
}

TEST_CASE("MMD: CPU fast path (Eigen arrays) agrees with the shared functor") {
  RowMatrix<double> z1 = random_matrix(301, 16, 7), z2 = random_matrix(187, 16, 8);
  z2.col(3).array() += 1.0;
  SUBCASE("double") {
    MmdLoss<Cpu, double> fast(64, 96), slow(64, 96);
    slow.use_generic_kernel(true);
    const Run a = run_mmd(fast, z1, z2), b = run_mmd(slow, z1, z2);
    CHECK(a.value == doctest::Approx(b.value).epsilon(1e-12));
    CHECK(max_rel_error(vec(a.g1), vec(b.g1), 1e-14) < 1e-10);
    CHECK(max_rel_error(vec(a.g2), vec(b.g2), 1e-14) < 1e-10);
  }
  SUBCASE("float, and float against the naive double value") {
    MmdLoss<Cpu, float> fast, slow;
    slow.use_generic_kernel(true);
    const Run a = run_mmd(fast, z1, z2), b = run_mmd(slow, z1, z2);
    const NaiveMmd ref = naive_mmd(z1, z2);
    CHECK(a.value == doctest::Approx(b.value).epsilon(1e-4));
    CHECK(a.value == doctest::Approx(ref.value).epsilon(1e-3));
    CHECK(b.value == doctest::Approx(ref.value).epsilon(1e-3));
    // gradient entries agree to float accuracy relative to the largest one
    const double scale = ref.g1.cwiseAbs().maxCoeff() + ref.g2.cwiseAbs().maxCoeff();
    CHECK((a.g1 - b.g1).cwiseAbs().maxCoeff() < 1e-4 * scale);
    CHECK((a.g2 - b.g2).cwiseAbs().maxCoeff() < 1e-4 * scale);
    CHECK((a.g1 - ref.g1).cwiseAbs().maxCoeff() < 1e-3 * scale);
    CHECK((a.g2 - ref.g2).cwiseAbs().maxCoeff() < 1e-3 * scale);
  }
}

TEST_CASE("MMD: edge cases") {
  Cpu be;
  Context<Cpu> ctx{be};
  SUBCASE("identical sets give MMD ~ 0 and gradient ~ 0") {
    RowMatrix<double> z = random_matrix(31, 6, 9);
    MmdLoss<Cpu, double> loss(8, 8);
    const Run r = run_mmd(loss, z, z);
    CHECK(std::abs(r.value) < 1e-12);
    CHECK(r.g1.cwiseAbs().maxCoeff() < 1e-12);
    CHECK(r.g2.cwiseAbs().maxCoeff() < 1e-12);
    // ... while a perturbed copy does not
    RowMatrix<double> z2 = z;
    z2.array() += 0.5;
    CHECK(run_mmd(loss, z, z2).value > 1e-3);
  }
  SUBCASE("n1 == 1 and n2 == 1") {
    RowMatrix<double> a = random_matrix(1, 3, 10), b = random_matrix(1, 3, 11);
    MmdLoss<Cpu, double> loss;
    const Run r = run_mmd(loss, a, b);
    const NaiveMmd ref = naive_mmd(a, b);
    // n = 2: b = L_12, K_11 = K_22 = 5, K_12 = sum_m exp(-1/m)
    double k12 = 0;
    for (double m : {0.25, 0.5, 1.0, 2.0, 4.0}) k12 += std::exp(-1.0 / m);
    CHECK(r.value == doctest::Approx(10 - 2 * k12).epsilon(1e-12));
    CHECK(ref.value == doctest::Approx(10 - 2 * k12).epsilon(1e-12));
    CHECK(max_rel_error(vec(r.g1), vec(ref.g1)) < 1e-10);
    CHECK(max_rel_error(vec(r.g2), vec(ref.g2)) < 1e-10);
  }
  SUBCASE("all points identical: b = 0, MMD 0 with zero gradient, no NaN") {
    for (bool generic : {false, true}) {
      RowMatrix<double> a = RowMatrix<double>::Constant(4, 3, 0.7), b = RowMatrix<double>::Constant(6, 3, 0.7);
      MmdLoss<Cpu, double> loss;
      loss.use_generic_kernel(generic);
      const Run r = run_mmd(loss, a, b);
      CHECK(r.value == 0.0);
      CHECK(loss.bandwidth() == 0.0);
      CHECK(r.g1.cwiseAbs().maxCoeff() == 0.0);
      CHECK(r.g2.cwiseAbs().maxCoeff() == 0.0);
      MmdLoss<Cpu, float> lf;
      const Run rf = run_mmd(lf, a, b);
      CHECK(rf.value == 0.0);
      CHECK(std::isfinite(rf.g1.sum()));
    }
  }
  SUBCASE("value only, weight scaling and accumulation") {
    RowMatrix<double> a = random_matrix(17, 5, 12), b = random_matrix(11, 5, 13);
    b.array() += 0.2;
    MmdLoss<Cpu, double> loss(6, 9);
    const double v = loss.value_and_grad(ctx, cref(a), cref(b));
    RowMatrix<double> g1 = RowMatrix<double>::Constant(17, 5, 1.0), g2 = RowMatrix<double>::Zero(11, 5);
    const double v2 = loss.value_and_grad(ctx, cref(a), cref(b), ref(g1), ref(g2), 0.5);
    CHECK(v == v2);  // the weight scales only the gradient
    const Run r = run_mmd(loss, a, b);
    CHECK(max_rel_error(vec((g1.array() - 1.0).matrix()), vec((0.5 * r.g1).eval())) < 1e-12);
    CHECK(max_rel_error(vec(g2), vec((0.5 * r.g2).eval())) < 1e-12);
    // only dz2 requested
    RowMatrix<double> h2 = RowMatrix<double>::Zero(11, 5);
    loss.value_and_grad(ctx, cref(a), cref(b), MatRef<double>{}, ref(h2));
    CHECK(max_rel_error(vec(h2), vec(r.g2)) < 1e-12);
  }
  SUBCASE("same inputs give the same bits") {
    RowMatrix<double> a = random_matrix(300, 16, 14), b = random_matrix(280, 16, 15);
    MmdLoss<Cpu, float> l1, l2;
    const Run r1 = run_mmd(l1, a, b), r2 = run_mmd(l2, a, b), r3 = run_mmd(l1, a, b);
    CHECK(r1.value == r2.value);
    CHECK(r1.value == r3.value);
    CHECK(std::memcmp(r1.g1.data(), r3.g1.data(), sizeof(double) * r1.g1.size()) == 0);
    CHECK(std::memcmp(r1.g2.data(), r2.g2.data(), sizeof(double) * r1.g2.size()) == 0);
  }
  SUBCASE("shape errors are reported") {
    RowMatrix<double> a = random_matrix(4, 3, 1), b = random_matrix(4, 2, 2), e(0, 3);
    MmdLoss<Cpu, double> loss;
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(a), cref(b)), stai::Error);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(a), cref(e)), stai::Error);
    RowMatrix<double> g(3, 3);
    CHECK_THROWS_AS(loss.value_and_grad(ctx, cref(a), cref(a), ref(g)), stai::Error);
    CHECK_THROWS_AS(loss.set_bandwidth(-1), stai::Error);
  }
}

TEST_CASE("MMD: the kernel pass's exp equals Eigen's pexp bit for bit and is accurate") {
  namespace ei = stai::packet;
  using P = ei::Packet<float>;
  constexpr int PS = ei::packet_size<float>;
  // x = -L/(4b) <= 0: every 61st float from -0 down to about -92, densely
  // around the fast path's edge (-87) and the normal range's end (-87.34),
  // and the special values.
  std::vector<float> xs;
  for (std::uint64_t u = 0x80000000ull; u <= 0xC2B80000ull; u += 61) {
    const auto b = static_cast<std::uint32_t>(u);
    float f;
    std::memcpy(&f, &b, sizeof f);
    xs.push_back(f);
  }
  for (float f = -86.9f; f > -87.8f; f = std::nextafter(f, -100.0f)) xs.push_back(f);
  for (float f : {0.0f, -0.0f, -1e-30f, -87.0f, -88.0f, -88.73f, -104.0f, -1e30f,
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    xs.push_back(f);
  while (xs.size() % PS) xs.push_back(-1.0f);
  // one packet mixing fast-path and slow-path lanes
  for (int l = 0; l < PS; ++l) xs.push_back(l % 2 ? -0.5f : -95.0f);
  std::size_t bitwise_diff = 0;
  double worst_ulp = 0;
  alignas(64) float a[PS], b[PS];
  for (std::size_t i = 0; i < xs.size(); i += PS) {
    const P x = ei::ploadu<P>(xs.data() + i);
    ei::pstore(a, detail::mmd_exp(x));
    ei::pstore(b, ei::pexp(x));
    if (std::memcmp(a, b, sizeof a) != 0) ++bitwise_diff;
    for (int l = 0; l < PS; ++l) {
      const float xv = xs[i + l];
      if (std::isnan(xv)) {
        CHECK(std::isnan(a[l]));
        continue;
      }
      const double e = std::exp(static_cast<double>(xv));
      if (e < 1.2e-38) continue;  // subnormal results: absolute error below 2^-149 matters only
      const double ulp = std::ldexp(1.0, std::ilogb(e) - 23);
      worst_ulp = std::max(worst_ulp, std::abs(a[l] - e) / ulp);
    }
  }
  CAPTURE(worst_ulp);
  CHECK(worst_ulp <= 3.0);
#if EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && EIGEN_MINOR_VERSION == 0
  // The fast path reproduces Eigen 3.4.0's pexp (the results of stai runs
  // do not depend on which path a packet took).
  CHECK(bitwise_diff == 0);
#else
  MESSAGE("Eigen is not 3.4.0: bitwise agreement with its pexp is not checked");
#endif
}

TEST_CASE("MMD: the CPU backend's own kernels are chosen by the documented shape rules") {
  // backend/cpu/mmd_kernels.hpp: GEMM-free distance tiles when the tile rows
  // (and the tile columns, or all n) are whole packets; GEMM-free backward
  // when a code row is 1, 2 or 4 packets. The generic overload (other
  // backends) takes over nothing.
  Cpu be;
  constexpr index_t PS = packet::packet_size<float>;
  const index_t n = 40 * PS;
  std::vector<float> zaug(static_cast<std::size_t>(n * (4 * PS + 1)), 1.0f);
  Buffer<Cpu, float> zt;
  for (index_t packets : {index_t(1), index_t(2), index_t(4)}) {
    const index_t d = packets * PS;
    const auto k = mmd_fast_kernels(be, zaug.data(), n, d, 8 * PS, 16 * PS, zt);
    CHECK(k.distance);
    CHECK(k.zt == zt.data());
    CHECK(k.backward == packets);
  }
  if (PS > 1) {  // rows of a tile not a whole number of packets; d = 3 packets
    const auto k = mmd_fast_kernels(be, zaug.data(), n, 3 * PS, PS + 1, 16 * PS, zt);
    CHECK(!k.distance);
    CHECK(k.zt == nullptr);
    CHECK(k.backward == 0);
  }
  const auto g = mmd_fast_kernels<Cpu, float>(be, zaug.data(), n, PS, 8 * PS, 16 * PS, zt);
  CHECK(!g.distance);
  CHECK(g.backward == 0);
}
