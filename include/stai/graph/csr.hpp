// stai — compressed sparse row graphs (host side).
#pragma once
#include <string>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

namespace stai {

/// A directed graph on n nodes in CSR form: the edges leaving node i are
/// i -> indices[indptr[i]] ... i -> indices[indptr[i+1]-1].
/// The spatial kNN graph is stored this way: row i lists i's k nearest cells
/// (i itself included), i.e. edges i -> j for each neighbour j.
struct CsrGraph {
  index_t n = 0;
  std::vector<index_t> indptr{0};
  std::vector<index_t> indices;

  index_t num_edges() const { return static_cast<index_t>(indices.size()); }
  index_t degree(index_t i) const { return indptr[i + 1] - indptr[i]; }

  /// Throws unless the structure is well formed (sizes, monotone indptr,
  /// indices in range).
  void validate() const {
    STAI_CHECK(n >= 0 && static_cast<index_t>(indptr.size()) == n + 1,
               "CSR graph: indptr must have n + 1 = ", n + 1, " entries, has ", indptr.size());
    STAI_CHECK(indptr[0] == 0 && indptr[static_cast<std::size_t>(n)] == num_edges(),
               "CSR graph: indptr must start at 0 and end at the edge count");
    for (index_t i = 0; i < n; ++i)
      STAI_CHECK(indptr[i] <= indptr[i + 1], "CSR graph: indptr decreases at node ", i);
    for (index_t j : indices)
      STAI_CHECK(j >= 0 && j < n, "CSR graph: edge target ", j, " outside [0, ", n, ")");
  }

  /// Throws unless the structure is well formed as the rows of a sparse
  /// matrix (a bipartite graph: n rows, edges to `cols` columns): indptr has
  /// n + 1 non-decreasing entries from 0 to the edge count, and within each
  /// row the column indices lie in [0, cols) and strictly ascend. `where`
  /// starts every message.
  void validate_columns(index_t cols, const std::string& where) const {
    STAI_CHECK(n >= 0 && static_cast<index_t>(indptr.size()) == n + 1, where, ": indptr has ", indptr.size(),
               " entries for ", n, " rows (needs rows + 1)");
    STAI_CHECK(indptr.front() == 0 && indptr.back() == num_edges(), where,
               ": indptr must run from 0 to the number of stored values (", num_edges(), "), it runs from ",
               indptr.front(), " to ", indptr.back());
    for (index_t i = 0; i < n; ++i)
      STAI_CHECK(indptr[i] <= indptr[i + 1], where, ": indptr decreases at row ", i);
    for (index_t i = 0; i < n; ++i)
      for (index_t e = indptr[i]; e < indptr[i + 1]; ++e) {
        const index_t c = indices[static_cast<std::size_t>(e)];
        STAI_CHECK(c >= 0 && c < cols, where, ": row ", i, " has column index ", c, " outside [0, ", cols, ")");
        STAI_CHECK(e == indptr[i] || indices[static_cast<std::size_t>(e) - 1] < c, where, ": row ", i,
                   " has column indices that are not strictly ascending (", indices[static_cast<std::size_t>(e) - 1],
                   " then ", c, ")");
      }
  }

  /// Builds a CSR graph from an edge list (src[e] -> dst[e]); edges keep
  /// their input order within each source row.
  static CsrGraph from_edges(index_t n, const std::vector<index_t>& src,
                             const std::vector<index_t>& dst) {
    STAI_CHECK(src.size() == dst.size(), "edge lists differ in length");
    CsrGraph g;
    g.n = n;
    g.indptr.assign(static_cast<std::size_t>(n + 1), 0);
    for (index_t s : src) {
      STAI_CHECK(s >= 0 && s < n, "edge source ", s, " outside [0, ", n, ")");
      ++g.indptr[static_cast<std::size_t>(s + 1)];
    }
    for (index_t i = 0; i < n; ++i) g.indptr[i + 1] += g.indptr[i];
    g.indices.resize(src.size());
    std::vector<index_t> pos(g.indptr.begin(), g.indptr.end() - 1);
    for (std::size_t e = 0; e < src.size(); ++e) g.indices[pos[src[e]]++] = dst[e];
    g.validate();
    return g;
  }
};

}  // namespace stai
