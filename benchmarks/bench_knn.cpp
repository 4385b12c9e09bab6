// Spatial kNN graph (k = 10) and spatial minibatch construction at the
// osmFISH size (4,839 cells) and 4x that.
#include <benchmark/benchmark.h>

#include <stai/backend/cpu.hpp>
#include <stai/graph/knn.hpp>
#include <stai/graph/minibatch.hpp>
#include <stai/random.hpp>

namespace {
using namespace stai;

RowMatrix<double> coords(index_t n, index_t d) {
  Rng rng(8848);
  RowMatrix<double> p(n, d);
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < d; ++c) p(i, c) = rng.uniform(0.0, 20000.0);
  return p;
}

// args: cells, dimension, threads
void BM_knn_graph(benchmark::State& st) {
  const RowMatrix<double> p = coords(st.range(0), st.range(1));
  KnnOptions opt;
  opt.threads = static_cast<int>(st.range(2));
  for (auto _ : st) {
    CsrGraph g = knn_graph(p, 10, opt);
    benchmark::DoNotOptimize(g.indices.data());
  }
  st.SetItemsProcessed(st.iterations() * st.range(0));
}
BENCHMARK(BM_knn_graph)
    ->Args({4839, 2, 1})->Args({4839, 2, 2})->Args({4 * 4839, 2, 1})->Args({4 * 4839, 2, 2})
    ->Args({4839, 3, 1})->Args({4 * 4839, 3, 1})
    ->Unit(benchmark::kMillisecond);

// args: cells, target batch size
void BM_spatial_batches(benchmark::State& st) {
  const RowMatrix<double> p = coords(st.range(0), 2);
  const CsrGraph g = knn_graph(p, 10);
  for (auto _ : st) {
    SpatialBatches b = make_spatial_batches(p, g, st.range(1));
    benchmark::DoNotOptimize(b.batches.data());
  }
  st.SetItemsProcessed(st.iterations() * st.range(0));
}
BENCHMARK(BM_spatial_batches)->Args({4839, 512})->Args({4 * 4839, 512})->Args({4 * 4839, 2048})
    ->Unit(benchmark::kMillisecond);

}  // namespace
