// CUDA backend vs CPU backend: gemm (all transposes, float and double,
// non-square, padded row strides), launch / launch_rows over the shared
// functors, reduce_sum (same bits twice, value vs the CPU), copies and fill,
// and a Linear layer run unchanged on both backends.
//
// Test suites:
//   "host"   — need no GPU: the row-major -> column-major cuBLAS argument
//              mapping (checked against a reference column-major GEMM), the
//              error macros, the error of Cuda() without a device.
//   "device" — need a GPU.
// The runner (main.cu) skips the device suite when there is no CUDA device.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/backend/cuda.hpp>
#include <stai/context.hpp>
#include <stai/layers/linear.hpp>
#include <stai/ops/elementwise.hpp>
#include <stai/tensor/matrix.hpp>
#include <stai/tensor/param_arena.hpp>

using namespace stai;

namespace {

template <class T>
std::vector<T> random_vec(index_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(u(g));
  return v;
}

// Reference row-major GEMM in plain loops (long double accumulation).
template <class T>
void naive_rowmajor_gemm(Op ta, Op tb, index_t m, index_t n, index_t k, T alpha, const T* A,
                         index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      long double s = 0;
      for (index_t p = 0; p < k; ++p) {
        const T a = ta == Op::N ? A[i * lda + p] : A[p * lda + i];
        const T b = tb == Op::N ? B[p * ldb + j] : B[j * ldb + p];
        s += static_cast<long double>(a) * b;
      }
      T& c = C[i * ldc + j];
      c = static_cast<T>(alpha * s + (beta == T(0) ? 0.0L : static_cast<long double>(beta) * c));
    }
}

// Reference COLUMN-major GEMM with BLAS semantics (what cuBLAS computes):
// C(i,j) at C[i + j*ldc], op1(X) m x k, op2(Y) k x n.
template <class T>
void naive_colmajor_gemm(Op o1, Op o2, int m, int n, int k, T alpha, const T* X, int ldx,
                         const T* Y, int ldy, T beta, T* C, int ldc) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      long double s = 0;
      for (int p = 0; p < k; ++p) {
        const T x = o1 == Op::N ? X[i + p * ldx] : X[p + i * ldx];
        const T y = o2 == Op::N ? Y[p + j * ldy] : Y[j + p * ldy];
        s += static_cast<long double>(x) * y;
      }
      T& c = C[i + j * ldc];
      c = static_cast<T>(alpha * s + (beta == T(0) ? 0.0L : static_cast<long double>(beta) * c));
    }
}

const char* op_name(Op o) { return o == Op::N ? "N" : "T"; }

// Row-major operand shapes of a gemm call.
struct GemmShape {
  Op ta, tb;
  index_t m, n, k, lda, ldb, ldc;
  index_t a_rows() const { return ta == Op::N ? m : k; }
  index_t b_rows() const { return tb == Op::N ? k : n; }
  index_t a_cols() const { return ta == Op::N ? k : m; }
  index_t b_cols() const { return tb == Op::N ? n : k; }
};
GemmShape padded_shape(Op ta, Op tb, index_t m, index_t n, index_t k) {
  GemmShape s{ta, tb, m, n, k, 0, 0, 0};
  s.lda = s.a_cols() + 3;  // padded row strides: the padding must be ignored
  s.ldb = s.b_cols() + 2;
  s.ldc = n + 5;
  return s;
}

// |a - b| <= tol * scale for every element.
template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, double tol,
                 const std::string& what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])) /
                     (1.0 + std::abs(static_cast<double>(want[i])));
    if (!(d <= worst)) {  // also catches NaN
      worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
      at = i;
    }
  }
  INFO(what << ": worst relative difference " << worst << " at element " << at << " (got "
            << got[at] << ", want " << want[at] << ")");
  CHECK(worst <= tol);
}

