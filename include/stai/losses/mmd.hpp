// stai — maximum mean discrepancy with the reference's RBF mixture kernel,
// computed in tiles. Conventions: see losses/mse.hpp.
//
// Z = [z1; z2] (n = n1 + n2 rows, d columns), L_ij = |Z_i - Z_j|^2,
// bandwidth b = sum_ij L_ij / (n^2 - n) (a constant: no gradient flows
// through it), K = sum over m in {1/4, 1/2, 1, 2, 4} of exp(-L / (b m)),
//   MMD = mean(K_11) - 2 mean(K_12) + mean(K_22)
// (means over the full blocks, diagonal included, as the reference).
//
// How it is computed (never more than one tile_rows x tile_cols block):
// * Z is centred (L is unchanged) and packed with a column of ones as
//   Zaug = [Zc | 1]; sum_ij L_ij = 2 n sum_i |Zc_i|^2, so b costs O(n d).
// * For each row block I and the column blocks from I's diagonal on, the
//   tile -2 Zc_I Zc_J^T comes from one GEMM; the elementwise step turns it
//   into L, ONE exp per pair (E = exp(-L/(4b)); the five kernels are E, E^2,
//   E^4, E^8, E^16) and W_ij = C_ij (E + 2E^2 + 4E^4 + 8E^8 + 16E^16), with
//   C_ij the block coefficient (1/n1^2, -1/(n1 n2), 1/n2^2). Pairs (i, j)
//   with j beyond the row block count twice (their mirror is never computed).
// * Backward: dMMD/dZ_i = -(1/b) sum_j W_ij (Z_i - Z_j), as GEMMs:
//   W_IJ Zaug_J gives sum_j W_ij Z_j and (last column) the row sums for the
//   row block; W_IJ^T Zaug_I gives the mirrored contributions to block J.
// * Backend kernels (the same arithmetic, no GEMMs): a backend may take over
//   the distance tile, the tile step and both backward products through the
//   overloads below (mmd_fast_kernels, mmd_fast_distance_tile, mmd_tile_step,
//   mmd_fast_tile_backward). The CPU's (backend/cpu/mmd_kernels.hpp): the
//   distance tile from a register-blocked kernel over Zc and a packed
//   transpose of it, and both backward products (with the row and column
//   sums of W) from two register-blocked kernels that read each Z row once
//   per 4 tile rows or columns. With several workers (task_workers) the row
//   blocks are dealt to them and each adds into its own n x (d + 1)
//   accumulator, summed in a fixed order at the end. The generic path (GEMMs
//   + the shared functor, also the CUDA path) is kept and tested against it.
// * Degenerate input: when all n points are identical b = 0 and the kernel is
//   undefined (the reference produces NaN). Here MMD = 0 with zero gradient —
//   the limit of the formula (every block mean is then 5).
#pragma once
#include <algorithm>
#include <vector>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// Generic per-tile step: the shared functor, one call per tile row.
template <class B, class T>
void mmd_tile_step(const B& be, const ops::MmdTileRow<T>& f, index_t rows) {
  launch_rows(be, rows, f);
}

/// The backend's own kernels for an MMD call over Zaug (n x (d + 1)) with
/// tiles of tr x tc (zt: a scratch buffer they may use); none by default.
template <class B, class T>
ops::MmdFastKernels<T> mmd_fast_kernels(const B&, const T*, index_t, index_t, index_t, index_t,
                                        Buffer<B, T>&) {
  return {};
}

/// tile = -2 Zc_I Zc_J^T by the backend's own kernel; false: not taken over
/// (the caller runs the GEMM).
template <class B, class T>
bool mmd_fast_distance_tile(const B&, const ops::MmdFastKernels<T>&, const T*, index_t, index_t, index_t,
                            index_t, index_t, index_t, T*) {
  return false;
}

/// Both backward products of a tile (see the file comment) by the backend's
/// own kernel; false: not taken over (the caller runs the GEMMs).
template <class B, class T>
bool mmd_fast_tile_backward(const B&, const ops::MmdFastKernels<T>&, const T*, index_t, index_t, index_t,
                            const T*, index_t, index_t, index_t, T*, T*) {
  return false;
}

/// MMD between the rows of z1 (n1 x d) and z2 (n2 x d) with the reference's
/// five-bandwidth RBF mixture; see the file comment for the method.
template <class B, class T>
class MmdLoss {
 public:
  /// Tile shape: rows of a row block and width of a column block (the one
  /// workspace matrix is tile_rows x tile_cols; tile_cols >= tile_rows).
  explicit MmdLoss(index_t tile_rows = 64, index_t tile_cols = 1024)
      : tr_(tile_rows), tc_(std::max(tile_cols, tile_rows)) {
    STAI_CHECK(tile_rows > 0, "MmdLoss: tile_rows must be positive, got ", tile_rows);
  }

  /// Forces the shared functor path even where a backend fast path exists
  /// (for testing the two against each other).
  void use_generic_kernel(bool on) { generic_ = on; }

