// stai — choosing the backend at run time (for programs such as `stai`).
//
// A backend is a template parameter (stai::Cpu or stai::Cuda), so a program
// chooses one at run time by calling its own function template with the
// right backend object:
//
//   template <class B> int run(B& be, const Options& opt);  // all the work, on backend B
//
//   // in a .cu file (or a source with LANGUAGE CUDA) linked to stai::cuda,
//   // or in a .cpp file when the build has no CUDA:
//   int main(int argc, char** argv) {
//     ...
//     const stai::BackendKind k = stai::parse_backend(opt.backend);  // "cpu" | "cuda"
//     stai::require_backend(k);  // clear error: CUDA not built in, or no GPU
//     return stai::with_backend(k, [&](auto& be) { return run(be, opt); }, opt.threads);
//   }
//
// with_backend(BackendKind::Cuda, f) instantiates f for stai::Cuda, which
// needs nvcc: it is only available in a translation unit compiled by nvcc
// with STAI_WITH_CUDA defined (linking stai::cuda defines it). A program
// whose main stays a plain .cpp file instead declares, under
// `#if defined(STAI_WITH_CUDA)`, a function defined in a small .cu file:
//
//   int run_cuda(const Options& opt);   // .cu: { stai::Cuda be(opt.device); return run(be, opt); }
//
// and calls it when k == BackendKind::Cuda (after require_backend(k)). For the
// `stai` program that file is apps/stai_cuda.cu: when it exists,
// cmake/StaiCuda.cmake compiles it into the program with nvcc and links
// stai::cuda (which defines STAI_WITH_CUDA for the program's .cpp files too).
//
// cuda_compiled() says whether this build has the CUDA backend (STAI_WITH_CUDA,
// defined by the stai::cuda CMake target); cuda_device_count_or_zero() whether
// the machine has a GPU (0 in builds without CUDA).
#pragma once
#include <cctype>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../error.hpp"
#include "cpu.hpp"

#if defined(STAI_WITH_CUDA)
#if defined(__CUDACC__)
#include "cuda.hpp"
#else
#include "cuda/device.hpp"  // device queries only (plain C++ with the CUDA include directory)
#endif
#endif

namespace stai {

enum class BackendKind { Cpu, Cuda };

/// True when this program was built with the CUDA backend (STAI_WITH_CUDA is
/// defined by the stai::cuda target), i.e. `--backend cuda` can work.
constexpr bool cuda_compiled() noexcept {
#if defined(STAI_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

/// Number of usable CUDA devices; 0 when there is none or the build has no
/// CUDA backend. Never throws.
inline int cuda_device_count_or_zero() noexcept {
#if defined(STAI_WITH_CUDA)
  return cuda_device_count();
#else
  return 0;
#endif
}

inline const char* backend_name(BackendKind k) noexcept { return k == BackendKind::Cuda ? "cuda" : "cpu"; }

/// "cpu" or "cuda" (case-insensitive, surrounding blanks ignored); anything
/// else is an error naming the accepted values.
inline BackendKind parse_backend(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string l(s);
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "cpu") return BackendKind::Cpu;
  if (l == "cuda") return BackendKind::Cuda;
  throw Error(detail::concat("unknown backend '", s, "': use cpu or cuda",
                             cuda_compiled() ? "" : " (this build has only the cpu backend)"));
}

/// Throws a stai::Error saying what to do when backend `k` cannot run here:
/// CUDA requested but not compiled in, or no CUDA device on this machine.
inline void require_backend(BackendKind k) {
  if (k != BackendKind::Cuda) return;
  STAI_CHECK(cuda_compiled(),
             "the cuda backend was requested but this build of stai has no CUDA support (it was "
             "configured without a CUDA compiler, or with -DSTAI_CUDA=OFF); rebuild with the CUDA "
             "toolkit 12+ (nvcc, cuBLAS) installed, or use the cpu backend");
  STAI_CHECK(cuda_device_count_or_zero() > 0,
             "the cuda backend was requested but this machine has no usable CUDA device (no NVIDIA "
             "GPU, or no driver for this CUDA version; see nvidia-smi); use the cpu backend");
}

/// Calls f(be) with a backend object of kind k and returns its result:
/// a Cpu with `cpu_threads` threads (0 = OpenMP default), or a Cuda on
/// device `cuda_device`. f must accept both (a generic lambda) and return the
/// same type for both. The Cuda branch exists only in translation units
/// compiled by nvcc with STAI_WITH_CUDA (see the file comment); elsewhere
/// asking for it throws.
template <class F>
std::invoke_result_t<F&, Cpu&> with_backend(BackendKind k, F&& f, int cpu_threads = 0,
                                            int cuda_device = 0) {
  if (k == BackendKind::Cuda) {
    require_backend(k);
#if defined(STAI_WITH_CUDA) && defined(__CUDACC__)
    Cuda be(cuda_device);
    return f(be);
#else
    (void)cuda_device;
    throw Error(
        "with_backend(cuda) was called from a translation unit not compiled by nvcc: move the "
        "call into a .cu file (or set LANGUAGE CUDA on the source) linked to stai::cuda, or call "
        "a function defined in such a file (see stai/backend/select.hpp)");
#endif
  }
  Cpu be;
  be.threads = cpu_threads;
  return f(be);
}

}  // namespace stai
