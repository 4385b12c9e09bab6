// stai — the linear transfer head: a ridge regression, fitted on the
// reference, from the model genes to any gene, applied to the spatial cells'
// measured model genes.
//
// With X the reference's scaled model genes (n2 x G, z-scored per gene as the
// encoders see them) re-standardised per column (population deviation) and y
// a reference gene's log-normalised values,
//     beta = (X'X / n2 + lambda I)^-1 X'(y - mean y) / n2,
// and a spatial cell with standardised measured model genes s gets
//     mean y + s beta.
// The Gram matrix X'X / n2 is the model genes' correlation matrix, so lambda
// is on a scale-free footing for every panel. Standardising each side on its
// own cells removes platform-wide gains and offsets per gene, the main
// difference between a sequencing reference and an imaging panel.
//
// Leave-one-gene-out predictions of the model genes themselves (each gene
// predicted from the others, by coefficients fitted without it) are what the
// refinement uses to choose lambda and the blend weight: a gene never takes
// part in a fit that predicts it.
#pragma once
#include <vector>

#include <Eigen/Cholesky>

#include "columns.hpp"

namespace stai::refine {

class LinearTransfer {
 public:
  LinearTransfer() = default;

  /// reference: n2 x G model genes; spatial: n1 x G, the same genes.
  LinearTransfer(const RowMatrix<double>& reference, const RowMatrix<double>& spatial) {
    STAI_CHECK(reference.cols() == spatial.cols() && reference.cols() >= 1,
               "linear transfer: the reference and the spatial data must have the same model genes (",
               reference.cols(), " and ", spatial.cols(), ")");
    xr_ = zscore_columns(reference);
    xs_ = zscore_columns(spatial);
    gram_ = xr_.transpose() * xr_ / static_cast<double>(xr_.rows());
  }

  index_t genes() const { return xr_.cols(); }

  /// Predictions (n1 x T) of the reference values `targets` (n2 x T).
  RowMatrix<double> predict(const RowMatrix<double>& targets, double lambda) const {
    STAI_CHECK(targets.rows() == xr_.rows(), "linear transfer: ", targets.rows(),
               " target rows for ", xr_.rows(), " reference cells");
    const Eigen::RowVectorXd mu = targets.colwise().mean();
    const RowMatrix<double> rhs = xr_.transpose() * (targets.rowwise() - mu) / static_cast<double>(xr_.rows());
    const RowMatrix<double> A = gram_ + lambda * RowMatrix<double>::Identity(genes(), genes());
    const RowMatrix<double> beta = A.llt().solve(rhs);
    RowMatrix<double> out = xs_ * beta;
    out.rowwise() += mu;
    return out;
  }

  /// Leave-one-gene-out predictions of the model genes (n1 x G): column j
  /// from coefficients fitted on the other G - 1 genes to `targets`' column j
  /// (targets: n2 x G, the model genes' reference values).
  RowMatrix<double> leave_one_out(const RowMatrix<double>& targets, double lambda) const {
    const index_t G = genes();
    STAI_CHECK(targets.rows() == xr_.rows() && targets.cols() == G, "linear transfer: leave-one-out needs the ",
               G, " model genes' reference values");
    const Eigen::RowVectorXd mu = targets.colwise().mean();
    const RowMatrix<double> cross = xr_.transpose() * (targets.rowwise() - mu) / static_cast<double>(xr_.rows());
    RowMatrix<double> out(xs_.rows(), G);
    if (G == 1) {
      out.col(0).setConstant(mu(0));
      return out;
    }
    for (index_t j = 0; j < G; ++j) {
      std::vector<index_t> keep;
      for (index_t c = 0; c < G; ++c)
        if (c != j) keep.push_back(c);
      const index_t m = G - 1;
      RowMatrix<double> A(m, m);
      Eigen::VectorXd b(m);
      for (index_t r = 0; r < m; ++r) {
        b(r) = cross(keep[static_cast<std::size_t>(r)], j);
        for (index_t c = 0; c < m; ++c)
          A(r, c) = gram_(keep[static_cast<std::size_t>(r)], keep[static_cast<std::size_t>(c)]);
        A(r, r) += lambda;
      }
      const Eigen::VectorXd beta = A.llt().solve(b);
      Eigen::VectorXd col = Eigen::VectorXd::Constant(xs_.rows(), mu(j));
      for (index_t r = 0; r < m; ++r) col += beta(r) * xs_.col(keep[static_cast<std::size_t>(r)]);
      out.col(j) = col;
    }
    return out;
  }

 private:
  RowMatrix<double> xr_, xs_, gram_;
};

}  // namespace stai::refine
