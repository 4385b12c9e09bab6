// Per-layer forward+backward benchmarks at the osmFISH size and 4x that.
#include <benchmark/benchmark.h>

#include <stai/stai.hpp>

namespace {
using namespace stai;

// Linear(32 -> 64) forward + backward over n cells (the encoders' first layer).
void BM_linear_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), in = st.range(1), out = st.range(2);
  Cpu be;
  Context<Cpu> ctx{be};
  ParamArena<Cpu, float> a;
  Linear<Cpu, float> lin(in, out);
  lin.declare(a, "l");
  a.allocate(be);
  lin.bind(a);
  Rng rng(1);
  a.initialize(be, rng);
  RowMatrix<float> x = RowMatrix<float>::Random(n, in), y(n, out), dy = RowMatrix<float>::Random(n, out), dx(n, in);
  for (auto _ : st) {
    lin.forward(ctx, cref(x), ref(y));
    lin.backward(ctx, cref(x), cref(y), cref(dy), ref(dx));
    benchmark::DoNotOptimize(dx.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_linear_fwd_bwd)->Args({4839, 32, 64})->Args({4 * 4839, 32, 64})->Args({4839, 64, 16})->Unit(benchmark::kMicrosecond);
}  // namespace
