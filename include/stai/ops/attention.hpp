// stai — per-row functors of the imputation heads (top-k Euclidean attention
// and learnable dot-product attention). Shared by all backends: plain structs
// of raw pointers and sizes, STAI_HOST_DEVICE call operators over one index,
// no containers, no captures (they compile unchanged in CUDA kernels).
//
// Layout conventions (row-major everywhere):
//   z1  n1 x d   spatial codes          z2  n2 x d   reference codes
//   v   n2 x g   values to impute       y   n1 x g   imputed values
//   per-row selection arrays (idx, dist, w, coef) are n1 x k, row stride k.
// A null `idx` means "all reference cells, in index order" (k == n2): entry
// (i, t) then refers to reference cell t.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../config.hpp"

namespace stai::ops {

/// out[i] = sum_c x[i, c]^2   (one call per row)
template <class T>
struct RowSqNorm {
  const T* x;
  T* out;
  index_t cols;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T* r = x + i * cols;
    T s = T(0);
    for (index_t c = 0; c < cols; ++c) s += r[c] * r[c];
    out[i] = s;
  }
};

/// A (distance key, reference index) pair with the strict total order of the
/// top-k selection: larger key ranks after, equal keys by larger index.
/// float: packed into one 64-bit integer (the bits of a non-negative float
/// order like the float; the low 32 bits hold the index), so one integer
/// comparison decides; double: a plain pair.
template <class T>
struct TopKEntry {
  T key;
  index_t j;
  STAI_HOST_DEVICE static TopKEntry make(T key, index_t j) { return {key, j}; }
  STAI_HOST_DEVICE index_t index() const { return j; }
  STAI_HOST_DEVICE T value() const { return key; }
  STAI_HOST_DEVICE bool operator>(const TopKEntry& o) const {
    return key > o.key || (key == o.key && j > o.j);
  }
};
template <>
struct TopKEntry<float> {
  std::uint64_t v;
  /// key must be >= +0 (not -0, not NaN) and 0 <= j < 2^32.
  STAI_HOST_DEVICE static TopKEntry make(float key, index_t j) {
    std::uint32_t b;
    std::memcpy(&b, &key, sizeof b);
    return {(static_cast<std::uint64_t>(b) << 32) | static_cast<std::uint32_t>(j)};
  }
  STAI_HOST_DEVICE index_t index() const { return static_cast<index_t>(v & 0xffffffffu); }
  STAI_HOST_DEVICE float value() const {
    const auto b = static_cast<std::uint32_t>(v >> 32);
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
  }
  STAI_HOST_DEVICE bool operator>(const TopKEntry& o) const { return v > o.v; }
};

/// The building blocks of TopKSelectRow as plain loops (every backend, and
/// the reference for faster ones, which must give the same results).
struct TopKScalar {
  /// Candidate capacity per row of the rank selection for k (0: none).
  template <class T>
  static index_t capacity(index_t) { return 0; }
  /// Bit u set iff p[u] <= t, for u < 16.
  template <class T>
  STAI_HOST_DEVICE static unsigned block_mask16(const T* p, T t) {
    unsigned mask = 0;
    for (int u = 0; u < 16; ++u) mask |= (p[u] <= t ? 1u : 0u) << u;
    return mask;
  }
  /// Turns a prefix [0, m) of the row gr into keys (see TopKSelectRow) and
  /// returns m; here none (the functor's loop does the whole row).
  template <class T>
  STAI_HOST_DEVICE static index_t clamp_keys(T*, const T*, T, index_t, T) { return 0; }
  /// The rank selection of row `sel`; false: not done (the heap runs).
  template <class Row, class T, class Entry>
  STAI_HOST_DEVICE static bool rank_select(const Row&, const T*, Entry*, T, index_t*) { return false; }
};

