// stai — the statistics the figures show: numpy-style percentiles (robust
// colour limits) and equal-width histograms with the median.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

namespace stai {

/// Equal-width histogram of the finite values.
struct Histogram {
  std::vector<double> edges;     ///< bins + 1 edges, ascending
  std::vector<index_t> counts;   ///< per bin; the last bin includes its right edge
  index_t n_finite = 0, n_dropped = 0;
  double median = std::numeric_limits<double>::quiet_NaN();
};

namespace plot {

/// q-th percentile (q in [0, 100]) of ascending `sorted` values with numpy's
/// default linear interpolation. `sorted` must be non-empty.
inline double percentile_sorted(const std::vector<double>& sorted, double q) {
  STAI_CHECK(!sorted.empty(), "percentile of an empty set of values");
  const double pos = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double f = pos - static_cast<double>(lo);
  return sorted[lo] + f * (sorted[lo + 1] - sorted[lo]);
}

/// Equal-width histogram of the finite values over [min, max] (a constant set is
/// widened to [v - 0.5, v + 0.5]). bins == 0 picks Sturges' rule (at least 5).
/// Throws if there is no finite value or bins < 0.
inline Histogram histogram(const std::vector<double>& values, int bins) {
  STAI_CHECK(bins >= 0, "histogram: bins = ", bins, " is negative; give a positive count or 0 for automatic");
  std::vector<double> v;
  v.reserve(values.size());
  for (double a : values)
    if (std::isfinite(a)) v.push_back(a);
  Histogram h;
  h.n_finite = static_cast<index_t>(v.size());
  h.n_dropped = static_cast<index_t>(values.size() - v.size());
  STAI_CHECK(!v.empty(), "histogram: none of the ", values.size(),
             " values is finite; there is nothing to draw");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  h.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  if (bins == 0)
    bins = std::max(5, static_cast<int>(std::ceil(std::log2(static_cast<double>(n)))) + 1);
  double lo = v.front(), hi = v.back();
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  h.edges.resize(static_cast<std::size_t>(bins) + 1);
  for (int i = 0; i <= bins; ++i) h.edges[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / bins;
  h.edges.back() = hi;
  h.counts.assign(static_cast<std::size_t>(bins), 0);
  for (double a : v) {
    auto b = static_cast<long>(std::floor((a - lo) / (hi - lo) * bins));
    b = std::clamp(b, 0L, static_cast<long>(bins) - 1);
    // Edge rounding: keep a value in the bin whose [edge, next edge) holds it.
    while (b > 0 && a < h.edges[static_cast<std::size_t>(b)]) --b;
    while (b + 1 < bins && a >= h.edges[static_cast<std::size_t>(b) + 1]) ++b;
    ++h.counts[static_cast<std::size_t>(b)];
  }
  return h;
}

}  // namespace plot
}  // namespace stai
