// The figure building blocks (plot/): image formats, colour maps and the
// palette, percentiles, histograms, ticks, and the marker size from the cell
// spacing (the kNN graph). Whole figures are in test_plot_figures.cpp, errors
// and atomic output in test_plot_errors.cpp.
#include "plot_fixture.hpp"

using namespace plot_test;

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
