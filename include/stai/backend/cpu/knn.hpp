// stai — the spatial kNN graph and its query rows (graph/knn.hpp) with the
// queries on the CPU backend.
#pragma once
#include <vector>

#include "../../graph/knn.hpp"
#include "launch.hpp"

namespace stai {

/// knn_graph(host, ...) on a CPU backend with opt.threads threads (0 =
/// OpenMP default); see graph/knn.hpp.
inline CsrGraph knn_graph(const RowMatrix<double>& coords, index_t k, const KnnOptions& opt = {},
                          std::vector<double>* distances = nullptr) {
  return knn_graph(Cpu{opt.threads}, coords, k, opt, distances);
}

/// knn_rows(host, ...) on a CPU backend with opt.threads threads (0 =
/// OpenMP default); see graph/knn.hpp.
inline std::vector<index_t> knn_rows(const RowMatrix<double>& coords, index_t k, const std::vector<index_t>& queries,
                                     const KnnOptions& opt = {}) {
  return knn_rows(Cpu{opt.threads}, coords, k, queries, opt);
}

}  // namespace stai
