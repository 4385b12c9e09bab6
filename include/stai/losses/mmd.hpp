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
// * CPU fast path (the same arithmetic, no GEMMs): the distance tile comes
//   from a register-blocked kernel over Zc and a packed transpose of it, and
//   both backward products (with the row and column sums of W) from two
//   register-blocked kernels that read each Z row once per 4 tile rows or
//   columns; each worker adds into its own n x (d + 1) accumulator, summed
//   in a fixed order at the end. The generic path (GEMMs + the shared
//   functor, also the CUDA path) is kept and tested against it.
// * Degenerate input: when all n points are identical b = 0 and the kernel is
//   undefined (the reference produces NaN). Here MMD = 0 with zero gradient —
//   the limit of the formula (every block mean is then 5).
#pragma once
#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

/// exp(x) for the kernel pass, where x = -L / (4b) <= 0. For AVX2 float
/// packets whose lanes all lie in [-87, 0] (nearly always): the Cephes
/// polynomial of Eigen 3.4's pexp, operation for operation, and the scaling
/// by 2^m as one multiplication by a constructed power of two. Eigen's
/// generic ldexp splits 2^m into four factors to survive any m; for
/// m >= -126 those partial products are exact, so both round the same real
/// product once: the same bits (tested against Eigen over a dense grid of
/// [-92, 0]). Other packets (NaN, x < -87) use Eigen's pexp itself.
template <class P>
inline P mmd_exp(const P& x) {
  return Eigen::internal::pexp(x);
}
#if defined(__AVX2__) && defined(__FMA__)
inline Eigen::internal::Packet8f mmd_exp(const Eigen::internal::Packet8f& x) {
  namespace ei = Eigen::internal;
  using P = ei::Packet8f;
  if (_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ)) != 0xff) return ei::pexp(x);
  const P one = ei::pset1<P>(1.0f);
  const P m = ei::pfloor(ei::pmadd(x, ei::pset1<P>(1.44269504088896341f), ei::pset1<P>(0.5f)));
  P r = ei::pmadd(m, ei::pset1<P>(-0.693359375f), x);
  r = ei::pmadd(m, ei::pset1<P>(2.12194440e-4f), r);
  const P r2 = ei::pmul(r, r), r3 = ei::pmul(r2, r);
  P y = ei::pmadd(ei::pset1<P>(1.9875691500E-4f), r, ei::pset1<P>(1.3981999507E-3f));
  P y1 = ei::pmadd(ei::pset1<P>(4.1665795894E-2f), r, ei::pset1<P>(1.6666665459E-1f));
  const P y2 = ei::padd(r, one);
  y = ei::pmadd(y, r, ei::pset1<P>(8.3334519073E-3f));
  y1 = ei::pmadd(y1, r, ei::pset1<P>(5.0000001201E-1f));
  y = ei::pmadd(y, r3, y1);
  y = ei::pmadd(y, r2, y2);
  // 2^m for m in [-126, 0]: biased exponent m + 127 in the exponent field
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(m), _mm256_set1_epi32(127)), 23);
  return ei::pmax(ei::pmul(y, _mm256_castsi256_ps(e)), x);
}
#endif

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
          const P e1 = mmd_exp(ei::pmul(L, pneg));
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

