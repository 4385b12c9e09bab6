// stai — the CPU backend: memory, parallel loops over shared functors, a
// deterministic reduction, GEMM through Eigen, and the CPU's own kernels for
// the operations that have a faster host form.
//
// A backend is a type. Free functions overloaded on the backend type
// (launch, launch_rows, launch_tasks, task_workers, reduce_sum, gemm, copy,
// fill) are the only primitives the layers, losses and heads use, so the same
// layer code runs on every backend; the CUDA backend (backend/cuda.hpp)
// implements the same set. Operations with a generic form written over those
// primitives (next to the layer, loss or head that uses them) may have a
// backend overload with the same results: the CPU's live in backend/cpu/ and
// are all included here, so that any code that can name stai::Cpu also sees
// them.
#pragma once
#include "cpu/launch.hpp"
#include "cpu/blas.hpp"
#include "cpu/eigen_internal.hpp"
#include "cpu/bias.hpp"
#include "cpu/activations.hpp"
#include "cpu/mmd_kernels.hpp"
#include "cpu/topk.hpp"
#include "cpu/counting_sort.hpp"
#include "cpu/knn.hpp"
