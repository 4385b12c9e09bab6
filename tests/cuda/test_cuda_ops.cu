// Every layer, loss, head, the optimiser, a Submodel training run, the
// Ensemble (fit, impute, annotate, embed; full batch and spatial minibatches)
// and the end-to-end Pipeline on the CUDA backend against the CPU
// backend, in float and double, and the GPU's determinism (each case run
// twice on the GPU: same bits).
//
// Each case is ONE function template run<B, T>(be) that builds its inputs on
// the host (seeded; values rounded through float, so the float and double runs
// see the same numbers), runs the component on backend B and returns its
// outputs as named host arrays. The same code therefore runs on both backends.
//
// Tolerances (per output array, relative to its largest magnitude):
//   max_e |cuda_e - cpu_e| <= tol * max_e |cpu_e|
// with tol = Case::tol_float (1e-4 for single ops, looser for multi-step
// training, see each case) in float and Case::tol_double (1e-10, 1e-8 for
// training) in double. (Model-level float cases with a top-k head could in
// principle see two reference cells swap at the selection boundary when their
// distances tie within float rounding; the double comparison is the
// authoritative one there.) Arrays marked exact (top-k indices, dropout masks)
// must be equal. Every compared array must be non-zero somewhere unless
// marked may_be_zero (so a test cannot pass by comparing zeros).
//
// Suites:
//   "host"   — needs no GPU: the float tolerances are calibrated on the CPU:
//              Cpu<float> vs Cpu<double> of every case must stay 4x inside
//              tol_float (so a GPU float run, which rounds differently from
//              the CPU float run, is still inside it), exact arrays agree,
//              and two CPU runs give the same bits. This also runs every
//              case's code path on this machine.
//   "device" — needs a GPU (skipped by main.cu without one): Cpu vs Cuda.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/backend/cuda.hpp>
#include <stai/backend/select.hpp>
#include <stai/context.hpp>
#include <stai/graph/gat_graph.hpp>
#include <stai/graph/knn.hpp>
#include <stai/heads/learnable_attention.hpp>
#include <stai/heads/topk_attention.hpp>
#include <stai/layers/activations.hpp>
#include <stai/layers/dropout.hpp>
#include <stai/layers/gat.hpp>
#include <stai/layers/linear.hpp>
#include <stai/layers/sequential.hpp>
#include <stai/losses/cosine.hpp>
#include <stai/losses/cross_entropy.hpp>
#include <stai/losses/gene_consistency.hpp>
#include <stai/losses/mmd.hpp>
#include <stai/losses/mse.hpp>
#include <stai/losses/pearson.hpp>
#include <stai/data/simulate.hpp>
#include <stai/model/ensemble.hpp>
#include <stai/model/pipeline.hpp>
#include <stai/model/submodel.hpp>
#include <stai/optim/adam.hpp>
#include <stai/tensor/matrix.hpp>
#include <stai/tensor/param_arena.hpp>

using namespace stai;

