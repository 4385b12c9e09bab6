// stai — per-gene (column) statistics of host matrices, shared by the
// refinement steps: column means and standard deviations, z-scoring, and the
// Pearson correlation of matching columns (eval::mean_finite averages them).
#pragma once
#include <cmath>
#include <limits>
#include <vector>

#include "../eval/metrics.hpp"
#include "../tensor/matrix.hpp"

namespace stai::refine {

/// Column means and population standard deviations (n denominator).
struct ColumnMoments {
  Eigen::RowVectorXd mean, sd;
};

inline ColumnMoments column_moments(const RowMatrix<double>& X) {
  ColumnMoments m;
  const double n = static_cast<double>(X.rows());
  m.mean = X.colwise().sum() / n;
  m.sd = ((X.rowwise() - m.mean).array().square().colwise().sum() / n).sqrt().matrix();
  return m;
}

/// Columns z-scored (population deviation); constant columns become 0.
inline RowMatrix<double> zscore_columns(const RowMatrix<double>& X) {
  const ColumnMoments m = column_moments(X);
  RowMatrix<double> Z = X.rowwise() - m.mean;
  for (index_t j = 0; j < X.cols(); ++j) {
    const double s = m.sd(j);
    if (s > 0) Z.col(j) /= s;
    else Z.col(j).setZero();
  }
  return Z;
}

/// Pearson correlation of column j of A with column j of B, for every j
/// (NaN where either column is constant).
inline std::vector<double> column_pearson(const RowMatrix<double>& A, const RowMatrix<double>& B) {
  STAI_CHECK(A.rows() == B.rows() && A.cols() == B.cols(), "column_pearson: shapes differ (", A.rows(), " x ",
             A.cols(), " and ", B.rows(), " x ", B.cols(), ")");
  const RowMatrix<double> a = A.rowwise() - A.colwise().mean();
  const RowMatrix<double> b = B.rowwise() - B.colwise().mean();
  std::vector<double> r(static_cast<std::size_t>(A.cols()));
  for (index_t j = 0; j < A.cols(); ++j) {
    const double saa = a.col(j).squaredNorm(), sbb = b.col(j).squaredNorm();
    r[static_cast<std::size_t>(j)] = saa > 0 && sbb > 0 ? a.col(j).dot(b.col(j)) / std::sqrt(saa * sbb)
                                                        : std::numeric_limits<double>::quiet_NaN();
  }
  return r;
}

}  // namespace stai::refine
