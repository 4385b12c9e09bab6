// Shared by the figure tests (test_plot*.cpp): temporary paths, a PNG reader
// read through cairo, colour checks, centroids of a colour in
// the image, and error-message checks.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stai/plot/plot.hpp>
#include <string>
#include <vector>

namespace plot_test {

using namespace stai;
namespace fs = std::filesystem;


inline std::string plot_tmp(const std::string& name) {
  static const fs::path dir = [] {
    auto p = fs::temp_directory_path() / ("stai_test_plot_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return (dir / name).string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// A PNG read back through cairo: opaque pixels as 0xRRGGBB.
struct Image {
  int w = 0, h = 0;
  std::vector<std::uint32_t> px;
  std::array<int, 3> rgb(double x, double y) const {
    const int i = static_cast<int>(std::floor(x)), j = static_cast<int>(std::floor(y));
    REQUIRE(i >= 0);
    REQUIRE(j >= 0);
    REQUIRE(i < w);
    REQUIRE(j < h);
    const std::uint32_t v = px[static_cast<std::size_t>(j) * static_cast<std::size_t>(w) + static_cast<std::size_t>(i)];
    return {static_cast<int>((v >> 16) & 0xFF), static_cast<int>((v >> 8) & 0xFF), static_cast<int>(v & 0xFF)};
  }
};

inline Image read_png(const std::string& path) {
  const std::string bytes = slurp(path);
  REQUIRE(bytes.size() > 8);
  CHECK(bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
  Image im;
  im.w = cairo_image_surface_get_width(s);
  im.h = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  cairo_surface_flush(s);
  const unsigned char* data = cairo_image_surface_get_data(s);
  const cairo_format_t fmt = cairo_image_surface_get_format(s);
  for (int j = 0; j < im.h; ++j) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::ptrdiff_t>(j) * stride);
    for (int i = 0; i < im.w; ++i) {
      std::uint32_t v = row[i];
      if (fmt == CAIRO_FORMAT_ARGB32) CHECK(((v >> 24) & 0xFF) == 0xFF);  // every pixel opaque
      im.px.push_back(v & 0xFFFFFF);
    }
  }
  cairo_surface_destroy(s);
  return im;
}

inline std::array<int, 3> to8(const plot::Rgb& c) {
  return {static_cast<int>(std::lround(c.r * 255)), static_cast<int>(std::lround(c.g * 255)),
          static_cast<int>(std::lround(c.b * 255))};
}

inline void check_color(const std::array<int, 3>& got, const plot::Rgb& want, int tol = 1) {
  const auto w = to8(want);
  INFO("got (", got[0], ",", got[1], ",", got[2], ") want (", w[0], ",", w[1], ",", w[2], ")");
  CHECK(std::abs(got[0] - w[0]) <= tol);
  CHECK(std::abs(got[1] - w[1]) <= tol);
  CHECK(std::abs(got[2] - w[2]) <= tol);
}

inline RowMatrix<double> coords_of(std::initializer_list<std::array<double, 2>> pts) {
  RowMatrix<double> c(static_cast<index_t>(pts.size()), 2);
  index_t i = 0;
  for (const auto& p : pts) {
    c(i, 0) = p[0];
    c(i, 1) = p[1];
    ++i;
  }
  return c;
}

/// Mean position of the pixels with exactly colour c inside [x0, x1) x [y0, y1).
inline std::array<double, 3> centroid_of(const Image& im, const plot::Rgb& c, double x0, double y0, double x1, double y1) {
  const auto w = to8(c);
  double sx = 0, sy = 0, n = 0;
  for (int j = std::max(0, static_cast<int>(y0)); j < std::min(im.h, static_cast<int>(y1)); ++j)
    for (int i = std::max(0, static_cast<int>(x0)); i < std::min(im.w, static_cast<int>(x1)); ++i) {
      const std::uint32_t v = im.px[static_cast<std::size_t>(j) * static_cast<std::size_t>(im.w) + static_cast<std::size_t>(i)];
      if (static_cast<int>(v >> 16) == w[0] && static_cast<int>((v >> 8) & 0xFF) == w[1] &&
          static_cast<int>(v & 0xFF) == w[2]) {
        sx += i + 0.5;
        sy += j + 0.5;
        n += 1;
      }
    }
  return {n > 0 ? sx / n : -1, n > 0 ? sy / n : -1, n};
}

inline bool no_temp_files_left() {
  for (const auto& e : fs::directory_iterator(fs::path(plot_tmp("x")).parent_path()))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}

inline bool throws_with(const std::function<void()>& f, const std::string& part) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: ", e.what());
    CHECK(std::string(e.what()).find(part) != std::string::npos);
    return true;
  }
  return false;
}


}  // namespace plot_test
