// stai — the k-fold split of genes into fitting and calibration sets.
//
// Reproduces scikit-learn's KFold(n_splits=k, shuffle=True,
// random_state=numpy.random.RandomState(seed)) exactly, as the reference
// implementation uses it: numpy's legacy MT19937 shuffle of 0..n-1, then
// consecutive folds of sizes n//k + 1 (the first n % k folds) or n//k; both
// the calibration (test) and fitting (train) indices come out in ascending
// order. A NumpyRandomState is stateful: the reference creates one per run and
// reuses it for every held-out gene of a leave-one-out run.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

namespace stai {

/// numpy.random.RandomState(seed) for integer seeds: MT19937 seeded by
/// init_genrand (identical to std::mt19937(seed)); shuffle() as numpy's
/// legacy Fisher-Yates with masked rejection sampling of 32-bit draws.
class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::uint32_t seed) : mt_(seed) {}
  /// numpy's rk_interval(max): uniform integer in [0, max].
  std::uint64_t interval(std::uint64_t max) {
    if (max == 0) return 0;
    std::uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    STAI_CHECK(max <= 0xffffffffULL, "NumpyRandomState: range too large");
    std::uint64_t v;
    do v = static_cast<std::uint64_t>(mt_()) & mask; while (v > max);
    return v;
  }
  template <class V>
  void shuffle(std::vector<V>& a) {
    for (std::size_t i = a.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(interval(i - 1));
      std::swap(a[i - 1], a[j]);
    }
  }

 private:
  std::mt19937 mt_;
};

struct Fold {
  std::vector<index_t> fit;          ///< fitting genes (ascending indices)
  std::vector<index_t> calibration;  ///< calibration genes (ascending indices)
};

/// Splits n genes into k folds as scikit-learn's shuffled KFold does.
inline std::vector<Fold> kfold_split(index_t n, int k, NumpyRandomState& rs) {
  STAI_CHECK(k >= 2, "k-fold split needs k >= 2, got ", k);
  STAI_CHECK(n >= k, "cannot split ", n, " genes into ", k,
             " folds: every fold needs at least one calibration gene; use fewer folds "
             "(k_folds) or more shared genes");
  std::vector<index_t> order(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  rs.shuffle(order);
  std::vector<Fold> folds;
  index_t start = 0;
  for (int f = 0; f < k; ++f) {
    const index_t size = n / k + (f < n % k ? 1 : 0);
    std::vector<char> test(static_cast<std::size_t>(n), 0);
    for (index_t i = start; i < start + size; ++i) test[static_cast<std::size_t>(order[i])] = 1;
    Fold fo;
    for (index_t i = 0; i < n; ++i) (test[i] ? fo.calibration : fo.fit).push_back(i);
    folds.push_back(std::move(fo));
    start += size;
  }
  return folds;
}

}  // namespace stai
