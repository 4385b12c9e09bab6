// stai — parameter-free activation layers (ReLU, LeakyReLU).
// Conventions: see layers/linear.hpp.
#pragma once
#include <string>

#include "../backend/cpu.hpp"
#include "../context.hpp"
#include "../ops/elementwise.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

/// Runs f(i0, m) over [0, n) in contiguous chunks [i0, i0 + m), in parallel.
template <class F>
void cpu_chunks(const Cpu& be, index_t n, const F& f) {
  constexpr index_t kChunk = 1 << 14;
  launch_rows(be, (n + kChunk - 1) / kChunk, [&f, n](index_t c) {
    const index_t i0 = c * kChunk;
    f(i0, n - i0 < kChunk ? n - i0 : kChunk);
  });
}

/// The LeakyReLU functors over n elements on any backend; on the CPU the
/// same selects over contiguous chunks, written so that they vectorise
/// (blends, no per-element branch).
template <class B, class T>
void leaky_relu_forward(const B& be, const ops::LeakyReluFwd<T>& f, index_t n) {
  launch(be, n, f);
}
template <class T>
void leaky_relu_forward(const Cpu& be, const ops::LeakyReluFwd<T>& f, index_t n) {
  cpu_chunks(be, n, [&f](index_t i0, index_t m) {
    const T a = f.slope;
    if (f.x == f.y) {  // in place
      T* p = f.y + i0;
      for (index_t i = 0; i < m; ++i) p[i] = p[i] > T(0) ? p[i] : a * p[i];
    } else {
      const T* __restrict x = f.x + i0;
      T* __restrict y = f.y + i0;
      for (index_t i = 0; i < m; ++i) y[i] = x[i] > T(0) ? x[i] : a * x[i];
    }
  });
}
template <class B, class T>
void leaky_relu_backward(const B& be, const ops::LeakyReluBwd<T>& f, index_t n) {
  launch(be, n, f);
}
template <class T>
void leaky_relu_backward(const Cpu& be, const ops::LeakyReluBwd<T>& f, index_t n) {
  cpu_chunks(be, n, [&f](index_t i0, index_t m) {
    const T* __restrict x = f.x + i0;
    const T* __restrict dy = f.dy + i0;
    T* __restrict dx = f.dx + i0;
    const T a = f.slope;
    if (f.accumulate) {
      for (index_t i = 0; i < m; ++i) dx[i] += x[i] > T(0) ? dy[i] : a * dy[i];
    } else {
      for (index_t i = 0; i < m; ++i) dx[i] = x[i] > T(0) ? dy[i] : a * dy[i];
    }
  });
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
