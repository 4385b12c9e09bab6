// stai — graph-attention layer (one head; torch_geometric GATConv with
// heads=1, add_self_loops=True, negative_slope=0.2, bias=True, no attention
// dropout) and the stAI residual block around it.
// Conventions: see layers/linear.hpp.
//
// Math (z: n x d_in, row-major; edges s -> t of a GatGraph, one self loop
// per node):
//   u       = z W^T                          W: d_out x d_in, no bias
//   pre_st  = a_src . u_s + a_dst . u_t
//   alpha_st= softmax over the sources s of t's incoming edges of
//             LeakyReLU_0.2(pre_st)          (max subtracted)
//   out_t   = sum_s alpha_st u_s + bias
// Initialisation as PyG: W Glorot-uniform a = sqrt(6 / (d_in + d_out));
// a_src, a_dst Glorot on a (1, 1, d_out) tensor, a = sqrt(6 / (1 + d_out));
// bias zero. Parameters: "<prefix>.weight" (d_out x d_in),
// "<prefix>.att_src" (1 x d_out), "<prefix>.att_dst" (1 x d_out),
// "<prefix>.bias" (1 x d_out).
//
// Backward is hand-derived and race-free: a per-target pass (dalpha, softmax
// and LeakyReLU backward, d s_dst), then a per-source pass over the outgoing
// edge view (d s_src, du), then GEMMs for da_src, da_dst, dW and dz.
// The backward uses u, pre and alpha stored by the forward: call it after a
// forward on the same input and graph.
#pragma once
#include <cstdint>
#include <string>

#include "../context.hpp"
#include "../error.hpp"
#include "../graph/gat_graph.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/gat.hpp"
#include "../random.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"
#include "activations.hpp"
#include "bias.hpp"
#include "dropout.hpp"

namespace stai {

template <class B, class T>
class Gat {
 public:
  /// Rows per parallel task below which the per-node passes run serially.
  static constexpr index_t kRowGrain = 256;

  Gat() = default;
  Gat(index_t d_in, index_t d_out, double negative_slope = 0.2)
      : in_(d_in), out_(d_out), slope_(static_cast<T>(negative_slope)) {
    STAI_CHECK(d_in > 0 && d_out > 0, "Gat needs positive widths, got ", d_in, " -> ", d_out);
  }

  void declare(ParamArena<B, T>& a, const std::string& prefix) {
    w_id_ = a.add(prefix + ".weight", out_, in_, Init::GlorotUniform, in_, out_);
    as_id_ = a.add(prefix + ".att_src", 1, out_, Init::GlorotUniform, 1, out_);
    ad_id_ = a.add(prefix + ".att_dst", 1, out_, Init::GlorotUniform, 1, out_);
    b_id_ = a.add(prefix + ".bias", 1, out_, Init::Zero, 1, out_);
  }
  void bind(ParamArena<B, T>& a) {
    W_ = a.param(w_id_);
    dW_ = a.grad(w_id_);
    as_ = a.param(as_id_);
    das_ = a.grad(as_id_);
    ad_ = a.param(ad_id_);
    dad_ = a.grad(ad_id_);
    b_ = a.param(b_id_);
    db_ = a.grad(b_id_);
  }

  /// The graph used by forward(ctx, x, y) / backward(ctx, x, y, dy, dx);
  /// kept by pointer: it must outlive its use here.
  void set_graph(const GatGraph<B>& g) { graph_ = &g; }
  const GatGraph<B>* graph() const { return graph_; }

  index_t in_features() const { return in_; }
  index_t out_features() const { return out_; }
  index_t out_cols(index_t) const { return out_; }
  T negative_slope() const { return slope_; }

  /// Attention weights of the last forward, one per edge in GatGraph order.
  const T* alpha() const { return alpha_.data(); }
  /// Pre-activation scores a_src.u_s + a_dst.u_t of the last forward.
  const T* scores() const { return pre_.data(); }
  /// u = z W^T from the last forward (n x d_out).
  CMatRef<T> transformed() const { return u_.cref(); }

  void forward(Context<B>& ctx, CMatRef<T> x, MatRef<T> y) {
    forward(ctx, need_graph(), x, y);
  }
  void backward(Context<B>& ctx, CMatRef<T> x, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dx,
                Grad mode = Grad::Write) {
    backward(ctx, need_graph(), x, y, dy, dx, mode);
  }

