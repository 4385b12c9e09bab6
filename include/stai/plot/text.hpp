// stai — text in figures through cairo's toy text API: a sans-serif face
// measured the same on every surface (hint metrics off), anchored drawing,
// shortening ("...") or shrinking of text that does not fit, and the
// figure title.
#pragma once
#include <cairo.h>

#include <string>

#include "style.hpp"
#include "surface.hpp"

namespace stai::plot::detail {

/// Sans-serif face, with hint metrics off so text measures the same on every surface.
inline void font(cairo_t* cr, double size, bool bold = false) {
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

inline double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

/// Draws s anchored horizontally at x (align 0 = left, 0.5 = centre, 1 = right)
/// and centred vertically on y (on the capital height).
inline void text(cairo_t* cr, const std::string& s, double x, double y, double align) {
  cairo_matrix_t fm;
  cairo_get_font_matrix(cr, &fm);  // xx = font size (no rotation in font space)
  cairo_move_to(cr, x - align * text_width(cr, s), y + 0.36 * fm.yy);
  cairo_show_text(cr, s.c_str());
}

/// Shortens s (whole UTF-8 characters) with "..." until it fits max_w at the current font.
inline std::string ellipsize(cairo_t* cr, std::string s, double max_w) {
  if (text_width(cr, s) <= max_w) return s;
  while (!s.empty()) {
    s.pop_back();
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();  // lead byte
    if (text_width(cr, s + "...") <= max_w) return s + "...";
  }
  return "...";
}

/// Sets a font that makes s fit max_w (shrinking down to 9) and returns s,
/// ellipsized if it still does not fit.
inline std::string fit_text(cairo_t* cr, const std::string& s, double max_w, double size, bool bold) {
  for (double sz = size; sz >= 9; sz -= 1) {
    font(cr, sz, bold);
    if (text_width(cr, s) <= max_w) return s;
  }
  return ellipsize(cr, s, max_w);
}

/// A scratch context for measuring text before the figure size is known.
struct Measure {
  SurfacePtr surface{cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 4, 4)};
  ContextPtr cr{cairo_create(surface.get())};
  double width(const std::string& s, double size, bool bold = false) {
    font(cr.get(), size, bold);
    return text_width(cr.get(), s);
  }
};

/// The figure title, centred in the title band (bold, shrunk or shortened to fit).
inline void draw_title(cairo_t* cr, const std::string& title, double width) {
  if (title.empty()) return;
  const std::string s = fit_text(cr, title, width - 2 * kMargin, kTitleFont, true);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
  text(cr, s, 0.5 * width, kMargin + 0.5 * kTitleBand - 4, 0.5);
}

}  // namespace stai::plot::detail
