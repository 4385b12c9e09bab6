// stai — the colour scale of a continuous map: robust colour limits (1st..99th
// percentile of the finite values unless PlotOptions gives them) and the
// viridis colour bar with its ticks and label.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "colormap.hpp"
#include "options.hpp"
#include "statistics.hpp"
#include "style.hpp"
#include "text.hpp"
#include "ticks.hpp"

namespace stai::plot::detail {

/// Colour limits of a continuous panel (robust percentiles unless overridden).
inline std::pair<double, double> color_limits(const std::string& path, const std::string& what,
                                              const std::vector<double>& values, const PlotOptions& o) {
  std::vector<double> v;
  v.reserve(values.size());
  for (double a : values)
    if (std::isfinite(a)) v.push_back(a);
  STAI_CHECK(!v.empty(), path, ": none of the ", values.size(), " ", what,
             " values is finite; there is nothing to colour");
  STAI_CHECK(o.percentile_low >= 0 && o.percentile_low < o.percentile_high && o.percentile_high <= 100, path,
             ": colour percentiles must satisfy 0 <= low < high <= 100, got ", o.percentile_low, " and ",
             o.percentile_high);
  std::sort(v.begin(), v.end());
  double lo = std::isfinite(o.vmin) ? o.vmin : percentile_sorted(v, o.percentile_low);
  double hi = std::isfinite(o.vmax) ? o.vmax : percentile_sorted(v, o.percentile_high);
  if (std::isfinite(o.vmin) && std::isfinite(o.vmax))
    STAI_CHECK(o.vmin < o.vmax, path, ": vmin (", o.vmin, ") must be below vmax (", o.vmax, ")");
  if (!(hi > lo)) {  // constant values (or limits crossing): centre them in the scale
    const double mid = std::isfinite(o.vmin) ? lo : (std::isfinite(o.vmax) ? hi : 0.5 * (lo + hi));
    const double half = std::max(0.5, 0.05 * std::fabs(mid));
    lo = std::isfinite(o.vmin) ? lo : mid - half;
    hi = std::isfinite(o.vmax) ? hi : mid + half;
    if (!(hi > lo)) {
      lo = mid - half;
      hi = mid + half;
    }
  }
  return {lo, hi};
}

/// Width of the colour bar block to the right of a map (bar, ticks, labels, title).
inline double colorbar_width(Measure& m, double lo, double hi, const std::string& label) {
  double tw = 0;
  for (const auto& s : tick_labels(nice_ticks(lo, hi))) tw = std::max(tw, m.width(s, kTickFont));
  return kBarGap + kBarWidth + kTickLen + 3 + tw + (label.empty() ? 0.0 : 8 + kLabelFont + 2) + 4;
}

inline void draw_colorbar(cairo_t* cr, double x, double y, double h, double lo, double hi,
                          const std::string& label, double block_w) {
  const double bx = x + kBarGap;
  cairo_pattern_t* g = cairo_pattern_create_linear(0, y + h, 0, y);
  for (std::size_t i = 0; i < kViridisAnchors.size(); ++i) {
    const Rgb c = rgb_hex(kViridisAnchors[i]);
    cairo_pattern_add_color_stop_rgb(g, static_cast<double>(i) / (kViridisAnchors.size() - 1), c.r, c.g, c.b);
  }
  cairo_rectangle(cr, bx, y, kBarWidth, h);
  cairo_set_source(cr, g);
  cairo_fill(cr);
  cairo_pattern_destroy(g);
  frame(cr, bx, y, kBarWidth, h);
  const auto ticks = nice_ticks(lo, hi);
  const auto labels = tick_labels(ticks);
  font(cr, kTickFont);
  cairo_set_line_width(cr, 1.0);
  double tw = 0;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    const double ty = std::round(y + h - (ticks[i] - lo) / (hi - lo) * h) + 0.5;
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_move_to(cr, bx + kBarWidth, ty);
    cairo_line_to(cr, bx + kBarWidth + kTickLen, ty);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    text(cr, labels[i], bx + kBarWidth + kTickLen + 3, ty, 0);
    tw = std::max(tw, text_width(cr, labels[i]));
  }
  if (!label.empty()) {
    font(cr, kLabelFont);
    const std::string s = ellipsize(cr, label, h);
    const double lx = std::min(bx + kBarWidth + kTickLen + 3 + tw + 8 + 0.5 * kLabelFont, x + block_w - 6);
    cairo_save(cr);
    cairo_translate(cr, lx, y + 0.5 * h);
    cairo_rotate(cr, -0.5 * kPi);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, s, 0, 0, 0.5);
    cairo_restore(cr);
  }
}

}  // namespace stai::plot::detail