namespace {

// ------------------------------------------------------------ harness ------

/// One named output array (as double) of a case.
struct Array {
  std::string name;
  std::vector<double> v;
  bool exact = false;        ///< must be equal (indices, masks)
  bool may_be_zero = false;  ///< exempt from the "not all zero" check
};
struct Outputs {
  std::vector<Array> arrays;
  void add(std::string name, std::vector<double> v, bool exact = false, bool may_be_zero = false) {
    arrays.push_back({std::move(name), std::move(v), exact, may_be_zero});
  }
  void add(std::string name, double v, bool may_be_zero = false) {
    add(std::move(name), std::vector<double>{v}, false, may_be_zero);
  }
};

template <class T>
std::vector<double> as_double(const std::vector<T>& h) {
  return std::vector<double>(h.begin(), h.end());
}
template <class T>
std::vector<double> as_double(const RowMatrix<T>& h) {
  return std::vector<double>(h.data(), h.data() + h.size());
}
/// n values of backend memory, as double.
template <class B, class T>
std::vector<double> fetch(const B& be, const T* p, index_t n) {
  std::vector<std::remove_const_t<T>> h(static_cast<std::size_t>(n));
  copy_to_host(be, h.data(), p, n);
  return as_double(h);
}
template <class B, class T>
std::vector<double> fetch(const B& be, const Matrix<B, T>& m) {
  return fetch(be, m.data(), m.size());
}
template <class B, class T>
std::vector<double> fetch(const B& be, MatRef<T> m) {
  return fetch(be, m.data, m.size());
}

/// rows x cols uniform values in [lo, hi), drawn in double and rounded
/// through float: the float and double runs get the same numbers.
template <class T>
RowMatrix<T> rnd(index_t rows, index_t cols, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng g(seed, 0xc0da);
  RowMatrix<T> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<T>(static_cast<float>(g.uniform(lo, hi)));
  return m;
}
template <class B, class T>
Matrix<B, T> dev(const B& be, const RowMatrix<T>& h) {
  Matrix<B, T> m;
  upload(be, h, m);
  return m;
}
template <class B, class U>
Buffer<B, U> dev_vec(const B& be, const std::vector<U>& h) {
  Buffer<B, U> b(static_cast<index_t>(h.size()));
  copy_from_host(be, b.data(), h.data(), static_cast<index_t>(h.size()));
  return b;
}
/// Declares, allocates, binds and initialises `layer`'s parameters.
template <class B, class T, class L>
void setup(const B& be, ParamArena<B, T>& a, L& layer, const char* prefix, std::uint64_t seed) {
  layer.declare(a, prefix);
  a.allocate(be);
  layer.bind(a);
  Rng r(seed);
  a.initialize(be, r);
}

/// A random directed graph: node i lists `deg` random targets (duplicates and
/// self loops possible); every 7th node lists none (an isolated source).
CsrGraph random_graph(index_t n, index_t deg, std::uint64_t seed) {
  Rng g(seed, 0x9a7);
  std::vector<index_t> src, dst;
  for (index_t i = 0; i < n; ++i) {
    if (i % 7 == 3) continue;
    for (index_t t = 0; t < deg; ++t) {
      src.push_back(i);
      dst.push_back(static_cast<index_t>(g.below(static_cast<std::uint64_t>(n))));
    }
  }
  return CsrGraph::from_edges(n, src, dst);
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

/// Largest |got - want| / max|want| of an array (infinity for a NaN on one
/// side only or a size mismatch); *at receives its position.
double rel_error(const Array& got, const Array& want, std::size_t* at = nullptr) {
  if (at) *at = 0;
  if (got.v.size() != want.v.size()) return std::numeric_limits<double>::infinity();
  const double scale = max_abs(want.v);
  double worst = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i) {
    const double a = got.v[i], b = want.v[i];
    double d;
    if (std::isnan(a) || std::isnan(b)) d = (std::isnan(a) && std::isnan(b)) ? 0.0 : HUGE_VAL;
    else d = std::abs(a - b) / (scale > 0 ? scale : 1.0);
    if (d > worst) {
      worst = d;
      if (at) *at = i;
    }
  }
  return worst;
}
std::size_t exact_mismatches(const Array& got, const Array& want) {
  if (got.v.size() != want.v.size()) return std::max<std::size_t>(1, want.v.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i)
    if (!(got.v[i] == want.v[i])) ++bad;
  return bad;
}

/// `got` (the backend under test) against `want` (the CPU), array by array.
void compare(const Outputs& got, const Outputs& want, double tol, const std::string& what) {
  REQUIRE(got.arrays.size() == want.arrays.size());
  for (std::size_t k = 0; k < want.arrays.size(); ++k) {
    const Array &g = got.arrays[k], &w = want.arrays[k];
    INFO(what << ", output '" << w.name << "' (" << w.v.size() << " values)");
    REQUIRE(g.name == w.name);
    REQUIRE(g.v.size() == w.v.size());
    if (!w.may_be_zero) CHECK_MESSAGE(max_abs(w.v) > 0, "the CPU output is all zero: a vacuous comparison");
    if (w.exact) {
      CHECK(exact_mismatches(g, w) == 0);
    } else {
      std::size_t at = 0;
      const double e = rel_error(g, w, &at);
      INFO("worst relative difference " << e << " at " << at << " (got " << g.v[at] << ", want "
                                        << w.v[at] << "), tolerance " << tol);
      CHECK(e <= tol);
    }
  }
}

/// Whether two runs gave the same bits in every array.
bool same_bits(const Outputs& a, const Outputs& b, std::string* where = nullptr) {
  if (a.arrays.size() != b.arrays.size()) return false;
  for (std::size_t k = 0; k < a.arrays.size(); ++k) {
    const auto &x = a.arrays[k].v, &y = b.arrays[k].v;
    if (x.size() != y.size() ||
        (!x.empty() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) != 0)) {
      if (where) *where = a.arrays[k].name;
      return false;
    }
  }
  return true;
}

/// Host check of a case's float tolerance: Cpu<float> against Cpu<double>
/// must stay within tol_float / 4; exact arrays equal; two runs same bits.
template <class Case>
void calibrate() {
  Cpu cpu{1};  // one thread: the reference is fast and steady on a loaded machine
  const Outputs f = Case::template run<Cpu, float>(cpu);
  const Outputs d = Case::template run<Cpu, double>(cpu);
  REQUIRE(f.arrays.size() == d.arrays.size());
  double worst = 0;
  std::string worst_name;
  for (std::size_t k = 0; k < d.arrays.size(); ++k) {
    const Array &x = f.arrays[k], &y = d.arrays[k];
    INFO(std::string(Case::name) << ", output '" << y.name << "'");
    REQUIRE(x.name == y.name);
    if (!y.may_be_zero) CHECK(max_abs(y.v) > 0);
    if (y.exact) {
      CHECK(exact_mismatches(x, y) == 0);
      continue;
    }
    const double e = rel_error(x, y);
    if (e >= worst) {
      worst = e;
      worst_name = y.name;
    }
    CHECK(e <= Case::tol_float / 4);
  }
  MESSAGE(std::string(Case::name) << ": float vs double on the CPU, worst relative difference " << worst
                     << " ('" << worst_name << "'), float tolerance " << Case::tol_float);
  std::string where;
  CHECK_MESSAGE(same_bits(f, Case::template run<Cpu, float>(cpu), &where),
                std::string(Case::name) << ": two CPU runs differ in '" << where << "'");
}