// Test-local functors (same rules as include/stai/ops/).
template <class T>
struct SquareOf {
  const T* x;
  STAI_HOST_DEVICE double operator()(index_t i) const {
    return static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
};
struct IndexValue {
  STAI_HOST_DEVICE double operator()(index_t i) const { return static_cast<double>(i); }
};

template <class T>
std::vector<T> to_host(const Cuda& be, const T* dev, index_t n) {
  std::vector<T> h(static_cast<std::size_t>(n));
  copy_to_host(be, h.data(), dev, n);
  return h;
}
template <class T>
Buffer<Cuda, T> to_device(const Cuda& be, const std::vector<T>& h) {
  Buffer<Cuda, T> b(static_cast<index_t>(h.size()));
  copy_from_host(be, b.data(), h.data(), static_cast<index_t>(h.size()));
  return b;
}

}  // namespace

// ============================================================== host suite ==
TEST_SUITE("host") {

TEST_CASE("row-major gemm maps onto column-major cuBLAS arguments") {
  for (Op ta : {Op::N, Op::T})
    for (Op tb : {Op::N, Op::T})
      for (double beta : {0.0, 0.5}) {
        const GemmShape s = padded_shape(ta, tb, 7, 5, 4);
        CAPTURE(op_name(ta));
        CAPTURE(op_name(tb));
        CAPTURE(beta);
        const auto A = random_vec<double>(s.a_rows() * s.lda, 1);
        const auto B = random_vec<double>(s.b_rows() * s.ldb, 2);
        auto want = random_vec<double>(s.m * s.ldc, 3);
        auto got = want;
        naive_rowmajor_gemm(ta, tb, s.m, s.n, s.k, 1.5, A.data(), s.lda, B.data(), s.ldb, beta,
                            want.data(), s.ldc);
        const auto g = cuda_detail::colmajor_gemm_args(ta, tb, s.m, s.n, s.k, s.lda, s.ldb, s.ldc);
        CHECK(g.m == s.n);
        CHECK(g.n == s.m);
        CHECK(g.k == s.k);
        // The first cuBLAS operand is the row-major B, the second the row-major A.
        naive_colmajor_gemm(g.op1, g.op2, g.m, g.n, g.k, 1.5, B.data(), g.ld1, A.data(), g.ld2,
                            beta, got.data(), g.ldc);
        check_close(got, want, 1e-14, "column-major mapping");  // padding included: untouched
      }
}

TEST_CASE("gemm argument checks name the wrong stride") {
  // A is 4 x 3 stored (m = 4, k = 3, Op::N): lda = 2 is too small.
  CHECK_THROWS_WITH_AS(cuda_detail::colmajor_gemm_args(Op::N, Op::N, 4, 5, 3, 2, 5, 5),
                       doctest::Contains("row stride of A (lda = 2)"), Error);
  // B transposed is n x k = 5 x 3 stored: ldb = 2 is too small.
  CHECK_THROWS_WITH_AS(cuda_detail::colmajor_gemm_args(Op::N, Op::T, 4, 5, 3, 3, 2, 5),
                       doctest::Contains("row stride of B (ldb = 2)"), Error);
  CHECK_THROWS_WITH_AS(cuda_detail::colmajor_gemm_args(Op::N, Op::N, 4, 5, 3, 3, 5, 4),
                       doctest::Contains("row stride of C (ldc = 4)"), Error);
  const index_t big = index_t(1) << 31;
  CHECK_THROWS_WITH_AS(cuda_detail::colmajor_gemm_args(Op::N, Op::N, big, 5, 3, 3, 5, 5),
                       doctest::Contains("32-bit int"), Error);
  CHECK_NOTHROW(cuda_detail::colmajor_gemm_args(Op::T, Op::T, 4, 5, 3, 4, 3, 5));
}

TEST_CASE("STAI_CUDA_CHECK and STAI_CUBLAS_CHECK report the call, the status and file:line") {
  CHECK_NOTHROW([] { STAI_CUDA_CHECK(cudaSuccess); }());
  CHECK_NOTHROW([] { STAI_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS); }());
  try {
    STAI_CUDA_CHECK(cudaErrorMemoryAllocation);
    FAIL("STAI_CUDA_CHECK did not throw");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("cudaErrorMemoryAllocation") != std::string::npos);
    CHECK(m.find("test_cuda_backend.cu:") != std::string::npos);
    CHECK(m.find("out of memory") != std::string::npos);
  }
  try {
    STAI_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE);
    FAIL("STAI_CUBLAS_CHECK did not throw");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("CUBLAS_STATUS_INVALID_VALUE") != std::string::npos);
    CHECK(m.find("test_cuda_backend.cu:") != std::string::npos);
  }
}

