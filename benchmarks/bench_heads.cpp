// Imputation heads and Adam: forward + backward at the osmFISH size
// (4,839 spatial x 3,005 reference cells, latent 16, 8 calibration genes)
// and at 4x the cell counts; one Adam step over ~20k parameters.
#include <benchmark/benchmark.h>

#include <stai/backend/cpu.hpp>
#include <stai/heads/learnable_attention.hpp>
#include <stai/heads/topk_attention.hpp>
#include <stai/optim/adam.hpp>

namespace {
using namespace stai;

struct HeadData {
  RowMatrix<float> z1, z2, v, y, dy, dz1, dz2;
  HeadData(index_t n1, index_t n2, index_t d, index_t g) {
    Rng rng(42);
    auto fill_normal = [&](RowMatrix<float>& m, index_t r, index_t c) {
      m.resize(r, c);
      for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
    };
    fill_normal(z1, n1, d);
    fill_normal(z2, n2, d);
    fill_normal(v, n2, g);
    fill_normal(dy, n1, g);
    y.resize(n1, g);
    dz1.resize(n1, d);
    dz2.resize(n2, d);
  }
};

// args: n1, n2, k (k = 0: all reference cells, the paper's variant)
void BM_topk_attention_fwd_bwd(benchmark::State& st) {
  const index_t n1 = st.range(0), n2 = st.range(1), k = st.range(2), d = 16, g = 8;
  Cpu be;
  Context<Cpu> ctx{be};
  HeadData x(n1, n2, d, g);
  TopKAttention<Cpu, float> head(k > 0 ? k : TopKAttention<Cpu, float>::kAllCells);
  for (auto _ : st) {
    head.forward(ctx, cref(x.z1), cref(x.z2), cref(x.v), ref(x.y));
    head.backward(ctx, cref(x.z1), cref(x.z2), cref(x.v), cref(x.dy), ref(x.dz1), ref(x.dz2));
    benchmark::DoNotOptimize(x.dz2.data());
  }
  st.SetItemsProcessed(st.iterations() * n1);
}
BENCHMARK(BM_topk_attention_fwd_bwd)
    ->Args({4839, 3005, 50})
    ->Args({4 * 4839, 4 * 3005, 50})
    ->Args({4839, 3005, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_topk_attention_fwd(benchmark::State& st) {
  const index_t n1 = st.range(0), n2 = st.range(1), d = 16, g = 8;
  Cpu be;
  Context<Cpu> ctx{be};
  HeadData x(n1, n2, d, g);
  TopKAttention<Cpu, float> head(50);
  for (auto _ : st) {
    head.forward(ctx, cref(x.z1), cref(x.z2), cref(x.v), ref(x.y));
    benchmark::DoNotOptimize(x.y.data());
  }
  st.SetItemsProcessed(st.iterations() * n1);
}
BENCHMARK(BM_topk_attention_fwd)
    ->Args({4839, 3005})
    ->Args({4 * 4839, 4 * 3005})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_learnable_attention_fwd_bwd(benchmark::State& st) {
  const index_t n1 = st.range(0), n2 = st.range(1), d = 16, g = 8;
  Cpu be;
  Context<Cpu> ctx{be};
  HeadData x(n1, n2, d, g);
  ParamArena<Cpu, float> arena;
  LearnableAttention<Cpu, float> head(d);
  head.declare(arena, "attn");
  arena.allocate(be);
  head.bind(arena);
  Rng rng(1);
  arena.initialize(be, rng);
  for (auto _ : st) {
    head.forward(ctx, cref(x.z1), cref(x.z2), cref(x.v), ref(x.y));
    head.backward(ctx, cref(x.z1), cref(x.z2), cref(x.v), cref(x.dy), ref(x.dz1), ref(x.dz2));
    benchmark::DoNotOptimize(x.dz2.data());
  }
  st.SetItemsProcessed(st.iterations() * n1);
}
BENCHMARK(BM_learnable_attention_fwd_bwd)
    ->Args({4839, 3005})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_adam_step(benchmark::State& st) {
  const index_t n = st.range(0);
  Cpu be;
  ParamArena<Cpu, float> arena;
  arena.add("w", n, 1, Init::Normal01, 1, 1);
  arena.allocate(be);
  Rng rng(2);
  arena.initialize(be, rng);
  for (index_t i = 0; i < n; ++i) arena.grads()[i] = static_cast<float>(rng.normal());
  Adam<Cpu, float> adam(0.002);
  for (auto _ : st) {
    adam.step(be, arena);
    benchmark::DoNotOptimize(arena.params());
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_adam_step)->Arg(20000)->Arg(200000)->Unit(benchmark::kMicrosecond);

}  // namespace