/// Device check: Cuda<T> against Cpu<T> within the case's tolerance, and a
/// second GPU run with the same bits as the first.
template <class Case, class T>
void against_cpu() {
  Cpu cpu{1};  // one thread: the reference is fast and steady on a loaded machine
  Cuda cu;
  const double tol = std::is_same_v<T, float> ? Case::tol_float : Case::tol_double;
  const Outputs want = Case::template run<Cpu, T>(cpu);
  const Outputs got = Case::template run<Cuda, T>(cu);
  compare(got, want, tol, std::string(Case::name) + (std::is_same_v<T, float> ? " (float)" : " (double)"));
  std::string where;
  const Outputs again = Case::template run<Cuda, T>(cu);
  CHECK_MESSAGE(same_bits(got, again, &where),
                std::string(Case::name) << ": two GPU runs differ in '" << where << "' (not deterministic)");
}

constexpr double kTolFloat = 1e-4;
constexpr double kTolDouble = 1e-10;

// --------------------------------------------------------------- layers ----

struct LinearCase {
  static constexpr const char* name = "Linear";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 37, in = 13, out = 7;
    ParamArena<B, T> a;
    Linear<B, T> lin(in, out);
    setup(be, a, lin, "lin", 7);
    const auto x = dev(be, rnd<T>(n, in, 1)), dy = dev(be, rnd<T>(n, out, 2));
    auto dx2 = dev(be, rnd<T>(n, in, 3));
    Matrix<B, T> y(n, out), dx(n, in);
    lin.forward(ctx, x.cref(), y.ref());
    a.zero_grad(be);
    lin.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    lin.backward(ctx, x.cref(), y.cref(), dy.cref(), dx2.ref(), Grad::Accumulate);
    Outputs o;
    o.add("y", fetch(be, y));
    o.add("dx", fetch(be, dx));
    o.add("dx (accumulated)", fetch(be, dx2));
    o.add("parameter gradients (two backward calls)", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct ActivationCase {
  static constexpr const char* name = "LeakyReLU / ReLU";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 29, c = 11;
    const auto x = dev(be, rnd<T>(n, c, 4)), dy = dev(be, rnd<T>(n, c, 5));
    Outputs o;
    LeakyReLU<B, T> leaky(0.2);
    ReLU<B, T> relu;
    Matrix<B, T> y(n, c), dx(n, c);
    leaky.forward(ctx, x.cref(), y.ref());
    leaky.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    o.add("leaky y", fetch(be, y));
    o.add("leaky dx", fetch(be, dx));
    relu.forward(ctx, x.cref(), y.ref());
    relu.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref(), Grad::Accumulate);
    o.add("relu y", fetch(be, y));
    o.add("leaky dx + relu dx", fetch(be, dx));
    return o;
  }
};

struct DropoutCase {
  static constexpr const char* name = "Dropout";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be, true, 11, 3};
    const index_t n = 64, c = 33;  // > 2000 elements: many kept and dropped
    const auto x = dev(be, rnd<T>(n, c, 6, 0.5, 1.5)), r = dev(be, rnd<T>(n, c, 7));
    const auto dy = dev(be, rnd<T>(n, c, 8, 0.5, 1.5));
    Dropout<B, T> drop(0.3, 5);
    Matrix<B, T> y(n, c), ya(n, c), dx(n, c);
    drop.forward(ctx, x.cref(), y.ref());
    drop.forward_add(ctx, x.cref(), r.cref(), ya.ref());
    drop.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    Outputs o;
    auto mask = [](std::vector<double> v) {
      for (double& e : v) e = e != 0 ? 1.0 : 0.0;
      return v;
    };
    const auto hy = fetch(be, y), hdx = fetch(be, dx);
    o.add("forward mask", mask(hy), true);
    o.add("backward mask", mask(hdx), true);
    o.add("y", hy);
    o.add("residual + dropout(x)", fetch(be, ya));
    o.add("dx", hdx);
    // evaluation: identity
    Context<B> ectx{be, false, 11, 3};
    drop.forward(ectx, x.cref(), y.ref());
    o.add("y (evaluation)", fetch(be, y));
    return o;
  }
};

