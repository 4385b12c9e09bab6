// stai — the CPU overload of transpose_selection (heads/topk_attention.hpp):
// the stable counting sort of ops/counting_sort.hpp in place on the
// backend's (host) arrays, its parts run by parallel threads.
#pragma once
#include <algorithm>

#include "../../ops/counting_sort.hpp"
#include "launch.hpp"

namespace stai {

/// ptr (n2 + 1) and ent (nk): the CSR of the positions e in [0, nk) sorted
/// stably by idx[e]. With several threads each counts its contiguous range
/// of e, the per-thread offsets are laid out in thread order within each
/// reference cell, then each places its range in order: the same arrays as
/// one thread.
inline void transpose_selection(const Cpu& be, const index_t* idx, index_t nk, index_t n2, index_t* ptr,
                                index_t* ent, ops::CountingSortScratch& host) {
  const index_t stride = n2 + 1;
#ifdef _OPENMP
  const int parts = static_cast<int>(std::clamp<index_t>(nk / 32768, 1, be.num_threads()));
#else
  (void)be;
  const int parts = 1;
#endif
  host.hist.assign(static_cast<std::size_t>(parts * stride), 0);  // keeps its capacity
  const ops::CountingSortParts sort{idx, nk, n2, parts, host.hist.data(), ptr, ent};
  if (parts == 1) {
    sort.run();
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(parts)
  {
    const int p = omp_get_thread_num();
    sort.count(p);
#pragma omp barrier
#pragma omp single
    sort.offsets();
    sort.place(p);
  }
#endif
}

}  // namespace stai
