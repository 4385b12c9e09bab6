// stai — the spatial kNN graph (graph/knn.hpp) with its queries on the CPU
// backend.
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

}  // namespace stai
