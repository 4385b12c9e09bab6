// One full-batch training epoch of a stAI submodel (forward, the six losses,
// backward, Adam) at the sizes of the paper's data sets.
//   epoch_full_batch/<spatial cells>/<reference cells>/<genes>
// genes = shared genes; as in 5-fold training, 4/5 are fitting genes and 1/5
// calibration genes. Reference defaults otherwise (d_hidden 64, d_latent 16,
// top-k 50, lam_genegraph 0 for imputation; the annotation variant adds the
// classifier with 10 classes and the gene-consistency loss).
#include <benchmark/benchmark.h>

#include <stai/stai.hpp>

namespace {
using namespace stai;

struct EpochFixture {
  Matrix<Cpu, float> st_fit, st_cal, sc_fit, sc_cal, A2;
  Buffer<Cpu, index_t> labels;
  std::unique_ptr<GatGraph<Cpu>> graph;
  std::unique_ptr<Submodel<Cpu, float>> model;
  index_t n1, n2;

  EpochFixture(Cpu& be, index_t n1_, index_t n2_, index_t genes, bool annotation) : n1(n1_), n2(n2_) {
    const index_t ncal = std::max<index_t>(1, genes / 5), nfit = genes - ncal;
    Config cfg = annotation ? Config::annotation() : Config::imputation();
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
    graph = std::make_unique<GatGraph<Cpu>>(be, knn_graph(xy, cfg.spatial_knn));
    labels.reserve(n2);
    for (index_t i = 0; i < n2; ++i) labels.data()[i] = static_cast<index_t>(rng.below(10));
    model = std::make_unique<Submodel<Cpu, float>>(cfg, nfit, C);
    model->initialize(be, 8848);
    if (annotation) {
      Context<Cpu> ctx{be};
      A2.resize(nfit, ncal);
      gene_correlation(ctx, sc_fit.cref(), sc_cal.cref(), A2.ref());
    }
  }
  StepBatch<Cpu, float> batch(bool annotation) const {
    return {st_fit.cref(), st_cal.cref(), graph.get(), n1, sc_fit.cref(), sc_cal.cref(),
            annotation ? labels.data() : nullptr, nullptr, A2.cref()};
  }
};

void run_epochs(benchmark::State& st, bool annotation) {
  Cpu be;
  EpochFixture fx(be, st.range(0), st.range(1), st.range(2), annotation);
  Context<Cpu> ctx{be, true, 8848, 0};
  const auto b = fx.batch(annotation);
  fx.model->train_step(ctx, b);  // warm-up: sizes the workspaces
  for (auto _ : st) {
    ++ctx.step;
    benchmark::DoNotOptimize(fx.model->train_step(ctx, b).total);
  }
  st.counters["threads"] = be.num_threads();
}

void epoch_full_batch(benchmark::State& st) { run_epochs(st, false); }
void epoch_full_batch_annotation(benchmark::State& st) { run_epochs(st, true); }

BENCHMARK(epoch_full_batch)
    ->Args({4839, 3005, 32})    // osmFISH + Zeisel (paper)
    ->Args({3405, 1000, 33})    // osmFISH + Allen subset (../shared/data)
    ->Args({1589, 1589, 142})
    ->Args({4975, 9873, 132})   // MERFISH slice + Moffitt reference (../shared/data)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(epoch_full_batch_annotation)->Args({4839, 3005, 32})->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace

namespace {
// A whole 500-epoch submodel at the osmFISH size, for peak-memory measurement:
//   /usr/bin/time -v ./stai_bench --benchmark_filter=submodel_500_epochs
void submodel_500_epochs(benchmark::State& st) { run_epochs(st, false); }
BENCHMARK(submodel_500_epochs)->Args({4839, 3005, 32})->Iterations(500)->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace
