// stai — mean squared error (torch.nn.MSELoss, reduction 'mean').
//
// Loss conventions (all losses of stai): value_and_grad(ctx, ...) returns the
// value as double and ADDS weight * d(value)/d(input) into the gradient views
// it is given (callers zero them); a gradient view with data == nullptr means
// "no gradient for this input". Workspaces are members sized on first use.
#pragma once
#include "../context.hpp"
#include "../error.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// MSE(pred, target) = mean over all entries of (pred - target)^2.
/// Gradient with respect to pred only (target is data).
template <class B, class T>
class MseLoss {
 public:
  double value_and_grad(Context<B>& ctx, CMatRef<T> pred, CMatRef<T> target,
                        MatRef<T> dpred = {}, double weight = 1.0) {
    STAI_CHECK(pred.rows == target.rows && pred.cols == target.cols, "MSE: prediction is ",
               pred.rows, " x ", pred.cols, " but target is ", target.rows, " x ", target.cols,
               "; pass matrices of the same shape");
    STAI_CHECK(pred.size() > 0, "MSE of an empty matrix (", pred.rows, " x ", pred.cols,
               "): pass at least one entry");
    if (dpred.data)
      STAI_CHECK(dpred.rows == pred.rows && dpred.cols == pred.cols, "MSE: gradient buffer is ",
                 dpred.rows, " x ", dpred.cols, ", expected ", pred.rows, " x ", pred.cols);
    rowval_.reserve(pred.rows);
    const double N = static_cast<double>(pred.size());
    launch_rows(ctx.be, pred.rows,
                ops::MseRow<T>{pred.data, target.data, dpred.data, rowval_.data(), pred.cols,
                               static_cast<T>(2.0 * weight / N)},
                64);
    return reduce_sum(ctx.be, pred.rows, ops::ReadAsDouble<double>{rowval_.data()}) / N;
  }

 private:
  Buffer<B, double> rowval_;
};

}  // namespace stai
