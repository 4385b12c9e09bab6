// stai — the stable counting sort that transposes the top-k head's selection
// (heads/topk_attention.hpp) into a CSR over reference cells, in phases over
// `parts` contiguous ranges of the sorted positions. Host code, run by every
// backend on the host: one part in order (count, offsets, place) by default;
// the CPU runs the parts' count and place phases in parallel
// (backend/cpu/counting_sort.hpp), with the same result.
#pragma once
#include <vector>

#include "../config.hpp"

namespace stai::ops {

/// Host workspaces of the sort: `hist` (parts x (n2 + 1) counters) always;
/// idx, ptr, ent as host copies where the backend's arrays are not host memory.
struct CountingSortScratch {
  std::vector<index_t> idx, ptr, ent, hist;
};

/// Sorts the positions e in [0, nk) stably by key idx[e] (in [0, n2)):
/// ptr (n2 + 1) and ent (nk) receive the CSR. Part p handles the positions
/// [nk p / parts, nk (p + 1) / parts); hist holds parts x (n2 + 1) zeros on
/// entry. count(p) for every part, then offsets() (the per-part offsets laid
/// out in part order within each key), then place(p) for every part: the
/// same arrays for any number of parts.
struct CountingSortParts {
  const index_t* idx;
  index_t nk, n2;
  int parts;
  index_t* hist;
  index_t* ptr;
  index_t* ent;

  void count(int p) const {
    index_t* h = hist + p * (n2 + 1);
    for (index_t e = nk * p / parts, e1 = nk * (p + 1) / parts; e < e1; ++e) ++h[idx[e]];
  }
  void offsets() const {
    const index_t stride = n2 + 1;
    index_t base = 0;
    for (index_t j = 0; j < n2; ++j) {
      ptr[j] = base;
      for (int p = 0; p < parts; ++p) {
        const index_t c = hist[p * stride + j];
        hist[p * stride + j] = base;
        base += c;
      }
    }
    ptr[n2] = base;
  }
  void place(int p) const {
    index_t* h = hist + p * (n2 + 1);
    for (index_t e = nk * p / parts, e1 = nk * (p + 1) / parts; e < e1; ++e) ent[h[idx[e]]++] = e;
  }
  /// All three phases, part after part.
  void run() const {
    for (int p = 0; p < parts; ++p) count(p);
    offsets();
    for (int p = 0; p < parts; ++p) place(p);
  }
};

}  // namespace stai::ops
