// stai — per-row cosine consistency loss (the reference's loss_cos term).
// Conventions: see losses/mse.hpp.
#pragma once
#include "../context.hpp"
#include "../error.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// L(a, b) = mean over rows i of 1 - <a_i / max(|a_i|, eps), b_i / max(|b_i|, eps)>
/// with eps = 1e-12 (torch.nn.functional.normalize(p=2, dim=1) semantics, as
/// the reference computes loss_cos). Symmetric in a and b; gradients for both
/// (in stAI a is the data, b the decoder output, so usually only db is passed).
/// A row whose norm is at most eps is divided by eps (its norm has no
/// gradient there): an all-zero row contributes 1 to the sum and a finite
/// gradient (the other side gets 0; the zero row itself gets -other_hat / eps,
/// exactly what PyTorch computes) — never NaN.
template <class B, class T>
class CosineConsistencyLoss {
 public:
  static constexpr double kEps = 1e-12;

  double value_and_grad(Context<B>& ctx, CMatRef<T> a, CMatRef<T> b, MatRef<T> da = {},
                        MatRef<T> db = {}, double weight = 1.0) {
    STAI_CHECK(a.rows == b.rows && a.cols == b.cols, "cosine loss: inputs are ", a.rows, " x ",
               a.cols, " and ", b.rows, " x ", b.cols, "; pass matrices of the same shape");
    STAI_CHECK(a.rows > 0 && a.cols > 0, "cosine loss of an empty matrix (", a.rows, " x ",
               a.cols, ")");
    if (da.data)
      STAI_CHECK(da.rows == a.rows && da.cols == a.cols, "cosine loss: gradient da is ", da.rows,
                 " x ", da.cols, ", expected ", a.rows, " x ", a.cols);
    if (db.data)
      STAI_CHECK(db.rows == a.rows && db.cols == a.cols, "cosine loss: gradient db is ", db.rows,
                 " x ", db.cols, ", expected ", a.rows, " x ", a.cols);
    rowval_.reserve(a.rows);
    const double n = static_cast<double>(a.rows);
    launch_rows(ctx.be, a.rows,
                ops::CosineRow<T>{a.data, b.data, da.data, db.data, rowval_.data(), a.cols,
                                  static_cast<T>(weight / n), static_cast<T>(kEps)},
                64);
    return reduce_sum(ctx.be, a.rows, ops::ReadAsDouble<double>{rowval_.data()}) / n;
  }

 private:
  Buffer<B, double> rowval_;
};

}  // namespace stai
