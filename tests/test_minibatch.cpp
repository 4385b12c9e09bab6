// Spatial minibatches: ownership partition, full neighbourhoods for owned
// cells, sizes, compact tiles, seeded epoch order.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/graph/knn.hpp>
#include <stai/graph/minibatch.hpp>
#include <stai/random.hpp>

using namespace stai;

namespace {

RowMatrix<double> random_points(index_t n, index_t d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<double> p(n, d);
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < d; ++c) p(i, c) = rng.uniform(0.0, 1000.0);
  return p;
}

// Sources of the edges into t (naive scan of the whole graph).
std::multiset<index_t> in_neighbours(const CsrGraph& g, index_t t) {
  std::multiset<index_t> s;
  for (index_t i = 0; i < g.n; ++i)
    for (index_t e = g.indptr[static_cast<std::size_t>(i)]; e < g.indptr[static_cast<std::size_t>(i + 1)]; ++e)
      if (g.indices[static_cast<std::size_t>(e)] == t) s.insert(i);
  return s;
}

void check_batches(const RowMatrix<double>& p, const CsrGraph& knn, index_t target) {
  const SpatialBatches sb = make_spatial_batches(p, knn, target);
  const index_t n = knn.n;
  const index_t parts = (n + target - 1) / target;
  CHECK(sb.size() == parts);
  std::vector<int> owned_count(static_cast<std::size_t>(n), 0);
  // global in-neighbour lists by a naive transpose
  std::vector<std::multiset<index_t>> gin(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i)
    for (index_t e = knn.indptr[static_cast<std::size_t>(i)]; e < knn.indptr[static_cast<std::size_t>(i + 1)]; ++e)
      gin[static_cast<std::size_t>(knn.indices[static_cast<std::size_t>(e)])].insert(i);
  for (index_t b = 0; b < sb.size(); ++b) {
    const SpatialBatch& bt = sb.batches[static_cast<std::size_t>(b)];
    bt.graph.validate();
    REQUIRE(bt.graph.n == bt.num_nodes());
    REQUIRE(bt.owned.size() == bt.nodes.size());
    // sizes: floor or ceil of n / parts, never above the target
    CHECK(bt.n_owned >= n / parts);
    CHECK(bt.n_owned <= (n + parts - 1) / parts);
    CHECK(bt.n_owned <= target);
    // node list: owned first then halo, each part sorted, no duplicates
    CHECK(std::is_sorted(bt.nodes.begin(), bt.nodes.begin() + bt.n_owned));
    CHECK(std::is_sorted(bt.nodes.begin() + bt.n_owned, bt.nodes.end()));
    CHECK(std::set<index_t>(bt.nodes.begin(), bt.nodes.end()).size() == bt.nodes.size());
    for (index_t l = 0; l < bt.num_nodes(); ++l) {
      const index_t g = bt.nodes[static_cast<std::size_t>(l)];
      CHECK(bt.owned[static_cast<std::size_t>(l)] == (l < bt.n_owned ? 1 : 0));
      if (l < bt.n_owned) {
        ++owned_count[static_cast<std::size_t>(g)];
        CHECK(sb.tile_of[static_cast<std::size_t>(g)] == b);
        // the owned cell's local in-neighbours, mapped back, equal the global ones
        std::multiset<index_t> loc;
        for (index_t s : in_neighbours(bt.graph, l)) loc.insert(bt.nodes[static_cast<std::size_t>(s)]);
        CHECK(loc == gin[static_cast<std::size_t>(g)]);
      } else {
        // a halo node receives no edges and sends at least one edge into an owned cell
        CHECK(in_neighbours(bt.graph, l).empty());
        CHECK(bt.graph.degree(l) >= 1);
        CHECK(sb.tile_of[static_cast<std::size_t>(g)] != b);
      }
    }
    // every local edge maps to a global edge
    for (index_t l = 0; l < bt.graph.n; ++l)
      for (index_t e = bt.graph.indptr[static_cast<std::size_t>(l)]; e < bt.graph.indptr[static_cast<std::size_t>(l + 1)]; ++e) {
        const index_t s = bt.nodes[static_cast<std::size_t>(l)];
        const index_t t = bt.nodes[static_cast<std::size_t>(bt.graph.indices[static_cast<std::size_t>(e)])];
        const auto b0 = knn.indices.begin() + knn.indptr[static_cast<std::size_t>(s)];
        const auto b1 = knn.indices.begin() + knn.indptr[static_cast<std::size_t>(s + 1)];
        CHECK(std::find(b0, b1, t) != b1);
      }
  }
  for (index_t i = 0; i < n; ++i) CHECK(owned_count[static_cast<std::size_t>(i)] == 1);
}

}  // namespace