struct SequentialCase {
  static constexpr const char* name = "Sequential (encoder MLP with dropout)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be, true, 21, 2};
    const index_t n = 41, din = 12, h = 16, d = 5;
    ParamArena<B, T> a;
    auto enc = make_encoder<B, T>(din, h, d, 0.2, 0x77, Init::Normal01);
    setup(be, a, enc, "enc", 9);
    const auto x = dev(be, rnd<T>(n, din, 10)), dy = dev(be, rnd<T>(n, d, 11));
    Matrix<B, T> y(n, d), dx(n, din);
    enc.forward(ctx, x.cref(), y.ref());
    a.zero_grad(be);
    enc.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    Outputs o;
    o.add("y", fetch(be, y));
    o.add("hidden (after ReLU)", fetch(be, enc.output(1)));
    o.add("dx", fetch(be, dx));
    o.add("parameter gradients", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct GatCase {
  static constexpr const char* name = "Gat / GatResidual / GatGraph";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n = 40, din = 6, dout = 5;
    const CsrGraph csr = random_graph(n, 4, 12);
    GatGraph<B> g(be, csr);
    Outputs o;
    o.add("in_ptr", fetch(be, g.in_ptr(), n + 1), true);
    o.add("in_src", fetch(be, g.in_src(), g.num_edges()), true);
    o.add("out_edge", fetch(be, g.out_edge(), g.num_edges()), true);
    {
      Context<B> ctx{be};
      ParamArena<B, T> a;
      Gat<B, T> gat(din, dout);
      setup(be, a, gat, "gat", 13);
      const auto x = dev(be, rnd<T>(n, din, 14)), dy = dev(be, rnd<T>(n, dout, 15));
      Matrix<B, T> y(n, dout), dx(n, din);
      gat.forward(ctx, g, x.cref(), y.ref());
      a.zero_grad(be);
      gat.backward(ctx, g, x.cref(), y.cref(), dy.cref(), dx.ref());
      o.add("gat y", fetch(be, y));
      o.add("gat dx", fetch(be, dx));
      o.add("gat parameter gradients", as_double(a.grads_to_host(be)));
    }
    {
      Context<B> ctx{be, true, 31, 4};
      ParamArena<B, T> a;
      GatResidual<B, T> blk(dout, 0.25, 0x99);
      setup(be, a, blk, "res", 16);
      blk.set_graph(g);
      const auto z = dev(be, rnd<T>(n, dout, 17)), dy = dev(be, rnd<T>(n, dout, 18));
      auto dz = dev(be, rnd<T>(n, dout, 19));
      Matrix<B, T> y(n, dout);
      blk.forward(ctx, z.cref(), y.ref());
      a.zero_grad(be);
      blk.backward(ctx, z.cref(), y.cref(), dy.cref(), dz.ref(), Grad::Accumulate);
      o.add("residual y", fetch(be, y));
      o.add("residual dz (accumulated)", fetch(be, dz));
      o.add("residual parameter gradients", as_double(a.grads_to_host(be)));
    }
    return o;
  }
};

// --------------------------------------------------------------- losses ----

struct MseCase {
  static constexpr const char* name = "MseLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const auto p = dev(be, rnd<T>(53, 9, 20)), t = dev(be, rnd<T>(53, 9, 21));
    auto g = dev(be, rnd<T>(53, 9, 22));  // the loss ADDS into it
    MseLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, p.cref(), t.cref(), g.ref(), 0.7));
    o.add("gradient (added)", fetch(be, g));
    o.add("value only", loss.value_and_grad(ctx, p.cref(), t.cref()));
    return o;
  }
};

struct MmdCase {
  static constexpr const char* name = "MmdLoss (tiled; CPU fast path vs generic kernel)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 70, n2 = 50, d = 5;
    const auto z1 = dev(be, rnd<T>(n1, d, 23)), z2 = dev(be, rnd<T>(n2, d, 24, -0.7, 1.3));
    Matrix<B, T> g1(n1, d), g2(n2, d);
    fill(be, g1.data(), g1.size(), T(0));
    fill(be, g2.data(), g2.size(), T(0));
    MmdLoss<B, T> loss(16, 32);  // several row and column tiles
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, z1.cref(), z2.cref(), g1.ref(), g2.ref(), 0.1));
    o.add("bandwidth", loss.bandwidth());
    o.add("dz1", fetch(be, g1));
    o.add("dz2", fetch(be, g2));
    MmdLoss<B, T> one_tile;  // default tiles: the whole problem in one tile row
    one_tile.set_bandwidth(0.8);
    o.add("value (one tile, fixed bandwidth)",
          one_tile.value_and_grad(ctx, z1.cref(), z2.cref(), g1.ref(), MatRef<T>{}, 1.0));
    o.add("dz1 (accumulated)", fetch(be, g1));
    // all points identical: 0 with no gradient
    const auto c1 = dev(be, RowMatrix<T>(RowMatrix<T>::Constant(4, d, T(0.5))));
    const auto c2 = dev(be, RowMatrix<T>(RowMatrix<T>::Constant(3, d, T(0.5))));
    o.add("identical points", loss.value_and_grad(ctx, c1.cref(), c2.cref()), true);
    return o;
  }
};

struct CosineCase {
  static constexpr const char* name = "CosineConsistencyLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 30, c = 9;
    RowMatrix<T> hb = rnd<T>(n, c, 26);
    hb.row(4).setZero();  // a zero row: finite value and gradient
    const auto a = dev(be, rnd<T>(n, c, 25)), b = dev(be, hb);
    Matrix<B, T> da(n, c), db(n, c);
    fill(be, da.data(), da.size(), T(0));
    fill(be, db.data(), db.size(), T(0));
    CosineConsistencyLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, a.cref(), b.cref(), da.ref(), db.ref(), 1.5));
    o.add("da", fetch(be, da));
    o.add("db", fetch(be, db));
    return o;
  }
};

struct PearsonCase {
  static constexpr const char* name = "PearsonLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 25, g = 6;
    RowMatrix<T> hx = rnd<T>(n, g, 27), hy = rnd<T>(n, g, 28);
    hx.col(2).setConstant(T(0.25));                 // constant column: r = 0, finite gradient
    hy.col(4) = (hx.col(4) * T(2)).eval();          // perfectly correlated column
    const auto x = dev(be, hx), y = dev(be, hy);
    Matrix<B, T> dx(n, g);
    fill(be, dx.data(), dx.size(), T(0));
    PearsonLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, x.cref(), y.cref(), dx.ref(), 0.9));
    o.add("per-gene r", fetch(be, loss.per_gene_r(), g));
    o.add("dx", fetch(be, dx));
    return o;
  }
};