/// Top-k selection for one row of a distance tile.
///
/// Row r of the tile holds g[r, j] = -2 z1_i . z2_j (a GEMM); the functor
/// first turns it IN PLACE into the clamped squared distance
/// key_j = max(sq1[r] + sq2[j] + g[r, j], 0) (a vectorisable pass; NaN
/// becomes +inf, i.e. never preferred), then keeps the k smallest keys with
/// ties broken by the smaller reference index j: where the building blocks
/// K offer it (the CPU's, float, AVX2: backend/cpu/topk.hpp) by ranking the
/// keys under a sampled threshold (rank_select), otherwise, and as its
/// fall-back, by a bounded max-heap of TopKEntry in the per-row scratch
/// `heap`, heap-sorted at the end. Either way, on return idx[r, 0..k) lists
/// the selected j in ascending (key, j) order. K supplies the parts a
/// backend may do faster with the same results (TopKScalar: plain loops,
/// valid everywhere).
/// Requires 1 <= k <= n2 (and n2 <= 2^32 for float).
/// Ranking by the clamped squared distance is ranking by the distance
/// (sqrt is monotone), without n2 square roots per row.
template <class T, class K = TopKScalar>
struct TopKSelectRow {
  using Entry = TopKEntry<T>;
  T* g;            ///< tile x n2, row stride n2 (overwritten by the keys)
  const T* sq1;    ///< |z1_i|^2 for the tile's rows
  const T* sq2;    ///< |z2_j|^2, n2 entries
  Entry* heap;     ///< scratch: tile x k
  index_t* idx;    ///< output: tile x k (the head's selection rows of this tile)
  index_t n2, k;
  T inf;           ///< +infinity (passed in: no numeric_limits in device code)
  /// Candidate capacity per row for the rank selection (K::capacity):
  /// `heap` then holds cap + 4 entries per row (row stride cap + 4), cap a
  /// multiple of 4 and >= k. 0: the bounded heap only (row stride k).
  index_t cap = 0;

  /// Row stride of `heap` for a given k and cap.
  STAI_HOST_DEVICE static index_t scratch_stride(index_t k, index_t cap) { return cap > 0 ? cap + 4 : k; }

  /// Replaces the root of the max-heap h (size n) by e and sifts it down
  /// past larger children. (Floyd's bottom-up variant measured slower here.)
  STAI_HOST_DEVICE static void replace_root(Entry* h, index_t n, Entry e) {
    index_t pos = 0;
    for (;;) {
      const index_t l = 2 * pos + 1;
      if (l >= n) break;
      index_t m = l;
      if (l + 1 < n && h[l + 1] > h[l]) m = l + 1;
      if (!(h[m] > e)) break;
      h[pos] = h[m];
      pos = m;
    }
    h[pos] = e;
  }

  /// Bit u set iff gr[j0 + u] <= t, for the up to 16 keys of the row from j0.
  STAI_HOST_DEVICE unsigned block_mask(const T* gr, index_t j0, T t) const {
    if (j0 + 16 <= n2) return K::block_mask16(gr + j0, t);
    unsigned mask = 0;
    for (index_t u = 0; j0 + u < n2; ++u) mask |= (gr[j0 + u] <= t ? 1u : 0u) << u;
    return mask;
  }

  /// Index of the lowest set bit of a non-zero mask.
  STAI_HOST_DEVICE static int lowest_bit(unsigned m) {
#if defined(__CUDA_ARCH__)
    return __ffs(static_cast<int>(m)) - 1;
#else
    return __builtin_ctz(m);
#endif
  }

  /// Sift-up insertion into a max-heap of n entries (becomes n + 1).
  STAI_HOST_DEVICE static void push(Entry* h, index_t n, Entry e) {
    index_t c = n;
    while (c > 0) {
      const index_t p = (c - 1) / 2;
      if (!(e > h[p])) break;
      h[c] = h[p];
      c = p;
    }
    h[c] = e;
  }

