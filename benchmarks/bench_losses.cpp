// Loss forward + backward benchmarks (float) at the osmFISH size
// (4,839 spatial x 3,005 reference cells, latent 16, 32 input genes,
// 8 calibration genes, 12 classes) and at 4x the cell counts.
#include <benchmark/benchmark.h>

#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/losses/cosine.hpp>
#include <stai/losses/cross_entropy.hpp>
#include <stai/losses/gene_consistency.hpp>
#include <stai/losses/mmd.hpp>
#include <stai/losses/mse.hpp>
#include <stai/losses/pearson.hpp>
#include <stai/random.hpp>

namespace {
using namespace stai;

RowMatrix<float> randn(index_t r, index_t c, std::uint64_t seed, double shift = 0) {
  Rng rng(seed);
  RowMatrix<float> m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal(shift, 1.0));
  return m;
}

// MMD between n1 and n2 codes of width d; range(3) = 1 forces the generic functor path.
void BM_mmd_fwd_bwd(benchmark::State& st) {
  const index_t n1 = st.range(0), n2 = st.range(1), d = st.range(2);
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> z1 = randn(n1, d, 1), z2 = randn(n2, d, 2, 0.3);
  RowMatrix<float> g1(n1, d), g2(n2, d);
  MmdLoss<Cpu, float> loss;
  loss.use_generic_kernel(st.range(3) != 0);
  for (auto _ : st) {
    g1.setZero();
    g2.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(z1), cref(z2), ref(g1), ref(g2), 0.1));
  }
  st.SetItemsProcessed(st.iterations() * (n1 + n2) * (n1 + n2));
}
BENCHMARK(BM_mmd_fwd_bwd)
    ->Args({4839, 3005, 16, 0})
    ->Args({4839, 3005, 16, 1})
    ->Args({4 * 4839, 4 * 3005, 16, 0})
    ->Unit(benchmark::kMillisecond);

// Reconstruction MSE on n x 32.
void BM_mse_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), g = 32;
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> p = randn(n, g, 3), t = randn(n, g, 4), dp(n, g);
  MseLoss<Cpu, float> loss;
  for (auto _ : st) {
    dp.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(p), cref(t), ref(dp)));
  }
}
BENCHMARK(BM_mse_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

// Cosine consistency on n x 32 (gradient wrt the decoder output).
void BM_cosine_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), g = 32;
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> a = randn(n, g, 5), b = randn(n, g, 6), db(n, g);
  CosineConsistencyLoss<Cpu, float> loss;
  for (auto _ : st) {
    db.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(a), cref(b), MatRef<float>{}, ref(db)));
  }
}
BENCHMARK(BM_cosine_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

// Pearson imputation loss on n x 8 calibration genes.
void BM_pearson_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), g = 8;
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> x = randn(n, g, 7), y = randn(n, g, 8), dx(n, g);
  PearsonLoss<Cpu, float> loss;
  for (auto _ : st) {
    dx.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(x), cref(y), ref(dx)));
  }
}
BENCHMARK(BM_pearson_fwd_bwd)->Arg(4839)->Arg(4 * 4839)->Unit(benchmark::kMicrosecond);

// Gene consistency: A1 = corr(ST_fit n x 32, imputed n x 8) against a fixed A2.
void BM_gene_consistency_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), p = 32, c = 8;
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> s = randn(n, p, 9), x = randn(n, c, 10), dx(n, c);
  RowMatrix<float> sc = randn(3005, p, 11), scc = randn(3005, c, 12), A2(p, c);
  gene_correlation(ctx, cref(sc), cref(scc), ref(A2));
  GeneConsistencyLoss<Cpu, float> loss(st.range(1) ? GeneLoss::Frobenius : GeneLoss::Cosine);
  for (auto _ : st) {
    dx.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(s), cref(x), cref(A2), ref(dx)));
  }
}
BENCHMARK(BM_gene_consistency_fwd_bwd)
    ->Args({4839, 0})
    ->Args({4839, 1})
    ->Args({4 * 4839, 0})
    ->Unit(benchmark::kMicrosecond);

// Class-weighted cross-entropy on n x 12 logits.
void BM_cross_entropy_fwd_bwd(benchmark::State& st) {
  const index_t n = st.range(0), C = 12;
  Cpu be;
  Context<Cpu> ctx{be};
  RowMatrix<float> l = randn(n, C, 13), dl(n, C);
  std::vector<index_t> y(static_cast<std::size_t>(n));
  Rng rng(14);
  for (auto& v : y) v = static_cast<index_t>(rng.below(C));
  const std::vector<double> wd = class_weights(y, C, 2.0);
  const std::vector<float> w(wd.begin(), wd.end());
  CrossEntropyLoss<Cpu, float> loss;
  for (auto _ : st) {
    dl.setZero();
    benchmark::DoNotOptimize(loss.value_and_grad(ctx, cref(l), y.data(), w.data(), ref(dl)));
  }
}
BENCHMARK(BM_cross_entropy_fwd_bwd)->Arg(3005)->Arg(4 * 3005)->Unit(benchmark::kMicrosecond);

}  // namespace
