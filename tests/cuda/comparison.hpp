// The CPU-vs-CUDA comparison harness of stai_cuda_tests (tests/cuda/*.cu).
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
//
// Cases live in cases_ops.hpp (layers, losses, heads, the optimiser) and
// cases_model.hpp (training runs, the Ensemble, the Pipeline).
#pragma once

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

namespace cuda_test {

using namespace stai;


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
inline std::vector<double> as_double(const std::vector<T>& h) {
  return std::vector<double>(h.begin(), h.end());
}
template <class T>
inline std::vector<double> as_double(const RowMatrix<T>& h) {
  return std::vector<double>(h.data(), h.data() + h.size());
}
/// n values of backend memory, as double.
template <class B, class T>
inline std::vector<double> fetch(const B& be, const T* p, index_t n) {
  std::vector<std::remove_const_t<T>> h(static_cast<std::size_t>(n));
  copy_to_host(be, h.data(), p, n);
  return as_double(h);
}
template <class B, class T>
inline std::vector<double> fetch(const B& be, const Matrix<B, T>& m) {
  return fetch(be, m.data(), m.size());
}
template <class B, class T>
inline std::vector<double> fetch(const B& be, MatRef<T> m) {
  return fetch(be, m.data, m.size());
}

/// rows x cols uniform values in [lo, hi), drawn in double and rounded
/// through float: the float and double runs get the same numbers.
template <class T>
inline RowMatrix<T> rnd(index_t rows, index_t cols, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng g(seed, 0xc0da);
  RowMatrix<T> m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<T>(static_cast<float>(g.uniform(lo, hi)));
  return m;
}
template <class B, class T>
inline Matrix<B, T> dev(const B& be, const RowMatrix<T>& h) {
  Matrix<B, T> m;
  upload(be, h, m);
  return m;
}
template <class B, class U>
inline Buffer<B, U> dev_vec(const B& be, const std::vector<U>& h) {
  Buffer<B, U> b(static_cast<index_t>(h.size()));
  copy_from_host(be, b.data(), h.data(), static_cast<index_t>(h.size()));
  return b;
}
/// Declares, allocates, binds and initialises `layer`'s parameters.
template <class B, class T, class L>
inline void setup(const B& be, ParamArena<B, T>& a, L& layer, const char* prefix, std::uint64_t seed) {
  layer.declare(a, prefix);
  a.allocate(be);
  layer.bind(a);
  Rng r(seed);
  a.initialize(be, r);
}

/// A random directed graph: node i lists `deg` random targets (duplicates and
/// self loops possible); every 7th node lists none (an isolated source).
inline CsrGraph random_graph(index_t n, index_t deg, std::uint64_t seed) {
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

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

/// Largest |got - want| / max|want| of an array (infinity for a NaN on one
/// side only or a size mismatch); *at receives its position.
inline double rel_error(const Array& got, const Array& want, std::size_t* at = nullptr) {
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
inline std::size_t exact_mismatches(const Array& got, const Array& want) {
  if (got.v.size() != want.v.size()) return std::max<std::size_t>(1, want.v.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i)
    if (!(got.v[i] == want.v[i])) ++bad;
  return bad;
}

/// `got` (the backend under test) against `want` (the CPU), array by array.
inline void compare(const Outputs& got, const Outputs& want, double tol, const std::string& what) {
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
inline bool same_bits(const Outputs& a, const Outputs& b, std::string* where = nullptr) {
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
inline void calibrate() {
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
inline void against_cpu() {
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

/// One TEST_CASE per case: float and double, CUDA against the CPU (device suite).
#define STAI_CUDA_VS_CPU(Case, title)                     \
  TEST_CASE(title) {                                      \
    SUBCASE("float") { against_cpu<Case, float>(); }      \
    SUBCASE("double") { against_cpu<Case, double>(); }    \
  }

}  // namespace cuda_test
