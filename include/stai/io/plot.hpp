// stai — figures: spatial maps (continuous values, measured/imputed pairs,
// categories, true vs predicted cell types) and histograms, drawn with cairo
// into PNG, SVG or PDF files (the format follows the file extension).
//
// Linking: this header calls cairo, so a program that includes it links
// `pkg-config --cflags --libs cairo` (CMake: the stai::plot target).
//
// Conventions of every map:
//  * Orientation: IMAGE coordinates, y grows DOWNWARD (the cell with the
//    smallest y is at the top), as in scanpy's sc.pl.spatial, which shows
//    tissue coordinates the way the microscope image shows them. x grows to
//    the right. One coordinate unit has the same length on both axes (the
//    aspect ratio is preserved); the map sits centred in a thin frame without
//    axes or scale (spatial units are arbitrary).
//  * Point size: unless PlotOptions::point_size is set, the marker diameter is
//    the typical spacing between cells, 1 / sqrt(local density) estimated from
//    the 8 nearest neighbours (so neighbouring markers about touch), clamped to
//    a readable range (2 px .. 5% of the map's shorter side).
//  * Continuous values use viridis with robust limits (1st..99th percentile of
//    the finite values, numpy's linear interpolation) unless vmin/vmax are
//    given; values outside are clamped to the end colours. Cells are drawn in
//    ascending value order (the highest on top, like scanpy's sort_order);
//    non-finite values are drawn first, in light grey.
//  * Categories get a fixed qualitative palette by their position in the
//    category order (20 colours, then generated hues), so the same order gives
//    the same colours in every figure.
//  * White background, sans-serif text through cairo's toy text API.
//  * Files are written atomically (temporary file + rename, io/atomic_file.hpp):
//    an error never leaves a half-written image or clobbers an existing one.
//
// Sizes are pixels for PNG and points (1/72 inch) for SVG/PDF; the layout is
// identical for all three formats.
#pragma once
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "atomic_file.hpp"

