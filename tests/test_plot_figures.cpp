// Whole figures read back from the image: PNG size and signature, colours of
// known cells, orientation and aspect, colour limits, two-panel and category
// figures, histograms, and the SVG and PDF headers of every figure.
#include "plot_fixture.hpp"

using namespace plot_test;

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
