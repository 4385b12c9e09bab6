// Graph-attention benchmarks: GatResidual (the stAI spatial block, d = 16)
// forward and forward+backward on a 10-NN graph of random 2-D points, at the
// osmFISH size (4,839 cells) and 4x that; plus building the GatGraph.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/graph/gat_graph.hpp>
#include <stai/layers/gat.hpp>

namespace {
using namespace stai;

// k nearest neighbours (self included) of uniform random points in the unit
// square, by a uniform grid (the library's kNN module is separate).
CsrGraph grid_knn(index_t n, index_t k, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> px(static_cast<std::size_t>(n)), py(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    px[i] = rng.uniform();
    py[i] = rng.uniform();
  }
  const index_t G = std::max<index_t>(1, static_cast<index_t>(std::sqrt(double(n) / 2.0)));
  const double h = 1.0 / double(G);
  auto cell = [&](double v) { return std::min<index_t>(G - 1, static_cast<index_t>(v / h)); };
  std::vector<std::vector<index_t>> bins(static_cast<std::size_t>(G * G));
  for (index_t i = 0; i < n; ++i) bins[cell(py[i]) * G + cell(px[i])].push_back(i);
  std::vector<index_t> src, dst;
  std::vector<std::pair<double, index_t>> cand;
  for (index_t i = 0; i < n; ++i) {
    const index_t cx = cell(px[i]), cy = cell(py[i]);
    cand.clear();
    for (index_t r = 0;; ++r) {
      for (index_t y = cy - r; y <= cy + r; ++y)
        for (index_t x = cx - r; x <= cx + r; ++x) {
          if (std::max(std::abs(x - cx), std::abs(y - cy)) != r) continue;  // ring only
          if (x < 0 || y < 0 || x >= G || y >= G) continue;
          for (index_t j : bins[y * G + x]) {
            const double dx = px[j] - px[i], dy = py[j] - py[i];
            cand.emplace_back(dx * dx + dy * dy, j);
          }
        }
      if (static_cast<index_t>(cand.size()) >= k) {
        std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end());
        const double kth = cand[static_cast<std::size_t>(k - 1)].first;
        if (kth <= (r * h) * (r * h) || r > G) break;
      }
      if (r > G) break;
    }
    std::partial_sort(cand.begin(), cand.begin() + std::min<index_t>(k, cand.size()), cand.end());
    for (index_t m = 0; m < std::min<index_t>(k, cand.size()); ++m) {
      src.push_back(i);
      dst.push_back(cand[static_cast<std::size_t>(m)].second);
    }
  }
  return CsrGraph::from_edges(n, src, dst);
}

struct Setup {
  Cpu be;
  ParamArena<Cpu, float> arena;
  GatResidual<Cpu, float> block;
  GatGraph<Cpu> graph;
  RowMatrix<float> z, y, dy, dz;
  Setup(index_t n, index_t d) : block(d, 0.1, 1) {
    block.declare(arena, "gat");
    arena.allocate(be);
    block.bind(arena);
    Rng rng(8848);
    arena.initialize(be, rng);
    graph.build(be, grid_knn(n, 10, 7));
    z = RowMatrix<float>::Random(n, d);
    dy = RowMatrix<float>::Random(n, d);
    y.resize(n, d);
    dz.resize(n, d);
  }
};

void BM_gat_residual_forward(benchmark::State& st) {
  const index_t n = st.range(0), d = st.range(1);
  Setup s(n, d);
  Context<Cpu> ctx{s.be, true, 8848, 0};
  for (auto _ : st) {
    s.block.forward(ctx, s.graph, cref(s.z), ref(s.y));
    benchmark::DoNotOptimize(s.y.data());
    ++ctx.step;
  }
  st.SetItemsProcessed(st.iterations() * n);
  st.counters["edges"] = static_cast<double>(s.graph.num_edges());
}

void BM_gat_residual_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), d = st.range(1);
  Setup s(n, d);
  Context<Cpu> ctx{s.be, true, 8848, 0};
  for (auto _ : st) {
    s.block.forward(ctx, s.graph, cref(s.z), ref(s.y));
    s.block.backward(ctx, s.graph, cref(s.z), cref(s.y), cref(s.dy), ref(s.dz));
    benchmark::DoNotOptimize(s.dz.data());
    ++ctx.step;
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void BM_gat_graph_build(benchmark::State& st) {
  const index_t n = st.range(0);
  Cpu be;
  const CsrGraph csr = grid_knn(n, 10, 7);
  GatGraph<Cpu> g;
  for (auto _ : st) {
    g.build(be, csr);
    benchmark::DoNotOptimize(g.in_src());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

BENCHMARK(BM_gat_residual_forward)->Args({4839, 16})->Args({4 * 4839, 16})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gat_residual_fwd_bwd)->Args({4839, 16})->Args({4 * 4839, 16})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gat_graph_build)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);
}  // namespace
