// stai — preprocessing exactly as the published method (docs/model.md "Preprocessing" 2-3).
//
//   * reference (scRNA-seq) only: per cell, divide by its total count,
//     multiply by 1e4, log1p (normalize_total_log1p);
//   * both data sets, on the genes the model sees: per gene subtract the mean,
//     divide by the standard deviation with the n - 1 denominator (zero
//     deviation -> divide by 1), then clip values ABOVE 10 only (scanpy 1.9.3
//     pp.scale(max_value = 10)). The statistics (ScalingStats) are kept, can
//     be saved / loaded as text and applied to new data by gene name.
//
// Data are float (cells x genes, row-major); all statistics and intermediate
// arithmetic are double, each output value is rounded to float once.
// Differences from scanpy at the rounding level: the variance is computed
// with the two-pass formula (scanpy uses E[x^2] - E[x]^2), which is exact for
// constant genes; normalisation and log1p are done in double.
#pragma once
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

namespace detail {
inline std::string where_prefix(const std::string& where) {
  return where.empty() ? std::string() : where + ": ";
}
inline void check_counts_row(const float* x, index_t cols, index_t i, const std::string& where,
                             const char* what) {
  for (index_t j = 0; j < cols; ++j) {
    STAI_CHECK(std::isfinite(x[j]), where_prefix(where), what, ": value at (cell ", i, ", gene ", j,
               ") is ", x[j], "; the data must be finite");
    STAI_CHECK(x[j] >= 0.0f, where_prefix(where), what, ": value at (cell ", i, ", gene ", j,
               ") is negative (", x[j], "); counts are expected (are the data already scaled?)");
  }
}
}  // namespace detail

/// Per cell (row): x / (total / target_sum), in place. A cell with zero total
/// stays all zero (as scanpy's normalize_total leaves it). Throws on negative
/// or non-finite values. `where` (e.g. the file name) prefixes messages.
inline void normalize_total(RowMatrix<float>& X, double target_sum = 1e4,
                            const std::string& where = {}) {
  STAI_CHECK(target_sum > 0 && std::isfinite(target_sum), "normalize_total: target_sum must be a "
             "positive number, got ", target_sum);
  for (index_t i = 0; i < X.rows(); ++i) {
    float* x = X.data() + i * X.cols();
    detail::check_counts_row(x, X.cols(), i, where, "normalize_total");
    double total = 0;
    for (index_t j = 0; j < X.cols(); ++j) total += x[j];
    if (total == 0) continue;
    const double div = total / target_sum;
    for (index_t j = 0; j < X.cols(); ++j) x[j] = static_cast<float>(x[j] / div);
  }
}

/// log(1 + x) in place (computed in double). Throws on values <= -1 or non-finite.
inline void log1p_inplace(RowMatrix<float>& X, const std::string& where = {}) {
  for (index_t e = 0; e < X.size(); ++e) {
    const float v = X.data()[e];
    STAI_CHECK(std::isfinite(v) && v > -1.0f, detail::where_prefix(where), "log1p: value at (cell ",
               e / X.cols(), ", gene ", e % X.cols(), ") is ", v, "; log1p needs finite values > -1");
    X.data()[e] = static_cast<float>(std::log1p(static_cast<double>(v)));
  }
}

/// Preprocessing step 2 (reference data only): per cell divide by the total, times
/// target_sum (1e4), then log1p — fused, in double, one rounding to float.
/// Zero-total cells stay zero. Throws on negative or non-finite values.
inline void normalize_total_log1p(RowMatrix<float>& X, double target_sum = 1e4,
                                  const std::string& where = {}) {
  STAI_CHECK(target_sum > 0 && std::isfinite(target_sum), "normalize_total_log1p: target_sum must "
             "be a positive number, got ", target_sum);
  for (index_t i = 0; i < X.rows(); ++i) {
    float* x = X.data() + i * X.cols();
    detail::check_counts_row(x, X.cols(), i, where, "normalize_total_log1p");
    double total = 0;
    for (index_t j = 0; j < X.cols(); ++j) total += x[j];
    if (total == 0) continue;
    const double div = total / target_sum;
    for (index_t j = 0; j < X.cols(); ++j) x[j] = static_cast<float>(std::log1p(x[j] / div));
  }
}

namespace detail {
/// Column index of every name of `wanted` found in `names` (first
/// occurrence); names not found are appended to `missing` instead.
inline std::vector<index_t> lookup_columns(const std::vector<std::string>& names,
                                           const std::vector<std::string>& wanted,
                                           std::vector<std::string>& missing) {
  std::unordered_map<std::string, index_t> pos;
  for (std::size_t j = 0; j < names.size(); ++j) pos.emplace(names[j], static_cast<index_t>(j));
  std::vector<index_t> cols;
  for (const auto& g : wanted) {
    const auto it = pos.find(g);
    if (it == pos.end()) missing.push_back(g);
    else cols.push_back(it->second);
  }
  return cols;
}
/// "'a', 'b', ..." (at most 10 names).
inline std::string quoted_list(const std::vector<std::string>& v) {
  std::string list;
  for (std::size_t q = 0; q < v.size() && q < 10; ++q) list += (q ? ", '" : "'") + v[q] + "'";
  if (v.size() > 10) list += ", ...";
  return list;
}
}  // namespace detail

