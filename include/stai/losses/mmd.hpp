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
// * Degenerate input: when all n points are identical b = 0 and the kernel is
//   undefined (the reference produces NaN). Here MMD = 0 with zero gradient —
//   the limit of the formula (every block mean is then 5).
#pragma once
#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "../backend/cpu.hpp"
#include "../context.hpp"
#include "../error.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

namespace detail {

/// Generic per-tile step: the shared functor, one call per tile row.
template <class B, class T>
void mmd_tile_step(const B& be, const ops::MmdTileRow<T>& f, index_t rows) {
  launch_rows(be, rows, f);
}

/// CPU fast path of the same step: one fused pass per tile row over SIMD
/// packets (Eigen's vectorised exp and packet arithmetic: L, E, the four
/// squarings, the kernel sum and W stay in registers). Must agree with
/// ops::MmdTileRow (tested).
template <class T>
void mmd_tile_step(const Cpu& be, const ops::MmdTileRow<T>& f, index_t rows) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t PS = ei::packet_traits<T>::size;
  const ops::MmdTileRow<T> t = f;  // copied: the lambda captures by value
  launch_rows(be, rows, [t](index_t r) {
    using std::exp;
    const index_t i = t.r0 + r, w = t.cols;
    const bool in1 = i < t.n1;
    const T ni = t.nrm[i];
    T* row = t.tile + r * w;
    // L_ii = 0 exactly: (-(a + a) + a) + a == 0 in IEEE arithmetic.
    if (i >= t.c0 && i < t.c0 + w) row[i - t.c0] = -(ni + ni);
    // Column segments of constant (coefficient, multiplicity): split at n1
    // and at diag_end.
    index_t cuts[4] = {t.c0, std::clamp(t.n1, t.c0, t.c0 + w),
                       std::clamp(t.diag_end, t.c0, t.c0 + w), t.c0 + w};
    if (cuts[1] > cuts[2]) std::swap(cuts[1], cuts[2]);
    const P zero = ei::pset1<P>(T(0)), two = ei::pset1<P>(T(2)), pni = ei::pset1<P>(ni),
            pneg = ei::pset1<P>(t.neg_inv4b);
    double val = 0;
    for (int s = 0; s < 3; ++s) {
      const index_t lo = cuts[s], hi = cuts[s + 1];
      if (lo >= hi) continue;
      const T coef = in1 ? (lo < t.n1 ? t.c11 : t.c12) : (lo < t.n1 ? t.c12 : t.c22);
      const double mult = lo < t.diag_end ? 1.0 : 2.0;
      const P pc = ei::pset1<P>(coef);
      double ksum = 0;
      index_t c = lo;
      while (c + PS <= hi) {
        // at most 16 packets per float partial sum, then flushed to double
        P acc = zero;
        for (int q = 0; q < 16 && c + PS <= hi; ++q, c += PS) {
          T* p = row + (c - t.c0);
          const P L = ei::pmax(ei::padd(ei::padd(ei::ploadu<P>(p), ei::ploadu<P>(t.nrm + c)), pni), zero);
          const P e1 = ei::pexp(ei::pmul(L, pneg));
          const P e2 = ei::pmul(e1, e1), e4 = ei::pmul(e2, e2), e8 = ei::pmul(e4, e4),
                  e16 = ei::pmul(e8, e8);
          acc = ei::padd(acc, ei::padd(ei::padd(ei::padd(e1, e2), ei::padd(e4, e8)), e16));
          // e1 + 2 e2 + 4 e4 + 8 e8 + 16 e16, Horner form
          const P kp = ei::pmadd(two, ei::pmadd(two, ei::pmadd(two, ei::pmadd(two, e16, e8), e4), e2), e1);
          ei::pstoreu(p, ei::pmul(pc, kp));
        }
        ksum += static_cast<double>(ei::predux(acc));
      }
      for (; c < hi; ++c) {  // tail
        T* p = row + (c - t.c0);
        T L = *p + t.nrm[c] + ni;
        L = L > T(0) ? L : T(0);
        const T e1 = exp(t.neg_inv4b * L), e2 = e1 * e1, e4 = e2 * e2, e8 = e4 * e4, e16 = e8 * e8;
        ksum += static_cast<double>(e1 + e2 + e4 + e8 + e16);
        *p = coef * (e1 + T(2) * e2 + T(4) * e4 + T(8) * e8 + T(16) * e16);
      }
      val += mult * static_cast<double>(coef) * ksum;
    }
    t.rowval[r] = val;
  });
}

}  // namespace detail

