// stai — bias helpers shared by the layers: broadcast a bias over the rows
// of an output, and add the column sums of an output gradient to the bias
// gradient. Any backend runs the per-element functors; a backend may
// overload them with the same sums in a faster order (the CPU's:
// backend/cpu/bias.hpp).
#pragma once
#include "../ops/elementwise.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// y[i, :] += b   for every row i
template <class B, class T>
void add_row_bias(const B& be, MatRef<T> y, const T* b) {
  launch(be, y.size(), ops::AddRowBias<T>{y.data, b, y.cols});
}

/// db[j] += sum_i dy[i, j]   (rows added in order)
template <class B, class T>
void add_column_sums(const B& be, T* db, CMatRef<T> dy) {
  launch(be, dy.cols, ops::ColumnSumAdd<T>{db, dy.data, dy.rows, dy.cols});
}

}  // namespace stai