struct CrossEntropyCase {
  static constexpr const char* name = "CrossEntropyLoss / softmax_rows";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 40, C = 5;
    RowMatrix<T> hl = rnd<T>(n, C, 29, -3.0, 3.0);
    hl(7, 2) = T(60);  // a saturated row
    std::vector<index_t> lab(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) lab[static_cast<std::size_t>(i)] = i % 6 == 5 ? -1 : (i * 3) % C;
    const std::vector<double> wd = class_weights(lab, C, 2.0);
    const std::vector<T> w(wd.begin(), wd.end());
    const auto logits = dev(be, hl);
    const auto labels = dev_vec(be, lab);
    const auto cw = dev_vec(be, w);
    Matrix<B, T> g(n, C), p(n, C);
    fill(be, g.data(), g.size(), T(0));
    CrossEntropyLoss<B, T> loss;
    Outputs o;
    o.add("weighted value",
          loss.value_and_grad(ctx, logits.cref(), labels.data(), cw.data(), g.ref(), 10.0));
    o.add("weighted gradient", fetch(be, g));
    fill(be, g.data(), g.size(), T(0));
    o.add("unweighted value",
          loss.value_and_grad(ctx, logits.cref(), labels.data(), nullptr, g.ref(), 1.0));
    o.add("unweighted gradient", fetch(be, g));
    softmax_rows(ctx, logits.cref(), p.ref());
    o.add("softmax", fetch(be, p));
    return o;
  }
};

struct GeneConsistencyCase {
  static constexpr const char* name = "GeneConsistencyLoss / gene_correlation";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 30, p = 6, c = 4, m = 40;
    const auto s = dev(be, rnd<T>(n, p, 30)), x = dev(be, rnd<T>(n, c, 31));
    const auto rs = dev(be, rnd<T>(m, p, 32)), rx = dev(be, rnd<T>(m, c, 33));
    Matrix<B, T> A2(p, c), g(n, c);
    gene_correlation(ctx, rs.cref(), rx.cref(), A2.ref());
    Outputs o;
    o.add("A2 = gene_correlation", fetch(be, A2));
    for (GeneLoss kind : {GeneLoss::Cosine, GeneLoss::Frobenius}) {
      const std::string k = kind == GeneLoss::Cosine ? "cosine " : "Frobenius ";
      GeneConsistencyLoss<B, T> loss(kind);
      fill(be, g.data(), g.size(), T(0));
      o.add(k + "value", loss.value_and_grad(ctx, s.cref(), x.cref(), A2.cref(), g.ref(), 0.5));
      o.add(k + "A1", fetch(be, loss.a1()));
      o.add(k + "gradient", fetch(be, g));
    }
    return o;
  }
};

// ---------------------------------------------------------------- heads ----

struct TopKCase {
  static constexpr const char* name = "TopKAttention (k < n2 and all cells)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 45, n2 = 60, d = 6, g = 4;
    // Seeds chosen so that, in every row, consecutive squared distances among
    // the 8 nearest reference cells differ by >= 3e-3: float rounding of the
    // GEMM form (~1e-6 here) cannot change the selection or its order.
    const auto z1 = dev(be, rnd<T>(n1, d, 55)), z2 = dev(be, rnd<T>(n2, d, 35));
    const auto v = dev(be, rnd<T>(n2, g, 36)), dy = dev(be, rnd<T>(n1, g, 34));
    Outputs o;
    for (index_t k : {index_t(7), TopKAttention<B, T>::kAllCells}) {
      const std::string s = k == 7 ? "k=7 " : "all cells ";
      TopKAttention<B, T> head(k, 16);  // several distance tiles
      Matrix<B, T> y(n1, g), dz1(n1, d);
      auto dz2 = dev(be, rnd<T>(n2, d, 38));
      head.forward(ctx, z1.cref(), z2.cref(), v.cref(), y.ref());
      if (k == 7) o.add(s + "indices", fetch(be, head.indices()), true);
      o.add(s + "weights", fetch(be, head.weights()));
      o.add(s + "distances", fetch(be, head.distances()));
      o.add(s + "y", fetch(be, y));
      head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), MatRef<T>{}, dz2.ref(),
                    Grad::Accumulate);
      o.add(s + "dz2 (accumulated)", fetch(be, dz2));
      head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), dz1.ref(), dz2.ref());
      o.add(s + "dz1", fetch(be, dz1));
      o.add(s + "dz2", fetch(be, dz2));
    }
    return o;
  }
};

struct LearnableCase {
  static constexpr const char* name = "LearnableAttention";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 35, n2 = 50, d = 6, g = 4;
    ParamArena<B, T> a;
    LearnableAttention<B, T> head(d, true, 1.0, 16);
    setup(be, a, head, "attn", 39);
    const auto z1 = dev(be, rnd<T>(n1, d, 40)), z2 = dev(be, rnd<T>(n2, d, 41));
    const auto v = dev(be, rnd<T>(n2, g, 42)), dy = dev(be, rnd<T>(n1, g, 43));
    Matrix<B, T> y(n1, g), dz1(n1, d), dz2(n2, d);
    head.forward(ctx, z1.cref(), z2.cref(), v.cref(), y.ref());
    a.zero_grad(be);
    head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), dz1.ref(), dz2.ref());
    Outputs o;
    o.add("attention", fetch(be, head.attention()));
    o.add("y", fetch(be, y));
    o.add("dz1", fetch(be, dz1));
    o.add("dz2", fetch(be, dz2));
    o.add("parameter gradients", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct AdamCase {
  static constexpr const char* name = "Adam";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Outputs o;
    for (double wd : {0.0, 0.01}) {
      ParamArena<B, T> a;
      a.add("w", 20, 7, Init::Normal01, 7, 20);
      a.add("b", 1, 20, Init::TorchLinear, 7, 20);
      a.allocate(be);
      Rng r(44);
      a.initialize(be, r);
      Adam<B, T> adam(AdamOptions{0.01, 0.9, 0.999, 1e-8, wd});
      for (int s = 0; s < 3; ++s) {
        const RowMatrix<T> g = rnd<T>(1, a.size(), 45 + static_cast<std::uint64_t>(s));
        copy_from_host(be, a.grads(), g.data(), a.size());
        adam.step(be, a);
      }
      const std::string k = wd > 0 ? "weight decay " : "";
      o.add(k + "params", as_double(a.params_to_host(be)));
      o.add(k + "m", fetch(be, a.adam_m(), a.size()));
      o.add(k + "v", fetch(be, a.adam_v(), a.size()));
    }
    return o;
  }
};