/// CPU distance tile without a GEMM: tile(r, c) = -2 <Zc_{r0+r}, Zc_{c0+c}>
/// for rows x wd pairs, from Zc (row stride da, d columns) and its transpose
/// packed in panels of one SIMD packet of columns (zt: panel p holds d rows
/// of PS values, columns p*PS ... p*PS + PS - 1, zero past n). Registers hold
/// 4 rows x 2 panels of sums, so each packed load serves four rows and there
/// is no packing or second pass over the tile. Needs c0 % PS == 0.
template <class T>
void mmd_distance_tile(const T* Z, index_t da, index_t d, const T* zt, index_t r0, index_t rows, index_t c0,
                       index_t wd, T* tile) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t PS = ei::packet_traits<T>::size;
  const P m2 = ei::pset1<P>(T(-2));
  const index_t pfirst = c0 / PS, np = (wd + PS - 1) / PS;
  // Stores packet v at column offset c of a tile row (partial at the end).
  auto put = [&](T* row, index_t c, P v) {
    if (c + PS <= wd) {
      ei::pstoreu(row + c, ei::pmul(m2, v));
    } else {
      alignas(64) T buf[PS];
      ei::pstoreu(buf, ei::pmul(m2, v));
      for (index_t u = 0; c + u < wd; ++u) row[c + u] = buf[u];
    }
  };
  index_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const T* a0 = Z + (r0 + r) * da;
    const T* a1 = a0 + da;
    const T* a2 = a1 + da;
    const T* a3 = a2 + da;
    T* t0 = tile + r * wd;
    index_t p = 0;
    for (; p + 2 <= np; p += 2) {
      const T* b = zt + (pfirst + p) * d * PS;
      P s00 = ei::pset1<P>(T(0)), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
      for (index_t k = 0; k < d; ++k) {
        const P v0 = ei::pload<P>(b + k * PS), v1 = ei::pload<P>(b + (d + k) * PS);
        P x = ei::pset1<P>(a0[k]);
        s00 = ei::pmadd(x, v0, s00);
        s01 = ei::pmadd(x, v1, s01);
        x = ei::pset1<P>(a1[k]);
        s10 = ei::pmadd(x, v0, s10);
        s11 = ei::pmadd(x, v1, s11);
        x = ei::pset1<P>(a2[k]);
        s20 = ei::pmadd(x, v0, s20);
        s21 = ei::pmadd(x, v1, s21);
        x = ei::pset1<P>(a3[k]);
        s30 = ei::pmadd(x, v0, s30);
        s31 = ei::pmadd(x, v1, s31);
      }
      const index_t c = p * PS;
      put(t0, c, s00), put(t0, c + PS, s01);
      put(t0 + wd, c, s10), put(t0 + wd, c + PS, s11);
      put(t0 + 2 * wd, c, s20), put(t0 + 2 * wd, c + PS, s21);
      put(t0 + 3 * wd, c, s30), put(t0 + 3 * wd, c + PS, s31);
    }
    for (; p < np; ++p) {
      const T* b = zt + (pfirst + p) * d * PS;
      P s0 = ei::pset1<P>(T(0)), s1 = s0, s2 = s0, s3 = s0;
      for (index_t k = 0; k < d; ++k) {
        const P v = ei::pload<P>(b + k * PS);
        s0 = ei::pmadd(ei::pset1<P>(a0[k]), v, s0);
        s1 = ei::pmadd(ei::pset1<P>(a1[k]), v, s1);
        s2 = ei::pmadd(ei::pset1<P>(a2[k]), v, s2);
        s3 = ei::pmadd(ei::pset1<P>(a3[k]), v, s3);
      }
      const index_t c = p * PS;
      put(t0, c, s0), put(t0 + wd, c, s1), put(t0 + 2 * wd, c, s2), put(t0 + 3 * wd, c, s3);
    }
  }
  for (; r < rows; ++r) {
    const T* a = Z + (r0 + r) * da;
    for (index_t p = 0; p < np; ++p) {
      const T* b = zt + (pfirst + p) * d * PS;
      P s = ei::pset1<P>(T(0));
      for (index_t k = 0; k < d; ++k) s = ei::pmadd(ei::pset1<P>(a[k]), ei::pload<P>(b + k * PS), s);
      put(tile + r * wd, p * PS, s);
    }
  }
}

