// stai — learnable dot-product attention imputation head (stAI option).
//
// Semantics (docs/model.md "Modules", the learnable imputation head (option)):
//   Q = z1 Wq^T + bq,  K = z2 Wk^T + bk   (two Linear(d, d))
//   S = softmax over all reference cells (rows) of Q K^T;  imputed = S V.
//
// What the authors' code does (gszou99/stAI, stAI/layers.py,
// class ScaledDotProductAttention, read for reference only):
//   * query/key are nn.Linear(d_input, d_input) with the default bias=True and
//     PyTorch's default initialisation -> Linear(d, d, bias) with Init::TorchLinear;
//   * despite the class name the scores are NOT scaled: sim = Q K^T
//     (no 1/sqrt(d)), softmax(dim=-1); the value map is nn.Identity.
// This head reproduces that: no scaling (an optional `scale` is offered, 1 by
// default, for experiments).
//
// Memory: one n1 x n2 matrix (S, kept for backward and apply()); the backward
// works in row tiles of `tile_rows` (workspace tile x n2), so no second
// n1 x n2 matrix is ever allocated. Deterministic: fixed tile order, fixed
// per-row loops, GEMMs.
// Conventions: see layers/linear.hpp.
#pragma once
#include <algorithm>
#include <string>

#include "../context.hpp"
#include "../error.hpp"
#include "../layers/linear.hpp"
#include "../ops/attention.hpp"
#include "../ops/elementwise.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

template <class B, class T>
class LearnableAttention {
 public:
  static constexpr index_t kDefaultTileRows = 256;

  LearnableAttention() = default;
  /// d: latent width (Q, K are Linear(d, d)); bias as nn.Linear's default;
  /// scale multiplies the scores (1 = the authors' unscaled scores).
  explicit LearnableAttention(index_t d, bool bias = true, double scale = 1.0,
                              index_t tile_rows = kDefaultTileRows)
      : d_(d), scale_(static_cast<T>(scale)), tile_(tile_rows), q_(d, d, bias), k_(d, d, bias) {
    STAI_CHECK(d >= 1, "LearnableAttention: latent width d must be at least 1 (got ", d, ")");
    STAI_CHECK(tile_rows >= 1, "LearnableAttention: tile_rows must be at least 1 (got ",
               tile_rows, ")");
  }

  /// Registers <prefix>.query.{weight,bias} and <prefix>.key.{weight,bias}.
  void declare(ParamArena<B, T>& a, const std::string& prefix) {
    q_.declare(a, prefix + ".query");
    k_.declare(a, prefix + ".key");
  }
  void bind(ParamArena<B, T>& a) {
    q_.bind(a);
    k_.bind(a);
  }

  index_t latent() const { return d_; }
  const Linear<B, T>& query() const { return q_; }
  const Linear<B, T>& key() const { return k_; }
  /// Attention matrix of the last forward, n1 x n2 (rows sum to 1).
  CMatRef<T> attention() const { return S_.cref(); }

  /// Computes S from z1 (n1 x d) and z2 (n2 x d) without imputing.
  void attend(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2) {
    STAI_CHECK(z1.cols == d_ && z2.cols == d_, "LearnableAttention: codes must have d = ", d_,
               " columns, got ", z1.cols, " (spatial) and ", z2.cols, " (reference)");
    STAI_CHECK(z2.rows >= 1, "LearnableAttention: the reference has no cells (z2 has 0 rows)");
    const B& be = ctx.be;
    const index_t n1 = z1.rows, n2 = z2.rows;
    Q_.resize(n1, d_);
    K_.resize(n2, d_);
    S_.resize(n1, n2);
    q_.forward(ctx, z1, Q_.ref());
    k_.forward(ctx, z2, K_.ref());
    gemm(be, Op::N, Op::T, n1, n2, d_, scale_, Q_.data(), d_, K_.data(), d_, T(0), S_.data(), n2);
    launch_rows(be, n1, ops::SoftmaxRowInPlace<T>{S_.data(), n2});
    ready_ = true;
  }