// ------------------------------------------------------- whole model ------

/// A few Submodel training steps (annotation config: all six losses, class
/// weights, dropout), then inference. Variant 0: top-k head, MLP classifier,
/// cosine gene loss, a step with halo cells; variant 1: learnable attention,
/// linear classifier, Frobenius gene loss.
template <int V>
struct TrainCase {
  static constexpr const char* name = V == 0 ? "Submodel training (top-k head)"
                                             : "Submodel training (learnable head)";
  // Five Adam steps: an update is ~ lr sign(g), so rounding differences of
  // near-zero gradient components are amplified; measured float-vs-double
  // differences on the CPU stay below tol_float / 4 (host calibration).
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n1 = 40, n2 = 30, nfit = 8, ncal = 3, C = 3, halo = 6;
    Config cfg = Config::annotation();
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.dropout = 0.1;
    cfg.lr = 0.01;
    if (V == 0) {
      cfg.topk = 5;
    } else {
      cfg.attn_type = AttentionType::Learnable;
      cfg.linear_clf = true;
      cfg.gene_loss = GeneLossVariant::Frobenius;
    }
    const GatGraph<B> graph(be, knn_graph(rnd<double>(n1, 2, 50, 0.0, 10.0), 5));
    const auto st_fit = dev(be, rnd<T>(n1, nfit, 51)), st_cal = dev(be, rnd<T>(n1, ncal, 52));
    const auto sc_fit = dev(be, rnd<T>(n2, nfit, 53)), sc_cal = dev(be, rnd<T>(n2, ncal, 54));
    std::vector<index_t> lab(static_cast<std::size_t>(n2));
    for (index_t i = 0; i < n2; ++i) lab[static_cast<std::size_t>(i)] = (i * 7) % C;
    const std::vector<double> wd = class_weights(lab, C, 2.0);
    const auto labels = dev_vec(be, lab);
    const auto cw = dev_vec(be, std::vector<T>(wd.begin(), wd.end()));
    Context<B> ctx{be, true, 1234, 0};
    Matrix<B, T> A2(nfit, ncal);
    gene_correlation(ctx, sc_fit.cref(), sc_cal.cref(), A2.ref());

    Submodel<B, T> model(cfg, nfit, C);
    model.initialize(be, 99);
    StepBatch<B, T> batch{st_fit.cref(), st_cal.cref(), &graph, n1, sc_fit.cref(), sc_cal.cref(),
                          labels.data(), cw.data(), A2.cref()};
    std::vector<double> losses;
    for (int s = 0; s < 5; ++s) {
      if (V == 0 && s == 3) {  // a step whose last `halo` spatial rows only feed the GAT
        batch.n_owned = n1 - halo;
        batch.st_cal = CMatRef<T>{st_cal.data(), n1 - halo, ncal};
      } else {
        batch.n_owned = n1;
        batch.st_cal = st_cal.cref();
      }
      const LossTerms L = model.train_step(ctx, batch);
      ++ctx.step;
      for (double v : {L.total, L.recon, L.mmd, L.cos, L.clf, L.impute, L.gene}) losses.push_back(v);
    }
    Outputs o;
    o.add("loss terms of each step", losses);
    // The key bias of the learnable head is left out: Q . b_k is the same for
    // every reference cell of a softmax row, so its exact gradient is 0 and
    // the computed one is rounding noise, which Adam turns into +-lr steps
    // (float noise >> eps = 1e-8; it changes no output).
    std::vector<double> params;
    const auto all = model.parameters(be);
    for (const auto& p : model.arena().info())
      if (p.name != "attn.key.bias")
        params.insert(params.end(), all.begin() + p.offset, all.begin() + p.offset + p.size());
    o.add("parameters after 5 steps", params);

    Context<B> ectx{be, false, 1234, 0};
    const index_t d = cfg.d_latent;
    Matrix<B, T> z1(n1, d), z2(n2, d), y(n1, ncal), p(n1, C);
    model.encode_spatial(ectx, st_fit.cref(), graph, z1.ref());
    model.encode_reference(ectx, sc_fit.cref(), z2.ref());
    model.attend(ectx, z1.cref(), z2.cref());
    model.apply_attention(ectx, sc_cal.cref(), y.ref());
    model.class_probabilities(ectx, z1.cref(), p.ref());
    o.add("spatial codes", fetch(be, z1));
    o.add("reference codes", fetch(be, z2));
    o.add("imputed calibration genes", fetch(be, y));
    o.add("class probabilities", fetch(be, p));
    return o;
  }
};

