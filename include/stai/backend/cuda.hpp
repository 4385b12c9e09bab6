// stai — the CUDA backend (include from files compiled by nvcc; link
// stai::cuda, i.e. CUDA::cudart and CUDA::cublas).
//
// The same primitive set as the CPU backend (backend/cpu.hpp), overloaded on
// `const Cuda&`, so layers, losses and heads templated on the backend run on
// the GPU unchanged:
//
//   Cuda::allocate<T>(n) / Cuda::deallocate(p)   device memory (cudaMalloc)
//   launch(be, n, f), launch_rows(be, n, f)      grid-stride kernel over f(i)
//   task_workers(be, n) == 1, launch_tasks(be, n, w, f)
//                                                tasks one after another
//   reduce_sum(be, n, f) -> double               deterministic block partials
//   fill, copy, copy_to_host, copy_from_host, synchronize
//   gemm(be, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
//                                                row-major, via cuBLAS
//   cuda_device_available(), cuda_device_count()
//
// Everything except reduce_sum, copy_to_host, copy_from_host and synchronize
// is asynchronous on be.stream; errors of an asynchronous kernel surface at
// the next synchronising call (define STAI_CUDA_DEBUG_SYNC to wait after each
// launch while debugging). The math lives in the shared functors of
// include/stai/ops/; these headers are only launch and BLAS glue.
#pragma once
#if !defined(__CUDACC__)
#error "stai/backend/cuda.hpp needs nvcc: include it from a .cu file (or a source with LANGUAGE CUDA) and link stai::cuda; plain C++ files may include stai/backend/cuda/device.hpp"
#else
#include "cpu.hpp"  // the CPU backend next to this one
#include "cuda/check.hpp"
#include "cuda/device.hpp"
#include "cuda/launch.hpp"
#include "cuda/blas.hpp"
#endif
