// The per-op and per-epoch benchmarks of benchmarks/bench_*.cpp on the CUDA
// backend (target stai_bench_cuda, built with STAI_CUDA). Names and arguments
// are those of the CPU benchmarks (stai_bench), so a harness can join the two
// result files by name; every run carries the label "cuda". Without a CUDA
// device every benchmark reports the error "no CUDA device" (skipped).
//
// Timing: GPU work is asynchronous, so each iteration ends with
// synchronize(be) (or a call that returns a value to the host): the reported
// Time column is wall time per step. UseRealTime() is set exactly where the
// CPU benchmark sets it, so the names (".../real_time") match. Inputs are built on
// the host from the same seeds and uploaded once; the timed loop does no
// host<->device transfers except those the library itself makes (loss values,
// the top-k transpose). Differences from the CPU files: the GAT graph is the
// library's 10-NN graph of uniform random points (bench_gat.cpp uses its own
// grid kNN of the same distribution), and MmdLoss has no CPU fast path here
// (use_generic_kernel makes no difference).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/backend/cuda.hpp>
#include <stai/graph/gat_graph.hpp>
#include <stai/graph/knn.hpp>
#include <stai/heads/learnable_attention.hpp>
#include <stai/heads/topk_attention.hpp>
#include <stai/layers/gat.hpp>
#include <stai/layers/linear.hpp>
#include <stai/losses/cosine.hpp>
#include <stai/losses/cross_entropy.hpp>
#include <stai/losses/gene_consistency.hpp>
#include <stai/losses/mmd.hpp>
#include <stai/losses/mse.hpp>
#include <stai/losses/pearson.hpp>
#include <stai/model/submodel.hpp>
#include <stai/optim/adam.hpp>

namespace {
using namespace stai;

/// The device, or nullptr after marking the benchmark skipped.
std::unique_ptr<Cuda> open_device(benchmark::State& st) {
  if (!cuda_device_available()) {
    st.SkipWithError("no CUDA device");
    return nullptr;
  }
  st.SetLabel("cuda");
  return std::make_unique<Cuda>();
}

/// rows x cols N(shift, 1) values (host), as the CPU benchmarks draw them.
RowMatrix<float> randn(index_t r, index_t c, std::uint64_t seed, double shift = 0) {
  Rng rng(seed);
  RowMatrix<float> m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal(shift, 1.0));
  return m;
}
/// rows x cols uniform [-1, 1) values (host), like Eigen's Random().
RowMatrix<float> uniform(index_t r, index_t c, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  return m;
}
Matrix<Cuda, float> dev(const Cuda& be, const RowMatrix<float>& h) {
  Matrix<Cuda, float> m;
  upload(be, h, m);
  return m;
}
/// 10-NN graph of n uniform random points in the unit square.
CsrGraph random_knn(index_t n, index_t k, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<double> xy(n, 2);
  for (index_t i = 0; i < xy.size(); ++i) xy.data()[i] = rng.uniform();
  return knn_graph(xy, k);
}

// ---------------------------------------------------------------- layers --

void BM_linear_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), in = st.range(1), out = st.range(2);
  Context<Cuda> ctx{be};
  ParamArena<Cuda, float> a;
  Linear<Cuda, float> lin(in, out);
  lin.declare(a, "l");
  a.allocate(be);
  lin.bind(a);
  Rng rng(1);
  a.initialize(be, rng);
  auto x = dev(be, uniform(n, in, 2)), dy = dev(be, uniform(n, out, 3));
  Matrix<Cuda, float> y(n, out), dx(n, in);
  for (auto _ : st) {
    lin.forward(ctx, x.cref(), y.ref());
    lin.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    synchronize(be);
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_linear_fwd_bwd)->Args({4839, 32, 64})->Args({4 * 4839, 32, 64})->Args({4839, 64, 16})
    ->Unit(benchmark::kMicrosecond);

// ------------------------------------------------------------------- GAT --

struct GatSetup {
  ParamArena<Cuda, float> arena;
  GatResidual<Cuda, float> block;
  GatGraph<Cuda> graph;
  Matrix<Cuda, float> z, y, dy, dz;
  GatSetup(Cuda& be, index_t n, index_t d) : block(d, 0.1, 1) {
    block.declare(arena, "gat");
    arena.allocate(be);
    block.bind(arena);
    Rng rng(8848);
    arena.initialize(be, rng);
    graph.build(be, random_knn(n, 10, 7));
    z = dev(be, uniform(n, d, 4));
    dy = dev(be, uniform(n, d, 5));
    y.resize(n, d);
    dz.resize(n, d);
  }
};

