// Single components on the CUDA backend against the CPU backend, in float and
// double, and the GPU's determinism: every layer, loss and head and the
// optimiser (cases in cases_ops.hpp, harness in comparison.hpp). Whole models
// are in test_cuda_model.cu.
#include "cases_ops.hpp"

using namespace cuda_test;

// ============================================================== host suite ==
TEST_SUITE("host") {

TEST_CASE("CUDA comparison cases: float tolerances calibrated on the CPU (float vs double)") {
  SUBCASE("Linear") { calibrate<LinearCase>(); }
  SUBCASE("activations") { calibrate<ActivationCase>(); }
  SUBCASE("Dropout") { calibrate<DropoutCase>(); }
  SUBCASE("Sequential") { calibrate<SequentialCase>(); }
  SUBCASE("GAT") { calibrate<GatCase>(); }
  SUBCASE("MSE") { calibrate<MseCase>(); }
  SUBCASE("MMD") { calibrate<MmdCase>(); }
  SUBCASE("cosine") { calibrate<CosineCase>(); }
  SUBCASE("Pearson") { calibrate<PearsonCase>(); }
  SUBCASE("cross-entropy") { calibrate<CrossEntropyCase>(); }
  SUBCASE("gene consistency") { calibrate<GeneConsistencyCase>(); }
  SUBCASE("top-k attention") { calibrate<TopKCase>(); }
  SUBCASE("learnable attention") { calibrate<LearnableCase>(); }
  SUBCASE("Adam") { calibrate<AdamCase>(); }
}

TEST_CASE("the comparison harness detects a difference") {
  Cpu cpu{1};  // one thread: the reference is fast and steady on a loaded machine
  const Outputs a = LinearCase::run<Cpu, double>(cpu);
  Outputs b = a;
  b.arrays[1].v[3] *= 1.0 + 1e-6;
  CHECK(rel_error(b.arrays[1], a.arrays[1]) > kTolDouble);
  CHECK_FALSE(same_bits(a, b));
  Outputs m = DropoutCase::run<Cpu, float>(cpu);
  const Outputs m0 = m;
  m.arrays[0].v[5] = 1.0 - m.arrays[0].v[5];
  CHECK(exact_mismatches(m.arrays[0], m0.arrays[0]) == 1);
}

TEST_CASE("backend selection in a build with the CUDA backend") {
  CHECK(cuda_compiled());
  CHECK(cuda_device_count_or_zero() == cuda_device_count());
  CHECK(parse_backend("cuda") == BackendKind::Cuda);
  CHECK(parse_backend(" CPU ") == BackendKind::Cpu);
  CHECK_THROWS_WITH_AS(parse_backend("gpu"), doctest::Contains("unknown backend 'gpu': use cpu or cuda"),
                       Error);
  auto which = [](auto& be) {
    return std::is_same_v<std::decay_t<decltype(be)>, Cuda> ? std::string("cuda") : std::string("cpu");
  };
  CHECK(with_backend(BackendKind::Cpu, which) == "cpu");
  auto threads = [](auto& be) {
    if constexpr (std::is_same_v<std::decay_t<decltype(be)>, Cpu>) return be.num_threads();
    else return -1;
  };
  CHECK(with_backend(BackendKind::Cpu, threads, 1) == 1);
  if (cuda_device_available()) {
    CHECK_NOTHROW(require_backend(BackendKind::Cuda));
    CHECK(with_backend(BackendKind::Cuda, which) == "cuda");
  } else {
    CHECK_THROWS_WITH_AS(require_backend(BackendKind::Cuda),
                         doctest::Contains("no usable CUDA device"), Error);
    CHECK_THROWS_WITH_AS(with_backend(BackendKind::Cuda, which),
                         doctest::Contains("no usable CUDA device"), Error);
  }
}

}  // TEST_SUITE("host")

// ============================================================ device suite ==

TEST_SUITE("device") {

STAI_CUDA_VS_CPU(LinearCase, "CUDA vs CPU: Linear forward and backward")
STAI_CUDA_VS_CPU(ActivationCase, "CUDA vs CPU: LeakyReLU and ReLU")
STAI_CUDA_VS_CPU(DropoutCase, "CUDA vs CPU: Dropout masks are the same bits")
STAI_CUDA_VS_CPU(SequentialCase, "CUDA vs CPU: Sequential encoder MLP")
STAI_CUDA_VS_CPU(GatCase, "CUDA vs CPU: GatGraph, Gat and GatResidual")
STAI_CUDA_VS_CPU(MseCase, "CUDA vs CPU: MseLoss")
STAI_CUDA_VS_CPU(MmdCase, "CUDA vs CPU: MmdLoss")
STAI_CUDA_VS_CPU(CosineCase, "CUDA vs CPU: CosineConsistencyLoss")
STAI_CUDA_VS_CPU(PearsonCase, "CUDA vs CPU: PearsonLoss")
STAI_CUDA_VS_CPU(CrossEntropyCase, "CUDA vs CPU: CrossEntropyLoss and softmax_rows")
STAI_CUDA_VS_CPU(GeneConsistencyCase, "CUDA vs CPU: GeneConsistencyLoss and gene_correlation")
STAI_CUDA_VS_CPU(TopKCase, "CUDA vs CPU: TopKAttention")
STAI_CUDA_VS_CPU(LearnableCase, "CUDA vs CPU: LearnableAttention")
STAI_CUDA_VS_CPU(AdamCase, "CUDA vs CPU: Adam")

}  // TEST_SUITE("device")