TEST_CASE("Cuda() reports a missing device or a wrong device id clearly") {
  const int count = cuda_device_count();
  CHECK(cuda_device_available() == (count > 0));
  if (count == 0) {
    CHECK_THROWS_WITH_AS(Cuda(0), doctest::Contains("no CUDA device available"), Error);
  } else {
    CHECK_THROWS_WITH_AS(Cuda(count), doctest::Contains("does not exist"), Error);
    CHECK_THROWS_WITH_AS(Cuda(-1), doctest::Contains("does not exist"), Error);
  }
}

}  // TEST_SUITE("host")

// ============================================================ device suite ==
template <class T>
void gemm_vs_cpu(double tol) {
  Cuda cu;
  Cpu cpu;
  for (Op ta : {Op::N, Op::T})
    for (Op tb : {Op::N, Op::T})
      for (double beta : {0.0, 0.5}) {
        const GemmShape s = padded_shape(ta, tb, 37, 19, 23);  // non-square, padded
        CAPTURE(op_name(ta));
        CAPTURE(op_name(tb));
        CAPTURE(beta);
        const auto A = random_vec<T>(s.a_rows() * s.lda, 11);
        const auto B = random_vec<T>(s.b_rows() * s.ldb, 12);
        auto C0 = random_vec<T>(s.m * s.ldc, 13);
        // With beta == 0, C's old values must not be read: make them NaN.
        if (beta == 0.0)
          for (index_t i = 0; i < s.m; ++i)
            for (index_t j = 0; j < s.n; ++j)
              C0[static_cast<std::size_t>(i * s.ldc + j)] = std::numeric_limits<T>::quiet_NaN();
        auto want = C0;
        gemm(cpu, ta, tb, s.m, s.n, s.k, T(0.75), A.data(), s.lda, B.data(), s.ldb, T(beta),
             want.data(), s.ldc);
        auto dA = to_device(cu, A), dB = to_device(cu, B), dC = to_device(cu, C0);
        gemm(cu, ta, tb, s.m, s.n, s.k, T(0.75), dA.data(), s.lda, dB.data(), s.ldb, T(beta),
             dC.data(), s.ldc);
        check_close(to_host(cu, dC.data(), s.m * s.ldc), want, tol, "gemm vs CPU");
        // The padding of C is untouched (bitwise).
        const auto got = to_host(cu, dC.data(), s.m * s.ldc);
        for (index_t i = 0; i < s.m; ++i)
          for (index_t j = s.n; j < s.ldc; ++j) {
            const auto at = static_cast<std::size_t>(i * s.ldc + j);
            REQUIRE(std::memcmp(&got[at], &C0[at], sizeof(T)) == 0);
          }
      }
}

