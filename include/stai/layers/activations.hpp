// stai — parameter-free activation layers (ReLU, LeakyReLU).
// Conventions: see layers/linear.hpp.
#pragma once
#include <string>

#include "../context.hpp"
#include "../ops/elementwise.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

/// The LeakyReLU functors over n elements on any backend (the CPU overloads:
/// backend/cpu/activations.hpp).
template <class B, class T>
void leaky_relu_forward(const B& be, const ops::LeakyReluFwd<T>& f, index_t n) {
  launch(be, n, f);
}
template <class B, class T>
void leaky_relu_backward(const B& be, const ops::LeakyReluBwd<T>& f, index_t n) {
  launch(be, n, f);
}

/// LeakyReLU(slope); slope 0 is ReLU. Works in place (x.data == y.data is fine).
template <class B, class T>
class LeakyReLU {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope_(static_cast<T>(slope)) {}
  void declare(ParamArena<B, T>&, const std::string&) {}
  void bind(ParamArena<B, T>&) {}
  index_t out_cols(index_t in_cols) const { return in_cols; }
  T slope() const { return slope_; }

  void forward(Context<B>& ctx, CMatRef<T> x, MatRef<T> y) const {
    STAI_CHECK(x.rows == y.rows && x.cols == y.cols, "activation shapes differ");
    leaky_relu_forward(ctx.be, ops::LeakyReluFwd<T>{x.data, y.data, slope_}, x.size());
  }
  /// Uses the input x (must not have been overwritten by an in-place forward
  /// unless slope > 0, where sign(y) == sign(x) and y can be passed as x).
  void backward(Context<B>& ctx, CMatRef<T> x, CMatRef<T> /*y*/, CMatRef<T> dy, MatRef<T> dx,
                Grad mode = Grad::Write) {
    if (!dx.data) return;
    leaky_relu_backward(ctx.be, ops::LeakyReluBwd<T>{x.data, dy.data, dx.data, slope_, mode == Grad::Accumulate},
                        x.size());
  }

 private:
  T slope_;
};

template <class B, class T>
class ReLU : public LeakyReLU<B, T> {
 public:
  ReLU() : LeakyReLU<B, T>(0.0) {}
};

}  // namespace stai
