// Test helpers: central-difference gradient checks, judged per tensor and
// relative to each tensor's own scale.
//
// The error of an analytic gradient a against central differences n over one
// tensor is max_i |a_i - n_i| / max_i |n_i|. Per tensor, so that a tensor
// with small gradients is neither drowned by a large one in a shared maximum
// nor judged entry by entry, where entries near zero carry the absolute
// rounding noise of the differences (~1e-16 |f| / eps) as an O(1) relative
// error. A tensor whose numeric gradient is (nearly) all zero checks nothing
// and fails, unless the caller declares it zero by structure
// (check_zero_gradient), which then requires the analytic gradient to be zero.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <stai/tensor/matrix.hpp>
#include <stai/tensor/param_arena.hpp>

namespace stai::test {

/// Central differences of the scalar f() with respect to x[0..n), each entry
/// perturbed in place by +-eps and restored.
inline std::vector<double> numeric_gradient(const std::function<double()>& f, double* x, index_t n,
                                            double eps = 1e-6) {
  std::vector<double> g(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    const double old = x[i];
    x[i] = old + eps;
    const double fp = f();
    x[i] = old - eps;
    const double fm = f();
    x[i] = old;
    g[static_cast<std::size_t>(i)] = (fp - fm) / (2 * eps);
  }
  return g;
}

/// Largest |v_i|.
inline double max_abs(std::span<const double> v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

/// max_i |a_i - n_i| / max_i |n_i| (infinite when n is all zero and a is not,
/// 0 when both are).
inline double gradient_error(std::span<const double> analytic, std::span<const double> numeric) {
  REQUIRE(analytic.size() == numeric.size());
  double d = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) d = std::max(d, std::abs(analytic[i] - numeric[i]));
  const double s = max_abs(numeric);
  if (s > 0) return d / s;
  return d > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

/// Checks one gradient tensor against its central differences: error below
/// tol, and a numeric gradient that is not (nearly) all zero (its largest
/// entry above min_scale). Returns the error.
inline double check_gradient(const std::string& what, std::span<const double> analytic,
                             std::span<const double> numeric, double tol = 1e-6,
                             double min_scale = 1e-8) {
  INFO("gradient of " << what);
  const double scale = max_abs(numeric), err = gradient_error(analytic, numeric);
  CHECK_MESSAGE(scale > min_scale, "the numeric gradient of ", what, " is (nearly) all zero (largest |entry| ",
                scale, "): the check would be vacuous; if it is zero by structure, say so with "
                "check_zero_gradient");
  CHECK_MESSAGE(err < tol, "relative error ", err, " of ", what, " (tolerance ", tol, ", scale ", scale, ")");
  return err;
}

/// A gradient that is zero by structure: every analytic entry within
/// analytic_tol of zero, every numeric one within numeric_tol. Both 0
/// (exactly zero) where the value does not depend on the tensor at all; small
/// where it is invariant to it, so that the computed gradient is a sum that
/// cancels up to rounding and the differences measure rounding noise.
inline void check_zero_gradient(const std::string& what, std::span<const double> analytic,
                                std::span<const double> numeric, double analytic_tol = 0,
                                double numeric_tol = 0) {
  INFO("gradient of " << what << " (zero by structure)");
  REQUIRE(analytic.size() == numeric.size());
  CHECK(max_abs(analytic) <= analytic_tol);
  CHECK(max_abs(numeric) <= numeric_tol);
}

/// Parameter tensors (every one whose name starts with `prefix`) whose
/// gradient is zero by structure; tolerances as in check_zero_gradient.
struct ZeroGradient {
  std::string prefix;
  double analytic_tol = 0, numeric_tol = 0;
};

/// The outcome for one parameter tensor of check_arena_gradient.
struct TensorResult {
  std::string name;
  double error = 0;          ///< relative error (see gradient_error); 0 for zero tensors
  double scale = 0;          ///< largest |numeric entry|
  bool zero = false;         ///< declared zero by structure
};

/// Checks every parameter tensor of `arena` on its own: `analytic` is the
/// gradient of f over the whole arena (taken before this call), the numeric
/// one comes from central differences of f over each tensor's entries.
/// Tensors matched by `zero` must have zero gradient; all others pass
/// check_gradient with tol.
template <class B>
std::vector<TensorResult> check_arena_gradient(ParamArena<B, double>& arena, const std::function<double()>& f,
                                               const std::vector<double>& analytic,
                                               const std::vector<ZeroGradient>& zero = {},
                                               double tol = 1e-6, double eps = 1e-6) {
  REQUIRE(analytic.size() == static_cast<std::size_t>(arena.size()));
  std::vector<TensorResult> out;
  for (std::size_t id = 0; id < arena.info().size(); ++id) {
    const ParamInfo& p = arena.info()[id];
    const std::span<const double> a(analytic.data() + p.offset, static_cast<std::size_t>(p.size()));
    const std::vector<double> n = numeric_gradient(f, arena.param(static_cast<int>(id)), p.size(), eps);
    TensorResult r{p.name, 0, max_abs(n), false};
    const auto z = std::find_if(zero.begin(), zero.end(),
                                [&](const ZeroGradient& zg) { return p.name.rfind(zg.prefix, 0) == 0; });
    if (z != zero.end()) {
      r.zero = true;
      check_zero_gradient(p.name, a, n, z->analytic_tol, z->numeric_tol);
    } else {
      r.error = check_gradient(p.name, a, n, tol);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace stai::test
