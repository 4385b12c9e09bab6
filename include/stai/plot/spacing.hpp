// stai — the typical spacing between cells, which sets the automatic marker
// size of the maps (map_panel.hpp): 1 / sqrt(local cell density). Around a
// cell, the distance r_k to its k-th nearest cell at a different position
// (k = 8, fewer if there are fewer cells) gives the local density
// k / (pi r_k^2). Using the 8th rather than the 1st neighbour makes the
// estimate nearly the same for random (Poisson) and lattice-like layouts.
//
// The neighbours come from the query cells' rows of the spatial kNN graph
// (graph/knn.hpp, knn_rows) of the distinct positions, each position counted
// with the number of cells on it, so cells sharing a position neither hide
// their neighbours nor count as neighbours of each other.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "../backend/cpu.hpp"  // knn_rows on the CPU
#include "../config.hpp"
#include "../graph/knn.hpp"
#include "../tensor/matrix.hpp"
#include "extent.hpp"
#include "style.hpp"

namespace stai::plot::detail {

/// Typical spacing between cells: the median of sqrt(pi r_k^2 / k) over up to
/// 4000 evenly spaced query cells (every max(1, n / 4000)-th cell). NaN when
/// all cells share one position.
///
/// r_k^2 is the k-th smallest squared distance dx^2 + dy^2 from the query to
/// the cells at other positions. A kNN row of the query's position that is
/// `width` positions wide holds it for certain once the row's farthest
/// position lies clearly beyond it (two evaluations of one squared distance
/// differ by far less than the 1e-9 margin), or once the row holds every
/// position; otherwise the rows are widened.
inline double typical_spacing(const RowMatrix<double>& c, const Extent& e) {
  const index_t n = c.rows();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  if (!(e.rx() > 0) && !(e.ry() > 0)) return std::numeric_limits<double>::quiet_NaN();
  // The distinct positions, the number of cells on each, and each cell's position.
  std::vector<index_t> by_xy(static_cast<std::size_t>(n));
  std::iota(by_xy.begin(), by_xy.end(), index_t{0});
  std::sort(by_xy.begin(), by_xy.end(), [&](index_t a, index_t b) {
    return c(a, 0) < c(b, 0) || (c(a, 0) == c(b, 0) && c(a, 1) < c(b, 1));
  });
  std::vector<std::array<double, 2>> xy;
  std::vector<index_t> cells_at, pos_of(static_cast<std::size_t>(n));
  for (index_t i : by_xy) {
    if (xy.empty() || c(i, 0) != xy.back()[0] || c(i, 1) != xy.back()[1]) {
      xy.push_back({c(i, 0), c(i, 1)});
      cells_at.push_back(0);
    }
    pos_of[static_cast<std::size_t>(i)] = static_cast<index_t>(xy.size()) - 1;
    ++cells_at.back();
  }
  const auto m = static_cast<index_t>(xy.size());  // >= 2: the extent is not a point
  RowMatrix<double> pos(m, 2);
  for (index_t p = 0; p < m; ++p) {
    pos(p, 0) = xy[static_cast<std::size_t>(p)][0];
    pos(p, 1) = xy[static_cast<std::size_t>(p)][1];
  }
  constexpr int kMaxK = 8;
  const int k = static_cast<int>(std::min<index_t>(kMaxK, n - 1));
  const index_t stride = std::max<index_t>(1, n / 4000);
  std::vector<index_t> query_pos;  // the position of each query cell
  for (index_t q = 0; q < n; q += stride) query_pos.push_back(pos_of[static_cast<std::size_t>(q)]);
  std::vector<double> spacing;
  std::vector<std::pair<double, index_t>> others;  // (squared distance, cells) of a row's other positions
  for (index_t width = std::min<index_t>(m, 2 * k + 1);; width = std::min(m, 2 * width)) {
    const std::vector<index_t> rows = knn_rows(pos, width, query_pos);  // the kNN graph's rows of the queries
    spacing.clear();
    bool certain = true;
    for (index_t q = 0, r = 0; q < n && certain; q += stride, ++r) {
      const double qx = c(q, 0), qy = c(q, 1);
      const index_t* row = rows.data() + r * width;
      others.clear();
      for (index_t t = 0; t < width; ++t) {
        const index_t p = row[t];
        const double dx = pos(p, 0) - qx, dy = pos(p, 1) - qy, d2 = dx * dx + dy * dy;
        if (d2 > 0) others.emplace_back(d2, cells_at[static_cast<std::size_t>(p)]);
      }
      std::sort(others.begin(), others.end());
      int found = 0;
      double rk2 = 0;  // squared distance of the found-th nearest cell
      for (const auto& o : others) {
        if (found == k) break;
        found = static_cast<int>(std::min<index_t>(k, found + o.second));
        rk2 = o.first;
      }
      if (width < m) certain = found == k && others.back().first * (1 - 1e-9) > rk2;
      if (certain && found > 0) spacing.push_back(std::sqrt(rk2 * kPi / found));
    }
    if (certain) break;
  }
  if (spacing.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(spacing.begin(), spacing.end());
  const std::size_t s = spacing.size();
  return s % 2 ? spacing[s / 2] : 0.5 * (spacing[s / 2 - 1] + spacing[s / 2]);
}

}  // namespace stai::plot::detail