/// Ensemble fit (2 folds, 3 epochs), impute, annotate, embed. Variant 0: full
/// batch, top-k head; variant 1: spatial minibatches with halos + sampled
/// reference batches, attention over all reference cells.
template <int V>
struct EnsembleCase {
  static constexpr const char* name = V == 0 ? "Ensemble (full batch)" : "Ensemble (minibatches)";
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n1 = 48, n2 = 36, G = 10, C = 3, Gv = 3;
    ModelInputs in;
    in.st = rnd<float>(n1, G, 60);
    in.sc = rnd<float>(n2, G, 61);
    for (index_t g = 0; g < G; ++g) in.genes.push_back(std::string(1, 'g').append(std::to_string(g)));
    in.coords = rnd<double>(n1, 2, 62, 0.0, 10.0);
    in.graph = knn_graph(in.coords, 5);
    for (index_t i = 0; i < n2; ++i) in.labels.push_back((i * 5) % C);
    in.class_names = {"a", "b", "c"};
    Config cfg = Config::annotation();
    cfg.num_epoch = 3;
    cfg.k_folds = 2;
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.topk = 6;
    cfg.dropout = 0.1;
    cfg.eval_step = 1;
    cfg.seed = 777;
    if (V == 1) {
      cfg.spatial_batchsize = 16;
      cfg.rna_batchsize = 12;
      cfg.topk = 0;  // all reference cells: the dense attention path
    }
    Ensemble<B, T> ens;
    ens.fit(be, in, cfg);
    Outputs o;
    std::vector<double> params, codes;
    for (const auto& s : ens.submodels()) {
      params.insert(params.end(), s.params.begin(), s.params.end());
      codes.insert(codes.end(), s.ref_codes.data(), s.ref_codes.data() + s.ref_codes.size());
    }
    o.add("submodel parameters", params);
    o.add("reference codes", codes);
    const Imputation imp = ens.impute(be, in.st, in.graph, rnd<float>(n2, Gv, 63, 0.0, 3.0));
    o.add("imputed mean", as_double(imp.mean));
    o.add("imputed sd", as_double(imp.sd));
    o.add("class probabilities", as_double(ens.annotate(be, in.st, in.graph)));
    std::vector<double> emb;
    for (const auto& z : ens.embed(be, in.st, in.graph)) {
      const auto e = as_double(z);
      emb.insert(emb.end(), e.begin(), e.end());
    }
    o.add("embeddings", emb);
    return o;
  }
};

/// The end-to-end API the `stai` program uses: Pipeline<B, T>::fit on simulated
/// raw-count AnnData (contract, normalisation, gene matching, scaling, kNN
/// graph, k-fold ensemble), then imputation of panel and unmeasured genes and
/// annotation.
struct PipelineCase {
  static constexpr const char* name = "Pipeline (fit, impute, annotate)";
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    SimulationOptions so;
    so.n_spatial = 60;
    so.n_reference = 50;
    so.n_types = 3;
    so.n_genes = 16;
    so.n_panel = 10;
    so.markers_per_type = 2;
    so.seed = 5;
    const Simulation sim = simulate(so);
    Config cfg = Config::annotation();
    cfg.num_epoch = 3;
    cfg.k_folds = 2;
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.topk = 8;
    cfg.spatial_knn = 5;
    cfg.seed = 31;
    FitOptions fo;
    fo.label_key = "celltype";
    Pipeline<B, T> model;
    model.fit(be, sim.spatial, sim.reference, cfg, fo);
    Outputs o;
    const std::vector<std::string> genes = {sim.all_genes[1], sim.all_genes[12], sim.all_genes[15]};
    const Imputation imp = model.impute(be, genes);
    o.add("imputed mean", as_double(imp.mean));
    o.add("imputed sd", as_double(imp.sd));
    const Annotation ann = model.annotate(be);
    o.add("class probabilities", as_double(ann.probabilities));
    return o;
  }
};

}  // namespace