  void forward(Context<B>& ctx, const GatGraph<B>& g, CMatRef<T> x, MatRef<T> y) {
    const index_t n = x.rows;
    STAI_CHECK(x.cols == in_, "Gat expects ", in_, " input columns, got ", x.cols);
    STAI_CHECK(y.rows == n && y.cols == out_, "Gat output must be ", n, " x ", out_, ", got ",
               y.rows, " x ", y.cols);
    STAI_CHECK(g.num_nodes() == n, "Gat: the graph has ", g.num_nodes(), " nodes but the input has ",
               n, " rows; build the GatGraph from the same cells (in the same order)");
    const index_t E = g.num_edges();
    u_.resize(n, out_);
    s_src_.resize(n, 1);
    s_dst_.resize(n, 1);
    pre_.resize(E, 1);
    alpha_.resize(E, 1);
    fwd_n_ = n;
    fwd_e_ = E;
    if (n == 0) return;
    gemm(ctx.be, Op::N, Op::T, n, out_, in_, T(1), x.data, in_, W_, in_, T(0), u_.data(), out_);
    launch_rows(ctx.be, n,
                ops::GatNodeScores<T>{u_.data(), as_, ad_, s_src_.data(), s_dst_.data(), out_},
                kRowGrain);
    launch_rows(ctx.be, n,
                ops::GatAggregate<T>{g.in_ptr(), g.in_src(), s_src_.data(), s_dst_.data(),
                                     u_.data(), b_, pre_.data(), alpha_.data(), y.data, out_,
                                     slope_},
                kRowGrain);
  }

  void backward(Context<B>& ctx, const GatGraph<B>& g, CMatRef<T> x, CMatRef<T> /*y*/,
                CMatRef<T> dy, MatRef<T> dx, Grad mode = Grad::Write) {
    const index_t n = x.rows;
    STAI_CHECK(fwd_n_ == n && fwd_e_ == g.num_edges() && g.num_nodes() == n,
               "Gat::backward must follow a forward on the same input and graph");
    STAI_CHECK(dy.rows == n && dy.cols == out_, "Gat: dy must be ", n, " x ", out_, ", got ",
               dy.rows, " x ", dy.cols);
    STAI_CHECK(!dx.data || (dx.rows == n && dx.cols == in_), "Gat: dx must be ", n, " x ", in_,
               ", got ", dx.rows, " x ", dx.cols);
    if (n == 0) return;
    const index_t E = g.num_edges();
    dpre_.resize(E, 1);
    ds_src_.resize(n, 1);
    ds_dst_.resize(n, 1);
    du_.resize(n, out_);
    // dbias += column sums of dy
    add_column_sums(ctx.be, db_, dy);
    launch_rows(ctx.be, n,
                ops::GatBackwardTarget<T>{g.in_ptr(), g.in_src(), u_.data(), dy.data,
                                          alpha_.data(), pre_.data(), dpre_.data(),
                                          ds_dst_.data(), out_, slope_},
                kRowGrain);
    launch_rows(ctx.be, n,
                ops::GatBackwardSource<T>{g.out_ptr(), g.out_edge(), g.edge_dst(), alpha_.data(),
                                          dpre_.data(), dy.data, ds_dst_.data(), as_, ad_,
                                          ds_src_.data(), du_.data(), out_},
                kRowGrain);
    // da_src (1 x d) += ds_src^T (1 x n) u (n x d); likewise da_dst
    gemm(ctx.be, Op::N, Op::N, 1, out_, n, T(1), ds_src_.data(), n, u_.data(), out_, T(1), das_,
         out_);
    gemm(ctx.be, Op::N, Op::N, 1, out_, n, T(1), ds_dst_.data(), n, u_.data(), out_, T(1), dad_,
         out_);
    // dW (d_out x d_in) += du^T z
    gemm(ctx.be, Op::T, Op::N, out_, in_, n, T(1), du_.data(), out_, x.data, in_, T(1), dW_, in_);
    if (dx.data) {
      // dz (n x d_in) = du (n x d_out) W (d_out x d_in)
      gemm(ctx.be, Op::N, Op::N, n, in_, out_, T(1), du_.data(), out_, W_, in_,
           mode == Grad::Accumulate ? T(1) : T(0), dx.data, in_);
    }
  }

