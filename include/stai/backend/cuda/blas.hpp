// stai — CUDA backend: row-major GEMM on column-major cuBLAS.
//
// A row-major matrix with row stride ld is, read column-major, its transpose
// with leading dimension ld. So the row-major product
//   C (m x n) = alpha op(A) op(B) + beta C
// is, column-major, C^T = alpha op(B)^T op(A)^T + beta C^T: cuBLAS gets B as
// its first operand and A as its second, the SAME transpose flags, and the
// sizes (n, m, k). No data is moved.
#pragma once
#include <climits>
#include <type_traits>

#include "../../context.hpp"  // Op
#include "launch.hpp"

#if defined(__CUDACC__)

namespace stai {

namespace cuda_detail {

/// The cuBLAS (column-major) arguments of a row-major GEMM. The first cuBLAS
/// operand is the row-major B, the second the row-major A.
struct ColMajorGemm {
  Op op1, op2;  ///< operations on the first (B) and second (A) cuBLAS operands
  int m, n, k;  ///< cuBLAS sizes: m = rows of C^T = n of the row-major call
  int ld1, ld2, ldc;
};

/// Validates a row-major GEMM call (sizes and row strides) and returns the
/// column-major cuBLAS arguments computing it. Requires m, n, k > 0.
inline ColMajorGemm colmajor_gemm_args(Op ta, Op tb, index_t m, index_t n, index_t k,
                                       index_t lda, index_t ldb, index_t ldc) {
  const index_t a_cols = ta == Op::N ? k : m, b_cols = tb == Op::N ? n : k;
  STAI_CHECK(lda >= a_cols, "gemm: the row stride of A (lda = ", lda,
             ") is smaller than its stored column count ", a_cols,
             (ta == Op::N ? " (k)" : " (m, as A is transposed)"), ": pass the row length of A");
  STAI_CHECK(ldb >= b_cols, "gemm: the row stride of B (ldb = ", ldb,
             ") is smaller than its stored column count ", b_cols,
             (tb == Op::N ? " (n)" : " (k, as B is transposed)"), ": pass the row length of B");
  STAI_CHECK(ldc >= n, "gemm: the row stride of C (ldc = ", ldc,
             ") is smaller than its column count n = ", n, ": pass the row length of C");
  STAI_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
                 ldc <= INT_MAX,
             "gemm: sizes (m = ", m, ", n = ", n, ", k = ", k, ") and row strides (", lda, ", ",
             ldb, ", ", ldc, ") must each fit in a 32-bit int for cuBLAS: split the product "
             "into row blocks");
  return {tb, ta, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k),
          static_cast<int>(ldb), static_cast<int>(lda), static_cast<int>(ldc)};
}

inline cublasOperation_t cublas_op(Op o) { return o == Op::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

/// c[r * ld + j] = beta * c[r * ld + j] (0 when beta == 0, whatever c held)
/// for the rows x cols block: GEMM with k == 0.
template <class T>
struct ScaleBlock {
  T* c;
  index_t cols, ld;
  T beta;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    T& x = c[(i / cols) * ld + i % cols];
    x = beta == T(0) ? T(0) : beta * x;
  }
};

}  // namespace cuda_detail

/// Row-major GEMM with the CPU backend's semantics: C (m x n) =
/// alpha * op(A) * op(B) + beta * C, op(A) m x k, op(B) k x n, lda/ldb/ldc row
/// strides of the stored matrices; beta == 0 overwrites C without reading it.
/// float -> cublasSgemm, double -> cublasDgemm (default math mode: no TF32).
/// Asynchronous on be.stream. Device pointers; alpha and beta on the host.
template <class T>
void gemm(const Cuda& be, Op ta, Op tb, index_t m, index_t n, index_t k, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "the CUDA gemm supports float and double");
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    STAI_CHECK(ldc >= n, "gemm: the row stride of C (ldc = ", ldc,
               ") is smaller than its column count n = ", n);
    launch(be, m * n, cuda_detail::ScaleBlock<T>{C, n, ldc, beta});
    return;
  }
  const cuda_detail::ColMajorGemm g = cuda_detail::colmajor_gemm_args(ta, tb, m, n, k, lda, ldb, ldc);
  const cublasOperation_t o1 = cuda_detail::cublas_op(g.op1), o2 = cuda_detail::cublas_op(g.op2);
  if constexpr (std::is_same_v<T, float>) {
    STAI_CUBLAS_CHECK(cublasSgemm(be.handle, o1, o2, g.m, g.n, g.k, &alpha, B, g.ld1, A, g.ld2,
                                  &beta, C, g.ldc));
  } else {
    STAI_CUBLAS_CHECK(cublasDgemm(be.handle, o1, o2, g.m, g.n, g.k, &alpha, B, g.ld1, A, g.ld2,
                                  &beta, C, g.ldc));
  }
}

}  // namespace stai

#endif  // __CUDACC__
