// stai — CUDA backend: the backend type `Cuda` (device, stream, cuBLAS
// handle) and device memory.
//
// Plain host C++ (needs the CUDA include directory, not nvcc): a .cpp file
// may include it to query devices or own a Cuda object; launching work needs
// stai/backend/cuda.hpp in a file compiled by nvcc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../../config.hpp"
#include "../../error.hpp"
#include "check.hpp"

namespace stai {

/// Number of CUDA devices this process can use; 0 when there is no device or
/// no driver. Never throws.
inline int cuda_device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

/// Whether at least one CUDA device is usable. Never throws.
inline bool cuda_device_available() noexcept { return cuda_device_count() > 0; }

/// The CUDA backend: one device, one stream, one cuBLAS handle bound to that
/// stream. Every primitive (launch, reduce_sum, gemm, fill, copy, ...) runs
/// in order on `stream`; those that hand results to the host (reduce_sum,
/// copy_to_host, copy_from_host, synchronize) wait for the stream.
///
/// RAII owner: neither copyable nor movable (layers keep references to it
/// through Context). Construction makes `device` the calling thread's current
/// device, and allocate() allocates on the current device, so a program using
/// several devices keeps one host thread per Cuda object. A Cuda object is used
/// by one host thread at a time (its reduction scratch is shared state).
struct Cuda {
  static constexpr const char* name = "cuda";

  cudaStream_t stream = nullptr;
  cublasHandle_t handle = nullptr;
  int device = 0;
  int sm_count = 0;  ///< streaming multiprocessors; sizes grid-stride launches

  /// Opens `device_id`; throws stai::Error when there is no CUDA device or
  /// the id does not exist.
  explicit Cuda(int device_id = 0) : device(device_id) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      throw Error(detail::concat(
          "no CUDA device available (cudaGetDeviceCount: ",
          e != cudaSuccess ? cudaGetErrorName(e) : "0 devices",
          "): run on a machine with an NVIDIA GPU and a working driver, or use the Cpu backend"));
    }
    STAI_CHECK(device_id >= 0 && device_id < count, "CUDA device ", device_id,
               " does not exist: this machine has ", count, " CUDA device(s), ids 0 to ",
               count - 1);
    try {
      STAI_CUDA_CHECK(cudaSetDevice(device));
      STAI_CUDA_CHECK(
          cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
      // A blocking stream: ordered with the legacy default stream, so plain
      // cudaMemcpy/kernels of the calling program interleave safely with ours.
      STAI_CUDA_CHECK(cudaStreamCreate(&stream));
      STAI_CUBLAS_CHECK(cublasCreate(&handle));
      STAI_CUBLAS_CHECK(cublasSetStream(handle, stream));
      // No TF32 or other reduced-precision shortcuts in float GEMMs.
      STAI_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Cuda() { release(); }
  Cuda(const Cuda&) = delete;
  Cuda& operator=(const Cuda&) = delete;
  Cuda(Cuda&&) = delete;
  Cuda& operator=(Cuda&&) = delete;

  /// n elements of device memory (cudaMalloc, 256-byte aligned) on the
  /// current device; nullptr for n <= 0.
  template <class T>
  static T* allocate(index_t n) {
    if (n <= 0) return nullptr;
    STAI_CHECK(static_cast<std::uint64_t>(n) <= std::numeric_limits<std::size_t>::max() / sizeof(T),
               "cannot allocate ", n, " elements of ", sizeof(T), " bytes: the size overflows");
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
      throw Error(detail::concat("cudaMalloc of ", bytes, " bytes failed with ",
                                 cudaGetErrorName(e), " (", cudaGetErrorString(e), "; ", free_b,
                                 " of ", total_b, " bytes free on the device)",
                                 detail::cuda_error_hint(e)));
    }
    return static_cast<T*>(p);
  }
  template <class T>
  static void deallocate(T* p) noexcept {
    if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
  }

  /// Device scratch of at least n doubles for reduce_sum's block partials
  /// (grows, never shrinks; owned by this object).
  double* reduce_scratch(index_t n) const {
    if (n > scratch_n_) {
      deallocate(scratch_);  // cudaFree waits for kernels still reading it
      scratch_ = nullptr;
      scratch_n_ = 0;
      scratch_ = allocate<double>(n);
      scratch_n_ = n;
    }
    return scratch_;
  }

 private:
  void release() noexcept {
    deallocate(scratch_);
    scratch_ = nullptr;
    scratch_n_ = 0;
    if (handle && cublasDestroy(handle) != CUBLAS_STATUS_SUCCESS) (void)cudaGetLastError();
    if (stream && cudaStreamDestroy(stream) != cudaSuccess) (void)cudaGetLastError();
    handle = nullptr;
    stream = nullptr;
  }
  mutable double* scratch_ = nullptr;
  mutable index_t scratch_n_ = 0;
};

}  // namespace stai