TEST_CASE("spatial minibatches: each cell owned once, full neighbourhoods, sizes") {
  SUBCASE("2-D random, k = 10") {
    const RowMatrix<double> p = random_points(1000, 2, 3);
    const CsrGraph knn = knn_graph(p, 10);
    for (index_t target : {128, 250, 333, 999}) {
      CAPTURE(target);
      check_batches(p, knn, target);
    }
  }
  SUBCASE("3-D random, k = 7") {
    const RowMatrix<double> p = random_points(500, 3, 4);
    check_batches(p, knn_graph(p, 7), 60);
  }
  SUBCASE("grid with ties and target 1") {
    RowMatrix<double> p(36, 2);
    for (index_t i = 0; i < 36; ++i) {
      p(i, 0) = static_cast<double>(i % 6);
      p(i, 1) = static_cast<double>(i / 6);
    }
    check_batches(p, knn_graph(p, 5), 1);
    check_batches(p, knn_graph(p, 5), 7);
  }
}

TEST_CASE("spatial minibatches: one batch when the target covers all cells") {
  const RowMatrix<double> p = random_points(200, 2, 8);
  const CsrGraph knn = knn_graph(p, 10);
  const SpatialBatches sb = make_spatial_batches(p, knn, 500);
  REQUIRE(sb.size() == 1);
  const SpatialBatch& b = sb.batches[0];
  CHECK(b.n_owned == 200);
  CHECK(b.num_nodes() == 200);
  std::vector<index_t> iota(200);
  for (index_t i = 0; i < 200; ++i) iota[static_cast<std::size_t>(i)] = i;
  CHECK(b.nodes == iota);
  CHECK(b.graph.indptr == knn.indptr);
  CHECK(b.graph.indices == knn.indices);
}

TEST_CASE("spatial minibatches: tiles are spatially compact") {
  // 40 x 40 grid, 16 tiles of 100: the k-d bisection gives exact 10 x 10 blocks.
  RowMatrix<double> p(1600, 2);
  for (index_t i = 0; i < 1600; ++i) {
    const index_t q = (i * 37) % 1600;  // scrambled order
    p(i, 0) = static_cast<double>(q % 40);
    p(i, 1) = static_cast<double>(q / 40);
  }
  const SpatialBatches sb = make_spatial_batches(p, knn_graph(p, 10), 100);
  REQUIRE(sb.size() == 16);
  for (const SpatialBatch& b : sb.batches) {
    double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (index_t l = 0; l < b.n_owned; ++l) {
      const index_t c = b.nodes[static_cast<std::size_t>(l)];
      x0 = std::min(x0, p(c, 0));
      x1 = std::max(x1, p(c, 0));
      y0 = std::min(y0, p(c, 1));
      y1 = std::max(y1, p(c, 1));
    }
    CHECK(b.n_owned == 100);
    CHECK(x1 - x0 == 9.0);
    CHECK(y1 - y0 == 9.0);
  }
}

TEST_CASE("spatial minibatches: seeded epoch order") {
  const RowMatrix<double> p = random_points(900, 2, 5);
  const SpatialBatches sb = make_spatial_batches(p, knn_graph(p, 10), 100);
  REQUIRE(sb.size() == 9);
  const std::vector<index_t> o1 = sb.epoch_order(8848, 0);
  std::vector<index_t> sorted = o1;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<index_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(sb.epoch_order(8848, 0) == o1);  // same seed and epoch -> same order
  bool differs = false;
  for (std::uint64_t e = 1; e < 5; ++e) differs = differs || sb.epoch_order(8848, e) != o1;
  CHECK(differs);
  CHECK(sb.epoch_order(1, 0) != o1);
}

TEST_CASE("spatial minibatches: errors and helpers") {
  const RowMatrix<double> p = random_points(50, 2, 6);
  const CsrGraph knn = knn_graph(p, 4);
  CHECK_THROWS_WITH_AS(make_spatial_batches(p, knn, 0), doctest::Contains("at least 1"), Error);
  const RowMatrix<double> q = random_points(49, 2, 6);
  CHECK_THROWS_WITH_AS(make_spatial_batches(q, knn, 10), doctest::Contains("49 rows"), Error);
  // transpose_graph: in-neighbour lists in increasing source order
  const CsrGraph t = transpose_graph(knn);
  t.validate();
  CHECK(t.num_edges() == knn.num_edges());
  for (index_t i = 0; i < t.n; ++i) {
    const std::vector<index_t> row(t.indices.begin() + t.indptr[static_cast<std::size_t>(i)],
                                   t.indices.begin() + t.indptr[static_cast<std::size_t>(i + 1)]);
    CHECK(std::is_sorted(row.begin(), row.end()));
    CHECK(std::multiset<index_t>(row.begin(), row.end()) == in_neighbours(knn, i));
  }
  RowMatrix<float> X(3, 2);
  X << 1, 2, 3, 4, 5, 6;
  const RowMatrix<float> G = gather_rows(X, {2, 0});
  CHECK(G(0, 0) == 5);
  CHECK(G(1, 1) == 2);
  CHECK_THROWS_AS(gather_rows(X, {3}), Error);
}
