// stai command-line program — finding a gene among names (exactly, then ignoring case)
// and taking a column of a matrix.
#pragma once
#include <string>
#include <vector>

#include <stai/tensor/matrix.hpp>

#include "strings.hpp"

namespace stai::cli {

/// Finds `g` among `names`: exactly, then ignoring case. -1 when absent.
inline index_t find_gene(const std::vector<std::string>& names, const std::string& g) {
  for (std::size_t j = 0; j < names.size(); ++j)
    if (names[j] == g) return static_cast<index_t>(j);
  const std::string lg = lower(g);
  for (std::size_t j = 0; j < names.size(); ++j)
    if (lower(names[j]) == lg) return static_cast<index_t>(j);
  return -1;
}

/// Column j of X as doubles.
inline std::vector<double> column(const RowMatrix<float>& X, index_t j) {
  std::vector<double> v(static_cast<std::size_t>(X.rows()));
  for (index_t i = 0; i < X.rows(); ++i) v[static_cast<std::size_t>(i)] = X(i, j);
  return v;
}

}  // namespace stai::cli