  /// y (n1 x g) = S v for any values v (n2 x g) with the last attention.
  void apply(Context<B>& ctx, CMatRef<T> v, MatRef<T> y) const {
    STAI_CHECK(ready_, "LearnableAttention::apply called before forward/attend");
    STAI_CHECK(v.rows == S_.cols(), "LearnableAttention: values have ", v.rows,
               " rows but the attention was computed for ", S_.cols(), " reference cells");
    STAI_CHECK(y.rows == S_.rows() && y.cols == v.cols, "LearnableAttention: output must be ",
               S_.rows(), " x ", v.cols, ", got ", y.rows, " x ", y.cols);
    gemm(ctx.be, Op::N, Op::N, S_.rows(), v.cols, S_.cols(), T(1), S_.data(), S_.cols(), v.data,
         v.cols, T(0), y.data, v.cols);
  }

  void forward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, MatRef<T> y) {
    STAI_CHECK(v.rows == z2.rows, "LearnableAttention: values have ", v.rows,
               " rows but there are ", z2.rows, " reference cells (one value row per cell)");
    attend(ctx, z1, z2);
    apply(ctx, v, y);
  }

  /// Gradients of <dy, S v>: ACCUMULATED into the Q and K parameters;
  /// dz1 / dz2 written or added per `mode` (null data skips). z1, z2, v must
  /// be those of the last forward.
  void backward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, CMatRef<T> dy,
                MatRef<T> dz1, MatRef<T> dz2, Grad mode = Grad::Write) {
    STAI_CHECK(ready_, "LearnableAttention::backward called before forward");
    const index_t n1 = S_.rows(), n2 = S_.cols(), g = v.cols;
    STAI_CHECK(z1.rows == n1 && z2.rows == n2 && z1.cols == d_ && z2.cols == d_,
               "LearnableAttention::backward: codes are ", z1.rows, " x ", z1.cols, " and ",
               z2.rows, " x ", z2.cols, " but the last forward used ", n1, " x ", d_, " and ", n2,
               " x ", d_, "; call backward with the inputs of the last forward");
    STAI_CHECK(v.rows == n2 && dy.rows == n1 && dy.cols == g,
               "LearnableAttention::backward: dy must be ", n1, " x ", g, " (got ", dy.rows, " x ",
               dy.cols, ") and v must have ", n2, " rows (got ", v.rows, ")");
    if (dz1.data)
      STAI_CHECK(dz1.rows == n1 && dz1.cols == d_, "LearnableAttention::backward: dz1 must be ",
                 n1, " x ", d_, ", got ", dz1.rows, " x ", dz1.cols);
    if (dz2.data)
      STAI_CHECK(dz2.rows == n2 && dz2.cols == d_, "LearnableAttention::backward: dz2 must be ",
                 n2, " x ", d_, ", got ", dz2.rows, " x ", dz2.cols);
    const B& be = ctx.be;
    dQ_.resize(n1, d_);
    dK_.resize(n2, d_);
    const index_t tr = std::min(tile_, std::max<index_t>(n1, 1));
    dA_.resize(tr, n2);
    fill(be, dK_.data(), dK_.size(), T(0));
    for (index_t r0 = 0; r0 < n1; r0 += tr) {
      const index_t rows = std::min(tr, n1 - r0);
      // dS = dY V^T (rows x n2), then softmax backward in place -> dA (w.r.t. scores)
      gemm(be, Op::N, Op::T, rows, n2, g, T(1), dy.data + r0 * g, g, v.data, g, T(0), dA_.data(),
           n2);
      launch_rows(be, rows,
                  ops::SoftmaxBackwardRowInPlace<T>{S_.data() + r0 * n2, dA_.data(), n2});
      // scores = scale Q K^T:  dQ = scale dA K,  dK += scale dA^T Q
      gemm(be, Op::N, Op::N, rows, d_, n2, scale_, dA_.data(), n2, K_.data(), d_, T(0),
           dQ_.data() + r0 * d_, d_);
      gemm(be, Op::T, Op::N, n2, d_, rows, scale_, dA_.data(), n2, Q_.data() + r0 * d_, d_, T(1),
           dK_.data(), d_);
    }
    q_.backward(ctx, z1, Q_.cref(), dQ_.cref(), dz1, mode);
    k_.backward(ctx, z2, K_.cref(), dK_.cref(), dz2, mode);
  }

 private:
  index_t d_ = 0;
  T scale_ = T(1);
  index_t tile_ = kDefaultTileRows;
  Linear<B, T> q_, k_;
  bool ready_ = false;
  Matrix<B, T> Q_, K_, S_;      // forward state
  Matrix<B, T> dQ_, dK_, dA_;   // backward workspaces (dA_: tile x n2)
};

}  // namespace stai
