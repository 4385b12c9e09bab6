// stai — the histogram figure: equal-width bins of the finite values
// (statistics.hpp) with the median as a dashed line, count and value axes
// with nice ticks (ticks.hpp), and the median and count in the title.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "../error.hpp"
#include "options.hpp"
#include "statistics.hpp"
#include "style.hpp"
#include "surface.hpp"
#include "text.hpp"
#include "ticks.hpp"

namespace stai {

/// What plot_histogram drew.
struct HistogramInfo {
  int width = 0, height = 0;
  std::string title;
  Histogram hist;
  double plot_x = 0, plot_y = 0, plot_w = 0, plot_h = 0;  ///< axes area
  double x_lo = 0, x_hi = 1, y_hi = 1;                    ///< axis ranges (y from 0)
  /// Figure position of the data point (x, count).
  std::array<double, 2> to_pixel(double x, double count) const {
    return {plot_x + (x - x_lo) / (x_hi - x_lo) * plot_w, plot_y + plot_h - count / y_hi * plot_h};
  }
};

/// Histogram of the finite values (e.g. per-gene PCC) with the median drawn as
/// a dashed vertical line and written in the title with the count. bins == 0
/// picks Sturges' rule. Non-finite values are dropped (their number is shown).
inline HistogramInfo plot_histogram(const std::string& path, const std::vector<double>& values,
                                    const std::string& title, const std::string& x_label, int bins = 0,
                                    const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  HistogramInfo info;
  try {
    info.hist = plot::histogram(values, bins);
  } catch (const Error& err) {
    STAI_CHECK(false, path, ": ", std::string(err.what()).substr(6));
  }
  const Histogram& h = info.hist;
  info.width = options.width > 0 ? options.width : 640;
  info.height = options.height > 0 ? options.height : 420;
  std::string t = "median = " + d::format_general(h.median) + ", n = " + std::to_string(h.n_finite);
  if (h.n_dropped > 0) t += ", " + std::to_string(h.n_dropped) + " non-finite dropped";
  info.title = title.empty() ? t : title + " (" + t + ")";
  const double span = h.edges.back() - h.edges.front();  // 3% air on both sides of the bars
  info.x_lo = h.edges.front() - 0.03 * span;
  info.x_hi = h.edges.back() + 0.03 * span;
  const index_t cmax = *std::max_element(h.counts.begin(), h.counts.end());
  info.y_hi = std::max(1.0, 1.08 * static_cast<double>(cmax));  // headroom above the tallest bar
  // Ticks: integers only on the count axis.
  std::vector<double> yt;
  for (double v : plot::nice_ticks(0, info.y_hi, 5))
    if (std::fabs(v - std::round(v)) < 1e-9) yt.push_back(v);
  const auto yl = plot::tick_labels(yt);
  const auto xt = plot::nice_ticks(info.x_lo, info.x_hi, 6);
  const auto xl = plot::tick_labels(xt);
  d::Measure m;
  double ytw = 0;
  for (const auto& s : yl) ytw = std::max(ytw, m.width(s, d::kTickFont));
  const double left = d::kMargin + d::kLabelFont + 10 + ytw + d::kTickLen + 4;
  const double right = d::kMargin + 14;
  const double top = d::kMargin + d::kTitleBand + 4;
  const double bottom = d::kMargin + d::kLabelFont + 10 + d::kTickFont + d::kTickLen + 8;
  info.plot_x = std::round(left);
  info.plot_y = std::round(top);
  info.plot_w = std::floor(info.width - left - right);
  info.plot_h = std::floor(info.height - top - bottom);
  STAI_CHECK(info.plot_w >= 80 && info.plot_h >= 60, path, ": a ", info.width, " x ", info.height,
             " histogram leaves only ", static_cast<int>(std::max(0.0, info.plot_w)), " x ",
             static_cast<int>(std::max(0.0, info.plot_h)), " for the bars; make it at least ",
             static_cast<int>(std::ceil(left + right + 80)), " x ", static_cast<int>(std::ceil(top + bottom + 60)),
             ", or set width/height to 0 for the default 640 x 420");
  d::render(path, fmt, info.width, info.height, [&](cairo_t* cr) {
    d::draw_title(cr, info.title, info.width);
    const double px = info.plot_x, py = info.plot_y, pw = info.plot_w, ph = info.plot_h;
    // Horizontal grid lines at the count ticks.
    cairo_set_line_width(cr, 1.0);
    for (double v : yt) {
      const double y = std::round(info.to_pixel(info.x_lo, v)[1]) + 0.5;
      cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
      cairo_move_to(cr, px, y);
      cairo_line_to(cr, px + pw, y);
      cairo_stroke(cr);
    }
    // Bars.
    for (std::size_t b = 0; b < h.counts.size(); ++b) {
      if (h.counts[b] == 0) continue;
      const auto p0 = info.to_pixel(h.edges[b], 0), p1 = info.to_pixel(h.edges[b + 1], static_cast<double>(h.counts[b]));
      cairo_rectangle(cr, p0[0], p1[1], p1[0] - p0[0], p0[1] - p1[1]);
      cairo_set_source_rgb(cr, 0x4c / 255.0, 0x78 / 255.0, 0xa8 / 255.0);
      cairo_fill_preserve(cr);
      cairo_set_source_rgb(cr, 1, 1, 1);
      cairo_set_line_width(cr, std::min(1.0, 0.2 * (p1[0] - p0[0])));
      cairo_stroke(cr);
    }
    // Median.
    {
      const double x = info.to_pixel(h.median, 0)[0];
      const double dash[2] = {6, 4};
      cairo_set_dash(cr, dash, 2, 0);
      cairo_set_line_width(cr, 2.0);
      cairo_set_source_rgb(cr, 0xd1 / 255.0, 0x38 / 255.0, 0x3c / 255.0);
      cairo_move_to(cr, x, py);
      cairo_line_to(cr, x, py + ph);
      cairo_stroke(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
    }
    // Axes (left and bottom) with ticks and labels.
    cairo_set_line_width(cr, 1.0);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, px + 0.5, py);
    cairo_line_to(cr, px + 0.5, py + ph + 0.5);
    cairo_line_to(cr, px + pw, py + ph + 0.5);
    cairo_stroke(cr);
    d::font(cr, d::kTickFont);
    for (std::size_t i = 0; i < yt.size(); ++i) {
      const double y = std::round(info.to_pixel(info.x_lo, yt[i])[1]) + 0.5;
      cairo_move_to(cr, px + 0.5, y);
      cairo_line_to(cr, px + 0.5 - d::kTickLen, y);
      cairo_stroke(cr);
      d::text(cr, yl[i], px - d::kTickLen - 3, y, 1);
    }
    for (std::size_t i = 0; i < xt.size(); ++i) {
      const double x = std::round(info.to_pixel(xt[i], 0)[0]) + 0.5;
      cairo_move_to(cr, x, py + ph + 0.5);
      cairo_line_to(cr, x, py + ph + 0.5 + d::kTickLen);
      cairo_stroke(cr);
      d::text(cr, xl[i], x, py + ph + d::kTickLen + 4 + 0.5 * d::kTickFont, 0.5);
    }
    d::font(cr, d::kLabelFont);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    d::text(cr, d::ellipsize(cr, x_label, pw), px + 0.5 * pw, info.height - d::kMargin - 0.5 * d::kLabelFont, 0.5);
    cairo_save(cr);
    cairo_translate(cr, d::kMargin + 0.5 * d::kLabelFont, py + 0.5 * ph);
    cairo_rotate(cr, -0.5 * d::kPi);
    d::text(cr, "count", 0, 0, 0.5);
    cairo_restore(cr);
  });
  return info;
}

}  // namespace stai
