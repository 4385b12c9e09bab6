// stai — compile-time composition of layers (a flat std::tuple, no nesting).
// Conventions: see layers/linear.hpp.
//
// Sequential<B, T, L0, L1, ..., Lk> runs L0 .. Lk in order. Forward keeps
// every intermediate activation in member workspaces (resized, never
// reallocated for the same shapes) and writes the last layer's output to y;
// backward is the reverse fold over the stored activations, so it must follow
// the forward on the same input (and, with dropout, the same ctx.seed/step).
// Parameters are declared as "<prefix>.<i>" for layer i (e.g. "enc.0.weight").
//
// Every layer type L must satisfy Layer<L, B, T> (layers/layer.hpp):
//   void declare(ParamArena<B,T>&, const std::string&);  void bind(ParamArena<B,T>&);
//   index_t out_cols(index_t in_cols) const;
//   void forward(Context<B>&, CMatRef<T> x, MatRef<T> y);
//   void backward(Context<B>&, CMatRef<T> x, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dx, Grad);
// Sequential satisfies it too.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "../context.hpp"
#include "../error.hpp"
#include "../random.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"
#include "activations.hpp"
#include "dropout.hpp"
#include "layer.hpp"
#include "linear.hpp"

namespace stai {

template <class B, class T, Layer<B, T>... Layers>
class Sequential {
  static_assert(sizeof...(Layers) >= 1, "Sequential needs at least one layer");

 public:
  static constexpr std::size_t N = sizeof...(Layers);

  Sequential() = default;
  explicit Sequential(Layers... layers) : layers_(std::move(layers)...) {}

  static constexpr std::size_t size() { return N; }
  template <std::size_t I>
  auto& layer() { return std::get<I>(layers_); }
  template <std::size_t I>
  const auto& layer() const { return std::get<I>(layers_); }

  void declare(ParamArena<B, T>& a, const std::string& prefix) {
    each([&](auto& l, std::size_t i) { l.declare(a, prefix + "." + std::to_string(i)); });
  }
  void bind(ParamArena<B, T>& a) {
    each([&](auto& l, std::size_t) { l.bind(a); });
  }

  /// Output width of the whole chain for `in_cols` input columns.
  index_t out_cols(index_t in_cols) const {
    index_t c = in_cols;
    each([&](const auto& l, std::size_t) { c = l.out_cols(c); });
    return c;
  }
  /// Width after layer i (i < N) for `in_cols` input columns.
  index_t cols_after(std::size_t i, index_t in_cols) const {
    index_t c = in_cols;
    each([&](const auto& l, std::size_t k) {
      if (k <= i) c = l.out_cols(c);
    });
    return c;
  }

  /// The stored output of layer i (i < N - 1) from the last forward; the
  /// last layer's output is the y given to forward.
  CMatRef<T> output(std::size_t i) const {
    STAI_CHECK(i + 1 < N, "Sequential::output(", i, "): only layers 0 .. ", N - 2,
               " have stored outputs (the last one is written to y)");
    return acts_[i].cref();
  }

  void forward(Context<B>& ctx, CMatRef<T> x, MatRef<T> y) {
    const index_t oc = out_cols(x.cols);
    STAI_CHECK(y.rows == x.rows && y.cols == oc, "Sequential output must be ", x.rows, " x ", oc,
               ", got ", y.rows, " x ", y.cols);
    index_t c = x.cols;
    each([&](auto& l, std::size_t i) {
      c = l.out_cols(c);
      if (i + 1 < N) acts_[i].resize(x.rows, c);
    });
    fwd_all(ctx, x, y, std::make_index_sequence<N>{});
  }

  /// Backward through all layers (after forward on the same x). Parameter
  /// gradients accumulate; dx is written or added per `mode`, skipped when
  /// dx.data == nullptr.
  void backward(Context<B>& ctx, CMatRef<T> x, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dx,
                Grad mode = Grad::Write) {
    STAI_CHECK(dy.rows == y.rows && dy.cols == y.cols, "Sequential: dy must be ", y.rows, " x ",
               y.cols, ", got ", dy.rows, " x ", dy.cols);
    STAI_CHECK(!dx.data || (dx.rows == x.rows && dx.cols == x.cols), "Sequential: dx must be ",
               x.rows, " x ", x.cols, ", got ", dx.rows, " x ", dx.cols);
    if constexpr (N > 1) {
      for (std::size_t i = 0; i + 1 < N; ++i) {
        STAI_CHECK(acts_[i].rows() == x.rows,
                   "Sequential::backward called without a forward on this input");
        grads_[i].resize(acts_[i].rows(), acts_[i].cols());
      }
    }
    bwd_all(ctx, x, y, dy, dx, mode, std::make_index_sequence<N>{});
  }