  /// Keeps the k smallest (key, j) among the keys <= t in the max-heap h;
  /// returns how many entries it holds (k unless fewer keys are <= t).
  STAI_HOST_DEVICE index_t select_pass(const T* gr, Entry* h, T t) const {
    index_t n = 0;
    T thr = t;  // accept key <= thr while filling, key < root once full
    for (index_t j0 = 0; j0 < n2; j0 += 16) {
      unsigned mask = block_mask(gr, j0, thr);  // bit u: key j0 + u passes
      while (mask) {
        const int u = lowest_bit(mask);
        mask &= mask - 1;
        const index_t j = j0 + u;
        const T key = gr[j];
        if (n < k) {
          if (key <= thr) {
            push(h, n, Entry::make(key, j));
            ++n;
            if (n == k) thr = h[0].value();
          }
        } else if (key < thr) {
          // j exceeds every held index, so an equal key never displaces the
          // root: strict comparison with the root's key is exact.
          replace_root(h, k, Entry::make(key, j));
          thr = h[0].value();
        }
      }
    }
    return n;
  }

  /// The threshold estimate for a row (+inf when sampling would not help).
  STAI_HOST_DEVICE T sample_threshold(const T* gr) const {
    constexpr index_t kMaxRank = 32, kSamples = 256;
    if (n2 < 4 * kSamples) return inf;
    const index_t stride = n2 / kSamples;
    // rank m (1-based) such that n2 * m / s ~ 2k + 2
    const index_t m = (2 * k + 2) * kSamples / n2 + 1;
    if (m > kMaxRank) return inf;
    T best[kMaxRank];  // the m smallest samples, ascending
    index_t cnt = 0;
    for (index_t s = 0; s < kSamples; ++s) {
      const T v = gr[s * stride];
      if (cnt == m && !(v < best[m - 1])) continue;
      index_t p = cnt < m ? cnt++ : m - 1;
      while (p > 0 && best[p - 1] > v) {
        best[p] = best[p - 1];
        --p;
      }
      best[p] = v;
    }
    return best[m - 1];
  }

  STAI_HOST_DEVICE void operator()(index_t r) const {
    T* gr = g + r * n2;
    const T base = sq1[r];
    index_t j = K::clamp_keys(gr, sq2, base, n2, inf);  // a prefix of the row, or none
    for (; j < n2; ++j) {
      const T key = base + sq2[j] + gr[j];
      // > 0 keeps the value; 0, -0 and negatives become +0; NaN becomes inf
      gr[j] = key > T(0) ? key : (key == key ? T(0) : inf);
    }
    Entry* h = heap + r * scratch_stride(k, cap);
    // A threshold from a strided sample: the rank-m smallest of s sampled
    // keys, with m chosen so that about 2k + 2 keys of the row fall below it.
    // Scanning with that threshold from the start skips nearly every block of
    // the row without per-element work; if fewer than k keys pass (rare), the
    // row is scanned again without a threshold. The result is the same either
    // way: the k smallest (key, j) of the row.
    const T thr = sample_threshold(gr);
    // Rank selection (where K has it): collect the keys <= thr (at most
    // cap), then place each at its rank among them (branch-free counting);
    // the k lowest ranks are the answer, already in order. Falls back to the
    // heap when fewer than k or more than cap keys pass.
    if (cap >= k && K::rank_select(*this, gr, h, thr, idx + r * k)) return;
    index_t filled = select_pass(gr, h, thr);
    if (filled < k) filled = select_pass(gr, h, inf);
    (void)filled;
    // Heap sort: repeatedly move the largest entry to the end -> ascending.
    for (index_t end = k - 1; end > 0; --end) {
      const Entry e = h[end];
      h[end] = h[0];
      replace_root(h, end, e);
    }
    index_t* out = idx + r * k;
    for (index_t t = 0; t < k; ++t) out[t] = h[t].index();
  }
};

