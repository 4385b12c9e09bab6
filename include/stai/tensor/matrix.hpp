// stai — matrices and views.
//
// ONE storage order for the whole library: ROW-MAJOR, contiguous. A matrix of
// cells x genes has one cell per row. Views (MatRef) are non-owning
// {pointer, rows, cols}; Matrix<B,T> owns backend memory (host memory on Cpu,
// device memory on Cuda). On the CPU, eigen() maps a view as an Eigen matrix.
#pragma once
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "../config.hpp"
#include "../error.hpp"

namespace stai {

/// Host-side dense matrix used by the data layer (row-major Eigen).
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Non-owning row-major view: element (i, j) is data[i * cols + j].
/// MatRef<const T> is the read-only view.
template <class T>
struct MatRef {
  T* data = nullptr;
  index_t rows = 0, cols = 0;

  STAI_HOST_DEVICE index_t size() const { return rows * cols; }
  STAI_HOST_DEVICE T* row(index_t i) const { return data + i * cols; }
  STAI_HOST_DEVICE T& operator()(index_t i, index_t j) const { return data[i * cols + j]; }
  /// Rows [r0, r0 + n) as a view.
  MatRef<T> middle_rows(index_t r0, index_t n) const { return {data + r0 * cols, n, cols}; }
  operator MatRef<const T>() const { return {data, rows, cols}; }
};
template <class T>
using CMatRef = MatRef<const T>;

/// Owning device/host buffer of n elements on backend B (RAII, move-only).
template <class B, class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(index_t n) : p_(B::template allocate<T>(n)), n_(n) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~Buffer() { reset(); }
  void reset() noexcept {
    if (p_) B::deallocate(p_);
    p_ = nullptr;
    n_ = 0;
  }
  /// Reallocates only when n exceeds the capacity (contents are not kept).
  void reserve(index_t n) {
    if (n > n_) {
      reset();
      p_ = B::template allocate<T>(n);
      n_ = n;
    }
  }
  T* data() const { return p_; }
  index_t capacity() const { return n_; }

 private:
  T* p_ = nullptr;
  index_t n_ = 0;
};

/// Owning row-major matrix on backend B. resize() keeps the allocation when it
/// is large enough, so workspaces sized once are reused without allocating.
template <class B, class T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(index_t rows, index_t cols) { resize(rows, cols); }
  void resize(index_t rows, index_t cols) {
    STAI_CHECK(rows >= 0 && cols >= 0, "negative matrix size ", rows, " x ", cols);
    buf_.reserve(rows * cols);
    rows_ = rows;
    cols_ = cols;
  }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  T* data() const { return buf_.data(); }
  MatRef<T> ref() const { return {buf_.data(), rows_, cols_}; }
  CMatRef<T> cref() const { return {buf_.data(), rows_, cols_}; }
  operator MatRef<T>() const { return ref(); }
  operator CMatRef<T>() const { return cref(); }

 private:
  Buffer<B, T> buf_;
  index_t rows_ = 0, cols_ = 0;
};

/// Eigen view of a host view (CPU backend only).
template <class T>
auto eigen(MatRef<T> m) {
  using M = std::conditional_t<std::is_const_v<T>, const RowMatrix<std::remove_const_t<T>>,
                               RowMatrix<T>>;
  return Eigen::Map<M>(m.data, m.rows, m.cols);
}

/// Host view of an Eigen row-major matrix.
template <class T>
MatRef<T> ref(RowMatrix<T>& m) { return {m.data(), m.rows(), m.cols()}; }
template <class T>
CMatRef<T> cref(const RowMatrix<T>& m) { return {m.data(), m.rows(), m.cols()}; }

/// Copies a host Eigen matrix into a backend matrix (resizing it).
template <class B, class T>
void upload(const B& be, const RowMatrix<T>& host, Matrix<B, T>& dev) {
  dev.resize(host.rows(), host.cols());
  copy_from_host(be, dev.data(), host.data(), host.size());
}
/// Copies a backend view back into a host Eigen matrix.
template <class B, class T>
RowMatrix<std::remove_const_t<T>> download(const B& be, MatRef<T> dev) {
  RowMatrix<std::remove_const_t<T>> h(dev.rows, dev.cols);
  copy_to_host(be, h.data(), dev.data, dev.size());
  return h;
}

}  // namespace stai