/// MMD between the rows of z1 (n1 x d) and z2 (n2 x d) with the reference's
/// five-bandwidth RBF mixture; see the file comment for the method.
template <class B, class T>
class MmdLoss {
 public:
  /// Tile shape: rows of a row block and width of a column block (the one
  /// workspace matrix is tile_rows x tile_cols; tile_cols >= tile_rows).
  explicit MmdLoss(index_t tile_rows = 64, index_t tile_cols = 4096)
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
    int workers = 1;
    if constexpr (std::is_same_v<B, Cpu>) workers = std::min<index_t>(be.num_threads(), nblocks);
    if (workers <= 1) {
      // One worker: the tile GEMMs themselves may use the backend's threads.
      work_.resize(1);
      prepare(work_[0], tr, tc, da, grad);
      if (grad) fill(be, dz_.data(), n * d, T(0));
      for (index_t blk = 0; blk < nblocks; ++blk)
        value += row_block(be, work_[0], f, blk * tr, tr, tc, n, d, grad, dz_.data());
    } else {
      if constexpr (std::is_same_v<B, Cpu>) {
        // Row blocks dealt round-robin to the threads (block I has n/tc - I
        // column blocks: interleaving balances the triangle); each thread
        // runs single-threaded GEMMs into its own tile and gradient buffer.
        // The per-thread gradients and per-block values are then added in a
        // fixed order: the same bits for a given thread count.
        work_.resize(static_cast<std::size_t>(workers));
        for (auto& w : work_) {
          prepare(w, tr, tc, da, grad);
          if (grad) {
            w.dz.resize(n, d);
            fill(be, w.dz.data(), n * d, T(0));
          }
        }
        vals_.assign(static_cast<std::size_t>(nblocks), 0.0);  // keeps its capacity
        const Cpu one{1};
#pragma omp parallel for schedule(static, 1) num_threads(workers)
        for (index_t blk = 0; blk < nblocks; ++blk) {
#ifdef _OPENMP
          TileWork& w = work_[static_cast<std::size_t>(omp_get_thread_num())];
#else
          TileWork& w = work_[0];
#endif
          vals_[static_cast<std::size_t>(blk)] =
              row_block(one, w, f, blk * tr, tr, tc, n, d, grad, grad ? w.dz.data() : nullptr);
        }
        for (double v : vals_) value += v;
        if (grad) {
          copy(be, dz_.data(), work_[0].dz.data(), n * d);
          for (std::size_t t = 1; t < work_.size(); ++t)
            launch(be, n * d, ops::Axpby<T>{work_[t].dz.data(), dz_.data(), T(1), T(1)});
        }
      }
    }
    if (grad) {
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
  /// Workspace of one worker: one tile, its row values, the two backward
  /// products and (parallel CPU path) a private gradient accumulator.
  struct TileWork {
    Matrix<B, T> tile, prow, pcol, dz;
    Buffer<B, double> rowval;
  };
  static void prepare(TileWork& w, index_t tr, index_t tc, index_t da, bool grad) {
    w.tile.resize(tr, tc);
    w.rowval.reserve(tr);
    if (grad) {
      w.prow.resize(tr, da);
      w.pcol.resize(tc, da);
    }
  }

  /// Row block starting at r0 against the column blocks from its diagonal
  /// on: adds the block's pair terms to the gradient accumulator dz (n x d,
  /// unscaled) and returns its share of the MMD value.
  template <class BB>
  double row_block(const BB& be, TileWork& w, ops::MmdTileRow<T> f, index_t r0, index_t tr,
                   index_t tc, index_t n, index_t d, bool grad, T* dz) {
    const index_t da = d + 1;
    const T* Z = zaug_.data();
    const index_t rows = std::min(tr, n - r0), r1 = r0 + rows;
    f.tile = w.tile.data();
    f.rowval = w.rowval.data();
    double value = 0;
    for (index_t c0 = r0; c0 < n; c0 += tc) {
      const index_t wd = std::min(tc, n - c0);
      // tile = -2 Zc_I Zc_J^T
      gemm(be, Op::N, Op::T, rows, wd, d, T(-2), Z + r0 * da, da, Z + c0 * da, da, T(0),
           w.tile.data(), wd);
      f.cols = wd;
      f.r0 = r0;
      f.c0 = c0;
      f.diag_end = r1;
      if (generic_) detail::mmd_tile_step<BB, T>(be, f, rows);
      else detail::mmd_tile_step(be, f, rows);
      value += reduce_sum(be, rows, ops::ReadAsDouble<double>{w.rowval.data()});
      if (!grad) continue;
      // row block: P_I (+)= W_IJ Zaug_J
      gemm(be, Op::N, Op::N, rows, da, wd, T(1), w.tile.data(), wd, Z + c0 * da, da,
           c0 == r0 ? T(0) : T(1), w.prow.data(), da);
      // mirrored pairs (columns beyond the row block): P_J = W_IJ^T Zaug_I
      const index_t cs = std::max(c0, r1);
      if (cs < c0 + wd) {
        const index_t wc = c0 + wd - cs;
        gemm(be, Op::T, Op::N, wc, da, rows, T(1), w.tile.data() + (cs - c0), wd, Z + r0 * da,
             da, T(0), w.pcol.data(), da);
        launch(be, wc * d, ops::MmdCombine<T>{w.pcol.data(), Z, dz, cs, d});
      }
    }
    if (grad) launch(be, rows * d, ops::MmdCombine<T>{w.prow.data(), Z, dz, r0, d});
    return value;
  }

  index_t tr_, tc_;
  bool generic_ = false;
  double fixed_b_ = 0, bandwidth_ = 0;
  Buffer<B, T> mean_, nrm_;
  Matrix<B, T> zaug_, dz_;
  std::vector<TileWork> work_;
  std::vector<double> vals_;
};

}  // namespace stai
