// stai — CPU overloads of the LeakyReLU passes of layers/activations.hpp.
#pragma once
#include "../../ops/elementwise.hpp"
#include "launch.hpp"

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

/// The LeakyReLU functors of layers/activations.hpp on the CPU: the same
/// selects over contiguous chunks, written so that they vectorise (blends,
/// no per-element branch).
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

}  // namespace stai