/// CPU backward products of a tile without GEMMs (d = KP packets exactly;
/// Z rows hold d values then a 1, stride da = d + 1):
///   rows:    acc_{r0+r} += sum_j W(r, j) [Zc_{c0+j} | 1]    for every tile row r
///   mirror:  acc_{c0+j} += sum_r W(r, j) [Zc_{r0+r} | 1]    for tile columns j >= js
/// R rows (or columns) x KP packets of sums stay in registers; each Z row is
/// loaded once per R. Fixed loop order: deterministic.
template <class T, int R, int KP>
void mmd_rows_kernel(const T* W, index_t wd, const T* Zj, index_t da, T* acc) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t PS = ei::packet_traits<T>::size;
  P a[R][KP];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < KP; ++q) a[r][q] = ei::pset1<P>(T(0));
  for (index_t j = 0; j < wd; ++j) {
    const T* z = Zj + j * da;
    P zv[KP];
    for (int q = 0; q < KP; ++q) zv[q] = ei::ploadu<P>(z + q * PS);
    for (int r = 0; r < R; ++r) {
      const P w = ei::pset1<P>(W[r * wd + j]);
      for (int q = 0; q < KP; ++q) a[r][q] = ei::pmadd(w, zv[q], a[r][q]);
    }
  }
  constexpr index_t d = KP * PS;
  for (int r = 0; r < R; ++r) {
    T* o = acc + r * da;
    for (int q = 0; q < KP; ++q) ei::pstoreu(o + q * PS, ei::padd(ei::ploadu<P>(o + q * PS), a[r][q]));
    const T* wr = W + r * wd;
    P s = ei::pset1<P>(T(0));
    index_t j = 0;
    for (; j + PS <= wd; j += PS) s = ei::padd(s, ei::ploadu<P>(wr + j));
    T t = ei::predux(s);
    for (; j < wd; ++j) t += wr[j];
    o[d] += t;
  }
}

template <class T, int C, int KP>
void mmd_cols_kernel(const T* W, index_t wd, index_t rows, index_t j0, const T* Zi, index_t da, T* acc) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t PS = ei::packet_traits<T>::size;
  P a[C][KP];
  for (int c = 0; c < C; ++c)
    for (int q = 0; q < KP; ++q) a[c][q] = ei::pset1<P>(T(0));
  for (index_t r = 0; r < rows; ++r) {
    const T* z = Zi + r * da;
    P zv[KP];
    for (int q = 0; q < KP; ++q) zv[q] = ei::ploadu<P>(z + q * PS);
    const T* wr = W + r * wd + j0;
    for (int c = 0; c < C; ++c) {
      const P w = ei::pset1<P>(wr[c]);
      for (int q = 0; q < KP; ++q) a[c][q] = ei::pmadd(w, zv[q], a[c][q]);
    }
  }
  for (int c = 0; c < C; ++c) {
    T* o = acc + c * da;
    for (int q = 0; q < KP; ++q) ei::pstoreu(o + q * PS, ei::padd(ei::ploadu<P>(o + q * PS), a[c][q]));
  }
}

/// Both products of one tile (see mmd_rows_kernel). colsum: scratch of wd values.
template <class T, int KP>
void mmd_tile_backward(const T* W, index_t rows, index_t wd, index_t js, const T* Z, index_t da, index_t r0,
                       index_t c0, T* acc, T* colsum) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t PS = ei::packet_traits<T>::size;
  constexpr int R = KP <= 2 ? 4 : 2;  // R x KP <= 8 register sums
  constexpr index_t d = KP * PS;
  index_t r = 0;
  for (; r + R <= rows; r += R) mmd_rows_kernel<T, R, KP>(W + r * wd, wd, Z + c0 * da, da, acc + (r0 + r) * da);
  for (; r < rows; ++r) mmd_rows_kernel<T, 1, KP>(W + r * wd, wd, Z + c0 * da, da, acc + (r0 + r) * da);
  if (js >= wd) return;
  const T* Zi = Z + r0 * da;
  index_t j = js;
  for (; j + R <= wd; j += R) mmd_cols_kernel<T, R, KP>(W, wd, rows, j, Zi, da, acc + (c0 + j) * da);
  for (; j < wd; ++j) mmd_cols_kernel<T, 1, KP>(W, wd, rows, j, Zi, da, acc + (c0 + j) * da);
  // column sums of W (the 1 column), packet-wise over the rows
  const index_t wc = wd - js;
  for (index_t c = 0; c < wc; ++c) colsum[c] = T(0);
  for (index_t rr = 0; rr < rows; ++rr) {
    const T* wr = W + rr * wd + js;
    index_t c = 0;
    for (; c + PS <= wc; c += PS) ei::pstoreu(colsum + c, ei::padd(ei::ploadu<P>(colsum + c), ei::ploadu<P>(wr + c)));
    for (; c < wc; ++c) colsum[c] += wr[c];
  }
  for (index_t c = 0; c < wc; ++c) acc[(c0 + js + c) * da + d] += colsum[c];
}

