// stai — fully connected layer y = x W^T + b (PyTorch nn.Linear semantics).
//
// Layer conventions (all layers of stai):
//   declare(arena, prefix)  — registers parameters in the ParamArena;
//   bind(arena)             — takes pointers into the allocated arena;
//   forward(ctx, x, y)      — y is written;
//   backward(ctx, x, y, dy, dx, mode)
//                           — parameter gradients ACCUMULATE (+=);
//                             dx is written (Grad::Write) or added
//                             (Grad::Accumulate); dx.data == nullptr skips it.
// x is n x in, y is n x out, row-major (one sample per row).
#pragma once
#include <string>

#include "../context.hpp"
#include "../ops/elementwise.hpp"
#include "../random.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"
#include "bias.hpp"

namespace stai {

template <class B, class T>
class Linear {
 public:
  Linear() = default;
  Linear(index_t in, index_t out, bool bias = true, Init weight_init = Init::TorchLinear,
         Init bias_init = Init::TorchLinear)
      : in_(in), out_(out), has_bias_(bias), winit_(weight_init), binit_(bias_init) {}

  void declare(ParamArena<B, T>& a, const std::string& prefix) {
    w_id_ = a.add(prefix + ".weight", out_, in_, winit_, in_, out_);
    // PyTorch draws the bias bound from the weight's fan_in.
    if (has_bias_) b_id_ = a.add(prefix + ".bias", 1, out_, binit_, in_, out_);
  }
  void bind(ParamArena<B, T>& a) {
    W_ = a.param(w_id_);
    dW_ = a.grad(w_id_);
    if (has_bias_) {
      b_ = a.param(b_id_);
      db_ = a.grad(b_id_);
    }
  }

  index_t in_features() const { return in_; }
  index_t out_features() const { return out_; }
  index_t out_cols(index_t) const { return out_; }
  const T* weight() const { return W_; }
  const T* bias() const { return b_; }

  void forward(Context<B>& ctx, CMatRef<T> x, MatRef<T> y) const {
    check(x, y);
    gemm(ctx.be, Op::N, Op::T, x.rows, out_, in_, T(1), x.data, in_, W_, in_, T(0), y.data, out_);
    if (has_bias_) add_row_bias(ctx.be, y, b_);
  }

  void backward(Context<B>& ctx, CMatRef<T> x, CMatRef<T> /*y*/, CMatRef<T> dy, MatRef<T> dx,
                Grad mode = Grad::Write) {
    const index_t n = x.rows;
    // dW (out x in) += dy^T (out x n) * x (n x in)
    gemm(ctx.be, Op::T, Op::N, out_, in_, n, T(1), dy.data, out_, x.data, in_, T(1), dW_, in_);
    if (has_bias_) add_column_sums(ctx.be, db_, dy);
    if (dx.data) {
      // dx (n x in) = dy (n x out) * W (out x in)
      gemm(ctx.be, Op::N, Op::N, n, in_, out_, T(1), dy.data, out_, W_, in_,
           mode == Grad::Accumulate ? T(1) : T(0), dx.data, in_);
    }
  }

 private:
  void check(CMatRef<T> x, MatRef<T> y) const {
    STAI_CHECK(x.cols == in_, "Linear expects ", in_, " input columns, got ", x.cols);
    STAI_CHECK(y.rows == x.rows && y.cols == out_, "Linear output must be ", x.rows, " x ", out_,
               ", got ", y.rows, " x ", y.cols);
  }
  index_t in_ = 0, out_ = 0;
  bool has_bias_ = true;
  Init winit_ = Init::TorchLinear, binit_ = Init::TorchLinear;
  int w_id_ = -1, b_id_ = -1;
  T *W_ = nullptr, *dW_ = nullptr, *b_ = nullptr, *db_ = nullptr;
};

}  // namespace stai
