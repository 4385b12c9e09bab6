// stai/backend/select.hpp in a build WITHOUT the CUDA backend (stai_tests does
// not link stai::cuda); tests/cuda/test_cuda_ops.cu checks the CUDA build.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>

#include <stai/backend/select.hpp>

using namespace stai;

TEST_CASE("backend selection: parse_backend accepts cpu and cuda only") {
  CHECK(parse_backend("cpu") == BackendKind::Cpu);
  CHECK(parse_backend("Cuda") == BackendKind::Cuda);
  CHECK(parse_backend("  cuda\n") == BackendKind::Cuda);
  CHECK(std::string(backend_name(BackendKind::Cpu)) == "cpu");
  CHECK(std::string(backend_name(BackendKind::Cuda)) == "cuda");
  CHECK_THROWS_WITH_AS(parse_backend("gpu"), doctest::Contains("unknown backend 'gpu': use cpu or cuda"),
                       Error);
  CHECK_THROWS_AS(parse_backend(""), Error);
}

#if !defined(STAI_WITH_CUDA)
TEST_CASE("backend selection: a CPU-only build refuses cuda with advice") {
  static_assert(!cuda_compiled());
  CHECK(cuda_device_count_or_zero() == 0);
  CHECK_NOTHROW(require_backend(BackendKind::Cpu));
  CHECK_THROWS_WITH_AS(require_backend(BackendKind::Cuda), doctest::Contains("no CUDA support"), Error);
  CHECK_THROWS_WITH_AS(parse_backend("tpu"), doctest::Contains("only the cpu backend"), Error);
  auto f = [](auto& be) {
    static_assert(std::is_same_v<std::decay_t<decltype(be)>, Cpu>);
    return be.threads;
  };
  CHECK(with_backend(BackendKind::Cpu, f, 3) == 3);
  CHECK_THROWS_WITH_AS(with_backend(BackendKind::Cuda, f), doctest::Contains("use the cpu backend"), Error);
}
#endif
