// stai — CPU backend: row-major GEMM through Eigen.
#pragma once
#include <Eigen/Core>

#include "launch.hpp"

namespace stai {

namespace detail {
template <class T>
using EigenRowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstStridedMap = Eigen::Map<const EigenRowMat<T>, 0, Eigen::OuterStride<>>;
template <class T>
using StridedMap = Eigen::Map<EigenRowMat<T>, 0, Eigen::OuterStride<>>;
}  // namespace detail

/// Row-major GEMM: C (m x n) = alpha * op(A) * op(B) + beta * C, with op(A)
/// m x k and op(B) k x n; lda/ldb/ldc are row strides of the stored matrices.
/// beta == 0 overwrites C without reading it (C may hold garbage).
template <class T>
void gemm(const Cpu& be, Op ta, Op tb, index_t m, index_t n, index_t k, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  using namespace detail;
  if (m <= 0 || n <= 0) return;
  StridedMap<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0) {
    if (beta == T(0)) c.setZero(); else c *= beta;
    return;
  }
#ifdef _OPENMP
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  Eigen::setNbThreads(work >= kParallelGemmWork ? be.num_threads() : 1);
#else
  (void)be;
#endif
  const index_t ar = ta == Op::N ? m : k, ac = ta == Op::N ? k : m;
  const index_t br = tb == Op::N ? k : n, bc = tb == Op::N ? n : k;
  ConstStridedMap<T> a(A, ar, ac, Eigen::OuterStride<>(lda));
  ConstStridedMap<T> b(B, br, bc, Eigen::OuterStride<>(ldb));
  auto run = [&](const auto& opa, const auto& opb) {
    if (beta == T(0)) {
      c.noalias() = alpha * (opa * opb);
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * (opa * opb);
    }
  };
  if (ta == Op::N && tb == Op::N) run(a, b);
  else if (ta == Op::N) run(a, b.transpose());
  else if (tb == Op::N) run(a.transpose(), b);
  else run(a.transpose(), b.transpose());
}

}  // namespace stai
