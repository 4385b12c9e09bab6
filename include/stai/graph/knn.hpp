// stai — the exact spatial k-nearest-neighbour graph (nanoflann k-d tree).
//
// docs/model.md "Spatial graph": for every spatial cell i, its k nearest cells
// by Euclidean distance of the coordinates, INCLUDING i itself; edge i -> j for
// each neighbour j. Row i of the returned CsrGraph lists those k cells.
//
// Order and ties (deterministic, independent of the thread count):
//   * row i starts with i itself, even when other cells share its coordinates
//     (duplicated coordinates: i comes first among its zero-distance
//     duplicates, the others follow by index);
//   * the other k - 1 entries are the k - 1 nearest OTHER cells, sorted by
//     (squared distance, index): at equal distance the smaller index wins, both
//     for the order within the row and for which cell is kept at the k-th
//     place.
// The search is exact (no approximation). Distances are computed in double.
// The queries run in parallel rows on a host backend: knn_graph(host, ...)
// takes it; knn_graph(coords, k, opt) runs them on the CPU backend with
// opt.threads threads (backend/cpu/knn.hpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <nanoflann.hpp>

#include "../config.hpp"
#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "csr.hpp"

namespace stai {

struct KnnOptions {
  /// Threads for the queries of knn_graph(coords, k, opt) (0 = OpenMP
  /// default; knn_graph(host, ...) uses the host backend's). The result does
  /// not depend on it.
  int threads = 0;
  /// Maximum number of points in a k-d tree leaf (nanoflann's leaf_max_size).
  index_t leaf_size = 16;
};

namespace detail {

/// nanoflann dataset adaptor over a row-major n x d array of doubles.
struct KnnPoints {
  const double* p;
  std::size_t n, d;
  std::size_t kdtree_get_point_count() const { return n; }
  double kdtree_get_pt(std::uint32_t i, std::size_t dim) const { return p[i * d + dim]; }
  template <class BBox>
  bool kdtree_get_bbox(BBox&) const { return false; }
};

/// Result set keeping the k best points by (distance, index). It reports a
/// slightly enlarged worst distance so that nanoflann, which only offers points
/// with dist < worstDist(), also offers points TIED with the current k-th one;
/// the tie is then decided here by index, which makes the result exact and
/// independent of the tree's traversal order.
class TieBreakKnnResult {
 public:
  using DistanceType = double;
  using IndexType = std::uint32_t;
  TieBreakKnnResult(std::size_t k, std::uint32_t* idx, double* dist)
      : k_(k), idx_(idx), dist_(dist) {}
  std::size_t size() const { return count_; }
  bool full() const { return count_ == k_; }
  double worstDist() const {
    if (k_ == 0 || count_ < k_) return std::numeric_limits<double>::max();
    const double w = dist_[k_ - 1];
    return w + w * 1e-12 + 1e-300;
  }
  bool addPoint(double dist, std::uint32_t index) {
    if (k_ == 0) return true;
    if (count_ == k_ && !less(dist, index, dist_[k_ - 1], idx_[k_ - 1])) return true;
    std::size_t i = count_ < k_ ? count_ : k_ - 1;
    while (i > 0 && less(dist, index, dist_[i - 1], idx_[i - 1])) {
      dist_[i] = dist_[i - 1];
      idx_[i] = idx_[i - 1];
      --i;
    }
    dist_[i] = dist;
    idx_[i] = index;
    if (count_ < k_) ++count_;
    return true;
  }

