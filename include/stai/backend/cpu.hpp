// stai — the CPU backend: memory, parallel loops over shared functors, a
// deterministic reduction, and GEMM through Eigen.
//
// A backend is a type. Free functions overloaded on the backend type
// (launch, reduce_sum, gemm, copy, fill) are the only primitives the layers,
// losses and heads use, so the same layer code runs on every backend; the
// CUDA backend (backend/cuda.hpp) implements the same set.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../config.hpp"
#include "../context.hpp"
#include "../error.hpp"

namespace stai {

/// The CPU backend. `threads` = 0 uses the OpenMP default.
struct Cpu {
  static constexpr const char* name = "cpu";
  int threads = 0;

  template <class T>
  static T* allocate(index_t n) {
    if (n <= 0) return nullptr;
    const std::size_t bytes = ((static_cast<std::size_t>(n) * sizeof(T) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw Error(detail::concat("out of memory allocating ", bytes, " bytes on the CPU"));
    return static_cast<T*>(p);
  }
  template <class T>
  static void deallocate(T* p) noexcept { std::free(p); }

  /// Number of threads a parallel region of this backend uses.
  int num_threads() const {
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    return 1;
#endif
  }
};

// Loops shorter than this run on one thread: a parallel region costs a fork
// and a barrier, and on a machine where other processes compete for the cores
// every barrier can wait a scheduler time slice for a preempted thread. The
// per-element passes of stAI (tens of thousands of entries) are cheap and
// memory-bound: only large ones are worth a region.
inline constexpr index_t kParallelGrain = 1 << 17;
// GEMMs with fewer multiply-adds than this run on one thread (same reason).
inline constexpr double kParallelGemmWork = 8.0 * (1 << 20);
// Fixed chunk length of reduce_sum: partial sums do not depend on the thread
// count, so results are bitwise reproducible for any number of threads.
inline constexpr index_t kReduceChunk = 1 << 12;

/// Calls f(i) for every i in [0, n). Iterations must be independent.
template <class F>
void launch(const Cpu& be, index_t n, const F& f) {
#ifdef _OPENMP
  if (n >= kParallelGrain && be.num_threads() > 1) {
#pragma omp parallel for schedule(static) num_threads(be.num_threads())
    for (index_t i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  (void)be;
  for (index_t i = 0; i < n; ++i) f(i);
}

/// Like launch, but for loops whose per-iteration cost is large (a whole row):
/// parallel from `grain` iterations on.
template <class F>
void launch_rows(const Cpu& be, index_t n, const F& f, index_t grain = 2) {
#ifdef _OPENMP
  if (n >= grain && be.num_threads() > 1) {
#pragma omp parallel for schedule(static) num_threads(be.num_threads())
    for (index_t i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  (void)be;
  (void)grain;
  for (index_t i = 0; i < n; ++i) f(i);
}

/// Sum over i in [0, n) of f(i), accumulated in double, bitwise deterministic
/// for any thread count (fixed chunks, partial sums added in order).
template <class F>
double reduce_sum(const Cpu& be, index_t n, const F& f) {
  if (n <= 0) return 0.0;
  const index_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks == 1) {
    double s = 0;
    for (index_t i = 0; i < n; ++i) s += static_cast<double>(f(i));
    return s;
  }
  // Reused between calls (no allocation once large enough). The worker
  // threads must write through a pointer: naming a thread_local inside the
  // loop body would reach each worker's own (empty) vector.
  thread_local std::vector<double> part;
  part.assign(static_cast<std::size_t>(chunks), 0.0);
  double* const out = part.data();
  launch_rows(be, chunks, [&f, out, n](index_t c) {
    const index_t lo = c * kReduceChunk, hi = std::min(n, lo + kReduceChunk);
    double s = 0;
    for (index_t i = lo; i < hi; ++i) s += static_cast<double>(f(i));
    out[c] = s;
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

template <class T>
void fill(const Cpu& be, T* p, index_t n, T value) {
  launch(be, n, [=](index_t i) { p[i] = value; });
}
template <class T>
void copy(const Cpu&, T* dst, const T* src, index_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
}
template <class T>
void copy_to_host(const Cpu&, T* host_dst, const T* src, index_t n) {
  if (n > 0) std::memcpy(host_dst, src, static_cast<std::size_t>(n) * sizeof(T));
}
template <class T>
void copy_from_host(const Cpu&, T* dst, const T* host_src, index_t n) {
  if (n > 0) std::memcpy(dst, host_src, static_cast<std::size_t>(n) * sizeof(T));
}
inline void synchronize(const Cpu&) {}

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