  /// Uses a fixed bandwidth b > 0 instead of the data-driven one (the
  /// reference's RBF(bandwidth=...) option); 0 restores the default.
  void set_bandwidth(double b) {
    STAI_CHECK(b >= 0 && b < 1e300, "MMD bandwidth must be >= 0 (0 = automatic), got ", b);
    fixed_b_ = b;
  }

  /// Returns MMD(z1, z2); adds weight * dMMD/dz1 into dz1 and
  /// weight * dMMD/dz2 into dz2 where given.
  double value_and_grad(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, MatRef<T> dz1 = {},
                        MatRef<T> dz2 = {}, double weight = 1.0) {
    const index_t n1 = z1.rows, n2 = z2.rows, d = z1.cols, n = n1 + n2, da = d + 1;
    STAI_CHECK(z2.cols == d, "MMD: the two code matrices have ", d, " and ", z2.cols,
               " columns; both must have the latent width");
    STAI_CHECK(n1 >= 1 && n2 >= 1, "MMD needs at least one row in each set, got ", n1, " and ",
               n2);
    STAI_CHECK(d >= 1, "MMD of codes without columns");
    if (dz1.data)
      STAI_CHECK(dz1.rows == n1 && dz1.cols == d, "MMD: gradient dz1 is ", dz1.rows, " x ",
                 dz1.cols, ", expected ", n1, " x ", d);
    if (dz2.data)
      STAI_CHECK(dz2.rows == n2 && dz2.cols == d, "MMD: gradient dz2 is ", dz2.rows, " x ",
                 dz2.cols, ", expected ", n2, " x ", d);
    auto& be = ctx.be;
    bandwidth_ = 0;
    // All points identical: b = 0, see the file comment.
    if (fixed_b_ == 0 &&
        reduce_sum(be, n * d, ops::DiffersFromFirstRow<T>{z1.data, z2.data, n1, d}) == 0)
      return 0.0;

    mean_.reserve(d);
    zaug_.resize(n, da);
    nrm_.reserve(n);
    launch_rows(be, d, ops::StackedColumnMean<T>{z1.data, z2.data, n1, n2, d, mean_.data()});
    launch(be, n * da, ops::MmdPack<T>{z1.data, z2.data, mean_.data(), zaug_.data(), n1, d});
    launch_rows(be, n, ops::RowSquaredNorm<T>{zaug_.data(), nrm_.data(), da, d}, 256);
    fast_ = generic_ ? ops::MmdFastKernels<T>{} : mmd_fast_kernels(be, zaug_.data(), n, d, tr_, tc_, zt_);
    const double sum_sq = reduce_sum(be, n, ops::ReadAsDouble<T>{nrm_.data()});
    // sum_ij L_ij = 2 n sum_i |Zc_i|^2, so b = 2 sum_sq / (n - 1).
    const double b = fixed_b_ > 0 ? fixed_b_ : 2.0 * sum_sq / static_cast<double>(n - 1);
    if (!(b > 0)) return 0.0;  // underflow of a tiny spread: treated like b = 0
    bandwidth_ = b;

    const bool grad = dz1.data || dz2.data;
    const index_t tr = std::min(tr_, n), tc = std::min(tc_, n);
    if (grad) dz_.resize(n, d);
    const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
    ops::MmdTileRow<T> f{};
    f.nrm = nrm_.data();
    f.n1 = n1;
    f.neg_inv4b = static_cast<T>(-1.0 / (4.0 * b));
    f.c11 = static_cast<T>(1.0 / (dn1 * dn1));
    f.c12 = static_cast<T>(-1.0 / (dn1 * dn2));
    f.c22 = static_cast<T>(1.0 / (dn2 * dn2));
    const index_t nblocks = (n + tr - 1) / tr;

    double value = 0;
    const int workers = task_workers(be, nblocks);
    if (workers <= 1) {
      // One worker: the tile GEMMs themselves may use the backend's threads.
      work_.resize(1);
      prepare(work_[0], tr, tc, da, grad);
      if (grad) {
        work_[0].acc.resize(n, da);
        fill(be, work_[0].acc.data(), n * da, T(0));
      }
      for (index_t blk = 0; blk < nblocks; ++blk)
        value += row_block(be, work_[0], f, blk * tr, tr, tc, n, d, grad);
    } else {
      // Row blocks dealt round-robin to the workers (block I has n/tc - I
      // column blocks: interleaving balances the triangle); each worker
      // runs single-threaded GEMMs into its own tile and gradient buffer.
      // The per-worker gradients and per-block values are then added in a
      // fixed order: the same bits for a given thread count.
      work_.resize(static_cast<std::size_t>(workers));
      for (auto& w : work_) {
        prepare(w, tr, tc, da, grad);
        if (grad) {
          w.acc.resize(n, da);
          fill(be, w.acc.data(), n * da, T(0));
        }
      }
      vals_.assign(static_cast<std::size_t>(nblocks), 0.0);  // keeps its capacity
      launch_tasks(be, nblocks, workers, [&](const auto& one, index_t blk, int w) {
        vals_[static_cast<std::size_t>(blk)] =
            row_block(one, work_[static_cast<std::size_t>(w)], f, blk * tr, tr, tc, n, d, grad);
      });
      for (double v : vals_) value += v;
      if (grad)
        for (std::size_t t = 1; t < work_.size(); ++t)
          launch(be, n * da, ops::Axpby<T>{work_[t].acc.data(), work_[0].acc.data(), T(1), T(1)});
    }
    if (grad) {
      // dz_i = (sum_j W_ij) Zc_i - sum_j W_ij Zc_j, from the accumulated
      // [sum_j W_ij Zc_j | sum_j W_ij] rows.
      fill(be, dz_.data(), n * d, T(0));
      launch(be, n * d, ops::MmdCombine<T>{work_[0].acc.data(), zaug_.data(), dz_.data(), 0, d});
      // dMMD/dZ = -(1/b) dz_ (the 4 of d/dZ |Zi - Zj|^2 summed over both
      // orders and the 1/(4b) of dE/dL cancel).
      const T s = static_cast<T>(-weight / b);
      if (dz1.data) launch(be, n1 * d, ops::Axpby<T>{dz_.data(), dz1.data, s, T(1)});
      if (dz2.data) launch(be, n2 * d, ops::Axpby<T>{dz_.data() + n1 * d, dz2.data, s, T(1)});
    }
    return value;
  }

