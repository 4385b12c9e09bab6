// stai — spatial minibatches for a one-hop graph-attention encoder.
//
// The spatial cells are split into spatially compact tiles of about
// `target_size` cells (recursive k-d bisection of the coordinates). For each
// tile, the node set a one-hop GAT needs is the tile's cells ("owned": the
// loss is computed on them) plus every cell that sends an edge INTO an owned
// cell (its "halo"). With the kNN graph's edges i -> j (row i lists i's
// neighbours), node t gathers from the sources s of its incoming edges
// (docs/model.md, "Modules", the GAT layer), so the halo of a tile is the set of cells that
// count an owned cell among their k nearest.
//
// The local graph is never truncated: it holds EXACTLY the global edges whose
// target is owned, re-indexed to the node set, so every owned cell sees its
// full neighbourhood. Edges between halo nodes are left out (a one-hop layer
// does not need them; the outputs of halo nodes are not meaningful and carry
// no loss).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "../random.hpp"
#include "../tensor/matrix.hpp"
#include "csr.hpp"

namespace stai {

/// The transposed graph: row t lists the sources s of the edges s -> t, in
/// increasing order of s. (For the kNN graph: the cells t gathers from.)
inline CsrGraph transpose_graph(const CsrGraph& g) {
  CsrGraph r;
  r.n = g.n;
  r.indptr.assign(static_cast<std::size_t>(g.n + 1), 0);
  for (index_t t : g.indices) ++r.indptr[static_cast<std::size_t>(t + 1)];
  for (index_t i = 0; i < g.n; ++i)
    r.indptr[static_cast<std::size_t>(i + 1)] += r.indptr[static_cast<std::size_t>(i)];
  r.indices.resize(g.indices.size());
  std::vector<index_t> pos(r.indptr.begin(), r.indptr.end() - 1);
  for (index_t s = 0; s < g.n; ++s)  // sources visited in increasing order
    for (index_t e = g.indptr[static_cast<std::size_t>(s)]; e < g.indptr[static_cast<std::size_t>(s + 1)]; ++e)
      r.indices[static_cast<std::size_t>(pos[static_cast<std::size_t>(g.indices[static_cast<std::size_t>(e)])]++)] = s;
  return r;
}

/// One spatial minibatch.
struct SpatialBatch {
  /// Global cell indices of the local nodes: the owned cells first (in
  /// increasing global index), then the halo cells (increasing global index).
  std::vector<index_t> nodes;
  /// Number of owned cells = nodes[0 .. n_owned).
  index_t n_owned = 0;
  /// owned[l] == 1 for l < n_owned, 0 for halo nodes (loss mask).
  std::vector<std::uint8_t> owned;
  /// Local graph on nodes.size() nodes, same convention as the global kNN
  /// graph (row s lists targets t of edges s -> t), holding every global edge
  /// whose target is owned, in the global row order.
  CsrGraph graph;

  index_t num_nodes() const { return static_cast<index_t>(nodes.size()); }
};

/// A partition of the spatial cells into batches.
struct SpatialBatches {
  std::vector<SpatialBatch> batches;
  /// tile_of[i] = index of the batch that owns cell i.
  std::vector<index_t> tile_of;

  index_t size() const { return static_cast<index_t>(batches.size()); }
  /// The order in which to visit the batches in epoch `epoch`: a seeded
  /// permutation, a pure function of (seed, epoch).
  std::vector<index_t> epoch_order(std::uint64_t seed, std::uint64_t epoch) const {
    Rng rng(seed, 0x5ba7c4b0ULL + epoch);
    return permutation(size(), rng);
  }
};

namespace detail {

/// Recursive k-d bisection of cells[lo, hi) into `parts` tiles whose sizes
/// differ by at most one. Splits along the axis of largest extent (ties: the
/// lower axis), ordering cells by (coordinate, index).
inline void kd_tiles(const RowMatrix<double>& xy, std::vector<index_t>& cells, index_t lo, index_t hi,
                     index_t parts, std::vector<std::vector<index_t>>& out) {
  if (parts <= 1 || hi - lo <= 1) {
    std::vector<index_t> tile(cells.begin() + lo, cells.begin() + hi);
    std::sort(tile.begin(), tile.end());
    out.push_back(std::move(tile));
    return;
  }
  const index_t d = xy.cols();
  index_t axis = 0;
  double best = -1;
  for (index_t c = 0; c < d; ++c) {
    double mn = xy(cells[static_cast<std::size_t>(lo)], c), mx = mn;
    for (index_t e = lo; e < hi; ++e) {
      const double v = xy(cells[static_cast<std::size_t>(e)], c);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    if (mx - mn > best) {
      best = mx - mn;
      axis = c;
    }
  }
  const index_t left_parts = parts / 2;
  const index_t n = hi - lo;
  // sizes proportional to the tile counts: floor(n * left_parts / parts)
  const index_t mid = lo + (n * left_parts) / parts;
  auto less = [&](index_t a, index_t b) {
    const double va = xy(a, axis), vb = xy(b, axis);
    return va < vb || (va == vb && a < b);
  };
  std::nth_element(cells.begin() + lo, cells.begin() + mid, cells.begin() + hi, less);
  kd_tiles(xy, cells, lo, mid, left_parts, out);
  kd_tiles(xy, cells, mid, hi, parts - left_parts, out);
}

}  // namespace detail

/// Splits the cells of `knn` (coordinates `coords`, n x 2 or n x 3) into
/// ceil(n / target_size) spatially compact tiles of near-equal size
/// (floor or ceil of n / tiles cells each, so never more than target_size),
/// and builds each tile's node set and local graph (see the file comment).
/// target_size >= n gives one batch holding the whole graph.
inline SpatialBatches make_spatial_batches(const RowMatrix<double>& coords, const CsrGraph& knn,
                                           index_t target_size) {
  const index_t n = knn.n;
  knn.validate();
  STAI_CHECK(coords.rows() == n, "spatial minibatches: coordinates have ", coords.rows(),
             " rows but the graph has ", n, " nodes; pass the coordinates the graph was built from");
  STAI_CHECK(coords.cols() >= 1, "spatial minibatches: coordinates have no columns");
  STAI_CHECK(target_size >= 1, "spatial minibatches: target batch size must be at least 1, got ",
             target_size);
  STAI_CHECK(n >= 1, "spatial minibatches: the graph has no cells");
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < coords.cols(); ++c)
      STAI_CHECK(std::isfinite(coords(i, c)), "spatial minibatches: coordinate (cell ", i,
                 ", column ", c, ") is not finite");

