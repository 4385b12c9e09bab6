// stai — one map panel: where the cells land in the figure and how large
// their markers are, and the drawing of the cells.
//
//  * Orientation: IMAGE coordinates, y grows DOWNWARD (the cell with the
//    smallest y is at the top), as in scanpy's sc.pl.spatial; x grows to the
//    right. One coordinate unit has the same length on both axes; the data
//    sit centred in the panel's box.
//  * Point size: unless PlotOptions::point_size is set, the marker diameter is
//    the typical spacing between cells (spacing.hpp) in figure units, clamped
//    to a readable range (2 px .. 5% of the map's shorter side).
//  * Continuous values are drawn in ascending order (the highest on top, like
//    scanpy's sort_order); non-finite values first.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../tensor/matrix.hpp"
#include "extent.hpp"
#include "style.hpp"

namespace stai {

/// Where one map panel was drawn (figure units; pixels for PNG).
struct MapPanel {
  double box_x = 0, box_y = 0, box_w = 0, box_h = 0;  ///< framed map area
  double scale = 1;               ///< figure units per coordinate unit (x and y alike)
  double x_min = 0, y_min = 0;    ///< data corner that maps to (origin_x, origin_y)
  double origin_x = 0, origin_y = 0;
  double point_diameter = 0;      ///< marker diameter used
  double vmin = std::numeric_limits<double>::quiet_NaN();  ///< colour limits (continuous)
  double vmax = std::numeric_limits<double>::quiet_NaN();
  /// Figure position of a cell at (x, y); y grows downward (image coordinates).
  std::array<double, 2> to_pixel(double x, double y) const {
    return {origin_x + scale * (x - x_min), origin_y + scale * (y - y_min)};
  }
};

/// What a map figure contains (returned by the plot_spatial_* functions).
struct FigureInfo {
  int width = 0, height = 0;
  std::string title;             ///< the figure title as drawn (before any shortening)
  std::vector<MapPanel> panels;  ///< left to right
  std::vector<std::string> categories;  ///< categorical figures: legend order
  double accuracy = std::numeric_limits<double>::quiet_NaN();  ///< true-vs-predicted only
};

namespace plot::detail {

/// Fits the data into the box (centred, aspect preserved) and sets the point size.
inline MapPanel fit_panel(double bx, double by, double bw, double bh, const Extent& e, double spacing,
                          double point_size) {
  MapPanel p;
  p.box_x = bx;
  p.box_y = by;
  p.box_w = bw;
  p.box_h = bh;
  const double min_side = std::min(bw, bh);
  const double d_max = std::max(3.0, 0.05 * min_side);
  auto scale_for = [&](double pad) {
    const double ax = bw - 2 * pad, ay = bh - 2 * pad;
    double s = std::numeric_limits<double>::infinity();
    if (e.rx() > 0) s = std::min(s, ax / e.rx());
    if (e.ry() > 0) s = std::min(s, ay / e.ry());
    return std::isfinite(s) ? std::max(s, 1e-300) : 1.0;
  };
  auto diameter_for = [&](double s) {
    if (point_size > 0) return point_size;
    if (!std::isfinite(spacing)) return d_max;
    return std::clamp(spacing * s, 2.0, d_max);
  };
  double pad = 6;
  double s = scale_for(pad);
  double d = diameter_for(s);
  pad = std::max(6.0, std::min(0.5 * d + 3, 0.25 * min_side));
  s = scale_for(pad);
  d = diameter_for(s);
  p.scale = s;
  p.point_diameter = d;
  p.x_min = e.x0;
  p.y_min = e.y0;
  p.origin_x = bx + 0.5 * bw - 0.5 * s * e.rx();
  p.origin_y = by + 0.5 * bh - 0.5 * s * e.ry();
  return p;
}

/// Draws cells in the given order with colour(i), clipped to the panel box.
template <class ColorOf>
void draw_cells(cairo_t* cr, const MapPanel& p, const RowMatrix<double>& coords,
                const std::vector<index_t>& order, ColorOf&& color_of) {
  cairo_save(cr);
  cairo_rectangle(cr, p.box_x + 1, p.box_y + 1, p.box_w - 2, p.box_h - 2);
  cairo_clip(cr);
  const double rad = 0.5 * p.point_diameter;
  for (index_t i : order) {
    const auto xy = p.to_pixel(coords(i, 0), coords(i, 1));
    set_source(cr, color_of(i));
    cairo_new_sub_path(cr);
    cairo_arc(cr, xy[0], xy[1], rad, 0, 2 * kPi);
    cairo_fill(cr);
  }
  cairo_restore(cr);
}

/// Ascending-value drawing order; non-finite values first (ties by index).
inline std::vector<index_t> value_order(const std::vector<double>& v) {
  std::vector<index_t> order(v.size());
  std::iota(order.begin(), order.end(), index_t{0});
  std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
    const double x = v[static_cast<std::size_t>(a)], y = v[static_cast<std::size_t>(b)];
    const bool fa = std::isfinite(x), fb = std::isfinite(y);
    if (fa != fb) return !fa;
    return fa && x < y;
  });
  return order;
}

}  // namespace plot::detail
}  // namespace stai