TEST_SUITE("device") {

TEST_CASE("gemm: CUDA matches CPU for every transpose, float and double") {
  SUBCASE("float") { gemm_vs_cpu<float>(2e-5); }
  SUBCASE("double") { gemm_vs_cpu<double>(1e-13); }
}

TEST_CASE("gemm: k == 0 scales C by beta, m == 0 or n == 0 does nothing") {
  Cuda cu;
  const index_t m = 3, n = 4, ldc = 6;
  auto C0 = random_vec<double>(m * ldc, 5);
  auto dC = to_device(cu, C0);
  gemm(cu, Op::N, Op::N, m, n, 0, 1.0, static_cast<const double*>(nullptr), 1,
       static_cast<const double*>(nullptr), 1, 0.5, dC.data(), ldc);
  auto got = to_host(cu, dC.data(), m * ldc);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < ldc; ++j) {
      const auto at = static_cast<std::size_t>(i * ldc + j);
      CHECK(got[at] == (j < n ? 0.5 * C0[at] : C0[at]));
    }
  // beta == 0 with NaN in C: zeroed.
  fill(cu, dC.data(), m * ldc, std::numeric_limits<double>::quiet_NaN());
  gemm(cu, Op::T, Op::N, m, n, 0, 1.0, static_cast<const double*>(nullptr), 1,
       static_cast<const double*>(nullptr), 1, 0.0, dC.data(), ldc);
  got = to_host(cu, dC.data(), m * ldc);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) CHECK(got[static_cast<std::size_t>(i * ldc + j)] == 0.0);
  // m == 0: nothing is touched (null pointers are fine).
  CHECK_NOTHROW(gemm(cu, Op::N, Op::N, 0, n, 3, 1.0, static_cast<const double*>(nullptr), 3,
                     static_cast<const double*>(nullptr), n, 0.0,
                     static_cast<double*>(nullptr), n));
  // A wrong stride is an error, not a cuBLAS crash.
  CHECK_THROWS_AS(gemm(cu, Op::N, Op::N, m, n, 3, 1.0, dC.data(), 2, dC.data(), n, 0.0,
                       dC.data(), ldc),
                  Error);
}

TEST_CASE("launch runs the shared functors exactly like the CPU") {
  Cuda cu;
  Cpu cpu;
  // Large enough that the grid-stride loop wraps (more elements than threads).
  const index_t rows = 4001, cols = 777, n = rows * cols;
  const auto x = random_vec<float>(n, 21), b = random_vec<float>(cols, 22);
  auto dx = to_device(cu, x), db = to_device(cu, b);
  Buffer<Cuda, float> dy(n);

  SUBCASE("LeakyReluFwd") {
    std::vector<float> want(static_cast<std::size_t>(n));
    launch(cpu, n, ops::LeakyReluFwd<float>{x.data(), want.data(), 0.2f});
    launch(cu, n, ops::LeakyReluFwd<float>{dx.data(), dy.data(), 0.2f});
    CHECK(to_host(cu, dy.data(), n) == want);  // one multiply: bitwise equal
  }
  SUBCASE("AddRowBias") {
    auto want = x;
    launch(cpu, n, ops::AddRowBias<float>{want.data(), b.data(), cols});
    copy(cu, dy.data(), dx.data(), n);
    launch(cu, n, ops::AddRowBias<float>{dy.data(), db.data(), cols});
    CHECK(to_host(cu, dy.data(), n) == want);
  }
  SUBCASE("launch_rows with ColumnSumAdd (rows summed in order)") {
    auto want = b;
    launch_rows(cpu, cols, ops::ColumnSumAdd<float>{want.data(), x.data(), rows, cols});
    launch_rows(cu, cols, ops::ColumnSumAdd<float>{db.data(), dx.data(), rows, cols});
    check_close(to_host(cu, db.data(), cols), want, 1e-6, "ColumnSumAdd");
  }
  SUBCASE("n == 0 launches nothing") {
    CHECK_NOTHROW(launch(cu, 0, ops::LeakyReluFwd<float>{nullptr, nullptr, 0.2f}));
    CHECK_NOTHROW(synchronize(cu));
  }
}

TEST_CASE("reduce_sum: same bits twice, and the CPU's value") {
  Cuda cu;
  Cpu cpu;
  // Sizes around the chunk boundary, and one with more partials than threads
  // per block (the final pass loops).
  for (index_t n : {index_t(0), index_t(1), index_t(4095), index_t(4096), index_t(4097),
                    index_t(1000003), index_t(3) * 1024 * 1024 + 17}) {
    CAPTURE(n);
    const auto x = random_vec<float>(n, 31);
    auto dx = to_device(cu, x);
    const double a = reduce_sum(cu, n, SquareOf<float>{dx.data()});
    const double b = reduce_sum(cu, n, SquareOf<float>{dx.data()});
    CHECK(std::memcmp(&a, &b, sizeof(double)) == 0);
    const double want = reduce_sum(cpu, n, SquareOf<float>{x.data()});
    CHECK(a == doctest::Approx(want).epsilon(1e-10));
    // Integers: exact in double, so every summation order gives the same value.
    CHECK(reduce_sum(cu, n, IndexValue{}) == static_cast<double>(n) * (n - 1) / 2);
  }
}

