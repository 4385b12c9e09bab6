// Test helpers: seeded random matrices, inner products, and the elementwise
// comparison of two implementations of the same quantity.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include <stai/random.hpp>
#include <stai/tensor/matrix.hpp>

namespace stai::test {

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

/// Largest elementwise relative difference |a-b| / max(|a|+|b|, floor), for
/// comparing two implementations entry by entry (gradients against central
/// differences are judged per tensor instead: see gradcheck.hpp). The floor
/// keeps entries that are both ~0 from dominating.
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

}  // namespace stai::test
