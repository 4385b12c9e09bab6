// Figure errors name the file and the problem, and a failed plot leaves an
// existing file untouched.
#include "plot_fixture.hpp"

using namespace plot_test;

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