  /// Bandwidth b of the last call (0 when all points were identical).
  double bandwidth() const { return bandwidth_; }

 private:
  /// Workspace of one worker: one tile, its row values and its private
  /// accumulator of [sum_j W_ij Zc_j | sum_j W_ij] (n x (d + 1)), to which
  /// the backward GEMMs add directly.
  struct TileWork {
    Matrix<B, T> tile, acc;
    Buffer<B, double> rowval;
    Buffer<B, T> colsum;
  };
  static void prepare(TileWork& w, index_t tr, index_t tc, index_t, bool grad) {
    w.tile.resize(tr, tc);
    w.rowval.reserve(tr);
    if (grad) w.colsum.reserve(tc);
  }

  /// Row block starting at r0 against the column blocks from its diagonal
  /// on: adds the block's pair terms to the worker's accumulator (unscaled)
  /// and returns its share of the MMD value.
  template <class BB>
  double row_block(const BB& be, TileWork& w, ops::MmdTileRow<T> f, index_t r0, index_t tr,
                   index_t tc, index_t n, index_t d, bool grad) {
    const index_t da = d + 1;
    const T* Z = zaug_.data();
    const index_t rows = std::min(tr, n - r0), r1 = r0 + rows;
    f.tile = w.tile.data();
    f.rowval = w.rowval.data();
    double value = 0;
    for (index_t c0 = r0; c0 < n; c0 += tc) {
      const index_t wd = std::min(tc, n - c0);
      // tile = -2 Zc_I Zc_J^T
      if (!mmd_fast_distance_tile(be, fast_, Z, da, d, r0, rows, c0, wd, w.tile.data()))
        gemm(be, Op::N, Op::T, rows, wd, d, T(-2), Z + r0 * da, da, Z + c0 * da, da, T(0),
             w.tile.data(), wd);
      f.cols = wd;
      f.r0 = r0;
      f.c0 = c0;
      f.diag_end = r1;
      if (generic_) mmd_tile_step<BB, T>(be, f, rows);  // the generic overload
      else mmd_tile_step(be, f, rows);
      value += reduce_sum(be, rows, ops::ReadAsDouble<double>{w.rowval.data()});
      if (!grad) continue;
      T* acc = w.acc.data();
      const index_t cs = std::max(c0, r1);
      // both products at once by the backend's own kernel, if it has one
      if (mmd_fast_tile_backward(be, fast_, w.tile.data(), rows, wd, cs - c0, Z, da, r0, c0, acc,
                                 w.colsum.data()))
        continue;
      // row block: acc_I += W_IJ Zaug_J
      gemm(be, Op::N, Op::N, rows, da, wd, T(1), w.tile.data(), wd, Z + c0 * da, da, T(1),
           acc + r0 * da, da);
      // mirrored pairs (columns beyond the row block): acc_J += W_IJ^T Zaug_I
      if (cs < c0 + wd) {
        const index_t wc = c0 + wd - cs;
        gemm(be, Op::T, Op::N, wc, da, rows, T(1), w.tile.data() + (cs - c0), wd, Z + r0 * da,
             da, T(1), acc + cs * da, da);
      }
    }
    return value;
  }

  index_t tr_, tc_;
  bool generic_ = false;
  ops::MmdFastKernels<T> fast_;  // the backend kernels of the current call
  double fixed_b_ = 0, bandwidth_ = 0;
  Buffer<B, T> mean_, nrm_, zt_;  // zt_: scratch of the backend kernels (the CPU's packed transpose)
  Matrix<B, T> zaug_, dz_;
  std::vector<TileWork> work_;
  std::vector<double> vals_;
};

}  // namespace stai
