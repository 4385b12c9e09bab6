// Test helpers: central-difference gradient checks and comparisons.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <doctest/doctest.h>

#include <stai/backend/cpu.hpp>
#include <stai/random.hpp>
#include <stai/tensor/matrix.hpp>

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

/// Largest relative error |a-b| / max(|a|+|b|, floor) over all entries.
/// The floor keeps entries that are both ~0 from dominating.
inline double max_rel_error(const double* a, const double* b, index_t n, double floor = 1e-6) {
  double worst = 0;
  for (index_t i = 0; i < n; ++i) {
    const double d = std::abs(a[i] - b[i]);
    const double s = std::max(std::abs(a[i]) + std::abs(b[i]), floor);
    worst = std::max(worst, d / s);
  }
  return worst;
}
inline double max_rel_error(const std::vector<double>& a, const std::vector<double>& b,
                            double floor = 1e-6) {
  REQUIRE(a.size() == b.size());
  return max_rel_error(a.data(), b.data(), static_cast<index_t>(a.size()), floor);
}

/// Checks that analytic and numeric gradients agree (and that the check is
/// not vacuous: the gradient must not be identically zero unless allowed).
inline void check_gradient(const char* what, const std::vector<double>& analytic,
                           const std::vector<double>& numeric, double tol = 1e-6,
                           bool allow_zero = false) {
  INFO("gradient of " << what);
  const double err = max_rel_error(analytic, numeric);
  CHECK(err < tol);
  if (!allow_zero) {
    double mx = 0;
    for (double v : numeric) mx = std::max(mx, std::abs(v));
    CHECK_MESSAGE(mx > 1e-8, "numeric gradient of ", what, " is identically zero: vacuous check");
  }
}

/// Random matrix with entries N(0, sd^2) from a fixed seed.
inline RowMatrix<double> random_matrix(index_t r, index_t c, std::uint64_t seed, double sd = 1.0) {
  Rng rng(seed, 77);
  RowMatrix<double> m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = rng.normal(0.0, sd);
  return m;
}

/// <a, b> over all entries.
inline double dot(CMatRef<double> a, CMatRef<double> b) {
  double s = 0;
  for (index_t i = 0; i < a.size(); ++i) s += a.data[i] * b.data[i];
  return s;
}

}  // namespace stai::test