/// Packs the d columns of Zc (n rows, stride da) for mmd_distance_tile.
template <class T>
void mmd_pack_transposed(const Cpu& be, const T* Z, index_t n, index_t da, index_t d, T* zt) {
  constexpr index_t PS = Eigen::internal::packet_traits<T>::size;
  const index_t np = (n + PS - 1) / PS;
  launch_rows(be, np, [=](index_t p) {
    T* out = zt + p * d * PS;
    for (index_t k = 0; k < d; ++k)
      for (index_t u = 0; u < PS; ++u) {
        const index_t i = p * PS + u;
        out[k * PS + u] = i < n ? Z[i * da + k] : T(0);
      }
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
    if constexpr (std::is_same_v<B, Cpu>) {
      // Fast distance kernel: needs column blocks starting at packet
      // boundaries (tile_rows a multiple of the packet size).
      constexpr index_t PS = Eigen::internal::packet_traits<T>::size;
      // (every column block starts at r0 + m tc, r0 a multiple of tr).
      const index_t etr = std::min(tr_, n), etc = std::min(tc_, n);
      fast_dist_ = !generic_ && etr % PS == 0 && (etc % PS == 0 || etc == n);
      // GEMM-free backward: d = 1, 2 or 4 packets.
      fast_bwd_ = 0;
      if (!generic_ && d % PS == 0 && (d / PS == 1 || d / PS == 2 || d / PS == 4))
        fast_bwd_ = static_cast<int>(d / PS);
      if (fast_dist_) {
        zt_.reserve(((n + PS - 1) / PS) * PS * d);
        detail::mmd_pack_transposed(be, zaug_.data(), n, da, d, zt_.data());
      }
    }
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
      if (grad) {
        work_[0].acc.resize(n, da);
        fill(be, work_[0].acc.data(), n * da, T(0));
      }
      for (index_t blk = 0; blk < nblocks; ++blk)
        value += row_block(be, work_[0], f, blk * tr, tr, tc, n, d, grad);
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
            w.acc.resize(n, da);
            fill(be, w.acc.data(), n * da, T(0));
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
          vals_[static_cast<std::size_t>(blk)] = row_block(one, w, f, blk * tr, tr, tc, n, d, grad);
        }
        for (double v : vals_) value += v;
        if (grad)
          for (std::size_t t = 1; t < work_.size(); ++t)
            launch(be, n * da, ops::Axpby<T>{work_[t].acc.data(), work_[0].acc.data(), T(1), T(1)});
      }
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
      bool done = false;
      if constexpr (std::is_same_v<B, Cpu>) {
        if (fast_dist_) {
          detail::mmd_distance_tile(Z, da, d, zt_.data(), r0, rows, c0, wd, w.tile.data());
          done = true;
        }
      }
      if (!done)
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
      T* acc = w.acc.data();
      const index_t cs = std::max(c0, r1);
      if constexpr (std::is_same_v<B, Cpu>) {
        if (fast_bwd_ > 0) {
          // Both products at once, no GEMM (see mmd_tile_backward).
          T* colsum = w.colsum.data();
          if (fast_bwd_ == 1)
            detail::mmd_tile_backward<T, 1>(w.tile.data(), rows, wd, cs - c0, Z, da, r0, c0, acc, colsum);
          else if (fast_bwd_ == 2)
            detail::mmd_tile_backward<T, 2>(w.tile.data(), rows, wd, cs - c0, Z, da, r0, c0, acc, colsum);
          else
            detail::mmd_tile_backward<T, 4>(w.tile.data(), rows, wd, cs - c0, Z, da, r0, c0, acc, colsum);
          continue;
        }
      }
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
  bool generic_ = false, fast_dist_ = false;
  int fast_bwd_ = 0;  // CPU: packets per code row of the GEMM-free backward (0 = GEMMs)
  double fixed_b_ = 0, bandwidth_ = 0;
  Buffer<B, T> mean_, nrm_, zt_;  // zt_: packed transpose for the CPU distance kernel
  Matrix<B, T> zaug_, dz_;
  std::vector<TileWork> work_;
  std::vector<double> vals_;
};

}  // namespace stai
