// stai CUDA test runner (the main of stai_cuda_tests).
//
// Test cases that need a GPU live in TEST_SUITE("device"); everything else
// (host-side glue: argument mapping, error messages) runs everywhere.
// Exit codes: 0 everything ran and passed; 77 the other tests passed but there
// is no CUDA device, so the device suite did NOT run (ctest's SKIP_RETURN_CODE
// reports the test SKIPPED, never passed); anything else is a failure.
// `--host-only` runs the non-device tests alone and exits 0 when they pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include <stai/backend/cuda/device.hpp>

int main(int argc, char** argv) {
  bool host_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--host-only") == 0) host_only = true;
    else args.push_back(argv[i]);
  }
  doctest::Context ctx;
  ctx.applyCommandLine(static_cast<int>(args.size()), args.data());
  const bool device = stai::cuda_device_available();
  if (host_only || !device) ctx.addFilter("test-suite-exclude", "device");
  const int rc = ctx.run();
  if (ctx.shouldExit() || rc != 0) return rc;
  if (!device && !host_only) {
    std::printf("skipped: no CUDA device (the host-side checks passed; the CUDA-vs-CPU device "
                "tests did not run)\n");
    return 77;
  }
  return 0;
}