/// Column index of every gene of `genes` in `var_names`; throws naming the
/// missing genes.
inline std::vector<index_t> gene_columns(const std::vector<std::string>& var_names,
                                         const std::vector<std::string>& genes,
                                         const std::string& where = {}) {
  std::vector<std::string> missing;
  std::vector<index_t> cols = detail::lookup_columns(var_names, genes, missing);
  if (!missing.empty())
    throw Error(detail::concat(detail::where_prefix(where), missing.size(), " of the ", genes.size(),
                               " required genes are missing from the data (var_names): ",
                               detail::quoted_list(missing),
                               "; the data must contain every gene the model was trained on"));
  return cols;
}

/// The columns `genes` of X (by name), in the order of `genes`.
inline RowMatrix<float> select_genes(const RowMatrix<float>& X, const std::vector<std::string>& var_names,
                                     const std::vector<std::string>& genes, const std::string& where = {}) {
  STAI_CHECK(static_cast<index_t>(var_names.size()) == X.cols(), detail::where_prefix(where),
             "select_genes: ", var_names.size(), " gene names for ", X.cols(), " columns");
  const std::vector<index_t> cols = gene_columns(var_names, genes, where);
  RowMatrix<float> out(X.rows(), static_cast<index_t>(cols.size()));
  for (index_t i = 0; i < X.rows(); ++i)
    for (std::size_t c = 0; c < cols.size(); ++c) out(i, static_cast<index_t>(c)) = X(i, cols[c]);
  return out;
}

/// Per-gene scaling statistics (scanpy pp.scale with max_value = clip).
struct ScalingStats {
  std::vector<std::string> genes;
  std::vector<double> means;
  std::vector<double> stds;  ///< n - 1 denominator; 0 for constant genes (divided by 1)
  /// Values above clip are set to clip; +infinity disables clipping.
  double clip = 10.0;

  index_t size() const { return static_cast<index_t>(genes.size()); }
  /// What gene j is divided by: its standard deviation, or 1 when that is 0.
  double divisor(index_t j) const {
    const double s = stds[static_cast<std::size_t>(j)];
    return s == 0.0 ? 1.0 : s;
  }

  /// Text form: a header line, the clip value, then one line per gene with
  /// name<TAB>mean<TAB>std (shortest round-trip decimal form, so that
  /// save + load reproduces the statistics bit for bit).
  std::string to_text() const {
    check();
    std::string s = "stai-scaling-stats 1\nclip\t" + num(clip) + "\ngenes\t" +
                    std::to_string(genes.size()) + "\n";
    for (std::size_t j = 0; j < genes.size(); ++j) {
      STAI_CHECK(genes[j].find_first_of("\t\r\n") == std::string::npos,
                 "ScalingStats: gene name '", genes[j], "' contains a tab or line break and cannot "
                 "be saved");
      s += genes[j] + "\t" + num(means[j]) + "\t" + num(stds[j]) + "\n";
    }
    return s;
  }
  static ScalingStats from_text(const std::string& text, const std::string& where = "scaling statistics") {
    std::istringstream in(text);
    std::string line;
    auto fail = [&](const std::string& why) {
      return Error(detail::concat(where, ": not a valid stai scaling-statistics file (", why, ")"));
    };
    if (!std::getline(in, line) || strip(line) != "stai-scaling-stats 1")
      throw fail("the first line must be 'stai-scaling-stats 1'");
    ScalingStats st;
    if (!std::getline(in, line)) throw fail("missing 'clip' line");
    auto f = split(strip(line));
    if (f.size() != 2 || f[0] != "clip" || !parse(f[1], st.clip)) throw fail("bad 'clip' line: " + line);
    if (!std::getline(in, line)) throw fail("missing 'genes' line");
    f = split(strip(line));
    double ng = 0;
    if (f.size() != 2 || f[0] != "genes" || !parse(f[1], ng) || ng < 0 || ng != std::floor(ng))
      throw fail("bad 'genes' line: " + line);
    for (index_t j = 0; j < static_cast<index_t>(ng); ++j) {
      if (!std::getline(in, line)) throw fail("expected " + std::to_string(static_cast<index_t>(ng)) +
                                              " genes, found " + std::to_string(j));
      f = split(strip(line));
      double m = 0, s = 0;
      if (f.size() != 3 || !parse(f[1], m) || !parse(f[2], s))
        throw fail("bad gene line " + std::to_string(j + 1) + ": '" + line + "'");
      st.genes.push_back(f[0]);
      st.means.push_back(m);
      st.stds.push_back(s);
    }
    while (std::getline(in, line))
      if (!strip(line).empty()) throw fail("unexpected text after the last gene: '" + line + "'");
    st.check(where);
    return st;
  }
  void save(const std::string& path) const {
    const std::string text = to_text();
    std::ofstream out(path, std::ios::binary);
    STAI_CHECK(out.good(), "cannot open '", path, "' for writing the scaling statistics");
    out << text;
    out.close();
    STAI_CHECK(!out.fail(), "writing the scaling statistics to '", path, "' failed");
  }
  static ScalingStats load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    STAI_CHECK(in.good(), "cannot open the scaling statistics file '", path, "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return from_text(ss.str(), path);
  }