void BM_gat_residual_forward(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), d = st.range(1);
  GatSetup s(be, n, d);
  Context<Cuda> ctx{be, true, 8848, 0};
  for (auto _ : st) {
    s.block.forward(ctx, s.graph, s.z.cref(), s.y.ref());
    synchronize(be);
    ++ctx.step;
  }
  st.SetItemsProcessed(st.iterations() * n);
  st.counters["edges"] = static_cast<double>(s.graph.num_edges());
}
void BM_gat_residual_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), d = st.range(1);
  GatSetup s(be, n, d);
  Context<Cuda> ctx{be, true, 8848, 0};
  for (auto _ : st) {
    s.block.forward(ctx, s.graph, s.z.cref(), s.y.ref());
    s.block.backward(ctx, s.graph, s.z.cref(), s.y.cref(), s.dy.cref(), s.dz.ref());
    synchronize(be);
    ++ctx.step;
  }
  st.SetItemsProcessed(st.iterations() * n);
}
void BM_gat_graph_build(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0);
  const CsrGraph csr = random_knn(n, 10, 7);
  GatGraph<Cuda> g;
  for (auto _ : st) {
    g.build(be, csr);  // host build + upload (synchronous)
    benchmark::DoNotOptimize(g.in_src());
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_gat_residual_forward)->Args({4839, 16})->Args({4 * 4839, 16})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gat_residual_fwd_bwd)->Args({4839, 16})->Args({4 * 4839, 16})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gat_graph_build)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

// ------------------------------------------------------- heads and Adam --

struct HeadData {
  Matrix<Cuda, float> z1, z2, v, y, dy, dz1, dz2;
  HeadData(const Cuda& be, index_t n1, index_t n2, index_t d, index_t g) {
    Rng rng(42);
    auto normal = [&](index_t r, index_t c) {
      RowMatrix<float> m(r, c);
      for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
      return m;
    };
    // drawn in the CPU benchmark's order: z1, z2, v, dy
    z1 = dev(be, normal(n1, d));
    z2 = dev(be, normal(n2, d));
    v = dev(be, normal(n2, g));
    dy = dev(be, normal(n1, g));
    y.resize(n1, g);
    dz1.resize(n1, d);
    dz2.resize(n2, d);
  }
};

// args: n1, n2, k (k = 0: all reference cells, the paper's variant)
void BM_topk_attention_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n1 = st.range(0), n2 = st.range(1), k = st.range(2), d = 16, g = 8;
  Context<Cuda> ctx{be};
  HeadData x(be, n1, n2, d, g);
  TopKAttention<Cuda, float> head(k > 0 ? k : TopKAttention<Cuda, float>::kAllCells);
  for (auto _ : st) {
    head.forward(ctx, x.z1.cref(), x.z2.cref(), x.v.cref(), x.y.ref());
    head.backward(ctx, x.z1.cref(), x.z2.cref(), x.v.cref(), x.dy.cref(), x.dz1.ref(), x.dz2.ref());
    synchronize(be);
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
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n1 = st.range(0), n2 = st.range(1), d = 16, g = 8;
  Context<Cuda> ctx{be};
  HeadData x(be, n1, n2, d, g);
  TopKAttention<Cuda, float> head(50);
  for (auto _ : st) {
    head.forward(ctx, x.z1.cref(), x.z2.cref(), x.v.cref(), x.y.ref());
    synchronize(be);
  }
  st.SetItemsProcessed(st.iterations() * n1);
}
BENCHMARK(BM_topk_attention_fwd)
    ->Args({4839, 3005})
    ->Args({4 * 4839, 4 * 3005})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_learnable_attention_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n1 = st.range(0), n2 = st.range(1), d = 16, g = 8;
  Context<Cuda> ctx{be};
  HeadData x(be, n1, n2, d, g);
  ParamArena<Cuda, float> arena;
  LearnableAttention<Cuda, float> head(d);
  head.declare(arena, "attn");
  arena.allocate(be);
  head.bind(arena);
  Rng rng(1);
  arena.initialize(be, rng);
  for (auto _ : st) {
    head.forward(ctx, x.z1.cref(), x.z2.cref(), x.v.cref(), x.y.ref());
    head.backward(ctx, x.z1.cref(), x.z2.cref(), x.v.cref(), x.dy.cref(), x.dz1.ref(), x.dz2.ref());
    synchronize(be);
  }
  st.SetItemsProcessed(st.iterations() * n1);
}
BENCHMARK(BM_learnable_attention_fwd_bwd)
    ->Args({4839, 3005})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_adam_step(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0);
  ParamArena<Cuda, float> arena;
  arena.add("w", n, 1, Init::Normal01, 1, 1);
  arena.allocate(be);
  Rng rng(2);
  arena.initialize(be, rng);
  std::vector<float> g(static_cast<std::size_t>(n));
  for (auto& v : g) v = static_cast<float>(rng.normal());
  copy_from_host(be, arena.grads(), g.data(), n);
  Adam<Cuda, float> adam(0.002);
  for (auto _ : st) {
    adam.step(be, arena);
    synchronize(be);
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_adam_step)->Arg(20000)->Arg(200000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------- losses --

// MMD between n1 and n2 codes of width d (range(3) is kept for the CPU names).
void BM_mmd_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n1 = st.range(0), n2 = st.range(1), d = st.range(2);
  Context<Cuda> ctx{be};
  auto z1 = dev(be, randn(n1, d, 1)), z2 = dev(be, randn(n2, d, 2, 0.3));
  Matrix<Cuda, float> g1(n1, d), g2(n2, d);
  MmdLoss<Cuda, float> loss;
  for (auto _ : st) {
    fill(be, g1.data(), g1.size(), 0.0f);
    fill(be, g2.data(), g2.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, z1.cref(), z2.cref(), g1.ref(), g2.ref(), 0.1));
    synchronize(be);
  }
  st.SetItemsProcessed(st.iterations() * (n1 + n2) * (n1 + n2));
}
BENCHMARK(BM_mmd_fwd_bwd)
    ->Args({4839, 3005, 16, 0})
    ->Args({4 * 4839, 4 * 3005, 16, 0})
    ->Unit(benchmark::kMillisecond);

