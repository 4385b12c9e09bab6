// stai — CUDA backend: loops over the shared functors, the deterministic
// reduction, fill and copies. Needs nvcc (a .cu file).
//
// The math is NOT here: kernels only call the STAI_HOST_DEVICE call operator
// of the functors in include/stai/ops/, exactly as the CPU backend's loops do.
#pragma once
#include <climits>
#include <type_traits>

#include "device.hpp"

#if !defined(__CUDACC__)
#error "stai/backend/cuda/launch.hpp launches CUDA kernels: compile this file with nvcc (a .cu source, or LANGUAGE CUDA in CMake)"
#else

namespace stai {

/// Threads per block of every stai kernel.
inline constexpr int kCudaThreads = 256;
/// Upper bound on resident blocks per SM used to size grid-stride launches.
inline constexpr int kCudaBlocksPerSm = 32;
/// Elements summed by one block of reduce_sum. Fixed (independent of the
/// device), so the partial sums -- and therefore the result bits -- are the
/// same on every GPU and every run.
inline constexpr index_t kCudaReduceChunk = 4096;

namespace cuda_kernels {

/// Grid-stride loop: f(i) for every i in [0, n).
template <class F>
__global__ void __launch_bounds__(kCudaThreads) for_each(index_t n, F f) {
  const index_t stride = static_cast<index_t>(blockDim.x) * gridDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    f(i);
}

/// Block b writes out[b] = sum of f(i) over i in [b * chunk, min(n, (b+1) * chunk)),
/// in double: thread t sums i = lo + t, lo + t + 256, ... in order, then a
/// fixed shared-memory tree adds the 256 thread sums. No atomics: the order
/// of every addition is fixed.
template <class F>
__global__ void __launch_bounds__(kCudaThreads) block_sum(index_t n, index_t chunk, F f,
                                                          double* out) {
  __shared__ double s[kCudaThreads];
  const index_t lo = static_cast<index_t>(blockIdx.x) * chunk;
  const index_t hi = n - lo < chunk ? n : lo + chunk;
  double acc = 0.0;
  for (index_t i = lo + threadIdx.x; i < hi; i += kCudaThreads) acc += static_cast<double>(f(i));
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kCudaThreads / 2; w > 0; w >>= 1) {
    if (static_cast<int>(threadIdx.x) < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

}  // namespace cuda_kernels

namespace cuda_detail {

/// Glue functors (no math): reading partial sums, filling a range.
struct ReadDouble {
  const double* p;
  STAI_HOST_DEVICE double operator()(index_t i) const { return p[i]; }
};
template <class T>
struct FillValue {
  T* p;
  T value;
  STAI_HOST_DEVICE void operator()(index_t i) const { p[i] = value; }
};

/// Throws when the preceding kernel launch failed. With STAI_CUDA_DEBUG_SYNC
/// defined, also waits for the kernel so that a fault is reported at the
/// launch that caused it (slow; for debugging).
inline void check_launch(const Cuda& be, const char* what, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) detail::throw_cuda_error(e, what, file, line);
#if defined(STAI_CUDA_DEBUG_SYNC)
  const cudaError_t s = cudaStreamSynchronize(be.stream);
  if (s != cudaSuccess) detail::throw_cuda_error(s, what, file, line);
#else
  (void)be;
#endif
}

inline unsigned grid_for(const Cuda& be, index_t n) {
  const index_t want = (n + kCudaThreads - 1) / kCudaThreads;
  const index_t cap = static_cast<index_t>(be.sm_count > 0 ? be.sm_count : 1) * kCudaBlocksPerSm;
  return static_cast<unsigned>(want < cap ? want : cap);
}

template <class F>
constexpr void check_functor() {
  static_assert(std::is_trivially_copyable_v<F>,
                "stai CUDA launch: the functor is copied into the kernel, so it must be "
                "trivially copyable -- a struct of raw pointers and sizes (see include/stai/ops/), "
                "not a lambda capturing by reference or an object owning memory");
}

}  // namespace cuda_detail

/// Calls f(i) for every i in [0, n) on the device (grid-stride kernel on
/// be.stream; asynchronous). Iterations must be independent.
template <class F>
void launch(const Cuda& be, index_t n, const F& f) {
  cuda_detail::check_functor<F>();
  if (n <= 0) return;
  cuda_kernels::for_each<<<cuda_detail::grid_for(be, n), kCudaThreads, 0, be.stream>>>(n, f);
  cuda_detail::check_launch(be, "kernel launch in stai::launch", __FILE__, __LINE__);
}

/// Same as launch (one thread per row); `grain` only matters on the CPU.
template <class F>
void launch_rows(const Cuda& be, index_t n, const F& f, index_t grain = 2) {
  (void)grain;
  cuda_detail::check_functor<F>();
  if (n <= 0) return;
  cuda_kernels::for_each<<<cuda_detail::grid_for(be, n), kCudaThreads, 0, be.stream>>>(n, f);
  cuda_detail::check_launch(be, "kernel launch in stai::launch_rows", __FILE__, __LINE__);
}

/// Workers for independent tasks (see launch_tasks): one on the GPU, where
/// each task's own launches already use the whole device.
inline int task_workers(const Cuda&, index_t) { return 1; }

/// Calls f(be, t, 0) for every task t in [0, tasks), in order, on the host
/// (each task queues its own work on be.stream). `workers` only matters on
/// the CPU.
template <class F>
void launch_tasks(const Cuda& be, index_t tasks, int workers, const F& f) {
  (void)workers;
  for (index_t t = 0; t < tasks; ++t) f(be, t, 0);
}

/// Sum over i in [0, n) of f(i), accumulated in double. Bitwise
/// deterministic: fixed blocks of kCudaReduceChunk elements, each summed in a
/// fixed order, then one block adds the partials in a fixed order. Waits for
/// the stream (the value is returned to the host).
template <class F>
double reduce_sum(const Cuda& be, index_t n, const F& f) {
  cuda_detail::check_functor<F>();
  if (n <= 0) return 0.0;
  const index_t blocks = (n + kCudaReduceChunk - 1) / kCudaReduceChunk;
  STAI_CHECK(blocks <= INT_MAX, "reduce_sum over ", n, " elements is too long for one grid");
  double* part = be.reduce_scratch(blocks + 1);
  cuda_kernels::block_sum<<<static_cast<unsigned>(blocks), kCudaThreads, 0, be.stream>>>(
      n, kCudaReduceChunk, f, part);
  cuda_detail::check_launch(be, "kernel launch in stai::reduce_sum (block partials)", __FILE__,
                            __LINE__);
  const double* result = part;
  if (blocks > 1) {
    cuda_kernels::block_sum<<<1, kCudaThreads, 0, be.stream>>>(
        blocks, blocks, cuda_detail::ReadDouble{part}, part + blocks);
    cuda_detail::check_launch(be, "kernel launch in stai::reduce_sum (final sum)", __FILE__,
                              __LINE__);
    result = part + blocks;
  }
  double h = 0.0;
  STAI_CUDA_CHECK(
      cudaMemcpyAsync(&h, result, sizeof(double), cudaMemcpyDeviceToHost, be.stream));
  STAI_CUDA_CHECK(cudaStreamSynchronize(be.stream));
  return h;
}

/// p[i] = value for i in [0, n) (device memory; asynchronous).
template <class T>
void fill(const Cuda& be, T* p, index_t n, T value) {
  launch(be, n, cuda_detail::FillValue<T>{p, value});
}

/// Device-to-device copy of n elements (asynchronous, on be.stream).
template <class T>
void copy(const Cuda& be, T* dst, const T* src, index_t n) {
  if (n <= 0) return;
  STAI_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * sizeof(T),
                                  cudaMemcpyDeviceToDevice, be.stream));
}

/// Device-to-host copy; returns when host_dst holds the data (after all work
/// queued before it on be.stream).
template <class T>
void copy_to_host(const Cuda& be, T* host_dst, const T* src, index_t n) {
  if (n <= 0) return;
  STAI_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, static_cast<std::size_t>(n) * sizeof(T),
                                  cudaMemcpyDeviceToHost, be.stream));
  STAI_CUDA_CHECK(cudaStreamSynchronize(be.stream));
}

/// Host-to-device copy; returns when the copy is done, so host_src may be
/// freed or changed right away (same contract as the CPU backend).
template <class T>
void copy_from_host(const Cuda& be, T* dst, const T* host_src, index_t n) {
  if (n <= 0) return;
  STAI_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, static_cast<std::size_t>(n) * sizeof(T),
                                  cudaMemcpyHostToDevice, be.stream));
  STAI_CUDA_CHECK(cudaStreamSynchronize(be.stream));
}

/// Waits until all work queued on be.stream has finished; reports errors of
/// earlier asynchronous kernels.
inline void synchronize(const Cuda& be) { STAI_CUDA_CHECK(cudaStreamSynchronize(be.stream)); }

}  // namespace stai

#endif  // __CUDACC__