  const index_t parts = (n + target_size - 1) / target_size;
  std::vector<index_t> cells(static_cast<std::size_t>(n));
  std::iota(cells.begin(), cells.end(), index_t(0));
  std::vector<std::vector<index_t>> tiles;
  tiles.reserve(static_cast<std::size_t>(parts));
  detail::kd_tiles(coords, cells, 0, n, parts, tiles);

  SpatialBatches out;
  out.tile_of.assign(static_cast<std::size_t>(n), -1);
  for (std::size_t t = 0; t < tiles.size(); ++t)
    for (index_t c : tiles[t]) out.tile_of[static_cast<std::size_t>(c)] = static_cast<index_t>(t);

  const CsrGraph in = transpose_graph(knn);  // in.row(t) = sources of edges into t
  std::vector<index_t> local(static_cast<std::size_t>(n), -1);
  out.batches.resize(tiles.size());
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    SpatialBatch& b = out.batches[t];
    const std::vector<index_t>& own = tiles[t];
    b.n_owned = static_cast<index_t>(own.size());
    b.nodes = own;
    for (index_t c : own) local[static_cast<std::size_t>(c)] = 0;  // mark
    std::vector<index_t> halo;
    for (index_t c : own)
      for (index_t e = in.indptr[static_cast<std::size_t>(c)]; e < in.indptr[static_cast<std::size_t>(c + 1)]; ++e) {
        const index_t s = in.indices[static_cast<std::size_t>(e)];
        if (local[static_cast<std::size_t>(s)] < 0) {
          local[static_cast<std::size_t>(s)] = 0;
          halo.push_back(s);
        }
      }
    std::sort(halo.begin(), halo.end());
    b.nodes.insert(b.nodes.end(), halo.begin(), halo.end());
    for (std::size_t l = 0; l < b.nodes.size(); ++l)
      local[static_cast<std::size_t>(b.nodes[l])] = static_cast<index_t>(l);
    b.owned.assign(b.nodes.size(), 0);
    std::fill(b.owned.begin(), b.owned.begin() + b.n_owned, std::uint8_t(1));

    // Local graph: for each local source, its global out-edges whose target is owned.
    CsrGraph& g = b.graph;
    g.n = b.num_nodes();
    g.indptr.assign(static_cast<std::size_t>(g.n + 1), 0);
    g.indices.clear();
    for (index_t l = 0; l < g.n; ++l) {
      const index_t s = b.nodes[static_cast<std::size_t>(l)];
      for (index_t e = knn.indptr[static_cast<std::size_t>(s)]; e < knn.indptr[static_cast<std::size_t>(s + 1)]; ++e) {
        const index_t tgt = knn.indices[static_cast<std::size_t>(e)];
        if (out.tile_of[static_cast<std::size_t>(tgt)] == static_cast<index_t>(t))
          g.indices.push_back(local[static_cast<std::size_t>(tgt)]);
      }
      g.indptr[static_cast<std::size_t>(l + 1)] = static_cast<index_t>(g.indices.size());
    }
    for (index_t c : b.nodes) local[static_cast<std::size_t>(c)] = -1;  // reset
  }
  return out;
}

/// Rows `rows` of X gathered into a new matrix (host helper for batches:
/// gather_rows(X, batch.nodes)).
template <class T>
RowMatrix<T> gather_rows(const RowMatrix<T>& X, const std::vector<index_t>& rows) {
  RowMatrix<T> out(static_cast<index_t>(rows.size()), X.cols());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const index_t i = rows[r];
    STAI_CHECK(i >= 0 && i < X.rows(), "gather_rows: row ", i, " outside [0, ", X.rows(), ")");
    out.row(static_cast<index_t>(r)) = X.row(i);
  }
  return out;
}

}  // namespace stai