  /// Throws unless the vectors agree in length and the values are usable.
  void check(const std::string& where = "scaling statistics") const {
    STAI_CHECK(means.size() == genes.size() && stds.size() == genes.size(), where, ": ",
               genes.size(), " genes but ", means.size(), " means and ", stds.size(), " deviations");
    STAI_CHECK(!std::isnan(clip), where, ": clip is NaN");
    for (std::size_t j = 0; j < genes.size(); ++j)
      STAI_CHECK(std::isfinite(means[j]) && std::isfinite(stds[j]) && stds[j] >= 0, where, ": gene '",
                 genes[j], "' has mean ", means[j], " and deviation ", stds[j],
                 " (must be finite, deviation >= 0)");
  }

 private:
  static std::string num(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }
  static bool parse(const std::string& s, double& v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
  static std::string strip(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.pop_back();
    return s;
  }
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> f;
    std::size_t a = 0;
    for (;;) {
      const std::size_t b = s.find('\t', a);
      f.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    return f;
  }
};

/// Fits the scaling statistics of the columns `genes` (by name) of X:
/// mean and standard deviation (n - 1 denominator) per gene, in double.
/// Needs at least 2 cells and finite values.
inline ScalingStats fit_scaling(const RowMatrix<float>& X, const std::vector<std::string>& var_names,
                                const std::vector<std::string>& genes, double clip = 10.0,
                                const std::string& where = {}) {
  STAI_CHECK(static_cast<index_t>(var_names.size()) == X.cols(), detail::where_prefix(where),
             "fit_scaling: ", var_names.size(), " gene names for ", X.cols(), " columns");
  STAI_CHECK(X.rows() >= 2, detail::where_prefix(where), "fit_scaling: need at least 2 cells to "
             "estimate a standard deviation, got ", X.rows());
  STAI_CHECK(!std::isnan(clip), "fit_scaling: clip is NaN (use +infinity for no clipping)");
  const std::vector<index_t> cols = gene_columns(var_names, genes, where);
  ScalingStats st;
  st.genes = genes;
  st.clip = clip;
  const index_t n = X.rows();
  for (index_t c : cols) {
    double s = 0;
    for (index_t i = 0; i < n; ++i) {
      const float v = X(i, c);
      STAI_CHECK(std::isfinite(v), detail::where_prefix(where), "fit_scaling: value at (cell ", i,
                 ", gene '", var_names[static_cast<std::size_t>(c)], "') is ", v);
      s += v;
    }
    const double m = s / static_cast<double>(n);
    double ss = 0;
    for (index_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(X(i, c)) - m;
      ss += d * d;
    }
    st.means.push_back(m);
    st.stds.push_back(std::sqrt(ss / static_cast<double>(n - 1)));
  }
  return st;
}

/// Applies `st` to X (matched by gene name; every gene of st must be present):
/// out(i, j) = min((x - mean_j) / divisor_j, clip), columns in st.genes order.
inline RowMatrix<float> apply_scaling(const ScalingStats& st, const RowMatrix<float>& X,
                                      const std::vector<std::string>& var_names,
                                      const std::string& where = {}) {
  st.check();
  STAI_CHECK(static_cast<index_t>(var_names.size()) == X.cols(), detail::where_prefix(where),
             "apply_scaling: ", var_names.size(), " gene names for ", X.cols(), " columns");
  const std::vector<index_t> cols = gene_columns(var_names, st.genes, where);
  RowMatrix<float> out(X.rows(), st.size());
  for (index_t i = 0; i < X.rows(); ++i)
    for (index_t j = 0; j < st.size(); ++j) {
      const double y = (static_cast<double>(X(i, cols[static_cast<std::size_t>(j)])) -
                        st.means[static_cast<std::size_t>(j)]) / st.divisor(j);
      out(i, j) = static_cast<float>(y > st.clip ? st.clip : y);
    }
  return out;
}

/// fit_scaling + apply_scaling on the same data (preprocessing step 3 for one
/// data set); the statistics are returned through `stats` when given.
inline RowMatrix<float> scale_genes(const RowMatrix<float>& X, const std::vector<std::string>& var_names,
                                    const std::vector<std::string>& genes, double clip = 10.0,
                                    ScalingStats* stats = nullptr, const std::string& where = {}) {
  ScalingStats st = fit_scaling(X, var_names, genes, clip, where);
  RowMatrix<float> out = apply_scaling(st, X, var_names, where);
  if (stats) *stats = std::move(st);
  return out;
}

}  // namespace stai
