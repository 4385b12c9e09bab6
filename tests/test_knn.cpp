// Spatial kNN graph: exact against brute force (random points, 2-D and 3-D),
// tie-breaking by index on grids, duplicated coordinates, errors, and the
// rows of query cells alone (knn_rows).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/graph/knn.hpp>
#include <stai/random.hpp>

using namespace stai;

namespace {

RowMatrix<double> random_points(index_t n, index_t d, std::uint64_t seed, double scale = 100.0) {
  Rng rng(seed);
  RowMatrix<double> p(n, d);
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < d; ++c) p(i, c) = rng.uniform(0.0, scale);
  return p;
}

// Independent reference: all n distances per cell, i first, then the others
// sorted by (squared distance, index).
std::vector<index_t> brute_force(const RowMatrix<double>& p, index_t k) {
  const index_t n = p.rows(), d = p.cols();
  std::vector<index_t> out;
  for (index_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, index_t>> all;
    for (index_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double s = 0;
      for (index_t c = 0; c < d; ++c) s += (p(i, c) - p(j, c)) * (p(i, c) - p(j, c));
      all.emplace_back(s, j);
    }
    std::sort(all.begin(), all.end());
    out.push_back(i);
    for (index_t e = 0; e + 1 < k; ++e) out.push_back(all[static_cast<std::size_t>(e)].second);
  }
  return out;
}

}  // namespace

TEST_CASE("knn_graph equals brute force on random points") {
  for (index_t d : {2, 3}) {
    for (index_t k : {1, 2, 10, 37}) {
      CAPTURE(d);
      CAPTURE(k);
      const RowMatrix<double> p = random_points(400, d, 17 + static_cast<std::uint64_t>(d));
      std::vector<double> dist;
      const CsrGraph g = knn_graph(p, k, {}, &dist);
      g.validate();
      CHECK(g.n == 400);
      CHECK(g.num_edges() == 400 * k);
      for (index_t i = 0; i < g.n; ++i) CHECK(g.degree(i) == k);
      CHECK(g.indices == brute_force(p, k));
      // distances: Euclidean, row-major, non-decreasing, 0 for the cell itself
      REQUIRE(dist.size() == g.indices.size());
      for (index_t i = 0; i < g.n; ++i) {
        CHECK(dist[static_cast<std::size_t>(i * k)] == 0.0);
        for (index_t e = 0; e < k; ++e) {
          const index_t j = g.indices[static_cast<std::size_t>(i * k + e)];
          const double ref = std::sqrt((p.row(i) - p.row(j)).squaredNorm());
          CHECK(dist[static_cast<std::size_t>(i * k + e)] == doctest::Approx(ref).epsilon(1e-12));
          if (e > 1) CHECK(dist[static_cast<std::size_t>(i * k + e)] >= dist[static_cast<std::size_t>(i * k + e - 1)]);
        }
      }
    }
  }
}

TEST_CASE("knn_graph breaks ties by index on grids (many equal distances)") {
  SUBCASE("2-D 20 x 15 integer grid") {
    RowMatrix<double> p(300, 2);
    // cells listed in a scrambled order so that index order differs from space order
    for (index_t i = 0; i < 300; ++i) {
      const index_t q = (i * 7) % 300;
      p(i, 0) = static_cast<double>(q % 20);
      p(i, 1) = static_cast<double>(q / 20);
    }
    for (index_t k : {5, 9, 10, 13}) {
      CAPTURE(k);
      CHECK(knn_graph(p, k).indices == brute_force(p, k));
    }
    // hand-checked: an interior cell's 5 nearest = itself + its 4 axis
    // neighbours (distance 1), sorted by index
    const CsrGraph g = knn_graph(p, 5);
    for (index_t c = 0; c < 300; ++c) {
      const double x = p(c, 0), y = p(c, 1);
      if (x < 1 || x > 18 || y < 1 || y > 13) continue;
      std::vector<index_t> expect;
      for (index_t j = 0; j < 300; ++j)
        if (std::abs(p(j, 0) - x) + std::abs(p(j, 1) - y) == 1.0) expect.push_back(j);
      std::sort(expect.begin(), expect.end());
      REQUIRE(expect.size() == 4);
      const std::vector<index_t> row(g.indices.begin() + c * 5 + 1, g.indices.begin() + c * 5 + 5);
      CHECK(g.indices[static_cast<std::size_t>(c * 5)] == c);
      CHECK(row == expect);
    }
  }
  SUBCASE("3-D 6 x 6 x 6 grid") {
    RowMatrix<double> p(216, 3);
    for (index_t i = 0; i < 216; ++i) {
      const index_t q = (i * 11) % 216;
      p(i, 0) = static_cast<double>(q % 6);
      p(i, 1) = static_cast<double>((q / 6) % 6);
      p(i, 2) = static_cast<double>(q / 36);
    }
    for (index_t k : {7, 10, 19, 27}) {
      CAPTURE(k);
      CHECK(knn_graph(p, k).indices == brute_force(p, k));
    }
  }
}

