// stai — per-element and per-row functors shared by all backends.
//
// Each functor is a plain struct with raw pointers and a STAI_HOST_DEVICE
// call operator over one index; backends run them with launch(be, n, f).
#pragma once
#include "../config.hpp"

namespace stai::ops {

/// y[i] = y[i] + b[i % cols]   (bias broadcast over rows)
template <class T>
struct AddRowBias {
  T* y;
  const T* b;
  index_t cols;
  STAI_HOST_DEVICE void operator()(index_t i) const { y[i] += b[i % cols]; }
};

/// Row r of y (rows x cols) += b   (the same sums as AddRowBias, one call
/// per row: contiguous, vectorisable; used on the CPU)
template <class T>
struct AddRowBiasRow {
  T* y;
  const T* b;
  index_t cols;
  STAI_HOST_DEVICE void operator()(index_t r) const {
    T* yr = y + r * cols;
    for (index_t c = 0; c < cols; ++c) yr[c] += b[c];
  }
};

/// db[j] += sum_i dy[i, j]   (one call per column j; rows summed in order)
template <class T>
struct ColumnSumAdd {
  T* db;
  const T* dy;
  index_t rows, cols;
  STAI_HOST_DEVICE void operator()(index_t j) const {
    T s = T(0);
    for (index_t i = 0; i < rows; ++i) s += dy[i * cols + j];
    db[j] += s;
  }
};

/// ColumnSumAdd for the columns [kBlock blk, kBlock (blk + 1)): the same
/// per-column sums in the same row order, but the rows are walked once per
/// block, contiguously (one call per block; used on the CPU).
template <class T>
struct ColumnSumAddBlock {
  static constexpr index_t kBlock = 64;
  T* db;
  const T* dy;
  index_t rows, cols;
  STAI_HOST_DEVICE void operator()(index_t blk) const {
    const index_t j0 = blk * kBlock, w = cols - j0 < kBlock ? cols - j0 : kBlock;
    T s[kBlock];
    for (index_t c = 0; c < w; ++c) s[c] = T(0);
    for (index_t i = 0; i < rows; ++i) {
      const T* r = dy + i * cols + j0;
      for (index_t c = 0; c < w; ++c) s[c] += r[c];
    }
    for (index_t c = 0; c < w; ++c) db[j0 + c] += s[c];
  }
};

/// LeakyReLU with slope a (a = 0 is ReLU): y = x > 0 ? x : a x.
template <class T>
struct LeakyReluFwd {
  const T* x;
  T* y;
  T slope;
  STAI_HOST_DEVICE void operator()(index_t i) const { y[i] = x[i] > T(0) ? x[i] : slope * x[i]; }
};
/// dx = dy * (x > 0 ? 1 : a), written or added.
template <class T>
struct LeakyReluBwd {
  const T* x;
  const T* dy;
  T* dx;
  T slope;
  bool accumulate;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T g = x[i] > T(0) ? dy[i] : slope * dy[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
};

/// y = a * x + b * y
template <class T>
struct Axpby {
  const T* x;
  T* y;
  T a, b;
  STAI_HOST_DEVICE void operator()(index_t i) const { y[i] = a * x[i] + b * y[i]; }
};

/// y = x (copy), or y += x when accumulate
template <class T>
struct CopyOrAdd {
  const T* x;
  T* y;
  bool accumulate;
  STAI_HOST_DEVICE void operator()(index_t i) const { y[i] = accumulate ? y[i] + x[i] : x[i]; }
};

}  // namespace stai::ops