/// For row i: the exact distances D_it = ||z1_i - z2_j(t)||_2 of the k
/// selected pairs (computed directly from the coordinates, so identical rows
/// give exactly 0), and the weights w_it = softmax_t(-D_it) (max-shifted).
template <class T>
struct TopKDistSoftmaxRow {
  const T* z1;
  const T* z2;
  const index_t* idx;  ///< n1 x k, or null for "all cells in order"
  T* dist;             ///< n1 x k
  T* w;                ///< n1 x k
  index_t d, k;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T* a = z1 + i * d;
    T* di = dist + i * k;
    T* wi = w + i * k;
    T dmin = T(0);
    for (index_t t = 0; t < k; ++t) {
      const index_t j = idx ? idx[i * k + t] : t;
      const T* b = z2 + j * d;
      // four independent partial sums (fixed order: deterministic), so the
      // loop is not one long dependency chain
      T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
      index_t c = 0;
      for (; c + 4 <= d; c += 4) {
        const T e0 = a[c] - b[c], e1 = a[c + 1] - b[c + 1], e2 = a[c + 2] - b[c + 2],
                e3 = a[c + 3] - b[c + 3];
        s0 += e0 * e0;
        s1 += e1 * e1;
        s2 += e2 * e2;
        s3 += e3 * e3;
      }
      for (; c < d; ++c) {
        const T e = a[c] - b[c];
        s0 += e * e;
      }
      const T D = std::sqrt((s0 + s1) + (s2 + s3));
      di[t] = D;
      if (t == 0 || D < dmin) dmin = D;
    }
    T sum = T(0);
    for (index_t t = 0; t < k; ++t) {
      const T e = std::exp(dmin - di[t]);  // = exp(-D + min D) <= 1
      wi[t] = e;
      sum += e;
    }
    const T inv = T(1) / sum;
    for (index_t t = 0; t < k; ++t) wi[t] *= inv;
  }
};

/// y[i, :] = sum_t w[i, t] v[j(t), :]   (sparse attention times values)
template <class T>
struct AttnGatherRow {
  const T* w;
  const index_t* idx;  ///< null: j(t) = t
  const T* v;
  T* y;
  index_t k, g;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    T* yi = y + i * g;
    for (index_t c = 0; c < g; ++c) yi[c] = T(0);
    const T* wi = w + i * k;
    for (index_t t = 0; t < k; ++t) {
      const index_t j = idx ? idx[i * k + t] : t;
      const T wt = wi[t];
      const T* vj = v + j * g;
      for (index_t c = 0; c < g; ++c) yi[c] += wt * vj[c];
    }
  }
};

/// Backward of one row of the top-k head, given dY:
///   dw_t   = dY_i . V_j(t)
///   dD_t   = -w_t (dw_t - sum_s w_s dw_s)           (softmax of -D)
///   coef_t = dD_t / D_t, or 0 where D_t == 0         (as torch.cdist)
///   dz1_i  (=|+=) sum_t coef_t (z1_i - z2_j(t))      (skipped if dz1 is null)
/// coef is kept for the gather of the z2 gradient (AttnBackwardZ2Row).
/// With dw_given, coef already holds dw on entry (e.g. from the GEMM
/// dY V^T when all reference cells are attended) and v is not read.
template <class T>
struct TopKAttnBackwardRow {
  const T* dy;  ///< n1 x g
  const T* v;   ///< n2 x g
  const T* w;
  const T* dist;
  const index_t* idx;  ///< null: j(t) = t
  const T* z1;
  const T* z2;
  T* coef;  ///< n1 x k, written
  T* dz1;   ///< n1 x d or null
  index_t k, g, d;
  bool accumulate;
  bool dw_given;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T* dyi = dy + i * g;
    const T* wi = w + i * k;
    const T* di = dist + i * k;
    T* ci = coef + i * k;
    // coef temporarily holds dw_t
    T avg = T(0);
    for (index_t t = 0; t < k; ++t) {
      if (!dw_given) {
        const index_t j = idx ? idx[i * k + t] : t;
        const T* vj = v + j * g;
        T s = T(0);
        for (index_t c = 0; c < g; ++c) s += dyi[c] * vj[c];
        ci[t] = s;
      }
      avg += wi[t] * ci[t];
    }
    for (index_t t = 0; t < k; ++t) {
      const T dD = -wi[t] * (ci[t] - avg);
      ci[t] = di[t] > T(0) ? dD / di[t] : T(0);
    }
    if (!dz1) return;
    const T* a = z1 + i * d;
    T* o = dz1 + i * d;
    if (!accumulate)
      for (index_t c = 0; c < d; ++c) o[c] = T(0);
    for (index_t t = 0; t < k; ++t) {
      const T ct = ci[t];
      if (ct == T(0)) continue;
      const index_t j = idx ? idx[i * k + t] : t;
      const T* b = z2 + j * d;
      for (index_t c = 0; c < d; ++c) o[c] += ct * (a[c] - b[c]);
    }
  }
};

