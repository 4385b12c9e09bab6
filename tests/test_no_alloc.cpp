// The training step allocates nothing once its workspaces are sized. Counted
// while `counting` is set: every operator new (global replacement below),
// every aligned_alloc and posix_memalign (where the CPU backend's buffers come
// from; interposed below and forwarded to the next definition, the C
// library's or AddressSanitizer's), and, outside AddressSanitizer builds,
// every malloc, calloc and realloc (forwarded to the C library's __libc_*
// entry points; AddressSanitizer must own malloc itself, so there that count
// is skipped, with a message).
#include <dlfcn.h>
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <stai/stai.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define STAI_TEST_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STAI_TEST_COUNT_MALLOC 0
#endif
#endif
#ifndef STAI_TEST_COUNT_MALLOC
#define STAI_TEST_COUNT_MALLOC 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> news{0}, aligned{0}, mallocs{0};
void count(std::atomic<long>& c) {
  if (counting.load(std::memory_order_relaxed)) c.fetch_add(1, std::memory_order_relaxed);
}
/// The next definition of `name` after this executable's (C library or sanitizer runtime).
template <class Fn>
Fn next_definition(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}
}  // namespace

extern "C" {
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  using Fn = void* (*)(std::size_t, std::size_t);
  static const Fn next = next_definition<Fn>("aligned_alloc");
  count(aligned);
  return next(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  using Fn = int (*)(void**, std::size_t, std::size_t);
  static const Fn next = next_definition<Fn>("posix_memalign");
  count(aligned);
  return next(out, alignment, size);
}
#if STAI_TEST_COUNT_MALLOC
void* __libc_malloc(std::size_t) noexcept;
void* __libc_calloc(std::size_t, std::size_t) noexcept;
void* __libc_realloc(void*, std::size_t) noexcept;
void* malloc(std::size_t size) noexcept {
  count(mallocs);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  count(mallocs);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  count(mallocs);
  return __libc_realloc(p, size);
}
#endif
}

// GCC 12 flags free() in a replaced operator delete as mismatched (it pairs
// it with the replaced operator new it cannot see through); it is not.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
void* counted_alloc(std::size_t n) {
  count(news);
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

namespace {
void* volatile sink;  // makes the probe allocations observable (not elided)
}  // namespace

TEST_CASE("the allocation counters see what they count") {
  counting = true;
  {
    Buffer<Cpu, float> workspace(100);  // the CPU backend: std::aligned_alloc
    sink = workspace.data();
  }
  {
    auto* p = new int(1);
    sink = p;
    delete p;
  }
#if STAI_TEST_COUNT_MALLOC
  void* m = std::malloc(10);
  sink = m;
  std::free(m);
#endif
  counting = false;
  CHECK(aligned.load() == 1);
  CHECK(news.load() == 1);
#if STAI_TEST_COUNT_MALLOC
  CHECK(mallocs.load() == 2);  // the malloc, and the one inside the replaced operator new
#endif
  news = 0;
  aligned = 0;
  mallocs = 0;
}

TEST_CASE("a full-batch training step allocates nothing after the first") {
  constexpr long kSteps = 3;
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
    Submodel<Cpu, float> model(cfg, nfit, C);
    model.initialize(be, 1);
    StepBatch<Cpu, float> b{st_fit.cref(), st_cal.cref(), &graph, n1, sc_fit.cref(), sc_cal.cref(),
                            annotation ? labels.data() : nullptr, nullptr, A2.cref()};
    model.train_step(ctx, b);  // sizes the workspaces
    ++ctx.step;
    counting = true;
    double last = 0;
    for (int s = 0; s < kSteps; ++s, ++ctx.step) last = model.train_step(ctx, b).total;
    counting = false;
    CHECK(std::isfinite(last));
    CHECK(news.load() == 0);
    CHECK(aligned.load() == 0);
#if STAI_TEST_COUNT_MALLOC
    // Known exception, 2 per step: the GAT backward's attention-vector
    // gradients are GEMMs with one row (stai::gemm with m = 1); Eigen runs
    // them as matrix-vector products and first evaluates the scaled row
    // alpha * A into a heap temporary (Eigen's internal aligned_malloc).
    // Any other malloc makes this fail; when that temporary is gone the
    // bound is 0.
    CHECK(mallocs.load() <= 2 * kSteps);
    MESSAGE("malloc/calloc/realloc calls in " << kSteps << " training steps: " << mallocs.load());
#else
    MESSAGE("AddressSanitizer build: malloc, calloc and realloc are not counted (the sanitizer owns them)");
#endif
    news = 0;
    aligned = 0;
    mallocs = 0;
  }
}
