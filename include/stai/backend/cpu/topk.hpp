// stai — the CPU's building blocks of the top-k selection functor
// (ops::TopKSelectRow, used by heads/topk_attention.hpp): for float, the key
// pass and the block masks with AVX, and the rank selection with AVX2. The
// same results as ops::TopKScalar, which they fall back to elsewhere (other
// types, builds without AVX, and nvcc, whose host pass compiles the scalar
// forms).
#pragma once
#include <cstdint>
#include <type_traits>
#if defined(__AVX__) && !defined(__CUDACC__)
#include <immintrin.h>
#endif

#include "../../ops/attention.hpp"
#include "launch.hpp"

namespace stai {

struct TopKCpuKernels : ops::TopKScalar {
#if defined(__AVX2__) && !defined(__CUDACC__)
  /// The candidate capacity the rank selection uses for k (float only).
  template <class T>
  static index_t capacity(index_t k) {
    if constexpr (std::is_same_v<T, float>) return ((4 * k + 3) / 4) * 4;
    (void)k;
    return 0;
  }
#endif

#if defined(__AVX__) && !defined(__CUDACC__)
  /// Bit u set iff p[u] <= t, for u < 16 (AVX compare + movemask for float).
  template <class T>
  static unsigned block_mask16(const T* p, T t) {
    if constexpr (std::is_same_v<T, float>) {
      const __m256 tv = _mm256_set1_ps(t);
      const int lo = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), tv, _CMP_LE_OQ));
      const int hi = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + 8), tv, _CMP_LE_OQ));
      return static_cast<unsigned>(lo) | (static_cast<unsigned>(hi) << 8);
    }
    return ops::TopKScalar::block_mask16(p, t);
  }

  /// The functor's key pass, 8 keys at a time for float: max(key, +0) turns
  /// 0, -0, negatives (and NaN) into +0; NaN is then set to inf. Returns how
  /// many keys of the row it made (the functor's loop does the rest).
  template <class T>
  static index_t clamp_keys(T* gr, const T* sq2, T base, index_t n2, T inf) {
    index_t j = 0;
    if constexpr (std::is_same_v<T, float>) {
      const __m256 vb = _mm256_set1_ps(base), zero = _mm256_setzero_ps(), vinf = _mm256_set1_ps(inf);
      for (; j + 8 <= n2; j += 8) {
        const __m256 key = _mm256_add_ps(_mm256_add_ps(vb, _mm256_loadu_ps(sq2 + j)), _mm256_loadu_ps(gr + j));
        const __m256 nan = _mm256_cmp_ps(key, key, _CMP_UNORD_Q);
        _mm256_storeu_ps(gr + j, _mm256_blendv_ps(_mm256_max_ps(key, zero), vinf, nan));
      }
    }
    return j;
  }
#endif

#if defined(__AVX2__) && !defined(__CUDACC__)
  /// Collects the entries of row `sel` with key <= t into c (capacity
  /// sel.cap); if between k and cap of them pass, writes the indices of the
  /// k smallest (key, j) in ascending order to out and returns true. Entries
  /// are distinct (distinct j) and non-negative as 64-bit integers, so the
  /// rank of an entry is the number of entries below it, by signed 64-bit
  /// comparisons. Float only (false otherwise: the heap runs).
  template <class Row, class T, class Entry>
  static bool rank_select(const Row& sel, const T* gr, Entry* c, T t, index_t* out) {
    if constexpr (!std::is_same_v<T, float>) {
      return false;
    } else {
      const index_t n2 = sel.n2, k = sel.k, cap = sel.cap;
      index_t m = 0;
      for (index_t j0 = 0; j0 < n2; j0 += 16) {
        unsigned mask = sel.block_mask(gr, j0, t);
        if (m + __builtin_popcount(mask) > cap) return false;
        while (mask) {
          const int u = Row::lowest_bit(mask);
          mask &= mask - 1;
          c[m++] = Entry::make(gr[j0 + u], j0 + u);
        }
      }
      if (m < k) return false;
      // pad to a multiple of 4 with entries above every real one
      const index_t m4 = (m + 3) / 4 * 4;
      for (index_t q = m; q < m4; ++q) c[q].v = ~std::uint64_t(0) >> 1;
      const auto* cv = reinterpret_cast<const long long*>(c);
      static_assert(sizeof(Entry) == sizeof(long long));
      for (index_t i = 0; i < m; ++i) {
        const __m256i e = _mm256_set1_epi64x(static_cast<long long>(c[i].v));
        __m256i n0 = _mm256_setzero_si256(), n1 = n0;
        index_t q = 0;
        for (; q + 8 <= m4; q += 8) {
          n0 = _mm256_sub_epi64(n0, _mm256_cmpgt_epi64(e, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cv + q))));
          n1 = _mm256_sub_epi64(n1, _mm256_cmpgt_epi64(e, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cv + q + 4))));
        }
        if (q < m4) n0 = _mm256_sub_epi64(n0, _mm256_cmpgt_epi64(e, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cv + q))));
        const __m256i n = _mm256_add_epi64(n0, n1);
        const __m128i h2 = _mm_add_epi64(_mm256_castsi256_si128(n), _mm256_extracti128_si256(n, 1));
        const long long rank = _mm_cvtsi128_si64(_mm_add_epi64(h2, _mm_unpackhi_epi64(h2, h2)));
        if (rank < k) out[rank] = c[i].index();
      }
      return true;
    }
  }
#endif
};

/// The top-k selection's building blocks on the CPU (see
/// heads/topk_attention.hpp).
inline TopKCpuKernels topk_select_kernels(const Cpu&) { return {}; }

}  // namespace stai
