// stai — Euclidean top-k attention imputation head (the stAI default).
//
// Semantics (docs/model.md "Modules", the Euclidean imputation head (default); the
// authors' DistanceScore/EuclideanAttention with method 'softmax'):
//   D_ij = ||z1_i - z2_j||_2 (not squared);
//   per spatial cell i keep the k reference cells with the smallest D_ij
//   (k >= n2: all of them — the paper's variant), ties broken by the
//   smaller reference index j (torch.topk leaves tie order unspecified);
//   S_ij = softmax over the kept j of (-D_ij), 0 elsewhere;  imputed = S V.
// Gradients flow through D into z1 and z2; the selection is not
// differentiated; where D_ij == 0 the derivative of the norm is taken as 0
// (torch.cdist's rule).
//
// Computation (memory O(tile x n2 + n1 k), never n1 x n2 at once for k < n2):
//   * |z1_i|^2, |z2_j|^2 per row; for each tile of `tile_rows` spatial rows one
//     GEMM gives -2 z1 z2^T, and a per-row functor keeps the k smallest clamped
//     squared distances |a|^2 + |b|^2 - 2ab (ties by index; see
//     ops::TopKSelectRow, with the backend's building blocks from
//     topk_select_kernels); with several workers (task_workers: the CPU's
//     threads) the tiles are cut into equal shares per worker;
//   * the distances of the k kept pairs are then recomputed directly from the
//     coordinates (k d flops per row): the weights and gradients do not suffer
//     the cancellation of the GEMM form, and identical rows give D == 0 exactly.
//     In exact arithmetic this equals torch's value; in floating point it is
//     at least as accurate;
//   * imputed rows are gathers over the k kept reference cells.
// Backward: one per-row functor gives the softmax/distance coefficients and
// the z1 gradient; the z2 gradient is a race-free gather over the transposed
// selection (a CSR built by a stable counting sort on the host,
// transpose_selection, rebuilt after each forward, in ascending (i, t) order
// -> bitwise identical for any thread count). With k >= n2 (paper variant)
// the selection is implicit (j = t), nothing is selected or sorted, S is
// dense (n1 x n2 weights stored) and S V, dY V^T are GEMMs; the z2 gather
// walks blocks of 16 reference cells.
// That path is reproducible for a given thread count (Eigen's GEMM blocking
// depends on the thread count), and costs O(n1 n2 d) per call.
//
// Conventions: see layers/linear.hpp. The head has no parameters;
// declare/bind exist so it composes like a layer.
#pragma once
#include <algorithm>
#include <limits>
#include <string>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/attention.hpp"
#include "../ops/counting_sort.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

/// The building blocks of the top-k selection functor on backend B: the
/// plain loops unless the backend has its own (the CPU's:
/// backend/cpu/topk.hpp).
template <class B>
ops::TopKScalar topk_select_kernels(const B&) {
  return {};
}

/// ptr (n2 + 1) and ent (nk): the CSR of the positions e in [0, nk) sorted
/// stably by the backend array idx[e] (the transposed selection). Here the
/// indices are copied to the host, sorted there (ops::CountingSortParts) and
/// the result copied back; the CPU sorts in place (backend/cpu/counting_sort.hpp).
template <class B>
void transpose_selection(const B& be, const index_t* idx, index_t nk, index_t n2, index_t* ptr, index_t* ent,
                         ops::CountingSortScratch& host) {
  host.idx.resize(static_cast<std::size_t>(nk));
  host.ptr.resize(static_cast<std::size_t>(n2 + 1));
  host.ent.resize(static_cast<std::size_t>(nk));
  copy_to_host(be, host.idx.data(), idx, nk);
  host.hist.assign(static_cast<std::size_t>(n2 + 1), 0);  // keeps its capacity
  ops::CountingSortParts{host.idx.data(), nk, n2, 1, host.hist.data(), host.ptr.data(), host.ent.data()}.run();
  copy_from_host(be, ptr, host.ptr.data(), n2 + 1);
  copy_from_host(be, ent, host.ent.data(), nk);
}

