// stai — the cell coordinates of a map: their checks and bounding box, and the
// aspect ratio that sizes the map box.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

#include "../config.hpp"
#include "../error.hpp"
#include "../tensor/matrix.hpp"

namespace stai::plot::detail {

/// Bounding box of the cell coordinates.
struct Extent {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  double rx() const { return x1 - x0; }
  double ry() const { return y1 - y0; }
};

/// Checks coords (n x 2, finite, n >= 1) and returns their bounding box.
inline Extent check_coords(const std::string& path, const RowMatrix<double>& coords) {
  STAI_CHECK(coords.rows() > 0, path, ": there are no cells to draw (coords has 0 rows)");
  STAI_CHECK(coords.cols() == 2, path, ": coords must have 2 columns (x, y) per cell, got ",
             coords.cols(), "; pass e.g. obsm[\"spatial\"] restricted to its first two columns");
  Extent e{coords(0, 0), coords(0, 0), coords(0, 1), coords(0, 1)};
  for (index_t i = 0; i < coords.rows(); ++i) {
    const double x = coords(i, 0), y = coords(i, 1);
    STAI_CHECK(std::isfinite(x) && std::isfinite(y), path, ": cell ", i, " has a non-finite coordinate (",
               x, ", ", y, "); remove or fix that cell before plotting");
    e.x0 = std::min(e.x0, x);
    e.x1 = std::max(e.x1, x);
    e.y0 = std::min(e.y0, y);
    e.y1 = std::max(e.y1, y);
  }
  return e;
}

/// Data aspect (height / width) for sizing a map box, clamped to [0.3, 3].
inline double data_aspect(const Extent& e) {
  const double rx = e.rx(), ry = e.ry();
  double r = 1;
  if (rx > 0 && ry > 0)
    r = ry / rx;
  else if (ry > 0)
    r = 3;
  else if (rx > 0)
    r = 0.3;
  return std::clamp(r, 0.3, 3.0);
}

}  // namespace stai::plot::detail
