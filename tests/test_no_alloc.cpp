// The training step allocates nothing once its workspaces are sized: every
// operator new during the later steps is counted (global replacement below,
// active only while `counting` is set). Eigen's internal GEMM scratch uses
// malloc directly and is not counted.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <stai/stai.hpp>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> news{0};
}  // namespace

// GCC 12 flags free() in a replaced operator delete as mismatched (it pairs
// it with the replaced operator new it cannot see through); it is not.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
void* counted_alloc(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
}  // namespace
// Every replaceable non-aligned form, so that each new pairs with a delete
// of the same family (AddressSanitizer checks the pairing).
void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

using namespace stai;

TEST_CASE("a full-batch training step allocates nothing after the first") {
  for (bool annotation : {false, true}) {
    CAPTURE(annotation);
    Cpu be;
    Config cfg = annotation ? Config::annotation() : Config::imputation();
    cfg.d_hidden = 16;
    cfg.d_latent = 8;
    cfg.topk = 10;
    const index_t n1 = 300, n2 = 200, nfit = 6, ncal = 2, C = annotation ? 3 : 0;
    Rng rng(5);
    auto rnd = [&](index_t r, index_t c) {
      RowMatrix<float> m(r, c);
      for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
      return m;
    };
    Matrix<Cpu, float> st_fit, st_cal, sc_fit, sc_cal, A2;
    upload(be, rnd(n1, nfit), st_fit);
    upload(be, rnd(n1, ncal), st_cal);
    upload(be, rnd(n2, nfit), sc_fit);
    upload(be, rnd(n2, ncal), sc_cal);
    RowMatrix<double> xy(n1, 2);
    for (index_t i = 0; i < xy.size(); ++i) xy.data()[i] = rng.uniform(0, 100);
    GatGraph<Cpu> graph(be, knn_graph(xy, 10));
    Buffer<Cpu, index_t> labels(n2);
    for (index_t i = 0; i < n2; ++i) labels.data()[i] = i % 3;
    Context<Cpu> ctx{be, true, 1, 0};
    if (annotation) {
      A2.resize(nfit, ncal);
      gene_correlation(ctx, sc_fit.cref(), sc_cal.cref(), A2.ref());
    }
    StaiModel<Cpu, float> model(cfg, nfit, C);
    model.initialize(be, 1);
    StepBatch<Cpu, float> b{st_fit.cref(), st_cal.cref(), &graph, n1, sc_fit.cref(), sc_cal.cref(),
                            annotation ? labels.data() : nullptr, nullptr, A2.cref()};
    model.train_step(ctx, b);  // sizes the workspaces
    ++ctx.step;
    counting = true;
    double last = 0;
    for (int s = 0; s < 3; ++s, ++ctx.step) last = model.train_step(ctx, b).total;
    counting = false;
    CHECK(std::isfinite(last));
    CHECK(news.load() == 0);
    news = 0;
  }
}