template <class B, class T>
class TopKAttention {
 public:
  /// k value meaning "attend to all reference cells" (the paper's variant).
  static constexpr index_t kAllCells = std::numeric_limits<index_t>::max();
  static constexpr index_t kDefaultTileRows = 256;

  /// k: reference cells kept per spatial cell (>= 1; k >= n2 keeps all).
  /// tile_rows: spatial rows per distance tile (>= 1); memory ~ tile_rows x n2.
  explicit TopKAttention(index_t k = 50, index_t tile_rows = kDefaultTileRows)
      : k_(k), tile_(tile_rows) {
    STAI_CHECK(k >= 1, "TopKAttention: k must be at least 1 (got ", k,
               "); use TopKAttention::kAllCells to attend to every reference cell");
    STAI_CHECK(tile_rows >= 1, "TopKAttention: tile_rows must be at least 1 (got ", tile_rows, ")");
  }

  void declare(ParamArena<B, T>&, const std::string&) {}
  void bind(ParamArena<B, T>&) {}

  index_t k() const { return k_; }
  index_t tile_rows() const { return tile_; }
  /// Kept reference cells per row in the last forward: min(k, n2).
  index_t k_eff() const { return keff_; }
  /// True when the last forward attended to all reference cells (k >= n2).
  bool uses_all_cells() const { return all_; }
  index_t rows() const { return n1_; }
  index_t ref_rows() const { return n2_; }

  /// Selected reference indices of the last forward, n1 x k_eff, each row in
  /// ascending (distance, index) order. Empty (null data) when all cells are
  /// used: entry t of a row is then reference cell t.
  CMatRef<index_t> indices() const {
    if (all_) return {nullptr, 0, 0};
    return {idx_.data(), n1_, keff_};
  }
  /// Attention weights (softmax over the kept cells), n1 x k_eff, aligned with indices().
  CMatRef<T> weights() const { return {w_.data(), n1_, keff_}; }
  /// Distances of the kept pairs, n1 x k_eff, aligned with indices().
  CMatRef<T> distances() const { return {dist_.data(), n1_, keff_}; }