 private:
  const GatGraph<B>& need_graph() const {
    STAI_CHECK(graph_ != nullptr,
               "Gat used without a graph: call set_graph(graph) or pass the graph explicitly");
    return *graph_;
  }
  index_t in_ = 0, out_ = 0;
  T slope_ = T(0.2);
  int w_id_ = -1, as_id_ = -1, ad_id_ = -1, b_id_ = -1;
  T *W_ = nullptr, *dW_ = nullptr, *as_ = nullptr, *das_ = nullptr, *ad_ = nullptr,
    *dad_ = nullptr, *b_ = nullptr, *db_ = nullptr;
  const GatGraph<B>* graph_ = nullptr;
  index_t fwd_n_ = -1, fwd_e_ = -1;
  Matrix<B, T> u_, s_src_, s_dst_, pre_, alpha_;     // forward state
  Matrix<B, T> dpre_, ds_src_, ds_dst_, du_;         // backward workspaces
};

/// The stAI spatial block: z_out = z + Dropout(LeakyReLU_0.01(GAT(z))),
/// d_in == d_out == d. Parameters are the GAT's, declared under <prefix>.
template <class B, class T>
class GatResidual {
 public:
  GatResidual() = default;
  GatResidual(index_t d, double dropout_p, std::uint64_t dropout_salt, double act_slope = 0.01,
              double attention_slope = 0.2)
      : gat_(d, d, attention_slope), act_(act_slope), drop_(dropout_p, dropout_salt), d_(d) {}

  void declare(ParamArena<B, T>& a, const std::string& prefix) { gat_.declare(a, prefix); }
  void bind(ParamArena<B, T>& a) { gat_.bind(a); }
  void set_graph(const GatGraph<B>& g) { gat_.set_graph(g); }
  index_t out_cols(index_t in_cols) const { return in_cols; }

  Gat<B, T>& gat() { return gat_; }
  const Gat<B, T>& gat() const { return gat_; }
  const Dropout<B, T>& dropout() const { return drop_; }
  /// GAT(z) from the last forward.
  CMatRef<T> gat_output() const { return g_.cref(); }

  void forward(Context<B>& ctx, CMatRef<T> z, MatRef<T> y) {
    forward(ctx, need_graph(), z, y);
  }
  void backward(Context<B>& ctx, CMatRef<T> z, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dz,
                Grad mode = Grad::Write) {
    backward(ctx, need_graph(), z, y, dy, dz, mode);
  }

  void forward(Context<B>& ctx, const GatGraph<B>& g, CMatRef<T> z, MatRef<T> y) {
    STAI_CHECK(z.cols == d_ && y.rows == z.rows && y.cols == d_, "GatResidual: z and the output "
               "must both be n x ", d_, ", got ", z.rows, " x ", z.cols, " and ", y.rows, " x ",
               y.cols);
    STAI_CHECK(y.data != z.data, "GatResidual cannot run in place: the backward needs z");
    g_.resize(z.rows, d_);
    a_.resize(z.rows, d_);
    gat_.forward(ctx, g, z, g_.ref());
    act_.forward(ctx, g_.cref(), a_.ref());
    drop_.forward_add(ctx, a_.cref(), z, y);
  }

  void backward(Context<B>& ctx, const GatGraph<B>& g, CMatRef<T> z, CMatRef<T> /*y*/,
                CMatRef<T> dy, MatRef<T> dz, Grad mode = Grad::Write) {
    STAI_CHECK(dy.rows == z.rows && dy.cols == d_, "GatResidual: dy must be ", z.rows, " x ", d_);
    STAI_CHECK(g_.rows() == z.rows, "GatResidual::backward must follow a forward on the same input");
    dg_.resize(z.rows, d_);
    drop_.backward(ctx, a_.cref(), a_.cref(), dy, dg_.ref());           // d(act output)
    act_.backward(ctx, g_.cref(), a_.cref(), dg_.cref(), dg_.ref());    // d(GAT output), in place
    if (dz.data) {
      STAI_CHECK(dz.rows == z.rows && dz.cols == d_, "GatResidual: dz must be ", z.rows, " x ", d_);
      launch(ctx.be, dy.size(), ops::CopyOrAdd<T>{dy.data, dz.data, mode == Grad::Accumulate});
    }
    gat_.backward(ctx, g, z, g_.cref(), dg_.cref(), dz, Grad::Accumulate);
  }

 private:
  const GatGraph<B>& need_graph() const {
    STAI_CHECK(gat_.graph() != nullptr,
               "GatResidual used without a graph: call set_graph(graph) or pass it explicitly");
    return *gat_.graph();
  }
  Gat<B, T> gat_;
  LeakyReLU<B, T> act_{0.01};
  Dropout<B, T> drop_;
  index_t d_ = 0;
  Matrix<B, T> g_, a_, dg_;
};

}  // namespace stai