void BM_mse_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), g = 32;
  Context<Cuda> ctx{be};
  auto p = dev(be, randn(n, g, 3)), t = dev(be, randn(n, g, 4));
  Matrix<Cuda, float> dp(n, g);
  MseLoss<Cuda, float> loss;
  for (auto _ : st) {
    fill(be, dp.data(), dp.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, p.cref(), t.cref(), dp.ref()));
  }
}
BENCHMARK(BM_mse_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

void BM_cosine_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), g = 32;
  Context<Cuda> ctx{be};
  auto a = dev(be, randn(n, g, 5)), b = dev(be, randn(n, g, 6));
  Matrix<Cuda, float> db(n, g);
  CosineConsistencyLoss<Cuda, float> loss;
  for (auto _ : st) {
    fill(be, db.data(), db.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, a.cref(), b.cref(), MatRef<float>{}, db.ref()));
  }
}
BENCHMARK(BM_cosine_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

void BM_pearson_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), g = 8;
  Context<Cuda> ctx{be};
  auto x = dev(be, randn(n, g, 7)), y = dev(be, randn(n, g, 8));
  Matrix<Cuda, float> dx(n, g);
  PearsonLoss<Cuda, float> loss;
  for (auto _ : st) {
    fill(be, dx.data(), dx.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, x.cref(), y.cref(), dx.ref()));
  }
}
BENCHMARK(BM_pearson_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

void BM_gene_consistency_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), p = 32, c = 8;
  Context<Cuda> ctx{be};
  auto s = dev(be, randn(n, p, 9)), x = dev(be, randn(n, c, 10));
  auto sc = dev(be, randn(3005, p, 11)), scc = dev(be, randn(3005, c, 12));
  Matrix<Cuda, float> A2(p, c), dx(n, c);
  gene_correlation(ctx, sc.cref(), scc.cref(), A2.ref());
  GeneConsistencyLoss<Cuda, float> loss(st.range(1) ? GeneLoss::Frobenius : GeneLoss::Cosine);
  for (auto _ : st) {
    fill(be, dx.data(), dx.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, s.cref(), x.cref(), A2.cref(), dx.ref()));
    synchronize(be);
  }
}
BENCHMARK(BM_gene_consistency_fwd_bwd)
    ->Args({4839, 0})
    ->Args({4839, 1})
    ->Args({4 * 4839, 0})
    ->Unit(benchmark::kMicrosecond);