namespace stai {

// ============================================================================
// Public types
// ============================================================================

enum class ImageFormat { PNG, SVG, PDF };

/// The format named by the file extension (.png, .svg, .pdf; case-insensitive).
/// Throws stai::Error for any other extension.
inline ImageFormat image_format_from_path(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png") return ImageFormat::PNG;
  if (ext == "svg") return ImageFormat::SVG;
  if (ext == "pdf") return ImageFormat::PDF;
  STAI_CHECK(false, path, ": unknown image format ",
             ext.empty() ? std::string("(no file extension)") : "'." + ext + "'",
             "; name the file *.png, *.svg or *.pdf");
  return ImageFormat::PNG;  // unreachable
}

/// Options shared by all figures; every field has a usable default.
struct PlotOptions {
  int width = 0;   ///< whole figure width (px for PNG, pt for SVG/PDF); 0 = automatic
  int height = 0;  ///< whole figure height; 0 = automatic (from the data's aspect ratio)
  double point_size = 0;  ///< marker diameter in px; 0 = automatic from the cell density
  double percentile_low = 1.0, percentile_high = 99.0;  ///< robust colour limits (percent)
  /// Explicit colour limits; a finite value overrides the matching percentile.
  double vmin = std::numeric_limits<double>::quiet_NaN();
  double vmax = std::numeric_limits<double>::quiet_NaN();
  /// Category order for categorical maps (legend order and colours). Empty = the
  /// distinct labels sorted (like a pandas Categorical); when given, every label
  /// must be in it, and categories without cells still get their legend entry.
  std::vector<std::string> categories;
};

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

/// Equal-width histogram of the finite values.
struct Histogram {
  std::vector<double> edges;     ///< bins + 1 edges, ascending
  std::vector<index_t> counts;   ///< per bin; the last bin includes its right edge
  index_t n_finite = 0, n_dropped = 0;
  double median = std::numeric_limits<double>::quiet_NaN();
};

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

namespace plot {

/// sRGB colour with components in [0, 1].
struct Rgb {
  double r = 0, g = 0, b = 0;
};

inline Rgb rgb_hex(unsigned v) {
  return {((v >> 16) & 0xFF) / 255.0, ((v >> 8) & 0xFF) / 255.0, (v & 0xFF) / 255.0};
}

/// Anchors of matplotlib's viridis (public-domain colormap by van der Walt & Smith)
/// at t = 0, 0.1, ..., 1.
inline constexpr std::array<unsigned, 11> kViridisAnchors = {
    0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c,
    0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725};

/// viridis(t) for t in [0, 1] (clamped; NaN gives the t = 0 colour), linear
/// interpolation between the anchors.
inline Rgb viridis(double t) {
  if (!(t > 0)) t = 0;
  if (t > 1) t = 1;
  const double pos = t * static_cast<double>(kViridisAnchors.size() - 1);
  std::size_t i = static_cast<std::size_t>(pos);
  if (i >= kViridisAnchors.size() - 1) i = kViridisAnchors.size() - 2;
  const double f = pos - static_cast<double>(i);
  const Rgb a = rgb_hex(kViridisAnchors[i]), b = rgb_hex(kViridisAnchors[i + 1]);
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

/// Colour of cells without a value (non-finite) or without a category.
inline Rgb missing_color() { return rgb_hex(0xd3d3d3); }

/// Our 20-colour qualitative palette: ten saturated hues, then ten lighter or
/// darker companions; no greys (grey means "missing").
inline constexpr std::array<unsigned, 20> kCategoryPalette = {
    0x2f6fb5, 0xe8772e, 0x3a9b4a, 0xd1383c, 0x8e5fc2, 0x8c5a46, 0xde75bd, 0xb8b23a, 0x27b5c4,
    0x1d4f5c, 0x9bbfe8, 0xf7b46f, 0x94d67f, 0xf19593, 0xb99ae0, 0xc39b85, 0xf2b5d8, 0xdcd98c,
    0x45459a, 0x6b1f3a};

/// Colour of category k (0-based position in the category order). Beyond the
/// palette, hues are generated by golden-angle steps with alternating lightness.
inline Rgb category_color(std::size_t k) {
  if (k < kCategoryPalette.size()) return rgb_hex(kCategoryPalette[k]);
  const std::size_t j = k - kCategoryPalette.size();
  const double h = std::fmod(0.13 + 0.38196601125 * static_cast<double>(j), 1.0) * 6.0;
  const double s = (j % 2) ? 0.45 : 0.75, v = (j % 3 == 0) ? 0.62 : ((j % 3 == 1) ? 0.85 : 0.74);
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const double p = v * (1 - s), q = v * (1 - s * f), u = v * (1 - s * (1 - f));
  switch (sector) {
    case 0: return {v, u, p};
    case 1: return {q, v, p};
    case 2: return {p, v, u};
    case 3: return {p, q, v};
    case 4: return {u, p, v};
    default: return {v, p, q};
  }
}

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

// ============================================================================
// Internals
// ============================================================================
namespace detail {

struct SurfaceCloser {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextCloser {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceCloser>;
using ContextPtr = std::unique_ptr<cairo_t, ContextCloser>;

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

inline std::string cairo_message(cairo_status_t st) { return cairo_status_to_string(st); }

/// Creates the surface for the format, paints it white, calls draw(cr), and
/// writes the file atomically. Every failure throws stai::Error naming path.
template <class Draw>
void render(const std::string& path, ImageFormat fmt, int w, int h, Draw&& draw) {
  STAI_CHECK(w > 0 && h > 0 && w <= 32767 && h <= 32767, path, ": figure size ", w, " x ", h,
             " is not drawable; width and height must be 1..32767");
  write_atomically(path, [&](const std::string& tmp) {
    SurfacePtr s;
    switch (fmt) {
      case ImageFormat::PNG: s.reset(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h)); break;
      case ImageFormat::SVG: s.reset(cairo_svg_surface_create(tmp.c_str(), w, h)); break;
      case ImageFormat::PDF: s.reset(cairo_pdf_surface_create(tmp.c_str(), w, h)); break;
    }
    const cairo_status_t st0 = cairo_surface_status(s.get());
    STAI_CHECK(st0 == CAIRO_STATUS_SUCCESS, path, ": cannot create the image (cairo: ",
               cairo_message(st0), "); check that the directory is writable");
    {
      ContextPtr cr(cairo_create(s.get()));
      cairo_set_source_rgb(cr.get(), 1, 1, 1);
      cairo_paint(cr.get());
      draw(cr.get());
      const cairo_status_t st = cairo_status(cr.get());
      STAI_CHECK(st == CAIRO_STATUS_SUCCESS, path, ": drawing failed (cairo: ", cairo_message(st), ")");
    }
    cairo_status_t st;
    if (fmt == ImageFormat::PNG) {
      st = cairo_surface_write_to_png(s.get(), tmp.c_str());
    } else {
      cairo_surface_finish(s.get());
      st = cairo_surface_status(s.get());
    }
    STAI_CHECK(st == CAIRO_STATUS_SUCCESS, path, ": cannot write the image (cairo: ", cairo_message(st),
               "); check write permission on the directory and free disk space");
  });
}

struct Extent {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  double rx() const { return x1 - x0; }
  double ry() const { return y1 - y0; }
};

/// Checks coords (n x 2, finite, n >= 1) and returns their bounding box.
inline Extent check_coords(const std::string& path, const RowMatrix<double>& coords) {
  STAI_CHECK(coords.rows() > 0, path, ": there are no cells to draw (coords has 0 rows)");
  STAI_CHECK(coords.cols() == 2, path, ": coords must have 2 columns (x, y) per cell, got ",
             coords.cols(), "; pass e.g. obsm[\"spatial\"] restricted to its first two columns");
  Extent e{coords(0, 0), coords(0, 0), coords(0, 1), coords(0, 1)};
  for (index_t i = 0; i < coords.rows(); ++i) {
    const double x = coords(i, 0), y = coords(i, 1);
    STAI_CHECK(std::isfinite(x) && std::isfinite(y), path, ": cell ", i, " has a non-finite coordinate (",
               x, ", ", y, "); remove or fix that cell before plotting");
    e.x0 = std::min(e.x0, x);
    e.x1 = std::max(e.x1, x);
    e.y0 = std::min(e.y0, y);
    e.y1 = std::max(e.y1, y);
  }
  return e;
}

/// Typical spacing between cells, 1 / sqrt(local cell density): for up to 4000
/// evenly spaced query cells, the distance r_k to the k-th nearest cell at a
/// different position (k = 8, fewer if there are fewer cells) gives the local
/// density k / (pi r_k^2); the median over queries is returned. Using the 8th
/// rather than the 1st neighbour makes the estimate nearly the same for
/// random (Poisson) and lattice-like layouts. Neighbours are found with a
/// uniform bucket grid. NaN when all cells share one position.
inline double typical_spacing(const RowMatrix<double>& c, const Extent& e) {
  const index_t n = c.rows();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double rx = e.rx(), ry = e.ry();
  if (!(rx > 0) && !(ry > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double dn = static_cast<double>(n);
  double hcell = (rx > 0 && ry > 0) ? std::sqrt(rx * ry / dn) : std::max(rx, ry) / dn;
  hcell = std::max(hcell, std::max(rx, ry) / 4096.0);
  const index_t gx = static_cast<index_t>(rx / hcell) + 1, gy = static_cast<index_t>(ry / hcell) + 1;
  auto cell_of = [&](double x, double y, index_t& ix, index_t& iy) {
    ix = std::min(gx - 1, static_cast<index_t>((x - e.x0) / hcell));
    iy = std::min(gy - 1, static_cast<index_t>((y - e.y0) / hcell));
  };
  // Counting sort of the cells by bucket.
  const auto nb = static_cast<std::size_t>(gx * gy);
  std::vector<index_t> start(nb + 1, 0), order(static_cast<std::size_t>(n)), bucket(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    index_t ix, iy;
    cell_of(c(i, 0), c(i, 1), ix, iy);
    bucket[static_cast<std::size_t>(i)] = iy * gx + ix;
    ++start[static_cast<std::size_t>(iy * gx + ix + 1)];
  }
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  {
    std::vector<index_t> fill(start.begin(), start.end() - 1);
    for (index_t i = 0; i < n; ++i) {
      const auto b = static_cast<std::size_t>(bucket[static_cast<std::size_t>(i)]);
      order[static_cast<std::size_t>(fill[b]++)] = i;
    }
  }
  constexpr int kMaxK = 8;
  const int k = static_cast<int>(std::min<index_t>(kMaxK, n - 1));
  const index_t stride = std::max<index_t>(1, n / 4000);
  const index_t max_ring = std::max(gx, gy);
  std::vector<double> spacing;
  spacing.reserve(static_cast<std::size_t>(n / stride + 1));
  for (index_t q = 0; q < n; q += stride) {
    const double qx = c(q, 0), qy = c(q, 1);
    index_t cx, cy;
    cell_of(qx, qy, cx, cy);
    double best[kMaxK];  // ascending squared distances of the nearest found so far
    int found = 0;
    for (index_t r = 0; r <= max_ring; ++r) {
      for (index_t iy = cy - r; iy <= cy + r; ++iy) {
        if (iy < 0 || iy >= gy) continue;
        const bool edge_row = (iy == cy - r || iy == cy + r);
        for (index_t ix = cx - r; ix <= cx + r; ix += (edge_row || r == 0 ? 1 : 2 * r)) {
          if (ix < 0 || ix >= gx) continue;
          const auto b = static_cast<std::size_t>(iy * gx + ix);
          for (index_t t = start[b]; t < start[b + 1]; ++t) {
            const index_t j = order[static_cast<std::size_t>(t)];
            const double dx = c(j, 0) - qx, dy = c(j, 1) - qy, d2 = dx * dx + dy * dy;
            if (!(d2 > 0) || (found == k && d2 >= best[k - 1])) continue;
            int pos = found < k ? found++ : k - 1;
            while (pos > 0 && best[pos - 1] > d2) {
              best[pos] = best[pos - 1];
              --pos;
            }
            best[pos] = d2;
          }
        }
      }
      // Every cell in ring r + 1 or beyond is farther than r * hcell.
      if (found == k && best[k - 1] <= (r * hcell) * (r * hcell)) break;
    }
    if (found > 0) spacing.push_back(std::sqrt(best[found - 1] * kPi / found));
  }
  if (spacing.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(spacing.begin(), spacing.end());
  const std::size_t m = spacing.size();
  return m % 2 ? spacing[m / 2] : 0.5 * (spacing[m / 2 - 1] + spacing[m / 2]);
}

/// Data aspect (height / width) for sizing a map box, clamped to [0.3, 3].
inline double data_aspect(const Extent& e) {
  const double rx = e.rx(), ry = e.ry();
  double r = 1;
  if (rx > 0 && ry > 0)
    r = ry / rx;
  else if (ry > 0)
    r = 3;
  else if (rx > 0)
    r = 0.3;
  return std::clamp(r, 0.3, 3.0);
}

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

/// Frame around a map (or colour bar): 1 unit, mid grey, on pixel boundaries.
inline void frame(cairo_t* cr, double x, double y, double w, double h) {
  cairo_set_line_width(cr, 1.0);
  cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
  cairo_rectangle(cr, x + 0.5, y + 0.5, w - 1, h - 1);
  cairo_stroke(cr);
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

/// Map box size for automatic layouts: long side `L`, the other from the data aspect.
inline void auto_box(const Extent& e, double L, double& w, double& h) {
  const double r = data_aspect(e);
  if (r <= 1) {
    w = L;
    h = std::max(L * r, 0.35 * L);
  } else {
    h = L;
    w = std::max(L / r, 0.35 * L);
  }
  w = std::round(w);
  h = std::round(h);
}

/// Geometry of a figure made of n map panels in a row, each followed by a
/// block of width right_w[i], plus a shared legend at the far right.
struct MapLayout {
  int width = 0, height = 0;
  double map_w = 0, map_h = 0, top = 0;
  std::vector<double> box_x;
  double legend_x = 0;
};

/// `legend_for(avail_h)` arranges the legend in at most avail_h and returns its
/// {block width, height}. With an automatic height the legend may be taller
/// than a flat map (up to 15 rows), and the figure grows to hold it.
template <class LegendFor>
MapLayout layout_maps(const std::string& path, const PlotOptions& o, const Extent& e,
                      const std::vector<double>& right_w, bool panel_titles, LegendFor&& legend_for) {
  auto legend_avail = [&](double mh) { return o.height > 0 ? mh : std::max(mh, 15 * kLegendRow); };
  const std::size_t n = right_w.size();
  const double fixed_h = 2 * kMargin + kTitleBand + (panel_titles ? kPanelTitleBand : 0);
  double fixed_w = 2 * kMargin + static_cast<double>(n - 1) * kPanelGap;
  for (double r : right_w) fixed_w += r;
  const double L = n == 1 ? 480 : 400;
  double aw, ah;
  auto_box(e, L, aw, ah);
  MapLayout lay;
  double map_h = o.height > 0 ? std::floor(o.height - fixed_h) : ah;
  if (o.height <= 0 && o.width > 0) {
    // width given: derive the box width first, height from the aspect
    const double lw = legend_for(legend_avail(ah)).first;
    const double mw = std::floor((o.width - fixed_w - lw) / static_cast<double>(n));
    map_h = std::round(std::clamp(mw * data_aspect(e), 0.35 * mw, 3.0 * mw));
  }
  const std::pair<double, double> legend_wh = legend_for(legend_avail(map_h));
  const double legend_w = legend_wh.first, legend_h = legend_wh.second;
  double map_w;
  if (o.width > 0) {
    map_w = std::floor((o.width - fixed_w - legend_w) / static_cast<double>(n));
  } else if (o.height > 0) {
    map_w = std::round(std::clamp(map_h / data_aspect(e), 0.35 * map_h, 3.0 * map_h));
  } else {
    map_w = aw;
  }
  // A box with room to spare in one direction hugs the data instead (the
  // spare room is split evenly around the content below).
  if (map_w >= kMinMap && map_h >= kMinMap) {
    const double r = data_aspect(e);
    if (map_w * r > map_h)
      map_w = std::max(kMinMap, std::round(map_h / r));
    else
      map_h = std::max(kMinMap, std::round(map_w * r));
  }
  const int W = o.width > 0 ? o.width : static_cast<int>(std::ceil(fixed_w + legend_w + n * map_w));
  const int H = o.height > 0 ? o.height : static_cast<int>(std::ceil(fixed_h + std::max(map_h, legend_h)));
  STAI_CHECK(map_w >= kMinMap && map_h >= kMinMap, path, ": a ", W, " x ", H, " figure leaves only ",
             static_cast<int>(std::max(0.0, map_w)), " x ", static_cast<int>(std::max(0.0, map_h)),
             " for each map (titles, colour bars and legend need the rest); make it at least ",
             static_cast<int>(std::ceil(fixed_w + legend_w + n * kMinMap)), " x ",
             static_cast<int>(std::ceil(fixed_h + kMinMap)), ", or set width/height to 0 for automatic sizing");
  lay.width = W;
  lay.height = H;
  lay.map_w = map_w;
  lay.map_h = map_h;
  const double slack_x = std::max(0.0, W - (fixed_w + legend_w + n * map_w));
  const double slack_y = std::max(0.0, H - (fixed_h + std::max(map_h, legend_h)));
  lay.top = std::floor(kMargin + kTitleBand + (panel_titles ? kPanelTitleBand : 0) + 0.5 * slack_y);
  double x = std::floor(kMargin + 0.5 * slack_x);
  for (std::size_t i = 0; i < n; ++i) {
    lay.box_x.push_back(x);
    x += map_w + right_w[i] + kPanelGap;
  }
  lay.legend_x = x - kPanelGap;
  return lay;
}

/// Legend callback of figures without a legend.
inline std::pair<double, double> no_legend(double) { return {0.0, 0.0}; }

inline void draw_title(cairo_t* cr, const std::string& title, double width) {
  if (title.empty()) return;
  const std::string s = fit_text(cr, title, width - 2 * kMargin, kTitleFont, true);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
  text(cr, s, 0.5 * width, kMargin + 0.5 * kTitleBand - 4, 0.5);
}

/// Panel title centred over the map box, or over box + colour bar block
/// (right_w) when it is wider than the box; shrunk or shortened to fit.
inline void draw_panel_title(cairo_t* cr, const std::string& title, const MapPanel& p, double right_w) {
  font(cr, kPanelTitleFont);
  const bool wide = text_width(cr, title) > p.box_w;
  const std::string s = fit_text(cr, title, p.box_w + right_w, kPanelTitleFont, false);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  text(cr, s, p.box_x + 0.5 * (wide ? p.box_w + right_w : p.box_w), p.box_y - 0.5 * kPanelTitleBand, 0.5);
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

inline Rgb value_color(double v, double lo, double hi) {
  if (!std::isfinite(v)) return missing_color();
  return viridis((v - lo) / (hi - lo));
}

/// Category codes from string labels in the given (or sorted) order.
inline std::vector<index_t> encode(const std::string& path, const std::vector<const std::vector<std::string>*>& sets,
                                   const std::vector<std::string>& given, std::vector<std::string>& names) {
  names = given;
  if (names.empty()) {
    for (const auto* s : sets) names.insert(names.end(), s->begin(), s->end());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  } else {
    auto sorted = names;
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    STAI_CHECK(dup == sorted.end(), path, ": category '", *dup,
               "' appears twice in PlotOptions::categories; list each category once");
  }
  std::vector<std::pair<std::string, index_t>> lookup;
  for (std::size_t k = 0; k < names.size(); ++k) lookup.emplace_back(names[k], static_cast<index_t>(k));
  std::sort(lookup.begin(), lookup.end());
  std::vector<index_t> codes;
  for (const auto* s : sets) {
    for (std::size_t i = 0; i < s->size(); ++i) {
      const std::string& lab = (*s)[i];
      auto it = std::lower_bound(lookup.begin(), lookup.end(), std::make_pair(lab, index_t{-1}));
      STAI_CHECK(it != lookup.end() && it->first == lab, path, ": label '", lab, "' (cell ", i,
                 ") is not in PlotOptions::categories; add it there or leave that list empty");
      codes.push_back(it->second);
    }
  }
  return codes;
}

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

/// Shared body of the categorical figures: one panel per code vector.
inline FigureInfo categorical_figure(const std::string& path, ImageFormat fmt, const RowMatrix<double>& coords,
                                     const std::vector<std::vector<index_t>>& panels,
                                     const std::vector<std::string>& names,
                                     const std::vector<std::string>& panel_titles, const std::string& title,
                                     const PlotOptions& o) {
  const Extent e = check_coords(path, coords);
  bool missing = false;
  for (const auto& codes : panels)
    for (index_t c : codes) missing = missing || c < 0;
  Measure m;
  Legend lg = make_legend(m, names, missing);
  const std::vector<double> right(panels.size(), 0.0);
  const MapLayout lay = layout_maps(path, o, e, right, !panel_titles.empty(),
                                    [&](double avail) { return legend_size(lg, avail); });
  const double spacing = typical_spacing(coords, e);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = title;
  info.categories = names;
  for (std::size_t p = 0; p < panels.size(); ++p)
    info.panels.push_back(fit_panel(lay.box_x[p], lay.top, lay.map_w, lay.map_h, e, spacing, o.point_size));
  std::vector<index_t> order(static_cast<std::size_t>(coords.rows()));
  std::iota(order.begin(), order.end(), index_t{0});
  render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    draw_title(cr, title, lay.width);
    for (std::size_t p = 0; p < panels.size(); ++p) {
      const MapPanel& mp = info.panels[p];
      if (!panel_titles.empty())
        draw_panel_title(cr, panel_titles[p], mp, 0.0);
      const auto& codes = panels[p];
      draw_cells(cr, mp, coords, order, [&](index_t i) {
        const index_t c = codes[static_cast<std::size_t>(i)];
        return c < 0 ? missing_color() : category_color(static_cast<std::size_t>(c));
      });
      frame(cr, mp.box_x, mp.box_y, mp.box_w, mp.box_h);
    }
    draw_legend(cr, lg, lay.legend_x, lay.top, lay.map_h);
  });
  return info;
}

}  // namespace detail
}  // namespace plot

// ============================================================================
// Figures
// ============================================================================

/// Spatial map of one continuous value per cell (e.g. a gene's expression),
/// viridis, with a colour bar labelled `colorbar_label`.
inline FigureInfo plot_spatial_continuous(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<double>& values, const std::string& title,
                                          const std::string& colorbar_label = "",
                                          const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  const d::Extent e = d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(values.size()) == coords.rows(), path, ": ", values.size(),
             " values for ", coords.rows(), " cells; give exactly one value per cell (row of coords)");
  const std::pair<double, double> lim = d::color_limits(path, "cell", values, options);
  const double lo = lim.first, hi = lim.second;  // (no structured binding: clang < 16 cannot capture one)
  d::Measure m;
  const double cbw = d::colorbar_width(m, lo, hi, colorbar_label);
  const d::MapLayout lay = d::layout_maps(path, options, e, {cbw}, false, d::no_legend);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = title;
  MapPanel p = d::fit_panel(lay.box_x[0], lay.top, lay.map_w, lay.map_h, e, d::typical_spacing(coords, e),
                            options.point_size);
  p.vmin = lo;
  p.vmax = hi;
  info.panels.push_back(p);
  const auto order = d::value_order(values);
  d::render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    d::draw_title(cr, title, lay.width);
    d::draw_cells(cr, p, coords, order,
                  [&](index_t i) { return d::value_color(values[static_cast<std::size_t>(i)], lo, hi); });
    d::frame(cr, p.box_x, p.box_y, p.box_w, p.box_h);
    d::draw_colorbar(cr, p.box_x + p.box_w, p.box_y, p.box_h, lo, hi, colorbar_label, cbw);
  });
  return info;
}

/// Measured and imputed expression of one gene side by side: panels "measured"
/// and "imputed (PCC = 0.41)", each with its own robust colour scale and bar.
/// A non-finite pcc is written as "n/a". Explicit options.vmin/vmax, when
/// given, apply to both panels (then they share one scale).
inline FigureInfo plot_spatial_pair(const std::string& path, const RowMatrix<double>& coords,
                                    const std::vector<double>& measured, const std::vector<double>& imputed,
                                    const std::string& gene, double pcc, const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  const d::Extent e = d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(measured.size()) == coords.rows() &&
                 static_cast<index_t>(imputed.size()) == coords.rows(),
             path, ": ", measured.size(), " measured and ", imputed.size(), " imputed values for ",
             coords.rows(), " cells; give exactly one value per cell in each");
  const auto lim_m = d::color_limits(path, "measured", measured, options);
  const auto lim_i = d::color_limits(path, "imputed", imputed, options);
  d::Measure m;
  const std::vector<double> right = {d::colorbar_width(m, lim_m.first, lim_m.second, ""),
                                     d::colorbar_width(m, lim_i.first, lim_i.second, "")};
  const d::MapLayout lay = d::layout_maps(path, options, e, right, true, d::no_legend);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = gene;
  const double spacing = d::typical_spacing(coords, e);
  const std::vector<const std::vector<double>*> vals = {&measured, &imputed};
  const std::pair<double, double> lims[2] = {lim_m, lim_i};
  for (int k = 0; k < 2; ++k) {
    MapPanel p = d::fit_panel(lay.box_x[static_cast<std::size_t>(k)], lay.top, lay.map_w, lay.map_h, e, spacing,
                              options.point_size);
    p.vmin = lims[k].first;
    p.vmax = lims[k].second;
    info.panels.push_back(p);
  }
  const std::string pcc_text = std::isfinite(pcc) ? d::format_fixed(pcc, 2) : std::string("n/a");
  const std::string titles[2] = {"measured", "imputed (PCC = " + pcc_text + ")"};
  d::render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    d::draw_title(cr, gene, lay.width);
    for (int k = 0; k < 2; ++k) {
      const MapPanel& p = info.panels[static_cast<std::size_t>(k)];
      const std::vector<double>& v = *vals[static_cast<std::size_t>(k)];
      d::draw_panel_title(cr, titles[k], p, right[static_cast<std::size_t>(k)]);
      d::draw_cells(cr, p, coords, d::value_order(v),
                    [&](index_t i) { return d::value_color(v[static_cast<std::size_t>(i)], p.vmin, p.vmax); });
      d::frame(cr, p.box_x, p.box_y, p.box_w, p.box_h);
      d::draw_colorbar(cr, p.box_x + p.box_w, p.box_y, p.box_h, p.vmin, p.vmax, "",
                       right[static_cast<std::size_t>(k)]);
    }
  });
  return info;
}

