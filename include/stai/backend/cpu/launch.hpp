// stai — the CPU backend type, its memory, parallel loops over shared
// functors, a deterministic reduction, fill and copies (see backend/cpu.hpp).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../../config.hpp"
#include "../../context.hpp"
#include "../../error.hpp"

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

/// Workers for `tasks` independent tasks that each run on one thread (see
/// launch_tasks): the backend's thread count, at most `tasks`.
inline int task_workers(const Cpu& be, index_t tasks) {
  return static_cast<int>(std::min<index_t>(be.num_threads(), tasks));
}

/// Calls f(one, t, w) for every task t in [0, tasks), the tasks dealt
/// round-robin to `workers` threads: `one` is a single-threaded Cpu for the
/// task's own backend calls, w (< workers) the index of the thread running
/// it, so that each worker can use its own workspace.
template <class F>
void launch_tasks(const Cpu& be, index_t tasks, int workers, const F& f) {
  (void)be;
  const Cpu one{1};
#pragma omp parallel for schedule(static, 1) num_threads(workers)
  for (index_t t = 0; t < tasks; ++t) {
#ifdef _OPENMP
    const int w = omp_get_thread_num();
#else
    const int w = 0;
#endif
    f(one, t, w);
  }
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

}  // namespace stai