void BM_cross_entropy_fwd_bwd(benchmark::State& st) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  const index_t n = st.range(0), C = 12;
  Context<Cuda> ctx{be};
  auto l = dev(be, randn(n, C, 13));
  Matrix<Cuda, float> dl(n, C);
  std::vector<index_t> y(static_cast<std::size_t>(n));
  Rng rng(14);
  for (auto& v : y) v = static_cast<index_t>(rng.below(C));
  const std::vector<double> wd = class_weights(y, C, 2.0);
  const std::vector<float> w(wd.begin(), wd.end());
  Buffer<Cuda, index_t> dy_lab(n);
  Buffer<Cuda, float> dw(C);
  copy_from_host(be, dy_lab.data(), y.data(), n);
  copy_from_host(be, dw.data(), w.data(), C);
  CrossEntropyLoss<Cuda, float> loss;
  for (auto _ : st) {
    fill(be, dl.data(), dl.size(), 0.0f);
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, l.cref(), dy_lab.data(), dw.data(), dl.ref()));
  }
}
BENCHMARK(BM_cross_entropy_fwd_bwd)->Arg(3005)->Arg(4 * 3005)->Unit(benchmark::kMicrosecond);

// ----------------------------------------------------------------- epoch --

// One full-batch training step of a submodel (forward, six losses, backward,
// Adam), as bench_epoch.cpp: genes = shared genes, 4/5 fitting, 1/5
// calibration; reference defaults (d_hidden 64, d_latent 16, top-k 50).
struct EpochFixture {
  Matrix<Cuda, float> st_fit, st_cal, sc_fit, sc_cal, A2;
  Buffer<Cuda, index_t> labels;
  std::unique_ptr<GatGraph<Cuda>> graph;
  std::unique_ptr<Submodel<Cuda, float>> model;
  index_t n1, n2;

  EpochFixture(Cuda& be, index_t n1_, index_t n2_, index_t genes, bool annotation) : n1(n1_), n2(n2_) {
    const index_t ncal = std::max<index_t>(1, genes / 5), nfit = genes - ncal;
    const Config cfg = annotation ? Config::annotation() : Config::imputation();
    const index_t C = annotation ? 10 : 0;
    Rng rng(42);
    auto rnd = [&](index_t r, index_t c) {
      RowMatrix<float> m(r, c);
      for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
      return m;
    };
    upload(be, rnd(n1, nfit), st_fit);
    upload(be, rnd(n1, ncal), st_cal);
    upload(be, rnd(n2, nfit), sc_fit);
    upload(be, rnd(n2, ncal), sc_cal);
    RowMatrix<double> xy(n1, 2);
    for (index_t i = 0; i < xy.size(); ++i) xy.data()[i] = rng.uniform(0, 1000);
    graph = std::make_unique<GatGraph<Cuda>>(be, knn_graph(xy, cfg.spatial_knn));
    std::vector<index_t> lab(static_cast<std::size_t>(n2));
    for (auto& l : lab) l = static_cast<index_t>(rng.below(10));
    labels.reserve(n2);
    copy_from_host(be, labels.data(), lab.data(), n2);
    model = std::make_unique<Submodel<Cuda, float>>(cfg, nfit, C);
    model->initialize(be, 8848);
    if (annotation) {
      Context<Cuda> ctx{be};
      A2.resize(nfit, ncal);
      gene_correlation(ctx, sc_fit.cref(), sc_cal.cref(), A2.ref());
    }
  }
  StepBatch<Cuda, float> batch(bool annotation) const {
    return {st_fit.cref(), st_cal.cref(), graph.get(), n1, sc_fit.cref(), sc_cal.cref(),
            annotation ? labels.data() : nullptr, nullptr, A2.cref()};
  }
};

void run_epochs(benchmark::State& st, bool annotation) {
  auto cu = open_device(st);
  if (!cu) return;
  Cuda& be = *cu;
  EpochFixture fx(be, st.range(0), st.range(1), st.range(2), annotation);
  Context<Cuda> ctx{be, true, 8848, 0};
  const auto b = fx.batch(annotation);
  fx.model->train_step(ctx, b);  // warm-up: sizes the workspaces
  for (auto _ : st) {
    ++ctx.step;
    benchmark::DoNotOptimize(fx.model->train_step(ctx, b).total);
    synchronize(be);
  }
}
void epoch_full_batch(benchmark::State& st) { run_epochs(st, false); }
void epoch_full_batch_annotation(benchmark::State& st) { run_epochs(st, true); }

BENCHMARK(epoch_full_batch)
    ->Args({4839, 3005, 32})    // osmFISH + Zeisel (paper)
    ->Args({3405, 1000, 33})    // osmFISH + Allen subset
    ->Args({1589, 1589, 142})
    ->Args({4975, 9873, 132})   // MERFISH slice + Moffitt reference
    ->Args({4 * 4839, 4 * 3005, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(epoch_full_batch_annotation)->Args({4839, 3005, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