/// z2 gradient of the top-k head as a race-free GATHER over the transposed
/// selection: for reference cell j,
///   dz2_j (=|+=) sum over selected pairs (i, t) with j(i, t) = j of
///                coef[i, t] (z2_j - z1_i),
/// visiting the pairs in ascending flat position e = i k + t
/// (tptr/tent: CSR of the transposed selection, tent[q] = flat position).
template <class T>
struct TopKAttnBackwardZ2Row {
  const index_t* tptr;  ///< n2 + 1
  const index_t* tent;  ///< n1 k flat positions
  const T* coef;        ///< n1 x k
  const T* z1;
  const T* z2;
  T* dz2;  ///< n2 x d
  index_t k, d;
  bool accumulate;
  STAI_HOST_DEVICE void operator()(index_t j) const {
    const T* b = z2 + j * d;
    T* o = dz2 + j * d;
    if (!accumulate)
      for (index_t c = 0; c < d; ++c) o[c] = T(0);
    for (index_t q = tptr[j]; q < tptr[j + 1]; ++q) {
      const index_t e = tent[q];
      const T ct = coef[e];
      if (ct == T(0)) continue;
      const T* a = z1 + (e / k) * d;
      for (index_t c = 0; c < d; ++c) o[c] += ct * (b[c] - a[c]);
    }
  }
};

/// The same gather when every reference cell is attended (coef is dense
/// n1 x n2): one call handles the reference cells [b B, b B + B) and walks
/// the spatial cells in ascending order, reading coef row-wise (cache
/// friendly) — for each j the same terms in the same order as the per-cell
/// gather.
template <class T>
struct DenseAttnBackwardZ2Block {
  const T* coef;  ///< n1 x n2
  const T* z1;
  const T* z2;
  T* dz2;  ///< n2 x d
  index_t n1, n2, d, block;
  bool accumulate;
  STAI_HOST_DEVICE void operator()(index_t bi) const {
    const index_t j0 = bi * block;
    const index_t j1 = j0 + block < n2 ? j0 + block : n2;
    if (!accumulate)
      for (index_t q = j0 * d; q < j1 * d; ++q) dz2[q] = T(0);
    for (index_t i = 0; i < n1; ++i) {
      const T* ci = coef + i * n2;
      const T* a = z1 + i * d;
      for (index_t j = j0; j < j1; ++j) {
        const T ct = ci[j];
        if (ct == T(0)) continue;
        const T* b = z2 + j * d;
        T* o = dz2 + j * d;
        for (index_t c = 0; c < d; ++c) o[c] += ct * (b[c] - a[c]);
      }
    }
  }
};

/// In-place stable softmax of row i of s (rows x cols).
template <class T>
struct SoftmaxRowInPlace {
  T* s;
  index_t cols;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    if (cols <= 0) return;
    T* r = s + i * cols;
    T m = r[0];
    for (index_t j = 1; j < cols; ++j) m = r[j] > m ? r[j] : m;
    T sum = T(0);
    for (index_t j = 0; j < cols; ++j) {
      r[j] = std::exp(r[j] - m);
      sum += r[j];
    }
    const T inv = T(1) / sum;
    for (index_t j = 0; j < cols; ++j) r[j] *= inv;
  }
};

/// In-place softmax backward of row i: ds_ij <- s_ij (ds_ij - sum_l s_il ds_il),
/// where s are the softmax outputs and ds arrives as dL/ds.
template <class T>
struct SoftmaxBackwardRowInPlace {
  const T* s;
  T* ds;
  index_t cols;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T* si = s + i * cols;
    T* di = ds + i * cols;
    T dot = T(0);
    for (index_t j = 0; j < cols; ++j) dot += si[j] * di[j];
    for (index_t j = 0; j < cols; ++j) di[j] = si[j] * (di[j] - dot);
  }
};

}  // namespace stai::ops