// ============================================================== host suite ==
TEST_SUITE("host") {

TEST_CASE("CUDA comparison cases: float tolerances calibrated on the CPU (float vs double)") {
  SUBCASE("Linear") { calibrate<LinearCase>(); }
  SUBCASE("activations") { calibrate<ActivationCase>(); }
  SUBCASE("Dropout") { calibrate<DropoutCase>(); }
  SUBCASE("Sequential") { calibrate<SequentialCase>(); }
  SUBCASE("GAT") { calibrate<GatCase>(); }
  SUBCASE("MSE") { calibrate<MseCase>(); }
  SUBCASE("MMD") { calibrate<MmdCase>(); }
  SUBCASE("cosine") { calibrate<CosineCase>(); }
  SUBCASE("Pearson") { calibrate<PearsonCase>(); }
  SUBCASE("cross-entropy") { calibrate<CrossEntropyCase>(); }
  SUBCASE("gene consistency") { calibrate<GeneConsistencyCase>(); }
  SUBCASE("top-k attention") { calibrate<TopKCase>(); }
  SUBCASE("learnable attention") { calibrate<LearnableCase>(); }
  SUBCASE("Adam") { calibrate<AdamCase>(); }
  SUBCASE("training, top-k") { calibrate<TrainCase<0>>(); }
  SUBCASE("training, learnable") { calibrate<TrainCase<1>>(); }
  SUBCASE("ensemble, full batch") { calibrate<EnsembleCase<0>>(); }
  SUBCASE("ensemble, minibatches") { calibrate<EnsembleCase<1>>(); }
  SUBCASE("pipeline") { calibrate<PipelineCase>(); }
}

TEST_CASE("the comparison harness detects a difference") {
  Cpu cpu{1};  // one thread: the reference is fast and steady on a loaded machine
  const Outputs a = LinearCase::run<Cpu, double>(cpu);
  Outputs b = a;
  b.arrays[1].v[3] *= 1.0 + 1e-6;
  CHECK(rel_error(b.arrays[1], a.arrays[1]) > kTolDouble);
  CHECK_FALSE(same_bits(a, b));
  Outputs m = DropoutCase::run<Cpu, float>(cpu);
  const Outputs m0 = m;
  m.arrays[0].v[5] = 1.0 - m.arrays[0].v[5];
  CHECK(exact_mismatches(m.arrays[0], m0.arrays[0]) == 1);
}

TEST_CASE("backend selection in a build with the CUDA backend") {
  CHECK(cuda_compiled());
  CHECK(cuda_device_count_or_zero() == cuda_device_count());
  CHECK(parse_backend("cuda") == BackendKind::Cuda);
  CHECK(parse_backend(" CPU ") == BackendKind::Cpu);
  CHECK_THROWS_WITH_AS(parse_backend("gpu"), doctest::Contains("unknown backend 'gpu': use cpu or cuda"),
                       Error);
  auto which = [](auto& be) {
    return std::is_same_v<std::decay_t<decltype(be)>, Cuda> ? std::string("cuda") : std::string("cpu");
  };
  CHECK(with_backend(BackendKind::Cpu, which) == "cpu");
  auto threads = [](auto& be) {
    if constexpr (std::is_same_v<std::decay_t<decltype(be)>, Cpu>) return be.num_threads();
    else return -1;
  };
  CHECK(with_backend(BackendKind::Cpu, threads, 1) == 1);
  if (cuda_device_available()) {
    CHECK_NOTHROW(require_backend(BackendKind::Cuda));
    CHECK(with_backend(BackendKind::Cuda, which) == "cuda");
  } else {
    CHECK_THROWS_WITH_AS(require_backend(BackendKind::Cuda),
                         doctest::Contains("no usable CUDA device"), Error);
    CHECK_THROWS_WITH_AS(with_backend(BackendKind::Cuda, which),
                         doctest::Contains("no usable CUDA device"), Error);
  }
}

}  // TEST_SUITE("host")

// ============================================================ device suite ==
#define STAI_CUDA_VS_CPU(Case, title)                     \
  TEST_CASE(title) {                                      \
    SUBCASE("float") { against_cpu<Case, float>(); }      \
    SUBCASE("double") { against_cpu<Case, double>(); }    \
  }

TEST_SUITE("device") {

STAI_CUDA_VS_CPU(LinearCase, "CUDA vs CPU: Linear forward and backward")
STAI_CUDA_VS_CPU(ActivationCase, "CUDA vs CPU: LeakyReLU and ReLU")
STAI_CUDA_VS_CPU(DropoutCase, "CUDA vs CPU: Dropout masks are the same bits")
STAI_CUDA_VS_CPU(SequentialCase, "CUDA vs CPU: Sequential encoder MLP")
STAI_CUDA_VS_CPU(GatCase, "CUDA vs CPU: GatGraph, Gat and GatResidual")
STAI_CUDA_VS_CPU(MseCase, "CUDA vs CPU: MseLoss")
STAI_CUDA_VS_CPU(MmdCase, "CUDA vs CPU: MmdLoss")
STAI_CUDA_VS_CPU(CosineCase, "CUDA vs CPU: CosineConsistencyLoss")
STAI_CUDA_VS_CPU(PearsonCase, "CUDA vs CPU: PearsonLoss")
STAI_CUDA_VS_CPU(CrossEntropyCase, "CUDA vs CPU: CrossEntropyLoss and softmax_rows")
STAI_CUDA_VS_CPU(GeneConsistencyCase, "CUDA vs CPU: GeneConsistencyLoss and gene_correlation")
STAI_CUDA_VS_CPU(TopKCase, "CUDA vs CPU: TopKAttention")
STAI_CUDA_VS_CPU(LearnableCase, "CUDA vs CPU: LearnableAttention")
STAI_CUDA_VS_CPU(AdamCase, "CUDA vs CPU: Adam")
STAI_CUDA_VS_CPU(TrainCase<0>, "CUDA vs CPU: Submodel training run, top-k head")
STAI_CUDA_VS_CPU(TrainCase<1>, "CUDA vs CPU: Submodel training run, learnable head")
STAI_CUDA_VS_CPU(EnsembleCase<0>, "CUDA vs CPU: Ensemble fit / impute / annotate, full batch")
STAI_CUDA_VS_CPU(EnsembleCase<1>, "CUDA vs CPU: Ensemble fit / impute / annotate, minibatches")
STAI_CUDA_VS_CPU(PipelineCase, "CUDA vs CPU: Pipeline fit / impute / annotate")

}  // TEST_SUITE("device")

#undef STAI_CUDA_VS_CPU
