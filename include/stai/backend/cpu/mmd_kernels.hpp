// stai — the CPU's MMD kernels (losses/mmd.hpp): the kernel pass over a
// tile with a fast exp, and register-blocked kernels for the distance tile
// and both backward products, which replace the GEMMs. The same arithmetic
// as the generic path (GEMMs + ops::MmdTileRow), tested against it.
#pragma once
#include <algorithm>
#include <cmath>
#include <utility>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../../ops/losses.hpp"
#include "../../tensor/matrix.hpp"
#include "eigen_internal.hpp"
#include "launch.hpp"

namespace stai {

namespace detail {

namespace ei = ::stai::packet;

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
  return ei::pexp(x);
}
#if defined(__AVX2__) && defined(__FMA__)
inline packet::Packet8f mmd_exp(const packet::Packet8f& x) {
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

/// CPU distance tile without a GEMM: tile(r, c) = -2 <Zc_{r0+r}, Zc_{c0+c}>
/// for rows x wd pairs, from Zc (row stride da, d columns) and its transpose
/// packed in panels of one SIMD packet of columns (zt: panel p holds d rows
/// of PS values, columns p*PS ... p*PS + PS - 1, zero past n). Registers hold
/// 4 rows x 2 panels of sums, so each packed load serves four rows and there
/// is no packing or second pass over the tile. Needs c0 % PS == 0.
template <class T>
void mmd_distance_tile(const T* Z, index_t da, index_t d, const T* zt, index_t r0, index_t rows, index_t c0,
                       index_t wd, T* tile) {
  using P = packet::Packet<T>;
  constexpr index_t PS = packet::packet_size<T>;
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
  using P = packet::Packet<T>;
  constexpr index_t PS = packet::packet_size<T>;
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
  using P = packet::Packet<T>;
  constexpr index_t PS = packet::packet_size<T>;
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
  using P = packet::Packet<T>;
  constexpr index_t PS = packet::packet_size<T>;
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
  constexpr index_t PS = packet::packet_size<T>;
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

/// The MMD tile step of losses/mmd.hpp on the CPU: one fused pass per tile
/// row over SIMD packets (Eigen's vectorised exp and packet arithmetic: L, E,
/// the four squarings, the kernel sum and W stay in registers). Must agree
/// with ops::MmdTileRow (tested).
template <class T>
void mmd_tile_step(const Cpu& be, const ops::MmdTileRow<T>& f, index_t rows) {
  namespace ei = packet;
  using P = packet::Packet<T>;
  constexpr index_t PS = packet::packet_size<T>;
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
          const P e1 = detail::mmd_exp(ei::pmul(L, pneg));
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

/// The CPU's own kernels for an MMD call (see losses/mmd.hpp): the
/// GEMM-free distance tiles need column blocks starting at packet boundaries
/// (tile_rows a multiple of the packet size; every column block starts at
/// r0 + m tc, r0 a multiple of tr) and the packed transpose of Zc in zt; the
/// GEMM-free backward needs d = 1, 2 or 4 packets.
template <class T>
ops::MmdFastKernels<T> mmd_fast_kernels(const Cpu& be, const T* zaug, index_t n, index_t d, index_t tr,
                                        index_t tc, Buffer<Cpu, T>& zt) {
  constexpr index_t PS = packet::packet_size<T>;
  ops::MmdFastKernels<T> k;
  const index_t etr = std::min(tr, n), etc = std::min(tc, n);
  k.distance = etr % PS == 0 && (etc % PS == 0 || etc == n);
  if (d % PS == 0 && (d / PS == 1 || d / PS == 2 || d / PS == 4)) k.backward = static_cast<int>(d / PS);
  if (k.distance) {
    zt.reserve(((n + PS - 1) / PS) * PS * d);
    detail::mmd_pack_transposed(be, zaug, n, d + 1, d, zt.data());
    k.zt = zt.data();
  }
  return k;
}

/// tile = -2 Zc_I Zc_J^T without a GEMM (see detail::mmd_distance_tile).
template <class T>
bool mmd_fast_distance_tile(const Cpu&, const ops::MmdFastKernels<T>& k, const T* Z, index_t da, index_t d,
                            index_t r0, index_t rows, index_t c0, index_t wd, T* tile) {
  if (!k.distance) return false;
  detail::mmd_distance_tile(Z, da, d, k.zt, r0, rows, c0, wd, tile);
  return true;
}

/// Both backward products of a tile at once, no GEMM (see detail::mmd_tile_backward).
template <class T>
bool mmd_fast_tile_backward(const Cpu&, const ops::MmdFastKernels<T>& k, const T* W, index_t rows, index_t wd,
                            index_t js, const T* Z, index_t da, index_t r0, index_t c0, T* acc, T* colsum) {
  if (k.backward == 1)
    detail::mmd_tile_backward<T, 1>(W, rows, wd, js, Z, da, r0, c0, acc, colsum);
  else if (k.backward == 2)
    detail::mmd_tile_backward<T, 2>(W, rows, wd, js, Z, da, r0, c0, acc, colsum);
  else if (k.backward == 4)
    detail::mmd_tile_backward<T, 4>(W, rows, wd, js, Z, da, r0, c0, acc, colsum);
  else
    return false;
  return true;
}

}  // namespace stai
