// stai — axis ticks and number formatting: "nice" tick values (steps of 1, 2
// or 5 x 10^k) and labels with as many decimals as the step needs.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace stai::plot {

/// "Nice" tick values (steps of 1, 2 or 5 x 10^k) inside [lo, hi], about `target` of them.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  std::vector<double> t;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return t;
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
  const double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  for (double k = k0; k <= k1; k += 1) {
    double x = k * step;
    if (std::fabs(x) < step * 1e-9) x = 0;
    t.push_back(x);
  }
  return t;
}

/// Tick labels with as many decimals as the tick step needs.
inline std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
  std::vector<std::string> out;
  if (ticks.empty()) return out;
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : std::max(std::fabs(ticks[0]), 1.0);
  double biggest = 0;
  for (double x : ticks) biggest = std::max(biggest, std::fabs(x));
  const bool general = biggest >= 1e6 || step < 1e-4;
  const int dec = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buf[64];
  for (double x : ticks) {
    if (general)
      std::snprintf(buf, sizeof buf, "%.3g", x);
    else
      std::snprintf(buf, sizeof buf, "%.*f", dec, x);
    out.emplace_back(buf);
  }
  return out;
}

namespace detail {

inline std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

inline std::string format_general(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace detail
}  // namespace stai::plot
