// stai — the reference's Pearson imputation loss (PcorrLoss).
// Conventions: see losses/mse.hpp.
#pragma once
#include "../context.hpp"
#include "../error.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// Per column (gene) k: r_k = mean_i((x - mean x)(y - mean y)) / (std1(x) std1(y) + 1e-6),
/// std1 with the n-1 denominator, the numerator with n (exactly as the
/// reference); loss = 1 - mean_k r_k. x = imputed (n x g), y = measured.
/// Gradient with respect to x. A constant column has r = 0 and a finite
/// gradient (the limit of the formula; PyTorch would give NaN there).
/// Moments are accumulated in double.
template <class B, class T>
class PearsonLoss {
 public:
  double value_and_grad(Context<B>& ctx, CMatRef<T> x, CMatRef<T> y, MatRef<T> dx = {},
                        double weight = 1.0) {
    STAI_CHECK(x.rows == y.rows && x.cols == y.cols, "Pearson loss: imputed is ", x.rows, " x ",
               x.cols, " but measured is ", y.rows, " x ", y.cols,
               "; pass one column per calibration gene and one row per cell for both");
    STAI_CHECK(x.cols > 0, "Pearson loss without genes (0 columns)");
    STAI_CHECK(x.rows >= 2, "Pearson loss needs at least 2 cells (the standard deviation uses "
               "n-1), got ", x.rows);
    if (dx.data)
      STAI_CHECK(dx.rows == x.rows && dx.cols == x.cols, "Pearson loss: gradient buffer is ",
                 dx.rows, " x ", dx.cols, ", expected ", x.rows, " x ", x.cols);
    r_.reserve(x.cols);
    const double g = static_cast<double>(x.cols);
    launch_rows(ctx.be, x.cols,
                ops::PearsonColumn<T>{x.data, y.data, dx.data, r_.data(), x.rows, x.cols,
                                      static_cast<T>(-weight / g)});
    return 1.0 - reduce_sum(ctx.be, x.cols, ops::ReadAsDouble<double>{r_.data()}) / g;
  }
  /// Per-gene r of the last call (backend memory, x.cols values).
  const double* per_gene_r() const { return r_.data(); }

 private:
  Buffer<B, double> r_;
};

}  // namespace stai
