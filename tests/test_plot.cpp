// Tests for the cairo figures (plot/): formats, sizes, colours of known
// cells read back from the PNG, orientation, legends, histograms, errors and
// atomic output, and the marker spacing from the kNN graph.
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

using namespace stai;
namespace fs = std::filesystem;

namespace {

std::string plot_tmp(const std::string& name) {
  static const fs::path dir = [] {
    auto p = fs::temp_directory_path() / ("stai_test_plot_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return (dir / name).string();
}

std::string slurp(const std::string& path) {
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

Image read_png(const std::string& path) {
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

std::array<int, 3> to8(const plot::Rgb& c) {
  return {static_cast<int>(std::lround(c.r * 255)), static_cast<int>(std::lround(c.g * 255)),
          static_cast<int>(std::lround(c.b * 255))};
}

void check_color(const std::array<int, 3>& got, const plot::Rgb& want, int tol = 1) {
  const auto w = to8(want);
  INFO("got (", got[0], ",", got[1], ",", got[2], ") want (", w[0], ",", w[1], ",", w[2], ")");
  CHECK(std::abs(got[0] - w[0]) <= tol);
  CHECK(std::abs(got[1] - w[1]) <= tol);
  CHECK(std::abs(got[2] - w[2]) <= tol);
}

RowMatrix<double> coords_of(std::initializer_list<std::array<double, 2>> pts) {
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
std::array<double, 3> centroid_of(const Image& im, const plot::Rgb& c, double x0, double y0, double x1, double y1) {
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

bool no_temp_files_left() {
  for (const auto& e : fs::directory_iterator(fs::path(plot_tmp("x")).parent_path()))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}

bool throws_with(const std::function<void()>& f, const std::string& part) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: ", e.what());
    CHECK(std::string(e.what()).find(part) != std::string::npos);
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("plot: image format from the file extension") {
  CHECK(image_format_from_path("a.png") == ImageFormat::PNG);
  CHECK(image_format_from_path("dir/A.PNG") == ImageFormat::PNG);
  CHECK(image_format_from_path("x.svg") == ImageFormat::SVG);
  CHECK(image_format_from_path("x.Pdf") == ImageFormat::PDF);
  CHECK(throws_with([] { image_format_from_path("fig.jpg"); }, "'.jpg'"));
  CHECK(throws_with([] { image_format_from_path("fig"); }, "no file extension"));
  CHECK(throws_with([] { image_format_from_path("out.png/fig"); }, "no file extension"));
}

TEST_CASE("plot: viridis anchors, interpolation and monotone lightness") {
  check_color(to8(plot::viridis(0.0)) , plot::rgb_hex(0x440154), 0);
  check_color(to8(plot::viridis(0.5)), plot::rgb_hex(0x21918c), 0);
  check_color(to8(plot::viridis(1.0)), plot::rgb_hex(0xfde725), 0);
  // Half way between the first two anchors (0x44,0x01,0x54) and (0x48,0x24,0x75).
  const plot::Rgb m = plot::viridis(0.05);
  CHECK(m.r == doctest::Approx((0x44 + 0x48) / 510.0));
  CHECK(m.g == doctest::Approx((0x01 + 0x24) / 510.0));
  CHECK(m.b == doctest::Approx((0x54 + 0x75) / 510.0));
  SUBCASE("clamping and NaN") {
    check_color(to8(plot::viridis(-3)), plot::viridis(0), 0);
    check_color(to8(plot::viridis(7)), plot::viridis(1), 0);
    check_color(to8(plot::viridis(std::nan(""))), plot::viridis(0), 0);
  }
  SUBCASE("lightness increases strictly along the map (catches a mistyped anchor)") {
    double prev = -1;
    for (int k = 0; k <= 200; ++k) {
      const plot::Rgb c = plot::viridis(k / 200.0);
      const double y = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
      CHECK(y > prev);
      prev = y;
    }
  }
}

TEST_CASE("plot: the category palette is distinct and avoids the missing grey") {
  std::vector<plot::Rgb> cols;
  for (std::size_t k = 0; k < 40; ++k) cols.push_back(plot::category_color(k));
  auto dist = [](const plot::Rgb& a, const plot::Rgb& b) {
    return std::sqrt((a.r - b.r) * (a.r - b.r) + (a.g - b.g) * (a.g - b.g) + (a.b - b.b) * (a.b - b.b));
  };
  for (std::size_t i = 0; i < 20; ++i) {
    CHECK(dist(cols[i], plot::missing_color()) > 0.15);
    CHECK(dist(cols[i], {1, 1, 1}) > 0.15);
    for (std::size_t j = 0; j < i; ++j) CHECK(dist(cols[i], cols[j]) > 0.15);
  }
  for (std::size_t i = 20; i < 40; ++i)
    for (std::size_t j = 0; j < i; ++j) CHECK(dist(cols[i], cols[j]) > 0.01);
  check_color(to8(plot::category_color(25)), cols[25], 0);  // deterministic
}

TEST_CASE("plot: percentiles follow numpy's linear interpolation") {
  CHECK(plot::percentile_sorted({1, 2, 3, 4}, 50) == doctest::Approx(2.5));
  CHECK(plot::percentile_sorted({10, 20}, 25) == doctest::Approx(12.5));
  CHECK(plot::percentile_sorted({1, 2, 3, 4}, 0) == 1);
  CHECK(plot::percentile_sorted({1, 2, 3, 4}, 100) == 4);
  CHECK(plot::percentile_sorted({7}, 99) == 7);
  std::vector<double> v;
  for (int i = 0; i <= 100; ++i) v.push_back(i);
  CHECK(plot::percentile_sorted(v, 1) == doctest::Approx(1));
  CHECK(plot::percentile_sorted(v, 99.5) == doctest::Approx(99.5));
}

TEST_CASE("plot: histogram counts and edges") {
  const double nan = std::nan("");
  SUBCASE("hand-computed, maximum in the last bin, NaN dropped") {
    const Histogram h = plot::histogram({0, 1, 2, 3, 4, nan}, 4);
    REQUIRE(h.edges.size() == 5);
    for (int i = 0; i <= 4; ++i) CHECK(h.edges[static_cast<std::size_t>(i)] == doctest::Approx(i));
    CHECK(h.counts == std::vector<index_t>{1, 1, 1, 2});
    CHECK(h.n_finite == 5);
    CHECK(h.n_dropped == 1);
    CHECK(h.median == 2);
  }
  SUBCASE("values on edges despite rounding (0.1 * k)") {
    std::vector<double> v;
    for (int k = 0; k <= 10; ++k) v.push_back(0.1 * k);
    const Histogram h = plot::histogram(v, 10);
    CHECK(h.counts == std::vector<index_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 2});
    CHECK(h.median == doctest::Approx(0.5));
  }
  SUBCASE("constant values are widened to v +- 0.5") {
    const Histogram h = plot::histogram({5, 5, 5, 5}, 5);
    CHECK(h.edges.front() == 4.5);
    CHECK(h.edges.back() == 5.5);
    CHECK(h.counts == std::vector<index_t>{0, 0, 4, 0, 0});
  }
  SUBCASE("automatic bins (Sturges, at least 5)") {
    CHECK(plot::histogram({1, 2, 3}, 0).counts.size() == 5);
    std::vector<double> v(1000);
    for (int i = 0; i < 1000; ++i) v[static_cast<std::size_t>(i)] = i;
    CHECK(plot::histogram(v, 0).counts.size() == 11);
  }
  SUBCASE("errors") {
    CHECK(throws_with([&] { plot::histogram({nan, nan}, 3); }, "none of the 2 values is finite"));
    CHECK(throws_with([&] { plot::histogram({}, 3); }, "none of the 0 values"));
    CHECK(throws_with([&] { plot::histogram({1, 2}, -1); }, "negative"));
  }
}

TEST_CASE("plot: nice ticks and their labels") {
  CHECK(plot::nice_ticks(0, 1) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
  CHECK(plot::tick_labels(plot::nice_ticks(0, 1)) == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  CHECK(plot::nice_ticks(0, 4.57) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(plot::tick_labels(plot::nice_ticks(-0.3, 0.7)) == std::vector<std::string>{"-0.2", "0.0", "0.2", "0.4", "0.6"});
  CHECK(plot::tick_labels(plot::nice_ticks(0, 250)) == std::vector<std::string>{"0", "50", "100", "150", "200", "250"});
  CHECK(plot::nice_ticks(1, 1).empty());
}

TEST_CASE("plot_spatial_continuous: PNG size, signature and the colour of a known cell") {
  SUBCASE("requested size is the PNG size") {
    const auto c = coords_of({{0, 0}, {3, 1}, {1, 2}, {2, 2}});
    PlotOptions o;
    o.width = 400;
    o.height = 300;
    const std::string p = plot_tmp("cont_size.png");
    const FigureInfo info = plot_spatial_continuous(p, c, {1, 2, 3, 4}, "gene", "expr", o);
    const Image im = read_png(p);
    CHECK(im.w == 400);
    CHECK(im.h == 300);
    CHECK(info.width == 400);
    CHECK(info.height == 300);
    check_color(im.rgb(1, 1), {1, 1, 1}, 0);  // white background
  }
  SUBCASE("automatic size is what the info reports, and follows the data aspect") {
    const auto wide = coords_of({{0, 0}, {100, 0}, {0, 40}, {100, 40}});
    const std::string p = plot_tmp("cont_auto.png");
    const FigureInfo info = plot_spatial_continuous(p, wide, {1, 2, 3, 4}, "wide", "");
    const Image im = read_png(p);
    CHECK(im.w == info.width);
    CHECK(im.h == info.height);
    CHECK(info.panels[0].box_w > 2 * info.panels[0].box_h);
  }
  SUBCASE("one cell with a known value, explicit limits") {
    const auto c = coords_of({{5, 7}});
    PlotOptions o;
    o.vmin = 0;
    o.vmax = 1;
    const std::string p = plot_tmp("one_cell.png");
    const FigureInfo info = plot_spatial_continuous(p, c, {0.3}, "one cell", "", o);
    const Image im = read_png(p);
    const MapPanel& mp = info.panels[0];
    const auto xy = mp.to_pixel(5, 7);
    // A single cell sits in the middle of its map.
    CHECK(xy[0] == doctest::Approx(mp.box_x + 0.5 * mp.box_w));
    CHECK(xy[1] == doctest::Approx(mp.box_y + 0.5 * mp.box_h));
    CHECK(mp.point_diameter >= 4);
    check_color(im.rgb(xy[0], xy[1]), plot::viridis(0.3));
    // Between the cell and the frame the map is white.
    check_color(im.rgb(mp.box_x + 3, mp.box_y + 3), {1, 1, 1}, 0);
  }
  SUBCASE("one cell, default limits: a constant is centred on the scale") {
    const std::string p = plot_tmp("one_cell_default.png");
    const FigureInfo info = plot_spatial_continuous(p, coords_of({{1, 1}}), {42.0}, "", "");
    const auto xy = info.panels[0].to_pixel(1, 1);
    check_color(read_png(p).rgb(xy[0], xy[1]), plot::viridis(0.5));
    CHECK(info.panels[0].vmin < 42.0);
    CHECK(info.panels[0].vmax > 42.0);
  }
}

TEST_CASE("plot: y grows downward and the aspect ratio is preserved (found from the pixels)") {
  // low (0,0), middle (10,0), high (0,20): purple, teal, yellow.
  const auto c = coords_of({{0, 0}, {10, 0}, {0, 20}});
  PlotOptions o;
  o.vmin = 0;
  o.vmax = 1;
  o.point_size = 8;
  o.width = 500;
  o.height = 500;
  const std::string p = plot_tmp("orientation.png");
  const FigureInfo info = plot_spatial_continuous(p, c, {0, 0.5, 1}, "orientation", "", o);
  const Image im = read_png(p);
  const MapPanel& mp = info.panels[0];
  // Search only inside the map box (the colour bar holds the same colours).
  const auto lo = centroid_of(im, plot::viridis(0), mp.box_x, mp.box_y, mp.box_x + mp.box_w, mp.box_y + mp.box_h);
  const auto mid = centroid_of(im, plot::viridis(0.5), mp.box_x, mp.box_y, mp.box_x + mp.box_w, mp.box_y + mp.box_h);
  const auto hi = centroid_of(im, plot::viridis(1), mp.box_x, mp.box_y, mp.box_x + mp.box_w, mp.box_y + mp.box_h);
  REQUIRE(lo[2] > 10);
  REQUIRE(mid[2] > 10);
  REQUIRE(hi[2] > 10);
  CHECK(hi[1] > lo[1] + 50);                       // larger y is lower in the image
  CHECK(hi[0] == doctest::Approx(lo[0]).epsilon(0.01));
  CHECK(mid[0] > lo[0] + 50);                      // larger x is to the right
  CHECK(mid[1] == doctest::Approx(lo[1]).epsilon(0.01));
  // 20 units down are twice as long as 10 units across.
  CHECK((hi[1] - lo[1]) / (mid[0] - lo[0]) == doctest::Approx(2.0).epsilon(0.02));
  // And the reported transform agrees with the pixels.
  const auto p_hi = mp.to_pixel(0, 20);
  CHECK(p_hi[0] == doctest::Approx(hi[0]).epsilon(0.01));
  CHECK(p_hi[1] == doctest::Approx(hi[1]).epsilon(0.01));
}

TEST_CASE("plot: robust colour limits, overrides, and cells without a value") {
  std::vector<double> v;
  RowMatrix<double> c(101, 2);
  for (int i = 0; i < 100; ++i) {
    v.push_back(i);
    c(i, 0) = i % 10;
    c(i, 1) = i / 10;
  }
  v.push_back(1e6);  // an outlier
  c(100, 0) = 11;
  c(100, 1) = 11;
  const std::string p = plot_tmp("robust.png");
  FigureInfo info = plot_spatial_continuous(p, c, v, "robust", "");
  CHECK(info.panels[0].vmin == doctest::Approx(1.0));   // 1st percentile of 0..99, 1e6
  CHECK(info.panels[0].vmax == doctest::Approx(99.0));  // 99th
  // The outlier is clamped to the top colour.
  check_color(read_png(p).rgb(info.panels[0].to_pixel(11, 11)[0], info.panels[0].to_pixel(11, 11)[1]),
              plot::viridis(1));
  SUBCASE("explicit vmin overrides the low percentile only") {
    PlotOptions o;
    o.vmin = -5;
    info = plot_spatial_continuous(p, c, v, "robust", "", o);
    CHECK(info.panels[0].vmin == -5);
    CHECK(info.panels[0].vmax == doctest::Approx(99.0));
  }
  SUBCASE("other percentiles") {
    PlotOptions o;
    o.percentile_low = 0;
    o.percentile_high = 100;
    info = plot_spatial_continuous(p, c, v, "robust", "", o);
    CHECK(info.panels[0].vmin == 0);
    CHECK(info.panels[0].vmax == 1e6);
  }
  SUBCASE("a non-finite value is drawn light grey") {
    const auto c2 = coords_of({{0, 0}, {4, 0}});
    const std::string p2 = plot_tmp("nan_cell.png");
    const FigureInfo i2 = plot_spatial_continuous(p2, c2, {std::nan(""), 1.0}, "nan", "");
    const auto xy = i2.panels[0].to_pixel(0, 0);
    check_color(read_png(p2).rgb(xy[0], xy[1]), plot::missing_color());
  }
}

TEST_CASE("plot_spatial_pair: two panels, each with its own colour scale") {
  const auto c = coords_of({{0, 0}, {10, 5}});
  PlotOptions o;
  o.width = 700;
  o.height = 320;
  o.point_size = 10;
  const std::string p = plot_tmp("pair.png");
  const FigureInfo info = plot_spatial_pair(p, c, {0, 1}, {0, 100}, "Gad1", 0.4123, o);
  const Image im = read_png(p);
  CHECK(im.w == 700);
  CHECK(im.h == 320);
  REQUIRE(info.panels.size() == 2);
  CHECK(info.title == "Gad1");
  CHECK(info.panels[0].vmax < 2);
  CHECK(info.panels[1].vmax > 90);
  CHECK(info.panels[1].box_x > info.panels[0].box_x + info.panels[0].box_w);
  for (const MapPanel& mp : info.panels) {
    const auto a = mp.to_pixel(0, 0), b = mp.to_pixel(10, 5);
    check_color(im.rgb(a[0], a[1]), plot::viridis(0));
    check_color(im.rgb(b[0], b[1]), plot::viridis(1));
  }
}

TEST_CASE("plot_spatial_categories: colours follow the category order") {
  const auto c = coords_of({{0, 0}, {10, 0}, {20, 0}});
  PlotOptions o;
  o.point_size = 10;
  SUBCASE("sorted order by default") {
    const std::string p = plot_tmp("cat.png");
    const FigureInfo info = plot_spatial_categories(p, c, std::vector<std::string>{"b", "a", "c"}, "types", o);
    CHECK(info.categories == std::vector<std::string>{"a", "b", "c"});
    const Image im = read_png(p);
    const MapPanel& mp = info.panels[0];
    check_color(im.rgb(mp.to_pixel(0, 0)[0], mp.to_pixel(0, 0)[1]), plot::category_color(1));
    check_color(im.rgb(mp.to_pixel(10, 0)[0], mp.to_pixel(10, 0)[1]), plot::category_color(0));
    check_color(im.rgb(mp.to_pixel(20, 0)[0], mp.to_pixel(20, 0)[1]), plot::category_color(2));
    // The legend shows each colour somewhere right of the map.
    for (std::size_t k = 0; k < 3; ++k)
      CHECK(centroid_of(im, plot::category_color(k), mp.box_x + mp.box_w + 2, 0, im.w, im.h)[2] > 20);
  }
  SUBCASE("given order, with an empty category") {
    o.categories = {"c", "zzz", "b", "a"};
    const std::string p = plot_tmp("cat_order.png");
    const FigureInfo info = plot_spatial_categories(p, c, std::vector<std::string>{"b", "a", "c"}, "types", o);
    CHECK(info.categories == o.categories);
    const Image im = read_png(p);
    const MapPanel& mp = info.panels[0];
    check_color(im.rgb(mp.to_pixel(0, 0)[0], mp.to_pixel(0, 0)[1]), plot::category_color(2));
    check_color(im.rgb(mp.to_pixel(10, 0)[0], mp.to_pixel(10, 0)[1]), plot::category_color(3));
    check_color(im.rgb(mp.to_pixel(20, 0)[0], mp.to_pixel(20, 0)[1]), plot::category_color(0));
    CHECK(centroid_of(im, plot::category_color(1), mp.box_x + mp.box_w + 2, 0, im.w, im.h)[2] > 20);  // "zzz"
  }
  SUBCASE("codes + names, negative code = unassigned (grey)") {
    const std::string p = plot_tmp("cat_codes.png");
    const FigureInfo info =
        plot_spatial_categories(p, c, std::vector<index_t>{1, -1, 0}, {"first", "second"}, "codes", o);
    const Image im = read_png(p);
    const MapPanel& mp = info.panels[0];
    check_color(im.rgb(mp.to_pixel(0, 0)[0], mp.to_pixel(0, 0)[1]), plot::category_color(1));
    check_color(im.rgb(mp.to_pixel(10, 0)[0], mp.to_pixel(10, 0)[1]), plot::missing_color());
    check_color(im.rgb(mp.to_pixel(20, 0)[0], mp.to_pixel(20, 0)[1]), plot::category_color(0));
  }
  SUBCASE("many categories fit in a multi-column legend inside the figure") {
    RowMatrix<double> cc(60, 2);
    std::vector<std::string> lab;
    for (int i = 0; i < 60; ++i) {
      cc(i, 0) = i % 6;
      cc(i, 1) = i / 6;
      lab.push_back("type " + std::to_string(i % 30));
    }
    const std::string p = plot_tmp("cat_many.png");
    const FigureInfo info = plot_spatial_categories(p, cc, lab, "30 types", {});
    const Image im = read_png(p);
    CHECK(info.categories.size() == 30);
    // The last legend entry (category 29) is drawn inside the image.
    CHECK(centroid_of(im, plot::category_color(29), info.panels[0].box_x + info.panels[0].box_w + 2, 0, im.w,
                      im.h)[2] > 20);
  }
}

TEST_CASE("plot_true_vs_predicted: same colours in both panels and the accuracy") {
  const auto c = coords_of({{0, 0}, {10, 0}, {0, 10}, {10, 10}});
  PlotOptions o;
  o.point_size = 10;
  const std::string p = plot_tmp("tvp.png");
  const FigureInfo info =
      plot_true_vs_predicted(p, c, {"a", "a", "b", "b"}, {"a", "b", "b", "b"}, "types", o);
  CHECK(info.accuracy == doctest::Approx(0.75));
  CHECK(info.title.find("accuracy = 75.0%") != std::string::npos);
  REQUIRE(info.panels.size() == 2);
  const Image im = read_png(p);
  CHECK(im.w == info.width);
  const MapPanel &t = info.panels[0], &q = info.panels[1];
  check_color(im.rgb(t.to_pixel(0, 0)[0], t.to_pixel(0, 0)[1]), plot::category_color(0));
  check_color(im.rgb(q.to_pixel(0, 0)[0], q.to_pixel(0, 0)[1]), plot::category_color(0));
  check_color(im.rgb(t.to_pixel(10, 0)[0], t.to_pixel(10, 0)[1]), plot::category_color(0));  // true a
  check_color(im.rgb(q.to_pixel(10, 0)[0], q.to_pixel(10, 0)[1]), plot::category_color(1));  // predicted b
  SUBCASE("a predicted type absent from the truth joins the legend") {
    const FigureInfo i2 = plot_true_vs_predicted(plot_tmp("tvp2.png"), c, {"a", "a", "a", "a"},
                                                 {"a", "x", "a", "a"}, "", o);
    CHECK(i2.categories == std::vector<std::string>{"a", "x"});
    CHECK(i2.accuracy == doctest::Approx(0.75));
  }
}

TEST_CASE("plot_histogram: size, bars and the median line") {
  // 8 bins of width 0.1 over [0, 0.8]; values away from the edges.
  std::vector<double> v = {0.0, 0.25, 0.25, 0.35, 0.35, 0.35, 0.35, 0.55, 0.8, std::nan("")};
  PlotOptions o;
  o.width = 600;
  o.height = 400;
  const std::string p = plot_tmp("hist.png");
  const HistogramInfo info = plot_histogram(p, v, "PCC", "Pearson r", 8, o);
  const Image im = read_png(p);
  CHECK(im.w == 600);
  CHECK(im.h == 400);
  CHECK(info.hist.counts == std::vector<index_t>{1, 0, 2, 4, 0, 1, 0, 1});
  CHECK(info.hist.median == doctest::Approx(0.35));
  CHECK(info.hist.n_dropped == 1);
  CHECK(info.title.find("median = 0.35") != std::string::npos);
  CHECK(info.title.find("n = 9") != std::string::npos);
  // The tallest bar (bin [0.3, 0.4), four values) is filled with the bar colour
  // (probed between the grid lines at whole counts).
  const auto mid = info.to_pixel(0.33, 2.5);
  check_color(im.rgb(mid[0], mid[1]), plot::rgb_hex(0x4c78a8));
  // An empty bin (0.6..0.7) is background.
  const auto empty = info.to_pixel(0.65, 0.5);
  check_color(im.rgb(empty[0], empty[1]), {1, 1, 1}, 0);
  // Above the bars the median line is red.
  const auto top = info.to_pixel(info.hist.median, info.y_hi * 0.995);
  bool red = false;
  for (int dx = -2; dx <= 2; ++dx) {
    const auto px = im.rgb(top[0] + dx, top[1]);
    red = red || (px[0] > 180 && px[1] < 110 && px[2] < 110);
  }
  CHECK(red);
}

TEST_CASE("plot: SVG and PDF files of every figure have the right headers") {
  const auto c = coords_of({{0, 0}, {1, 0}, {0, 2}, {3, 3}});
  const std::vector<double> v = {1, 2, 3, 4};
  const std::vector<std::string> lab = {"x", "y", "x", "z"};
  for (const std::string ext : {".svg", ".pdf"}) {
    CAPTURE(ext);
    const std::vector<std::string> files = {plot_tmp("c" + ext), plot_tmp("p" + ext), plot_tmp("k" + ext),
                                            plot_tmp("t" + ext), plot_tmp("h" + ext)};
    const FigureInfo info = plot_spatial_continuous(files[0], c, v, "title", "label");
    plot_spatial_pair(files[1], c, v, v, "gene", 0.5);
    plot_spatial_categories(files[2], c, lab, "types");
    plot_true_vs_predicted(files[3], c, lab, lab);
    plot_histogram(files[4], v, "hist", "x");
    for (const auto& f : files) {
      CAPTURE(f);
      const std::string s = slurp(f);
      REQUIRE(s.size() > 200);
      const std::string w = std::to_string(info.width), h = std::to_string(info.height);
      if (ext == ".svg") {
        if (f == files[0]) CHECK(s.find("width=\"" + w + "pt\" height=\"" + h + "pt\"") != std::string::npos);
        CHECK(s.rfind("<?xml", 0) == 0);
        CHECK(s.find("<svg") != std::string::npos);
        CHECK(s.find("</svg>") != std::string::npos);
      } else {
        if (f == files[0]) CHECK(s.find("MediaBox [ 0 0 " + w + " " + h + " ]") != std::string::npos);
        CHECK(s.rfind("%PDF", 0) == 0);
        CHECK(s.find("%%EOF") != std::string::npos);
      }
    }
  }
  CHECK(no_temp_files_left());
}

TEST_CASE("plot: errors name the file and the problem") {
  const auto c = coords_of({{0, 0}, {1, 1}});
  const std::string p = plot_tmp("err.png");
  SUBCASE("unknown extension, and nothing is written") {
    const std::string bad = plot_tmp("fig.jpeg");
    CHECK(throws_with([&] { plot_spatial_continuous(bad, c, {1, 2}, "", ""); }, "fig.jpeg: unknown image format"));
    CHECK(throws_with([&] { plot_histogram(plot_tmp("h.tiff"), {1, 2}, "", ""); }, "'.tiff'"));
    CHECK_FALSE(fs::exists(bad));
  }
  SUBCASE("mismatched lengths") {
    CHECK(throws_with([&] { plot_spatial_continuous(p, c, {1, 2, 3}, "", ""); }, "3 values for 2 cells"));
    CHECK(throws_with([&] { plot_spatial_pair(p, c, {1, 2}, {1}, "g", 0); }, "2 measured and 1 imputed"));
    CHECK(throws_with([&] { plot_spatial_categories(p, c, std::vector<std::string>{"a"}, ""); }, "1 labels for 2 cells"));
    CHECK(throws_with([&] { plot_true_vs_predicted(p, c, {"a", "b"}, {"a"}); }, "1 predicted labels"));
  }
  SUBCASE("bad coordinates") {
    RowMatrix<double> three(2, 3);
    three.setZero();
    CHECK(throws_with([&] { plot_spatial_continuous(p, three, {1, 2}, "", ""); }, "2 columns"));
    RowMatrix<double> none(0, 2);
    CHECK(throws_with([&] { plot_spatial_continuous(p, none, {}, "", ""); }, "no cells"));
    auto inf = c;
    inf(1, 1) = std::numeric_limits<double>::infinity();
    CHECK(throws_with([&] { plot_spatial_categories(p, inf, std::vector<std::string>{"a", "b"}, ""); }, "cell 1"));
  }
  SUBCASE("no finite values") {
    const double nan = std::nan("");
    CHECK(throws_with([&] { plot_spatial_continuous(p, c, {nan, nan}, "", ""); }, "none of the 2 cell values"));
    CHECK(throws_with([&] { plot_spatial_pair(p, c, {1, 2}, {nan, nan}, "g", 0); }, "imputed"));
    CHECK(throws_with([&] { plot_histogram(p, {nan}, "", ""); }, "err.png: histogram: none of the 1 values"));
  }
  SUBCASE("bad options") {
    PlotOptions o;
    o.vmin = 2;
    o.vmax = 1;
    CHECK(throws_with([&] { plot_spatial_continuous(p, c, {1, 2}, "", "", o); }, "vmin (2) must be below vmax (1)"));
    PlotOptions q;
    q.percentile_low = 50;
    q.percentile_high = 50;
    CHECK(throws_with([&] { plot_spatial_continuous(p, c, {1, 2}, "", "", q); }, "percentiles"));
    PlotOptions small;
    small.width = 120;
    small.height = 90;
    CHECK(throws_with([&] { plot_spatial_continuous(p, c, {1, 2}, "", "", small); }, "make it at least"));
    CHECK(throws_with([&] { plot_histogram(p, {1, 2}, "", "", 3, small); }, "make it at least"));
  }
  SUBCASE("categories") {
    PlotOptions o;
    o.categories = {"a"};
    CHECK(throws_with([&] { plot_spatial_categories(p, c, std::vector<std::string>{"a", "b"}, "", o); },
                      "label 'b' (cell 1) is not in PlotOptions::categories"));
    o.categories = {"a", "b", "a"};
    CHECK(throws_with([&] { plot_spatial_categories(p, c, std::vector<std::string>{"a", "b"}, "", o); },
                      "'a' appears twice"));
    CHECK(throws_with([&] { plot_spatial_categories(p, c, std::vector<index_t>{0, 2}, {"a", "b"}, ""); },
                      "category code 2"));
  }
  SUBCASE("cannot write") {
    CHECK(throws_with([&] { plot_histogram(plot_tmp("no_such_dir/h.png"), {1, 2}, "", ""); }, "does not exist"));
    const std::string dir_as_target = plot_tmp("adir.png");
    fs::create_directories(dir_as_target);
    CHECK(throws_with([&] { plot_histogram(dir_as_target, {1, 2}, "", ""); }, "is a directory"));
    // The image cannot be written in the output directory: the temporary
    // file that every writer creates there first ("<path>.tmp-<pid>", see
    // io/atomic_file.hpp) is taken by a directory, which no process can open
    // as a file (a read-only directory would not stop root, as on CI).
    for (const char* ext : {".png", ".svg", ".pdf"}) {
      CAPTURE(ext);
      const std::string target = plot_tmp(std::string("blocked") + ext);
      fs::create_directory(target + ".tmp-" + std::to_string(::getpid()));
      CHECK(throws_with([&] { plot_histogram(target, {1, 2}, "", ""); }, target + ": cannot"));
      CHECK_FALSE(fs::exists(target));
      fs::remove(target + ".tmp-" + std::to_string(::getpid()));
    }
    // the parent of the output path is a regular file
    const std::string not_dir = plot_tmp("regular_file");
    std::ofstream(not_dir) << "x";
    CHECK(throws_with([&] { plot_histogram(not_dir + "/h.png", {1, 2}, "", ""); },
                      "the output directory '" + not_dir + "'"));
  }
  CHECK(no_temp_files_left());
}

TEST_CASE("plot: a failed plot leaves an existing file untouched") {
  const auto c = coords_of({{0, 0}, {1, 1}});
  const std::string p = plot_tmp("keep.png");
  plot_spatial_continuous(p, c, {1, 2}, "first", "");
  const std::string before = slurp(p);
  CHECK(throws_with([&] { plot_spatial_continuous(p, c, {1, 2, 3}, "second", ""); }, "keep.png"));
  CHECK(slurp(p) == before);
  plot_spatial_continuous(p, c, {2, 1}, "second", "");  // a successful rewrite replaces it
  CHECK(slurp(p) != before);
  CHECK(no_temp_files_left());
}

TEST_CASE("plot: the automatic point size follows the cell density") {
  // A square lattice with spacing 1: markers about one spacing wide, whatever the cell count.
  auto lattice = [](int k) {
    RowMatrix<double> c(static_cast<index_t>(k) * k, 2);
    for (int i = 0; i < k * k; ++i) {
      c(i, 0) = i % k;
      c(i, 1) = i / k;
    }
    return c;
  };
  PlotOptions o;
  o.width = 600;
  o.height = 560;
  for (int k : {10, 40}) {
    CAPTURE(k);
    const auto c = lattice(k);
    const FigureInfo info = plot_spatial_continuous(plot_tmp("lattice.png"), c,
                                                    std::vector<double>(static_cast<std::size_t>(k) * k, 1.0), "", "", o);
    const MapPanel& mp = info.panels[0];
    CHECK(mp.point_diameter == doctest::Approx(std::min(0.05 * std::min(mp.box_w, mp.box_h), mp.scale)).epsilon(0.2));
  }
  // Fixed size when asked for.
  o.point_size = 3.5;
  CHECK(plot_spatial_continuous(plot_tmp("lattice.png"), lattice(5), std::vector<double>(25, 1.0), "", "", o)
            .panels[0]
            .point_diameter == 3.5);
}

namespace {

/// The typical spacing by brute force: for every max(1, n / 4000)-th cell, the
/// k-th (k = min(8, n - 1), fewer if fewer cells lie elsewhere) smallest
/// squared distance r2 to the cells at other positions gives sqrt(pi r2 / k);
/// the median of those.
double spacing_brute_force(const RowMatrix<double>& c) {
  const index_t n = c.rows();
  const index_t k = std::min<index_t>(8, n - 1), stride = std::max<index_t>(1, n / 4000);
  std::vector<double> s;
  for (index_t q = 0; q < n; q += stride) {
    std::vector<double> d2;
    for (index_t j = 0; j < n; ++j) {
      const double dx = c(j, 0) - c(q, 0), dy = c(j, 1) - c(q, 1);
      if (dx != 0 || dy != 0) d2.push_back(dx * dx + dy * dy);
    }
    if (d2.empty()) continue;
    std::sort(d2.begin(), d2.end());
    const auto found = std::min<std::size_t>(static_cast<std::size_t>(k), d2.size());
    s.push_back(std::sqrt(3.14159265358979323846 * d2[found - 1] / static_cast<double>(found)));
  }
  if (s.empty()) return std::nan("");
  std::sort(s.begin(), s.end());
  return s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
}

double spacing_of(const RowMatrix<double>& c) {
  return plot::detail::typical_spacing(c, plot::detail::check_coords("spacing", c));
}

}  // namespace

TEST_CASE("plot: the typical cell spacing is the median 8th-neighbour spacing") {
  std::uint64_t state = 12345;
  auto uniform = [&] {  // xorshift64*: a small deterministic generator
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<double>((state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
  };
  SUBCASE("a square lattice: 4 neighbours at 1 and 4 at sqrt(2) inside") {
    RowMatrix<double> c(1600, 2);
    for (index_t i = 0; i < 1600; ++i) {
      c(i, 0) = static_cast<double>(i % 40);
      c(i, 1) = static_cast<double>(i / 40);
    }
    CHECK(spacing_of(c) == doctest::Approx(std::sqrt(3.14159265358979323846 * 2 / 8)));
  }
  SUBCASE("random cells, with and without shared positions, agree with brute force") {
    for (index_t n : {2, 3, 9, 10, 500, 9000}) {
      CAPTURE(n);
      RowMatrix<double> c(n, 2), snapped(n, 2);
      for (index_t i = 0; i < n; ++i) {
        c(i, 0) = 300 * uniform() - 100;
        c(i, 1) = 40 * uniform();
        snapped(i, 0) = std::round(c(i, 0) / 7) * 7;  // many cells per position
        snapped(i, 1) = std::round(c(i, 1) / 7) * 7;
      }
      CHECK(spacing_of(c) == doctest::Approx(spacing_brute_force(c)).epsilon(1e-12));
      if (std::isfinite(spacing_brute_force(snapped)))
        CHECK(spacing_of(snapped) == doctest::Approx(spacing_brute_force(snapped)).epsilon(1e-12));
    }
  }
  SUBCASE("most cells on one spot, cells on a line, and a ring of ties wider than a kNN row") {
    RowMatrix<double> heap(300, 2), line(200, 2), ring(61, 2);
    for (index_t i = 0; i < 300; ++i) {
      const bool spot = i % 10 != 3;
      heap(i, 0) = spot ? 5.0 : 10 * uniform();
      heap(i, 1) = spot ? 5.0 : 10 * uniform();
    }
    for (index_t i = 0; i < 200; ++i) {
      line(i, 0) = 50 * uniform();
      line(i, 1) = 2.5;
    }
    // Cell 0 at the centre of 40 cells on a circle (equal distances up to rounding), 20 far away.
    ring(0, 0) = ring(0, 1) = 0;
    for (index_t i = 1; i <= 40; ++i) {
      ring(i, 0) = std::cos(0.05 * 3.14159265358979323846 * static_cast<double>(i));
      ring(i, 1) = std::sin(0.05 * 3.14159265358979323846 * static_cast<double>(i));
    }
    for (index_t i = 41; i < 61; ++i) {
      ring(i, 0) = 100 + uniform();
      ring(i, 1) = uniform();
    }
    for (const auto* c : {&heap, &line, &ring}) {
      CHECK(spacing_of(*c) == doctest::Approx(spacing_brute_force(*c)).epsilon(1e-12));
    }
  }
  SUBCASE("no spacing when every cell shares one position, or there is one cell") {
    CHECK(std::isnan(spacing_of(coords_of({{2, 3}, {2, 3}, {2, 3}}))));
    CHECK(std::isnan(spacing_of(coords_of({{2, 3}}))));
  }
}
