// stai — gene-consistency loss between the gene-gene correlation of the
// spatial data with the imputed genes (A1) and that of the reference data
// with its measured genes (A2, a constant). Conventions: see losses/mse.hpp.
#pragma once
#include <cmath>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// Cross-correlation of the columns of S (n x p) with the columns of X (n x c),
/// as the reference's cross_dist(..., 'correlation'):
///   A[j, k] = cov(S_j, X_k) / sqrt(var(S_j) var(X_k) + 1e-6),
/// covariance and variances with n-1 denominators, cov = Sc^T Xc / (n-1) by
/// one GEMM on the centred data. Keeps its workspaces (centred data,
/// variances, covariance) for the backward pass of GeneConsistencyLoss.
template <class B, class T>
class CrossCorrelation {
 public:
  /// A (p x c) is written.
  void compute(Context<B>& ctx, CMatRef<T> S, CMatRef<T> X, MatRef<T> A) {
    const index_t n = S.rows, p = S.cols, c = X.cols;
    STAI_CHECK(X.rows == n, "gene correlation: the two matrices have ", n, " and ", X.rows,
               " rows; pass the same cells (rows) for both");
    STAI_CHECK(n >= 2, "gene correlation needs at least 2 cells (n-1 denominators), got ", n);
    STAI_CHECK(p > 0 && c > 0, "gene correlation of a matrix without columns (", p, " and ", c,
               " genes)");
    STAI_CHECK(A.rows == p && A.cols == c, "gene correlation: output is ", A.rows, " x ", A.cols,
               ", expected ", p, " x ", c, " (genes of the first x genes of the second)");
    Sc_.resize(n, p);
    Xc_.resize(n, c);
    var1_.reserve(p);
    var2_.reserve(c);
    cov_.resize(p, c);
    launch_rows(ctx.be, p, ops::CentreColumn<T>{S.data, Sc_.data(), var1_.data(), n, p});
    launch_rows(ctx.be, c, ops::CentreColumn<T>{X.data, Xc_.data(), var2_.data(), n, c});
    gemm(ctx.be, Op::T, Op::N, p, c, n, static_cast<T>(1.0 / static_cast<double>(n - 1)),
         Sc_.data(), p, Xc_.data(), c, T(0), cov_.data(), c);
    launch(ctx.be, p * c, ops::CorrFromCov<T>{cov_.data(), var1_.data(), var2_.data(), A.data, c});
  }

  const Matrix<B, T>& centred_first() const { return Sc_; }
  const Matrix<B, T>& centred_second() const { return Xc_; }
  const Matrix<B, T>& covariance() const { return cov_; }
  const T* var_first() const { return var1_.data(); }
  const T* var_second() const { return var2_.data(); }

 private:
  Matrix<B, T> Sc_, Xc_, cov_;
  Buffer<B, T> var1_, var2_;
};

/// Convenience: A (p x c) = cross-correlation of S and X (allocates its own
/// workspace; use it once, e.g. for the constant A2 = corr(SC_fit, SC_cal)).
template <class B, class T>
void gene_correlation(Context<B>& ctx, CMatRef<T> S, CMatRef<T> X, MatRef<T> A) {
  CrossCorrelation<B, T> cc;
  cc.compute(ctx, S, X, A);
}

/// Which gene-consistency loss to use.
enum class GeneLoss {
  Cosine,    ///< reference: 1 - mean over columns c of cos(A1[:, c], A2[:, c]),
             ///< cos = <a, b> / sqrt(|a|^2 |b|^2 + 1e-6)
  Frobenius  ///< paper: ||A1 - A2||_F
};

/// Gene-consistency loss: A1 = corr(ST_fit (n1 x p), imputed (n1 x c)),
/// A2 = corr(SC_fit, SC_cal) (p x c, precomputed by gene_correlation),
/// loss by `kind`. Gradient with respect to `imputed` only (ST_fit is data,
/// A2 a constant). The Frobenius variant has no gradient at A1 == A2 (a
/// kink); it is defined as 0 there.
template <class B, class T>
class GeneConsistencyLoss {
 public:
  explicit GeneConsistencyLoss(GeneLoss kind = GeneLoss::Cosine) : kind_(kind) {}
  GeneLoss kind() const { return kind_; }

  double value_and_grad(Context<B>& ctx, CMatRef<T> st_fit, CMatRef<T> imputed, CMatRef<T> A2,
                        MatRef<T> dimputed = {}, double weight = 1.0) {
    const index_t n = st_fit.rows, p = st_fit.cols, c = imputed.cols;
    STAI_CHECK(A2.rows == p && A2.cols == c, "gene consistency: the reference correlation A2 is ",
               A2.rows, " x ", A2.cols, " but the data have ", p, " training genes and ", c,
               " imputed genes; compute A2 with gene_correlation(SC_fit, SC_calibration)");
    if (dimputed.data)
      STAI_CHECK(dimputed.rows == imputed.rows && dimputed.cols == c,
                 "gene consistency: gradient buffer is ", dimputed.rows, " x ", dimputed.cols,
                 ", expected ", imputed.rows, " x ", c);
    A1_.resize(p, c);
    corr_.compute(ctx, st_fit, imputed, A1_.ref());
    const bool grad = dimputed.data != nullptr;
    if (grad) G_.resize(p, c);
    double value = 0;
    if (kind_ == GeneLoss::Cosine) {
      r_.reserve(c);
      launch_rows(ctx.be, c,
                  ops::ColumnCosine<T>{A1_.data(), A2.data, grad ? G_.data() : nullptr, r_.data(),
                                       p, c, static_cast<T>(-weight / static_cast<double>(c))});
      value = 1.0 - reduce_sum(ctx.be, c, ops::ReadAsDouble<double>{r_.data()}) /
                        static_cast<double>(c);
    } else {
      value = std::sqrt(reduce_sum(ctx.be, p * c, ops::SquaredDiff<T>{A1_.data(), A2.data}));
      if (grad) {
        const T s = value > 0 ? static_cast<T>(weight / value) : T(0);
        launch(ctx.be, p * c, ops::ScaledDiff<T>{A1_.data(), A2.data, G_.data(), s});
      }
    }
    if (!grad) return value;
    // dX = (Sc (G o g) - Xc diag(h)) / (n-1), see ops::CorrBackwardColumn.
    Gg_.resize(p, c);
    h_.reserve(c);
    launch_rows(ctx.be, c,
                ops::CorrBackwardColumn<T>{G_.data(), corr_.covariance().data(), corr_.var_first(),
                                           corr_.var_second(), Gg_.data(), h_.data(), p, c});
    const T s = static_cast<T>(1.0 / static_cast<double>(n - 1));
    launch(ctx.be, n * c,
           ops::SubScaledColumn<T>{corr_.centred_second().data(), h_.data(), dimputed.data, c, s});
    gemm(ctx.be, Op::N, Op::N, n, c, p, s, corr_.centred_first().data(), p, Gg_.data(), c, T(1),
         dimputed.data, c);
    return value;
  }

  /// A1 of the last call (p x c).
  const Matrix<B, T>& a1() const { return A1_; }

 private:
  GeneLoss kind_;
  CrossCorrelation<B, T> corr_;
  Matrix<B, T> A1_, G_, Gg_;
  Buffer<B, T> h_;
  Buffer<B, double> r_;
};

}  // namespace stai
