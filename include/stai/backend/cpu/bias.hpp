// stai — CPU overloads of the bias helpers of layers/bias.hpp: the same sums
// as the per-element functors, run row-contiguously (no index division per
// element, no strided column walks): the same bits either way.
#pragma once
#include <algorithm>

#include "../../ops/elementwise.hpp"
#include "../../tensor/matrix.hpp"
#include "launch.hpp"

namespace stai {

/// y[i, :] += b   for every row i
template <class T>
void add_row_bias(const Cpu& be, MatRef<T> y, const T* b) {
  if (y.cols <= 0) return;
  launch_rows(be, y.rows, ops::AddRowBiasRow<T>{y.data, b, y.cols},
              std::max<index_t>(2, kParallelGrain / y.cols));
}

/// db[j] += sum_i dy[i, j]   (rows added in order)
template <class T>
void add_column_sums(const Cpu& be, T* db, CMatRef<T> dy) {
  constexpr index_t W = ops::ColumnSumAddBlock<T>::kBlock;
  launch_rows(be, (dy.cols + W - 1) / W, ops::ColumnSumAddBlock<T>{db, dy.data, dy.rows, dy.cols});
}

}  // namespace stai
