// Whole models on the CUDA backend against the CPU backend, in float and
// double, and the GPU's determinism: Submodel training runs, the Ensemble
// (fit, impute, annotate, embed; full batch and spatial minibatches) and the
// Pipeline (cases in cases_model.hpp, harness in comparison.hpp).
#include "cases_model.hpp"

using namespace cuda_test;

// ============================================================== host suite ==
TEST_SUITE("host") {

TEST_CASE("CUDA comparison cases of whole models: float tolerances calibrated on the CPU (float vs double)") {
  SUBCASE("training, top-k") { calibrate<TrainCase<0>>(); }
  SUBCASE("training, learnable") { calibrate<TrainCase<1>>(); }
  SUBCASE("ensemble, full batch") { calibrate<EnsembleCase<0>>(); }
  SUBCASE("ensemble, minibatches") { calibrate<EnsembleCase<1>>(); }
  SUBCASE("pipeline") { calibrate<PipelineCase>(); }
}

}  // TEST_SUITE("host")

// ============================================================ device suite ==
TEST_SUITE("device") {

STAI_CUDA_VS_CPU(TrainCase<0>, "CUDA vs CPU: Submodel training run, top-k head")
STAI_CUDA_VS_CPU(TrainCase<1>, "CUDA vs CPU: Submodel training run, learnable head")
STAI_CUDA_VS_CPU(EnsembleCase<0>, "CUDA vs CPU: Ensemble fit / impute / annotate, full batch")
STAI_CUDA_VS_CPU(EnsembleCase<1>, "CUDA vs CPU: Ensemble fit / impute / annotate, minibatches")
STAI_CUDA_VS_CPU(PipelineCase, "CUDA vs CPU: Pipeline fit / impute / annotate")

}  // TEST_SUITE("device")
