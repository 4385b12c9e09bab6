// stai — the look shared by every figure: margins, bands, gaps and font sizes
// (figure units: pixels for PNG, points for SVG/PDF), the colour source and
// the thin grey frame around maps and colour bars.
#pragma once
#include <cairo.h>

#include <cstddef>

#include "colormap.hpp"

namespace stai::plot::detail {

// Layout constants (figure units).
inline constexpr double kMargin = 16;
inline constexpr double kTitleBand = 34, kTitleFont = 16;
inline constexpr double kPanelTitleBand = 26, kPanelTitleFont = 14;
inline constexpr double kPanelGap = 28;
inline constexpr double kTickFont = 11, kLabelFont = 12;
inline constexpr double kBarGap = 14, kBarWidth = 14, kTickLen = 4;
inline constexpr double kLegendGap = 22, kLegendRow = 20, kLegendMarker = 11, kLegendFont = 12;
inline constexpr double kMinMap = 60;
inline constexpr std::size_t kMaxLegendChars = 40;
inline constexpr double kPi = 3.14159265358979323846;

inline void set_source(cairo_t* cr, const Rgb& c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

/// Frame around a map (or colour bar): 1 unit, mid grey, on pixel boundaries.
inline void frame(cairo_t* cr, double x, double y, double w, double h) {
  cairo_set_line_width(cr, 1.0);
  cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
  cairo_rectangle(cr, x + 0.5, y + 0.5, w - 1, h - 1);
  cairo_stroke(cr);
}

}  // namespace stai::plot::detail
