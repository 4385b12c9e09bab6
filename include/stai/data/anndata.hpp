// stai — the in-memory form of an annotated data matrix (AnnData-like).
//
// Readers (io/) fill it from .h5ad, .loom or text files; writers store it.
// X is cells x genes, row-major, float. Names and annotations follow
// AnnData: obs = per cell, var = per gene, obsm = per-cell matrices
// (e.g. "spatial"), uns = free metadata (stored as JSON text here).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// One obs/var column: numeric, or strings (categorical or plain).
struct Column {
  enum class Kind { Numeric, String };
  Kind kind = Kind::Numeric;
  std::vector<double> num;       ///< Kind::Numeric
  std::vector<std::string> str;  ///< Kind::String
  bool categorical = false;      ///< String columns stored as pandas categoricals
  /// Category order for categorical columns (order of first appearance if empty).
  std::vector<std::string> categories;

  index_t size() const {
    return static_cast<index_t>(kind == Kind::Numeric ? num.size() : str.size());
  }
  static Column numeric(std::vector<double> v) {
    Column c;
    c.kind = Kind::Numeric;
    c.num = std::move(v);
    return c;
  }
  static Column strings(std::vector<std::string> v, bool categorical = true) {
    Column c;
    c.kind = Kind::String;
    c.str = std::move(v);
    c.categorical = categorical;
    return c;
  }
};

struct AnnData {
  std::string source;  ///< file the data came from (for error messages)
  RowMatrix<float> X;  ///< n_obs x n_vars
  std::vector<std::string> obs_names, var_names;
  std::map<std::string, Column> obs, var;
  std::map<std::string, RowMatrix<double>> obsm;
  std::map<std::string, std::string> uns;  ///< key -> JSON text (or plain string)

  index_t n_obs() const { return X.rows(); }
  index_t n_vars() const { return X.cols(); }

  /// Throws unless names and annotations agree with X's shape.
  void validate() const {
    const std::string where = source.empty() ? std::string("data") : source;
    STAI_CHECK(static_cast<index_t>(obs_names.size()) == n_obs(), where, ": obs_names has ",
               obs_names.size(), " entries but X has ", n_obs(), " rows");
    STAI_CHECK(static_cast<index_t>(var_names.size()) == n_vars(), where, ": var_names has ",
               var_names.size(), " entries but X has ", n_vars(), " columns");
    for (const auto& [k, c] : obs)
      STAI_CHECK(c.size() == n_obs(), where, ": obs column '", k, "' has ", c.size(),
                 " entries, expected ", n_obs());
    for (const auto& [k, c] : var)
      STAI_CHECK(c.size() == n_vars(), where, ": var column '", k, "' has ", c.size(),
                 " entries, expected ", n_vars());
    for (const auto& [k, m] : obsm)
      STAI_CHECK(m.rows() == n_obs(), where, ": obsm['", k, "'] has ", m.rows(),
                 " rows, expected ", n_obs());
  }
};

}  // namespace stai