TEST_CASE("copies, fill and matrices round-trip") {
  Cuda cu;
  const index_t n = 12345;
  const auto h = random_vec<double>(n, 41);
  Buffer<Cuda, double> a(n), b(n);
  copy_from_host(cu, a.data(), h.data(), n);
  copy(cu, b.data(), a.data(), n);
  CHECK(to_host(cu, b.data(), n) == h);
  fill(cu, b.data() + 100, 50, 2.5);
  auto got = to_host(cu, b.data(), n);
  for (index_t i = 0; i < n; ++i)
    REQUIRE(got[static_cast<std::size_t>(i)] ==
            (i >= 100 && i < 150 ? 2.5 : h[static_cast<std::size_t>(i)]));

  RowMatrix<float> m(17, 9);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(i) * 0.5f - 3.0f;
  Matrix<Cuda, float> dm;
  upload(cu, m, dm);
  CHECK(dm.rows() == 17);
  CHECK(dm.cols() == 9);
  CHECK(download(cu, dm.cref()) == m);
  // resize to a smaller shape keeps the allocation
  float* p = dm.data();
  dm.resize(3, 9);
  CHECK(dm.data() == p);
  CHECK_NOTHROW(copy(cu, b.data(), a.data(), 0));
  CHECK_NOTHROW(copy_to_host(cu, static_cast<double*>(nullptr), a.data(), 0));
}

TEST_CASE("a Linear layer gives the CPU's results on the CUDA backend") {
  Cuda cu;
  Cpu cpu;
  Context<Cuda> gctx{cu};
  Context<Cpu> cctx{cpu};
  const index_t rows = 50, in = 13, out = 7;
  ParamArena<Cuda, double> garena;
  ParamArena<Cpu, double> carena;
  Linear<Cuda, double> glin(in, out);
  Linear<Cpu, double> clin(in, out);
  glin.declare(garena, "lin");
  clin.declare(carena, "lin");
  garena.allocate(cu);
  carena.allocate(cpu);
  glin.bind(garena);
  clin.bind(carena);
  Rng r1(7), r2(7);
  garena.initialize(cu, r1);
  carena.initialize(cpu, r2);
  REQUIRE(garena.params_to_host(cu) ==
          std::vector<double>(carena.params(), carena.params() + carena.size()));

  RowMatrix<double> x(rows, in), dy(rows, out), y(rows, out), dx(rows, in);
  const auto xv = random_vec<double>(rows * in, 51), dyv = random_vec<double>(rows * out, 52);
  std::copy(xv.begin(), xv.end(), x.data());
  std::copy(dyv.begin(), dyv.end(), dy.data());
  Matrix<Cuda, double> gx, gdy, gy(rows, out), gdx(rows, in);
  upload(cu, x, gx);
  upload(cu, dy, gdy);

  clin.forward(cctx, cref(x), ref(y));
  glin.forward(gctx, gx.cref(), gy.ref());
  CHECK((download(cu, gy.cref()) - y).cwiseAbs().maxCoeff() < 1e-12);

  carena.zero_grad(cpu);
  garena.zero_grad(cu);
  clin.backward(cctx, cref(x), cref(y), cref(dy), ref(dx));
  glin.backward(gctx, gx.cref(), gy.cref(), gdy.cref(), gdx.ref());
  CHECK((download(cu, gdx.cref()) - dx).cwiseAbs().maxCoeff() < 1e-12);
  check_close(garena.grads_to_host(cu),
              std::vector<double>(carena.grads(), carena.grads() + carena.size()), 1e-12,
              "Linear parameter gradients");
}

}  // TEST_SUITE("device")
