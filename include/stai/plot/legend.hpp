// stai — the legend of a categorical map: one marker and name per category
// (long names shortened), arranged in balanced columns that fit the height.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "colormap.hpp"
#include "style.hpp"
#include "text.hpp"

namespace stai::plot::detail {

struct Legend {
  std::vector<std::string> names;
  std::vector<Rgb> colors;
  std::vector<std::string> shown;  ///< names after shortening
  std::vector<double> text_w;      ///< width of each shown name
  std::vector<double> col_w;       ///< per column (set by legend_size)
  int rows = 1, cols = 1;
};

inline Legend make_legend(Measure& m, const std::vector<std::string>& names, bool with_missing) {
  Legend lg;
  lg.names = names;
  for (std::size_t k = 0; k < names.size(); ++k) lg.colors.push_back(category_color(k));
  if (with_missing) {
    lg.names.push_back("(unassigned)");
    lg.colors.push_back(missing_color());
  }
  font(m.cr.get(), kLegendFont);
  for (const auto& s : lg.names) {
    std::string t = s;
    if (t.size() > kMaxLegendChars)
      t = ellipsize(m.cr.get(), t, text_width(m.cr.get(), t.substr(0, kMaxLegendChars)));
    lg.shown.push_back(t);
    lg.text_w.push_back(text_width(m.cr.get(), t));
  }
  return lg;
}

/// Arranges the entries in columns of at most `avail_h` height (at least one
/// row) and returns {block width, legend height}.
inline std::pair<double, double> legend_size(Legend& lg, double avail_h) {
  const int n = static_cast<int>(lg.names.size());
  lg.rows = std::max(1, std::min(n, static_cast<int>(std::floor(avail_h / kLegendRow))));
  lg.cols = (n + lg.rows - 1) / lg.rows;
  lg.rows = (n + lg.cols - 1) / lg.cols;  // balance the columns
  lg.col_w.assign(static_cast<std::size_t>(lg.cols), 0.0);
  for (int k = 0; k < n; ++k) {
    auto& w = lg.col_w[static_cast<std::size_t>(k / lg.rows)];
    w = std::max(w, kLegendMarker + 7 + lg.text_w[static_cast<std::size_t>(k)] + 16);
  }
  double width = kLegendGap;
  for (double w : lg.col_w) width += w;
  return {width, lg.rows * kLegendRow};
}

inline void draw_legend(cairo_t* cr, const Legend& lg, double x, double y, double map_h) {
  font(cr, kLegendFont);
  const double used = lg.rows * kLegendRow;
  const double y0 = y + std::max(0.0, 0.5 * (map_h - used));
  for (std::size_t k = 0; k < lg.names.size(); ++k) {
    const int col = static_cast<int>(k) / lg.rows, row = static_cast<int>(k) % lg.rows;
    double cx = x + kLegendGap;
    for (int c = 0; c < col; ++c) cx += lg.col_w[static_cast<std::size_t>(c)];
    const double cy = y0 + (row + 0.5) * kLegendRow;
    set_source(cr, lg.colors[k]);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx + 0.5 * kLegendMarker, cy, 0.5 * kLegendMarker, 0, 2 * kPi);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, lg.shown[k], cx + kLegendMarker + 7, cy, 0);
  }
}

}  // namespace stai::plot::detail
