// stai command-line program — the backend chosen by --backend (the CPU with --threads, or
// a CUDA device) and running a command on it.
#pragma once
#include <omp.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include <stai/backend/cpu.hpp>
#include <stai/backend/select.hpp>

#include "console.hpp"
#include "options.hpp"

namespace stai::cli {

using json = nlohmann::json;

/// Threads to use when --threads is not given: all cores. (Results are
/// bitwise reproducible for a given thread count; on a machine busy with
/// other work, --threads 1 can be faster than competing for the cores.)
inline int default_threads() { return std::max(1, omp_get_num_procs()); }

inline std::string threads_text(int n) { return std::to_string(n) + (n == 1 ? " thread" : " threads"); }

/// The thread count to use for --threads N (0 = all cores): more threads
/// than cores cannot run faster, and thousands exhaust the system, so
/// counts above the cores are capped with a warning.
inline int resolve_threads(int threads) {
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  const int cores = default_threads();
  if (threads == 0) return cores;
  if (threads > cores) {
    Console{}.warn("--threads " + std::to_string(threads) + " is more than the " + std::to_string(cores) +
                   " cores of this machine; using " + threads_text(cores) + " (results are those of --threads " +
                   std::to_string(cores) + ")");
    return cores;
  }
  return threads;
}

inline Cpu make_backend(int threads) {
  Cpu be;
  be.threads = resolve_threads(threads);
  omp_set_num_threads(be.threads);
  return be;
}

/// What a backend is, for messages: "2 threads", "CUDA device 0".
inline std::string backend_text(const Cpu& be) { return threads_text(be.num_threads()); }
template <class B>
std::string backend_text(const B& be) {
  return "CUDA device " + std::to_string(be.device);
}

/// STAI_CLI_CUDA(call): the call in programs built with the CUDA backend;
/// elsewhere a placeholder never reached (run_on_backend refuses cuda first).
#if defined(STAI_WITH_CUDA)
#define STAI_CLI_CUDA(call) (call)
#else
#define STAI_CLI_CUDA(call) json()
#endif

/// Runs a command on the backend chosen by --backend: `on_cpu(Cpu&)` here,
/// or `on_cuda()`, a function compiled by nvcc into the program
/// (apps/stai_cuda.cu) that opens the device and runs the same template.
/// A clear error where CUDA is not built in or there is no GPU.
template <class OnCpu, class OnCuda>
json run_on_backend(const CommonOptions& o, OnCpu&& on_cpu, OnCuda&& on_cuda) {
  const BackendKind k = parse_backend(o.backend);  // checked by the option already
  if (o.device < 0) throw UsageError("--device must be >= 0 (a CUDA device id)");
  if (k == BackendKind::Cuda) {
    require_backend(k);
    make_backend(o.threads);  // host-side threads (reading, preprocessing, the spatial graph)
    return on_cuda();
  }
  if (o.device != 0) throw UsageError("--device is only used with --backend cuda");
  Cpu be = make_backend(o.threads);
  return on_cpu(be);
}

}  // namespace stai::cli
