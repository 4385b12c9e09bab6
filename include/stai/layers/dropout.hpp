// stai — inverted dropout with a recomputed (never stored) mask.
// Conventions: see layers/linear.hpp.
//
// Training (ctx.training && p > 0): y = x * mask / (1 - p), where the mask is
// a pure function of (ctx.seed, ctx.step, salt, element index) — see
// ops/dropout.hpp. Backward recomputes the same mask, so it must be called
// with the same ctx.seed / ctx.step as the forward. Evaluation or p == 0:
// identity. Every dropout layer of a model needs its own salt, or two layers
// share their masks.
#pragma once
#include <cstdint>
#include <string>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/dropout.hpp"
#include "../ops/elementwise.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

/// Dropout(p). Works in place (x.data == y.data, dy.data == dx.data with Grad::Write).
template <class B, class T>
class Dropout {
 public:
  explicit Dropout(double p = 0.0, std::uint64_t salt = 0) : p_(p), salt_(salt) {
    STAI_CHECK(p >= 0.0 && p < 1.0, "Dropout probability must be in [0, 1), got ", p,
               " (p is the probability of ZEROING an element; use 0 to disable dropout)");
  }
  void declare(ParamArena<B, T>&, const std::string&) {}
  void bind(ParamArena<B, T>&) {}
  index_t out_cols(index_t in_cols) const { return in_cols; }
  double p() const { return p_; }
  std::uint64_t salt() const { return salt_; }
  void set_salt(std::uint64_t salt) { salt_ = salt; }
  /// Whether a forward in this context changes its input (false: identity).
  bool active(const Context<B>& ctx) const { return ctx.training && p_ > 0.0; }

  void forward(Context<B>& ctx, CMatRef<T> x, MatRef<T> y) const {
    STAI_CHECK(x.rows == y.rows && x.cols == y.cols, "Dropout output must be ", x.rows, " x ",
               x.cols, ", got ", y.rows, " x ", y.cols);
    if (!active(ctx)) {
      if (x.data != y.data) copy(ctx.be, y.data, x.data, x.size());
      return;
    }
    launch(ctx.be, x.size(),
           ops::DropoutFwd<T>{x.data, y.data, nullptr, key(ctx), p_, scale(), true});
  }

  /// y = residual + dropout(x): the fused residual form (residual may alias y).
  void forward_add(Context<B>& ctx, CMatRef<T> x, CMatRef<T> residual, MatRef<T> y) const {
    STAI_CHECK(x.rows == y.rows && x.cols == y.cols && residual.rows == y.rows &&
                   residual.cols == y.cols,
               "Dropout::forward_add: input, residual and output shapes differ");
    launch(ctx.be, x.size(), ops::DropoutFwd<T>{x.data, y.data, residual.data, key(ctx), p_,
                                                 scale(), active(ctx)});
  }

  /// dx = dy * mask / (1 - p) (identity in evaluation), written or added.
  void backward(Context<B>& ctx, CMatRef<T> /*x*/, CMatRef<T> /*y*/, CMatRef<T> dy, MatRef<T> dx,
                Grad mode = Grad::Write) {
    if (!dx.data) return;
    STAI_CHECK(dx.rows == dy.rows && dx.cols == dy.cols, "Dropout gradient shapes differ");
    const bool acc = mode == Grad::Accumulate;
    if (!active(ctx)) {
      if (acc || dx.data != dy.data) launch(ctx.be, dy.size(), ops::CopyOrAdd<T>{dy.data, dx.data, acc});
      return;
    }
    launch(ctx.be, dy.size(),
           ops::DropoutBwd<T>{dy.data, dx.data, key(ctx), p_, scale(), acc});
  }

 private:
  std::uint64_t key(const Context<B>& ctx) const {
    return ops::dropout_key(ctx.seed, ops::dropout_stream(salt_, ctx.step));
  }
  T scale() const { return static_cast<T>(1.0 / (1.0 - p_)); }
  double p_;
  std::uint64_t salt_;
};

}  // namespace stai