/// Spatial map of categories given as codes into `names` (code k is names[k];
/// a negative code means unassigned and is drawn light grey). The legend lists
/// `names` in order; category k has plot::category_color(k).
inline FigureInfo plot_spatial_categories(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<index_t>& codes, const std::vector<std::string>& names,
                                          const std::string& title, const PlotOptions& options = {}) {
  const ImageFormat fmt = image_format_from_path(path);
  plot::detail::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(codes.size()) == coords.rows(), path, ": ", codes.size(), " labels for ",
             coords.rows(), " cells; give exactly one label per cell");
  STAI_CHECK(!names.empty(), path, ": no category names given; pass the names that the codes index");
  for (std::size_t i = 0; i < codes.size(); ++i)
    STAI_CHECK(codes[i] < static_cast<index_t>(names.size()), path, ": cell ", i, " has category code ",
               codes[i], " but only ", names.size(), " category names were given (codes are 0-based)");
  return plot::detail::categorical_figure(path, fmt, coords, {codes}, names, {}, title, options);
}

/// Spatial map of string labels (e.g. cell types); the category order is
/// options.categories or, if empty, the sorted distinct labels.
inline FigureInfo plot_spatial_categories(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<std::string>& labels, const std::string& title,
                                          const PlotOptions& options = {}) {
  const ImageFormat fmt = image_format_from_path(path);
  plot::detail::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(labels.size()) == coords.rows(), path, ": ", labels.size(),
             " labels for ", coords.rows(), " cells; give exactly one label per cell");
  std::vector<std::string> names;
  const auto codes = plot::detail::encode(path, {&labels}, options.categories, names);
  return plot::detail::categorical_figure(path, fmt, coords, {codes}, names, {}, title, options);
}

