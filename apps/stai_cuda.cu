// stai command-line program — the CUDA side of `--backend cuda`.
//
// Compiled by nvcc into the program when the build has the CUDA backend
// (cmake/StaiCuda.cmake). Each function opens the CUDA device and runs the
// command's backend template (run_*_on in cli/*.hpp) on it: the same code as
// the CPU path, instantiated for stai::Cuda. run_on_backend (cli/backend.hpp)
// has already checked that the program has CUDA and the machine a GPU.
#include <stai/backend/cuda.hpp>

#include "cli/annotate.hpp"
#include "cli/cv.hpp"
#include "cli/demo.hpp"
#include "cli/impute.hpp"

namespace stai::cli {

json run_impute_cuda(ImputeOptions& o, const std::string& cmdline) {
  Cuda be(o.c.device);
  return run_impute_on(be, o, cmdline);
}

json run_annotate_cuda(AnnotateOptions& o, const std::string& cmdline) {
  Cuda be(o.c.device);
  return run_annotate_on(be, o, cmdline);
}

json run_cv_cuda(CvOptions& o, const std::string& cmdline) {
  Cuda be(o.c.device);
  return run_cv_on(be, o, cmdline);
}

json run_demo_cuda(DemoOptions& o, const std::string& cmdline) {
  Cuda be(o.c.device);
  return run_demo_on(be, o, cmdline);
}

}  // namespace stai::cli