TEST_CASE("knn_graph with duplicated coordinates keeps each cell first in its own row") {
  // 4 cells at the same spot (indices 0, 3, 5, 6), others spread out.
  RowMatrix<double> p(8, 2);
  p << 1, 1, 5, 5, 9, 9, 1, 1, 2, 1, 1, 1, 1, 1, 7, 3;
  SUBCASE("k smaller than the number of duplicates") {
    const CsrGraph g = knn_graph(p, 2);
    // row 6: itself first, then the smallest-index duplicate (0)
    CHECK(std::vector<index_t>(g.indices.begin() + 12, g.indices.begin() + 14) ==
          std::vector<index_t>{6, 0});
    CHECK(std::vector<index_t>(g.indices.begin() + 0, g.indices.begin() + 2) ==
          std::vector<index_t>{0, 3});
    CHECK(g.indices == brute_force(p, 2));
  }
  SUBCASE("k covering the duplicates and beyond") {
    const CsrGraph g = knn_graph(p, 5);
    // row 5: 5, then duplicates 0, 3, 6 (distance 0), then cell 4 (distance 1)
    CHECK(std::vector<index_t>(g.indices.begin() + 25, g.indices.begin() + 30) ==
          std::vector<index_t>{5, 0, 3, 6, 4});
    CHECK(g.indices == brute_force(p, 5));
  }
  SUBCASE("all cells at one point") {
    RowMatrix<double> q = RowMatrix<double>::Constant(12, 3, 2.5);
    CHECK(knn_graph(q, 4).indices == brute_force(q, 4));
  }
}

TEST_CASE("knn_graph edge cases and thread independence") {
  SUBCASE("k = n gives every cell in every row") {
    const RowMatrix<double> p = random_points(9, 2, 5);
    const CsrGraph g = knn_graph(p, 9);
    CHECK(g.indices == brute_force(p, 9));
  }
  SUBCASE("single cell, k = 1") {
    RowMatrix<double> p(1, 3);
    p << 1, 2, 3;
    const CsrGraph g = knn_graph(p, 1);
    CHECK(g.indices == std::vector<index_t>{0});
  }
  SUBCASE("same result for 1 and 2 threads and any leaf size") {
    const RowMatrix<double> p = random_points(3000, 2, 9);
    KnnOptions one;
    one.threads = 1;
    KnnOptions two;
    two.threads = 2;
    two.leaf_size = 3;
    CHECK(knn_graph(p, 10, one).indices == knn_graph(p, 10, two).indices);
    // the same on a host backend given directly (its threads, not opt's)
    CHECK(knn_graph(Cpu{3}, p, 10, one).indices == knn_graph(p, 10, one).indices);
  }
}

TEST_CASE("knn_graph rejects bad input with clear errors") {
  const RowMatrix<double> p = random_points(5, 2, 1);
  CHECK_THROWS_WITH_AS(knn_graph(p, 6), doctest::Contains("only 5 cells"), Error);
  CHECK_THROWS_WITH_AS(knn_graph(p, 0), doctest::Contains("at least 1"), Error);
  RowMatrix<double> bad = p;
  bad(3, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(knn_graph(bad, 2), doctest::Contains("cell 3, column 1"), Error);
  bad(3, 1) = INFINITY;
  CHECK_THROWS_AS(knn_graph(bad, 2), Error);
  const RowMatrix<double> four = random_points(5, 4, 1);
  CHECK_THROWS_WITH_AS(knn_graph(four, 2), doctest::Contains("2 or 3 columns"), Error);
  const RowMatrix<double> empty(0, 2);
  CHECK_THROWS_AS(knn_graph(empty, 1), Error);
}

TEST_CASE("knn_rows gives the brute-force rows of the query cells only") {
  SUBCASE("random points, 2-D and 3-D, queries in any order with repeats") {
    for (index_t d : {2, 3}) {
      const RowMatrix<double> p = random_points(400, d, 17 + static_cast<std::uint64_t>(d));
      const index_t k = 9;
      const std::vector<index_t> want_all = brute_force(p, k);
      const std::vector<index_t> queries = {399, 0, 17, 17, 250, 3};
      for (int threads : {1, 2}) {
        CAPTURE(d);
        CAPTURE(threads);
        const std::vector<index_t> rows = knn_rows(p, k, queries, KnnOptions{threads});
        REQUIRE(rows.size() == queries.size() * static_cast<std::size_t>(k));
        for (std::size_t r = 0; r < queries.size(); ++r) {
          const auto at = static_cast<std::ptrdiff_t>(queries[r] * k);
          const std::vector<index_t> want(want_all.begin() + at, want_all.begin() + at + k);
          const std::vector<index_t> got(rows.begin() + static_cast<std::ptrdiff_t>(r) * k,
                                         rows.begin() + static_cast<std::ptrdiff_t>(r + 1) * k);
          CHECK(got == want);
        }
      }
    }
  }
  SUBCASE("duplicated coordinates: the query cell first in its own row") {
    RowMatrix<double> p(6, 2);
    for (index_t i = 0; i < 6; ++i) {
      p(i, 0) = static_cast<double>(i / 3);  // cells 0-2 at (0, 0), 3-5 at (1, 0)
      p(i, 1) = 0.0;
    }
    CHECK(knn_rows(p, 4, {4, 1}) == std::vector<index_t>{4, 3, 5, 0, 1, 0, 2, 3});
    CHECK(knn_rows(p, 2, {}).empty());
  }
  SUBCASE("bad queries and inputs are refused") {
    const RowMatrix<double> p = random_points(5, 2, 1);
    CHECK_THROWS_WITH_AS(knn_rows(p, 2, {5}), doctest::Contains("query cell 5 is not a cell index"), Error);
    CHECK_THROWS_WITH_AS(knn_rows(p, 2, {-1}), doctest::Contains("query cell -1"), Error);
    CHECK_THROWS_WITH_AS(knn_rows(p, 6, {0}), doctest::Contains("only 5 cells"), Error);
  }
}
