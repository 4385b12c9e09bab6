// stai — CUDA backend: turning CUDA runtime and cuBLAS statuses into
// stai::Error.
//
//   STAI_CUDA_CHECK(cudaMemcpy(...));     // throws on any status but cudaSuccess
//   STAI_CUBLAS_CHECK(cublasSgemm(...));  // throws on any status but CUBLAS_STATUS_SUCCESS
//
// The message names the call, the status (name and description), file:line,
// and, for the statuses users actually meet, what to do about it.
//
// This header (like cuda/device.hpp) is plain host C++: it needs the CUDA
// include directory but not nvcc.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "../../error.hpp"

namespace stai::detail {

/// Advice appended to a CUDA error message, or "" when there is none.
inline const char* cuda_error_hint(cudaError_t e) noexcept {
  switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return "; no usable CUDA device: run on a machine with an NVIDIA GPU and a driver that "
             "supports this CUDA version, or use the Cpu backend";
    case cudaErrorInvalidDevice:
      return "; the device id does not exist on this machine (see nvidia-smi for the ids)";
    case cudaErrorMemoryAllocation:
      return "; the GPU is out of memory: use fewer cells per batch, stop other processes "
             "on the GPU (nvidia-smi), or use the Cpu backend";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorInvalidKernelImage:
      return "; the program holds no kernels for this GPU's architecture: rebuild with "
             "-DCMAKE_CUDA_ARCHITECTURES=native (or the GPU's compute capability, e.g. 80 or 90)";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
      return "; a kernel touched memory it does not own (a size or pointer passed to stai is "
             "wrong, or a host pointer was given where device memory is needed); the CUDA "
             "context is unusable now: restart the process, and run it under compute-sanitizer "
             "to find the kernel";
    case cudaErrorInvalidValue:
      return "; an argument was invalid (e.g. a host pointer where device memory is needed, "
             "or a size that does not match the buffer)";
    default:
      return "";
  }
}

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file,
                                          int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so later calls start clean
  throw Error(concat("CUDA call ", what, " failed with ", cudaGetErrorName(e), " (",
                     cudaGetErrorString(e), ") at ", file, ":", line, cuda_error_hint(e)));
}

/// Advice appended to a cuBLAS error message, or "" when there is none.
inline const char* cublas_error_hint(cublasStatus_t s) noexcept {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "; cuBLAS could not start (no usable GPU or driver, or the GPU is out of memory)";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "; the GPU is out of memory: use fewer cells per batch or stop other GPU processes";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "; a matrix size or leading dimension is invalid for the operation";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "; this GPU does not support the requested operation";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "; the cuBLAS kernel failed to run (see the CUDA error of the next call)";
    default:
      return "";
  }
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t s, const char* what, const char* file,
                                            int line) {
  throw Error(concat("cuBLAS call ", what, " failed with ", cublasGetStatusName(s), " (",
                     cublasGetStatusString(s), ") at ", file, ":", line, cublas_error_hint(s)));
}

}  // namespace stai::detail

/// Throws stai::Error when the CUDA runtime call `expr` does not return cudaSuccess.
#define STAI_CUDA_CHECK(expr)                                                  \
  do {                                                                         \
    const cudaError_t stai_cuda_status_ = (expr);                              \
    if (stai_cuda_status_ != cudaSuccess)                                      \
      ::stai::detail::throw_cuda_error(stai_cuda_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Throws stai::Error when the cuBLAS call `expr` does not return CUBLAS_STATUS_SUCCESS.
#define STAI_CUBLAS_CHECK(expr)                                                \
  do {                                                                         \
    const cublasStatus_t stai_cublas_status_ = (expr);                         \
    if (stai_cublas_status_ != CUBLAS_STATUS_SUCCESS)                          \
      ::stai::detail::throw_cublas_error(stai_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)
