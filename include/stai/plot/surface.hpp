// stai — figure output: the image format named by the file name, and the
// cairo surface a figure is drawn on and written from.
//
// A figure is drawn once, on a white background, into a PNG, SVG or PDF
// surface; sizes are pixels for PNG and points (1/72 inch) for SVG/PDF, and
// the layout is identical for all three formats. Files are written atomically
// (temporary file + rename, io/atomic_file.hpp): an error never leaves a
// half-written image or clobbers an existing one.
//
// Linking: this header calls cairo (CMake: the stai::plot target).
#pragma once
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <cctype>
#include <memory>
#include <string>

#include "../error.hpp"
#include "../io/atomic_file.hpp"

namespace stai {

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

namespace plot::detail {

struct SurfaceCloser {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextCloser {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceCloser>;
using ContextPtr = std::unique_ptr<cairo_t, ContextCloser>;

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

}  // namespace plot::detail
}  // namespace stai