 private:
  static bool less(double d1, std::uint32_t i1, double d2, std::uint32_t i2) {
    return d1 < d2 || (d1 == d2 && i1 < i2);
  }
  std::size_t k_;
  std::uint32_t* idx_;
  double* dist_;
  std::size_t count_ = 0;
};

/// The checks shared by knn_graph and knn_rows (see knn_graph).
inline void check_knn_inputs(const RowMatrix<double>& coords, index_t k, const KnnOptions& opt) {
  const index_t n = coords.rows(), d = coords.cols();
  STAI_CHECK(d == 2 || d == 3, "spatial kNN: coordinates must have 2 or 3 columns (x, y[, z]), got ",
             d, "; pass the spatial coordinates (e.g. obsm['spatial']) with one cell per row");
  STAI_CHECK(k >= 1, "spatial kNN: k must be at least 1 (the cell itself), got ", k);
  STAI_CHECK(k <= n, "spatial kNN: k = ", k, " neighbours requested but there are only ", n,
             " cells; lower k (spatial_knn) to at most ", n);
  STAI_CHECK(n <= static_cast<index_t>(std::numeric_limits<std::uint32_t>::max()),
             "spatial kNN: more than 2^32 - 1 cells are not supported");
  STAI_CHECK(opt.leaf_size >= 1, "spatial kNN: leaf_size must be at least 1");
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < d; ++c)
      STAI_CHECK(std::isfinite(coords(i, c)), "spatial kNN: coordinate (cell ", i, ", column ", c,
                 ") is ", coords(i, c), "; remove or fix cells with missing coordinates");
}

/// Row r of out_idx (and out_sqdist) receives the k neighbours of query cell
/// q = queries ? queries[r] : r, for r < nq.
template <int Dim, class Host>
void knn_search_dim(const Host& be, const double* pts, index_t n, index_t k, const KnnOptions& opt,
                    const index_t* queries, index_t nq, index_t* out_idx, double* out_sqdist) {
  using Metric = nanoflann::L2_Simple_Adaptor<double, KnnPoints, double, std::uint32_t>;
  using Tree = nanoflann::KDTreeSingleIndexAdaptor<Metric, KnnPoints, Dim, std::uint32_t>;
  const KnnPoints data{pts, static_cast<std::size_t>(n), static_cast<std::size_t>(Dim)};
  Tree tree(Dim, data,
            nanoflann::KDTreeSingleIndexAdaptorParams(static_cast<std::size_t>(opt.leaf_size)));
  // Each query finds the k best cells by (distance, index), i itself included
  // unless k cells with smaller indices share its coordinates; then i is moved
  // (or put) first and the remaining k - 1 others keep their order.
  launch_rows(be, nq, [&](index_t r) {
    const index_t i = queries ? queries[r] : r;
    std::vector<std::uint32_t> idx(static_cast<std::size_t>(k));
    std::vector<double> dist(static_cast<std::size_t>(k));
    TieBreakKnnResult res(static_cast<std::size_t>(k), idx.data(), dist.data());
    tree.findNeighbors(res, pts + i * Dim, nanoflann::SearchParams(32, 0.0f, true));
    index_t* row = out_idx + r * k;
    double* drow = out_sqdist ? out_sqdist + r * k : nullptr;
    row[0] = i;
    if (drow) drow[0] = 0.0;
    index_t w = 1;
    for (index_t e = 0; e < k && w < k; ++e) {
      const auto j = static_cast<index_t>(idx[static_cast<std::size_t>(e)]);
      if (j == i) continue;
      row[w] = j;
      if (drow) drow[w] = dist[static_cast<std::size_t>(e)];
      ++w;
    }
  }, 64);
}

}  // namespace detail

/// The spatial kNN graph: row i of the result lists i's k nearest cells (i
/// first, then by (distance, index)), i.e. edges i -> j. `coords` is n x 2 or
/// n x 3 (one cell per row). If `distances` is given it receives the
/// Euclidean distances in the same layout (n * k values, row-major).
/// Throws when k < 1, k > n, coordinates are not finite, or the dimension is
/// not 2 or 3. The queries run as parallel rows (launch_rows) on `host`, a
/// backend whose loops run on the host (the CPU backend).
template <class Host>
CsrGraph knn_graph(const Host& host, const RowMatrix<double>& coords, index_t k, const KnnOptions& opt = {},
                   std::vector<double>* distances = nullptr) {
  detail::check_knn_inputs(coords, k, opt);
  const index_t n = coords.rows(), d = coords.cols();
  CsrGraph g;
  g.n = n;
  g.indptr.resize(static_cast<std::size_t>(n + 1));
  for (index_t i = 0; i <= n; ++i) g.indptr[static_cast<std::size_t>(i)] = i * k;
  g.indices.resize(static_cast<std::size_t>(n * k));
  if (distances) distances->resize(static_cast<std::size_t>(n * k));
  double* dist = distances ? distances->data() : nullptr;
  if (d == 2)
    detail::knn_search_dim<2>(host, coords.data(), n, k, opt, nullptr, n, g.indices.data(), dist);
  else
    detail::knn_search_dim<3>(host, coords.data(), n, k, opt, nullptr, n, g.indices.data(), dist);
  if (dist)
    for (auto& v : *distances) v = std::sqrt(v);
  return g;
}

/// The rows of knn_graph(host, coords, k, opt) for the query cells `queries`
/// only (any order, repeats allowed): entries r * k .. r * k + k - 1 of the
/// result are row queries[r] of the graph, the same cells in the same order,
/// for the cost of those queries alone (the k-d tree is still built over all
/// cells). Throws as knn_graph does, and when a query is not a cell index.
template <class Host>
std::vector<index_t> knn_rows(const Host& host, const RowMatrix<double>& coords, index_t k,
                              const std::vector<index_t>& queries, const KnnOptions& opt = {}) {
  detail::check_knn_inputs(coords, k, opt);
  const index_t n = coords.rows();
  for (index_t q : queries)
    STAI_CHECK(q >= 0 && q < n, "spatial kNN: query cell ", q, " is not a cell index (there are ", n, " cells)");
  const auto nq = static_cast<index_t>(queries.size());
  std::vector<index_t> rows(static_cast<std::size_t>(nq * k));
  if (coords.cols() == 2)
    detail::knn_search_dim<2>(host, coords.data(), n, k, opt, queries.data(), nq, rows.data(), nullptr);
  else
    detail::knn_search_dim<3>(host, coords.data(), n, k, opt, queries.data(), nq, rows.data(), nullptr);
  return rows;
}

}  // namespace stai