 private:
  template <class F, std::size_t... Is>
  void each_impl(F&& f, std::index_sequence<Is...>) {
    (f(std::get<Is>(layers_), Is), ...);
  }
  template <class F, std::size_t... Is>
  void each_impl(F&& f, std::index_sequence<Is...>) const {
    (f(std::get<Is>(layers_), Is), ...);
  }
  template <class F>
  void each(F&& f) { each_impl(f, std::make_index_sequence<N>{}); }
  template <class F>
  void each(F&& f) const { each_impl(f, std::make_index_sequence<N>{}); }

  template <std::size_t I>
  CMatRef<T> in_of(CMatRef<T> x) const {
    if constexpr (I == 0) return x;
    else return acts_[I - 1].cref();
  }
  template <std::size_t I>
  MatRef<T> out_of(MatRef<T> y) const {
    if constexpr (I + 1 == N) return y;
    else return acts_[I].ref();
  }

  template <std::size_t... Is>
  void fwd_all(Context<B>& ctx, CMatRef<T> x, MatRef<T> y, std::index_sequence<Is...>) {
    (std::get<Is>(layers_).forward(ctx, in_of<Is>(x), out_of<Is>(y)), ...);
  }

  template <std::size_t I>
  void bwd_one(Context<B>& ctx, CMatRef<T> x, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dx,
               Grad mode) {
    CMatRef<T> in = in_of<I>(x);
    CMatRef<T> out;
    CMatRef<T> g_out;
    if constexpr (I + 1 == N) {
      out = y;
      g_out = dy;
    } else {
      out = acts_[I].cref();
      g_out = grads_[I].cref();
    }
    if constexpr (I == 0) {
      std::get<I>(layers_).backward(ctx, in, out, g_out, dx, mode);
    } else {
      std::get<I>(layers_).backward(ctx, in, out, g_out, grads_[I - 1].ref(), Grad::Write);
    }
  }
  template <std::size_t... Is>
  void bwd_all(Context<B>& ctx, CMatRef<T> x, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dx,
               Grad mode, std::index_sequence<Is...>) {
    (bwd_one<N - 1 - Is>(ctx, x, y, dy, dx, mode), ...);
  }

  std::tuple<Layers...> layers_;
  std::array<Matrix<B, T>, N - 1> acts_;   // output of layer i, i < N-1
  std::array<Matrix<B, T>, N - 1> grads_;  // gradient w.r.t. acts_[i]
};

// ---- the stAI multilayer perceptrons ---------------------------------------

/// Encoder: Linear(d_in, h) -> ReLU -> Dropout(p) -> Linear(h, d).
template <class B, class T>
using EncoderMLP = Sequential<B, T, Linear<B, T>, ReLU<B, T>, Dropout<B, T>, Linear<B, T>>;
/// Decoder: Linear(d, h) -> ReLU -> Linear(h, d_out).
template <class B, class T>
using DecoderMLP = Sequential<B, T, Linear<B, T>, ReLU<B, T>, Linear<B, T>>;
/// Classifier: Linear(d, h) -> LeakyReLU(0.01) -> Linear(h, C).
template <class B, class T>
using ClassifierMLP = Sequential<B, T, Linear<B, T>, LeakyReLU<B, T>, Linear<B, T>>;

/// The encoder MLP. `init` applies to all weights and biases: Init::Normal01
/// for the SC encoder, Init::TorchLinear for the ST encoder's pre-GAT MLP.
/// `dropout_salt` must differ from every other dropout layer of the model.
template <class B, class T>
EncoderMLP<B, T> make_encoder(index_t d_in, index_t hidden, index_t d_latent, double dropout_p,
                              std::uint64_t dropout_salt, Init init = Init::Normal01) {
  return EncoderMLP<B, T>(Linear<B, T>(d_in, hidden, true, init, init), ReLU<B, T>(),
                          Dropout<B, T>(dropout_p, dropout_salt),
                          Linear<B, T>(hidden, d_latent, true, init, init));
}
/// The decoder MLP (the reference initialises it with N(0, 0.1^2)).
template <class B, class T>
DecoderMLP<B, T> make_decoder(index_t d_latent, index_t hidden, index_t d_out,
                              Init init = Init::Normal01) {
  return DecoderMLP<B, T>(Linear<B, T>(d_latent, hidden, true, init, init), ReLU<B, T>(),
                          Linear<B, T>(hidden, d_out, true, init, init));
}
/// The classifier MLP (PyTorch default initialisation).
template <class B, class T>
ClassifierMLP<B, T> make_classifier(index_t d_latent, index_t hidden, index_t classes,
                                    Init init = Init::TorchLinear) {
  return ClassifierMLP<B, T>(Linear<B, T>(d_latent, hidden, true, init, init),
                             LeakyReLU<B, T>(0.01),
                             Linear<B, T>(hidden, classes, true, init, init));
}

}  // namespace stai
