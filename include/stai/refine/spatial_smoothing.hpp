// stai — smoothing of per-cell values over the spatial neighbour graph, by
// label propagation:
//     Y <- (1 - alpha) X + alpha S Y,   repeated `iterations` times from Y = X,
// where S averages each cell's spatial neighbours (the kNN graph's row,
// the cell itself left out). alpha = 0 returns X. With alpha < 1 the
// iteration contracts towards (I - alpha S)^-1 (1 - alpha) X; a cell's own
// value keeps weight 1 - alpha and its neighbourhood supplies the rest, which
// averages out the cell-level noise that a prediction from one cell's genes
// carries, while tissue structure larger than a neighbourhood is kept.
#pragma once
#include "../graph/csr.hpp"
#include "../tensor/matrix.hpp"

namespace stai::refine {

inline RowMatrix<double> smooth_over_graph(const RowMatrix<double>& X, const CsrGraph& g, double alpha,
                                           int iterations) {
  STAI_CHECK(g.n == X.rows(), "spatial smoothing: the graph has ", g.n, " nodes for ", X.rows(), " cells");
  STAI_CHECK(alpha >= 0 && alpha < 1, "spatial smoothing: alpha must be in [0, 1), got ", alpha);
  if (alpha == 0 || iterations <= 0) return X;
  RowMatrix<double> Y = X, next(X.rows(), X.cols());
  for (int it = 0; it < iterations; ++it) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < X.rows(); ++i) {
      Eigen::RowVectorXd acc = Eigen::RowVectorXd::Zero(X.cols());
      index_t cnt = 0;
      for (index_t e = g.indptr[static_cast<std::size_t>(i)]; e < g.indptr[static_cast<std::size_t>(i) + 1]; ++e) {
        const index_t j = g.indices[static_cast<std::size_t>(e)];
        if (j == i) continue;
        acc += Y.row(j);
        ++cnt;
      }
      if (cnt == 0) next.row(i) = X.row(i);
      else next.row(i) = (1 - alpha) * X.row(i) + (alpha / static_cast<double>(cnt)) * acc;
    }
    Y.swap(next);
  }
  return Y;
}

}  // namespace stai::refine