  /// Computes the selection and weights for codes z1 (n1 x d) and z2 (n2 x d)
  /// without imputing anything (apply() then imputes any values).
  void attend(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2) {
    STAI_CHECK(z1.cols == z2.cols, "TopKAttention: spatial codes have ", z1.cols,
               " columns but reference codes have ", z2.cols, "; both must be n x d_latent");
    STAI_CHECK(z2.rows >= 1, "TopKAttention: the reference has no cells (z2 has 0 rows)");
    STAI_CHECK(z2.rows <= index_t(0xffffffff), "TopKAttention: at most 2^32 - 1 reference cells "
               "are supported, got ", z2.rows);
    const B& be = ctx.be;
    n1_ = z1.rows;
    n2_ = z2.rows;
    d_ = z1.cols;
    all_ = k_ >= n2_;
    keff_ = all_ ? n2_ : k_;
    transposed_ = false;
    const index_t nk = n1_ * keff_;
    w_.reserve(nk);
    dist_.reserve(nk);
    if (!all_) {
      idx_.reserve(nk);
      sq1_.reserve(n1_);
      sq2_.reserve(n2_);
      index_t tr = std::min(tile_, std::max<index_t>(n1_, 1));
      launch(be, n1_, ops::RowSqNorm<T>{z1.data, sq1_.data(), d_});
      launch(be, n2_, ops::RowSqNorm<T>{z2.data, sq2_.data(), d_});
      index_t ntiles = (n1_ + tr - 1) / tr;
      const int workers = task_workers(be, ntiles);
      if (workers > 1) {
        // Equal shares: shrink the tiles so that their number is a multiple
        // of the worker count (at most tile_rows rows each).
        const index_t target = (ntiles + workers - 1) / workers * workers;
        tr = (n1_ + target - 1) / target;
        ntiles = (n1_ + tr - 1) / tr;
      }
      // One worker: the tile GEMM may use the backend's threads and the
      // selection runs row-parallel. Several workers (CPU threads): the tiles
      // are dealt to them (launch_tasks: one parallel region in all), each
      // with its own tile buffer and single-threaded GEMM. Same result either
      // way (rows are independent).
      tile_g_.reserve(static_cast<index_t>(workers) * tr * n2_);
      // scratch per row: the heap (k entries) or the rank selection's candidates
      using Kernels = decltype(topk_select_kernels(be));
      using Select = ops::TopKSelectRow<T, Kernels>;
      const index_t cap = Kernels::template capacity<T>(keff_);
      const index_t hs = Select::scratch_stride(keff_, cap);
      tile_heap_.reserve(static_cast<index_t>(workers) * tr * hs);
      auto do_tile = [&](const auto& bk, index_t t, index_t w, bool row_parallel) {
        const index_t r0 = t * tr, rows = std::min(tr, n1_ - r0);
        T* g = tile_g_.data() + w * tr * n2_;
        ops::TopKEntry<T>* heap = tile_heap_.data() + w * tr * hs;
        gemm(bk, Op::N, Op::T, rows, n2_, d_, T(-2), z1.data + r0 * d_, d_, z2.data, d_, T(0), g, n2_);
        const Select sel{g,     sq1_.data() + r0, sq2_.data(), heap, idx_.data() + r0 * keff_,
                         n2_,   keff_,            std::numeric_limits<T>::infinity(),
                         cap};
        if (row_parallel) launch_rows(bk, rows, sel);
        else for (index_t r = 0; r < rows; ++r) sel(r);
      };
      if (workers <= 1) {
        for (index_t t = 0; t < ntiles; ++t) do_tile(be, t, 0, true);
      } else {
        launch_tasks(be, ntiles, workers, [&](const auto& one, index_t t, int w) { do_tile(one, t, w, false); });
      }
    }
    launch_rows(be, n1_,
                ops::TopKDistSoftmaxRow<T>{z1.data, z2.data, sel(), dist_.data(), w_.data(), d_,
                                           keff_});
  }

  /// Imputes values v (n2 x g) with the attention of the last forward/attend:
  /// y (n1 x g) = S v. Any v with n2 rows (e.g. genes not seen in training).
  void apply(Context<B>& ctx, CMatRef<T> v, MatRef<T> y) const {
    STAI_CHECK(keff_ > 0, "TopKAttention::apply called before forward/attend");
    STAI_CHECK(v.rows == n2_, "TopKAttention: values have ", v.rows,
               " rows but the attention was computed for ", n2_, " reference cells");
    STAI_CHECK(y.rows == n1_ && y.cols == v.cols, "TopKAttention: output must be ", n1_, " x ",
               v.cols, ", got ", y.rows, " x ", y.cols);
    if (all_)  // dense attention: one GEMM
      gemm(ctx.be, Op::N, Op::N, n1_, v.cols, n2_, T(1), w_.data(), n2_, v.data, v.cols, T(0),
           y.data, v.cols);
    else
      launch_rows(ctx.be, n1_,
                  ops::AttnGatherRow<T>{w_.data(), sel(), v.data, y.data, keff_, v.cols});
  }