/// True and predicted cell types side by side with the same colour per type
/// (order: options.categories, else the sorted union of both label sets); the
/// title gets the accuracy (fraction of cells whose prediction equals the truth).
inline FigureInfo plot_true_vs_predicted(const std::string& path, const RowMatrix<double>& coords,
                                         const std::vector<std::string>& truth,
                                         const std::vector<std::string>& predicted,
                                         const std::string& title = "cell types",
                                         const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(truth.size()) == coords.rows() &&
                 static_cast<index_t>(predicted.size()) == coords.rows(),
             path, ": ", truth.size(), " true and ", predicted.size(), " predicted labels for ", coords.rows(),
             " cells; give exactly one label per cell in each");
  std::vector<std::string> names;
  const auto all = d::encode(path, {&truth, &predicted}, options.categories, names);
  const auto n = static_cast<std::ptrdiff_t>(truth.size());
  std::vector<index_t> ct(all.begin(), all.begin() + n), cp(all.begin() + n, all.end());
  index_t hits = 0;
  for (std::size_t i = 0; i < ct.size(); ++i) hits += ct[i] == cp[i];
  const double acc = static_cast<double>(hits) / static_cast<double>(ct.size());
  const std::string stats = "accuracy = " + d::format_fixed(100.0 * acc, 1) + "%, n = " + std::to_string(ct.size());
  const std::string full = title.empty() ? stats : title + " (" + stats + ")";
  FigureInfo info = d::categorical_figure(path, fmt, coords, {ct, cp}, names, {"true", "predicted"}, full, options);
  info.accuracy = acc;
  return info;
}

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