  /// y = S v with S from z1, z2 (see the file comment).
  void forward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, MatRef<T> y) {
    STAI_CHECK(v.rows == z2.rows, "TopKAttention: values have ", v.rows,
               " rows but there are ", z2.rows, " reference cells (one value row per cell)");
    attend(ctx, z1, z2);
    apply(ctx, v, y);
  }

  /// Gradients of <dy, S v> w.r.t. z1 and z2, for the z1, z2, v of the LAST
  /// forward (the stored selection and weights are used). dz1 / dz2 are
  /// written (Grad::Write) or added to (Grad::Accumulate); a null data
  /// pointer skips that gradient. v is a constant (no gradient).
  void backward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, CMatRef<T> dy,
                MatRef<T> dz1, MatRef<T> dz2, Grad mode = Grad::Write) {
    STAI_CHECK(keff_ > 0, "TopKAttention::backward called before forward");
    STAI_CHECK(z1.rows == n1_ && z2.rows == n2_ && z1.cols == d_ && z2.cols == d_,
               "TopKAttention::backward: codes are ", z1.rows, " x ", z1.cols, " and ", z2.rows,
               " x ", z2.cols, " but the last forward used ", n1_, " x ", d_, " and ", n2_, " x ",
               d_, "; call backward with the inputs of the last forward");
    STAI_CHECK(v.rows == n2_ && dy.rows == n1_ && dy.cols == v.cols,
               "TopKAttention::backward: dy must be ", n1_, " x ", v.cols, " (got ", dy.rows,
               " x ", dy.cols, ") and v must have ", n2_, " rows (got ", v.rows, ")");
    if (dz1.data)
      STAI_CHECK(dz1.rows == n1_ && dz1.cols == d_, "TopKAttention::backward: dz1 must be ", n1_,
                 " x ", d_, ", got ", dz1.rows, " x ", dz1.cols);
    if (dz2.data)
      STAI_CHECK(dz2.rows == n2_ && dz2.cols == d_, "TopKAttention::backward: dz2 must be ", n2_,
                 " x ", d_, ", got ", dz2.rows, " x ", dz2.cols);
    if (!dz1.data && !dz2.data) return;
    const B& be = ctx.be;
    const bool acc = mode == Grad::Accumulate;
    coef_.reserve(n1_ * keff_);
    if (all_)  // dense attention: dW = dY V^T by GEMM
      gemm(be, Op::N, Op::T, n1_, n2_, v.cols, T(1), dy.data, v.cols, v.data, v.cols, T(0),
           coef_.data(), n2_);
    launch_rows(be, n1_,
                ops::TopKAttnBackwardRow<T>{dy.data, v.data, w_.data(), dist_.data(), sel(),
                                            z1.data, z2.data, coef_.data(), dz1.data, keff_,
                                            v.cols, d_, acc, all_});
    if (!dz2.data) return;
    if (all_) {
      constexpr index_t kBlock = 16;
      launch_rows(be, (n2_ + kBlock - 1) / kBlock,
                  ops::DenseAttnBackwardZ2Block<T>{coef_.data(), z1.data, z2.data, dz2.data, n1_,
                                                   n2_, d_, kBlock, acc});
      return;
    }
    if (!transposed_) build_transpose(be);
    launch_rows(be, n2_,
                ops::TopKAttnBackwardZ2Row<T>{tptr_.data(), tent_.data(), coef_.data(), z1.data,
                                              z2.data, dz2.data, keff_, d_, acc});
  }

 private:
  const index_t* sel() const { return all_ ? nullptr : idx_.data(); }

  /// Transposed selection as CSR over reference cells (transpose_selection).
  void build_transpose(const B& be) {
    const index_t nk = n1_ * keff_;
    tptr_.reserve(n2_ + 1);
    tent_.reserve(nk);
    transpose_selection(be, idx_.data(), nk, n2_, tptr_.data(), tent_.data(), host_sort_);
    transposed_ = true;
  }

  index_t k_, tile_;
  index_t n1_ = 0, n2_ = 0, d_ = 0, keff_ = 0;
  bool all_ = false, transposed_ = false;
  // selection state (n1 x k_eff)
  Buffer<B, index_t> idx_;
  Buffer<B, T> w_, dist_;
  // workspaces
  Buffer<B, T> sq1_, sq2_, tile_g_, coef_;
  Buffer<B, ops::TopKEntry<T>> tile_heap_;
  Buffer<B, index_t> tptr_, tent_;
  ops::CountingSortScratch host_sort_;
};

}  // namespace stai
