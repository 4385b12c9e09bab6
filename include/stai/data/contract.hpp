// stai — the input contract: what state the expression values are in, and the
// checks that reject unusable input with an error naming the file, the field
// and the fix.
//
// detect_state() looks at the values only and says whether they look like raw
// counts, log-normalised values (normalize_total + log1p, or log1p of counts),
// per-gene scaled values, or none of these, with the evidence.
// check_input() compares that with what the caller declares and checks
// everything else the method needs (coordinates, labels, enough cells for
// the kNN graph, no empty cells). The classic silent mistake it guards
// against: a reference declared raw that is already log-normalised, which
// would be normalised twice.
#pragma once
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "anndata.hpp"

namespace stai {

/// The state of an expression matrix. As a declared state, Unknown means
/// "not declared: detect it".
enum class DataState { RawCounts, LogNormalized, Scaled, Unknown };

inline const char* to_string(DataState s) {
  switch (s) {
    case DataState::RawCounts: return "raw counts";
    case DataState::LogNormalized: return "log-normalised";
    case DataState::Scaled: return "scaled (per-gene z-scores)";
    case DataState::Unknown: return "unknown";
  }
  return "?";
}

/// What detect_state found.
struct StateEvidence {
  DataState state = DataState::Unknown;
  index_t n_cells = 0, n_genes = 0;
  index_t n_nonfinite = 0;
  index_t first_nonfinite_cell = -1, first_nonfinite_gene = -1;
  index_t n_negative = 0;
  index_t first_negative_cell = -1, first_negative_gene = -1;
  double min = 0, max = 0;            ///< over finite values
  double zero_fraction = 0;           ///< fraction of entries equal to 0
  double integer_fraction = 1;        ///< among non-zero finite entries: fraction that are integers
  double row_sum_min = 0, row_sum_median = 0, row_sum_max = 0;  ///< per-cell totals
  index_t n_zero_rows = 0;            ///< cells whose values are all 0
  /// Non-negative data only: among non-zero entries, the fraction whose
  /// expm1 is an integer (log1p of counts), and the coefficient of variation
  /// over cells of the per-cell sums of expm1 (about 0 after normalize_total
  /// + log1p) with their median (the normalisation's target sum).
  double expm1_integer_fraction = 0;
  double expm1_row_sum_cv = -1, expm1_row_sum_median = 0;
  /// Per gene: median over genes of |mean| and of the standard deviation.
  double median_abs_gene_mean = 0, median_gene_std = 0;
  /// Why the state was chosen, in words.
  std::string reason;

  /// One paragraph with the state, the reason and the key numbers.
  std::string describe() const {
    std::ostringstream os;
    os << to_string(state) << " (" << reason << "; " << n_cells << " cells x " << n_genes
       << " genes, values in [" << min << ", " << max << "], " << n_negative << " negative, "
       << integer_fraction * 100 << "% of non-zero values integer, per-cell totals "
       << row_sum_min << " .. " << row_sum_max << " (median " << row_sum_median << ")";
    if (n_nonfinite) os << ", " << n_nonfinite << " non-finite";
    os << ")";
    return os.str();
  }
};

namespace detail {
inline double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  double r = v[m];
  if (v.size() % 2 == 0) r = 0.5 * (r + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m)));
  return r;
}
}  // namespace detail

/// Classifies X (cells x genes) from its values. Rules, in order:
///   non-finite values                       -> Unknown;
///   negative values: per-gene centred (median |gene mean| < 0.1) with
///     median gene sd in [0.3, 1.5]          -> Scaled, else Unknown;
///   all values integers                     -> RawCounts;
///   expm1 of >= 99% of non-zero values is an integer -> LogNormalized (log1p of counts);
///   per-cell sums of expm1 constant (cv < 1e-3)      -> LogNormalized (normalize_total + log1p);
///   max <= 15                               -> LogNormalized (weak: log1p(1e6) = 13.8);
///   otherwise                               -> Unknown (e.g. normalised without log1p).
inline StateEvidence detect_state(const RowMatrix<float>& X) {
  StateEvidence ev;
  const index_t n = X.rows(), g = X.cols();
  ev.n_cells = n;
  ev.n_genes = g;
  if (n == 0 || g == 0) {
    ev.reason = "empty matrix";
    return ev;
  }
  double mn = INFINITY, mx = -INFINITY;
  index_t zeros = 0, nonzero = 0, integers = 0, e_int = 0;
  std::vector<double> row_sum(static_cast<std::size_t>(n), 0.0), e_sum(static_cast<std::size_t>(n), 0.0);
  std::vector<double> col_sum(static_cast<std::size_t>(g), 0.0);
  for (index_t i = 0; i < n; ++i) {
    double rs = 0, es = 0;
    for (index_t j = 0; j < g; ++j) {
      const float v = X(i, j);
      if (!std::isfinite(v)) {
        if (ev.n_nonfinite++ == 0) {
          ev.first_nonfinite_cell = i;
          ev.first_nonfinite_gene = j;
        }
        continue;
      }
      mn = std::min(mn, static_cast<double>(v));
      mx = std::max(mx, static_cast<double>(v));
      rs += v;
      col_sum[static_cast<std::size_t>(j)] += v;
      if (v < 0 && ev.n_negative++ == 0) {
        ev.first_negative_cell = i;
        ev.first_negative_gene = j;
      }
      if (v == 0) {
        ++zeros;
        continue;
      }
      ++nonzero;
      if (v == std::nearbyint(v)) ++integers;
      if (v > 0) {
        const double e = std::expm1(static_cast<double>(v));
        es += e;
        if (std::abs(e - std::nearbyint(e)) <= 1e-5 * std::max(1.0, e)) ++e_int;
      }
    }
    row_sum[static_cast<std::size_t>(i)] = rs;
    e_sum[static_cast<std::size_t>(i)] = es;
    if (rs == 0 && es == 0) {
      bool all_zero = true;
      for (index_t j = 0; j < g && all_zero; ++j) all_zero = X(i, j) == 0.0f;
      if (all_zero) ++ev.n_zero_rows;
    }
  }
  ev.min = std::isfinite(mn) ? mn : 0;
  ev.max = std::isfinite(mx) ? mx : 0;
  ev.zero_fraction = static_cast<double>(zeros) / static_cast<double>(n * g);
  ev.integer_fraction = nonzero ? static_cast<double>(integers) / static_cast<double>(nonzero) : 1.0;
  ev.row_sum_min = *std::min_element(row_sum.begin(), row_sum.end());
  ev.row_sum_max = *std::max_element(row_sum.begin(), row_sum.end());
  ev.row_sum_median = detail::median_of(row_sum);
  // per-gene mean and sd (two-pass)
  std::vector<double> abs_mean(static_cast<std::size_t>(g)), sd(static_cast<std::size_t>(g));
  for (index_t j = 0; j < g; ++j) {
    const double m = col_sum[static_cast<std::size_t>(j)] / static_cast<double>(n);
    double ss = 0;
    for (index_t i = 0; i < n; ++i)
      if (std::isfinite(X(i, j))) ss += (X(i, j) - m) * (X(i, j) - m);
    abs_mean[static_cast<std::size_t>(j)] = std::abs(m);
    sd[static_cast<std::size_t>(j)] = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
  }
  ev.median_abs_gene_mean = detail::median_of(abs_mean);
  ev.median_gene_std = detail::median_of(sd);

  if (ev.n_nonfinite > 0) {
    ev.reason = "contains NaN or infinite values";
    return ev;
  }
  if (ev.n_negative > 0) {
    if (ev.median_abs_gene_mean < 0.1 && ev.median_gene_std >= 0.3 && ev.median_gene_std <= 1.5) {
      ev.state = DataState::Scaled;
      ev.reason = "negative values, genes centred at 0 with deviation about 1";
    } else {
      ev.reason = "negative values, but genes are not centred and scaled";
    }
    return ev;
  }
  if (integers == nonzero) {
    ev.state = DataState::RawCounts;
    ev.reason = "all values are non-negative integers";
    return ev;
  }
  ev.expm1_integer_fraction = static_cast<double>(e_int) / static_cast<double>(nonzero);
  std::vector<double> es_nz;
  for (double s : e_sum)
    if (s > 0) es_nz.push_back(s);
  if (es_nz.size() >= 2) {
    double m = 0;
    for (double s : es_nz) m += s;
    m /= static_cast<double>(es_nz.size());
    double ss = 0;
    for (double s : es_nz) ss += (s - m) * (s - m);
    ev.expm1_row_sum_cv = std::sqrt(ss / static_cast<double>(es_nz.size() - 1)) / m;
    ev.expm1_row_sum_median = detail::median_of(es_nz);
  }
  if (ev.expm1_integer_fraction >= 0.99) {
    ev.state = DataState::LogNormalized;
    ev.reason = "non-integer values whose expm1 are integers: log1p of counts";
    return ev;
  }
  if (ev.expm1_row_sum_cv >= 0 && ev.expm1_row_sum_cv < 1e-3) {
    ev.state = DataState::LogNormalized;
    std::ostringstream os;
    os << "per-cell sums of expm1(values) are all about " << ev.expm1_row_sum_median
       << ": normalize_total + log1p";
    ev.reason = os.str();
    return ev;
  }
  if (ev.max <= 15.0) {
    ev.state = DataState::LogNormalized;
    ev.reason = "non-negative, non-integer values at most 15: looks log-transformed";
    return ev;
  }
  ev.reason = "non-negative, non-integer values above 15: not counts and too large for log values "
              "(normalised without log1p?)";
  return ev;
}

/// Which data set a matrix is: the spatial data (ST) or the scRNA-seq reference (SC).
enum class Role { Spatial, Reference };

/// What the caller declares about one input.
struct InputSpec {
  Role role = Role::Spatial;
  /// The declared state of X; Unknown = detect it.
  DataState declared = DataState::Unknown;
  /// obsm key of the coordinates (required for the spatial data; "" = none).
  std::string coords_key = "spatial";
  /// obs column holding the cell-type labels ("" = no labels needed).
  std::string label_key;
  /// Number of spatial neighbours k (0 = no check): the data need >= k cells.
  index_t knn_k = 0;
};

struct ContractOptions {
  /// Drop cells whose values are all zero (and report them) instead of
  /// rejecting the input.
  bool drop_zero_total_cells = false;
  /// A declared state that contradicts the detected one is an error (true)
  /// or a warning (false).
  bool state_mismatch_is_error = true;
  /// How many cells / names to list in messages.
  index_t max_listed = 5;
};

struct InputReport {
  StateEvidence evidence;  ///< detected on the data as given (before dropping cells)
  /// The state to proceed with: the declared one, or the detected one when
  /// nothing was declared.
  DataState state = DataState::Unknown;
  std::vector<std::string> warnings;
  /// Cells removed by drop_zero_total_cells (original row indices and names).
  std::vector<index_t> dropped_cells;
  std::vector<std::string> dropped_cell_names;
  /// Number of distinct labels (when a label column was checked).
  index_t n_classes = 0;
};

/// Keeps only the cells `keep` (row indices, in that order) of X, obs_names,
/// every obs column and every obsm matrix.
inline void subset_obs(AnnData& a, const std::vector<index_t>& keep) {
  const auto m = static_cast<index_t>(keep.size());
  for (index_t i : keep)
    STAI_CHECK(i >= 0 && i < a.n_obs(), "subset_obs: cell ", i, " outside [0, ", a.n_obs(), ")");
  RowMatrix<float> X(m, a.n_vars());
  for (index_t r = 0; r < m; ++r) X.row(r) = a.X.row(keep[static_cast<std::size_t>(r)]);
  a.X = std::move(X);
  if (!a.obs_names.empty()) {
    std::vector<std::string> nm;
    for (index_t i : keep) nm.push_back(a.obs_names[static_cast<std::size_t>(i)]);
    a.obs_names = std::move(nm);
  }
  for (auto& [k, c] : a.obs) {
    if (c.kind == Column::Kind::Numeric) {
      std::vector<double> v;
      for (index_t i : keep) v.push_back(c.num[static_cast<std::size_t>(i)]);
      c.num = std::move(v);
    } else {
      std::vector<std::string> v;
      for (index_t i : keep) v.push_back(c.str[static_cast<std::size_t>(i)]);
      c.str = std::move(v);
    }
  }
  for (auto& [k, mat] : a.obsm) {
    RowMatrix<double> r(m, mat.cols());
    for (index_t q = 0; q < m; ++q) r.row(q) = mat.row(keep[static_cast<std::size_t>(q)]);
    mat = std::move(r);
  }
}

namespace detail {
inline std::string cell_label(const AnnData& a, index_t i) {
  std::string s = "cell " + std::to_string(i);
  if (static_cast<std::size_t>(i) < a.obs_names.size()) s += " ('" + a.obs_names[static_cast<std::size_t>(i)] + "')";
  return s;
}
inline std::string gene_label(const AnnData& a, index_t j) {
  std::string s = "gene " + std::to_string(j);
  if (static_cast<std::size_t>(j) < a.var_names.size()) s += " ('" + a.var_names[static_cast<std::size_t>(j)] + "')";
  return s;
}
template <class M>
std::string keys_of(const M& m) {
  if (m.empty()) return "(none)";
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "'" : ", '") + k + "'";
  return s;
}
}  // namespace detail

/// Checks one input against the contract (see the file comment). Throws
/// stai::Error naming the file (a.source), the field and the fix; returns the
/// detected evidence, the state to proceed with and the warnings. With
/// opt.drop_zero_total_cells, all-zero cells are removed from `a` (subset_obs)
/// and reported instead of rejected; `a` is not modified otherwise.
inline InputReport check_input(AnnData& a, const InputSpec& spec, const ContractOptions& opt = {}) {
  const std::string file = a.source.empty() ? std::string("input data") : a.source;
  const char* role = spec.role == Role::Spatial ? "spatial data" : "reference";
  const std::string who = file + " (" + role + ")";
  InputReport rep;
  a.validate();
  STAI_CHECK(a.n_obs() > 0 && a.n_vars() > 0, who, ": X is empty (", a.n_obs(), " cells x ",
             a.n_vars(), " genes); the file must hold an expression matrix");

  // 1. values: finite
  rep.evidence = detect_state(a.X);
  const StateEvidence& ev = rep.evidence;
  STAI_CHECK(ev.n_nonfinite == 0, who, ": X has ", ev.n_nonfinite, " NaN or infinite value(s), the first at ",
             detail::cell_label(a, ev.first_nonfinite_cell), ", ", detail::gene_label(a, ev.first_nonfinite_gene),
             " (value ", a.X(ev.first_nonfinite_cell, ev.first_nonfinite_gene),
             "); replace missing values (e.g. by 0) or remove those cells/genes");

  // 2. the state to proceed with, and its agreement with the declaration
  rep.state = spec.declared != DataState::Unknown ? spec.declared : ev.state;
  STAI_CHECK(!(spec.role == Role::Reference && rep.state == DataState::Scaled), who,
             ": the reference is scaled (per-gene z-scores), but stAI imputes log-normalised "
             "expression from it; pass raw counts or log-normalised values (e.g. .raw)");
  const bool expects_nonneg = rep.state == DataState::RawCounts || rep.state == DataState::LogNormalized ||
                              (spec.role == Role::Reference && spec.declared == DataState::Unknown);
  STAI_CHECK(!(expects_nonneg && ev.n_negative > 0), who, ": X has ", ev.n_negative,
             " negative value(s), the first at ", detail::cell_label(a, ev.first_negative_cell), ", ",
             detail::gene_label(a, ev.first_negative_gene), " (value ",
             a.X(ev.first_negative_cell, ev.first_negative_gene), "), but ",
             spec.declared == DataState::Unknown ? std::string("the reference must hold")
                                                 : std::string("it is declared as ") + to_string(rep.state) + " and needs",
             " non-negative values; pass the raw counts (e.g. layers['counts'] or .raw) instead of "
             "scaled or batch-corrected values");
  if (spec.declared != DataState::Unknown) {
    if (ev.state != DataState::Unknown && ev.state != spec.declared) {
      std::string msg = who + ": X is declared as " + to_string(spec.declared) + " but looks " +
                        ev.describe() + ".";
      if (spec.declared == DataState::RawCounts && ev.state == DataState::LogNormalized)
        msg += " Normalising it again would log-transform twice; declare it log-normalised "
               "(or pass the raw counts).";
      else if (spec.declared == DataState::LogNormalized && ev.state == DataState::RawCounts)
        msg += " Skipping normalisation would train on raw counts; declare it as raw counts.";
      else
        msg += " Declare the state that matches the data, or pass the data in the declared state.";
      if (opt.state_mismatch_is_error) throw Error(msg);
      rep.warnings.push_back(msg);
    } else if (ev.state == DataState::Unknown) {
      rep.warnings.push_back(who + ": could not confirm that X holds " + to_string(spec.declared) +
                             ": " + ev.describe());
    }
  } else if (ev.state == DataState::Unknown) {
    STAI_CHECK(spec.role != Role::Reference, who, ": cannot tell whether X holds raw counts or "
               "log-normalised values: ", ev.describe(), ". Declare the state of the reference "
               "explicitly (raw counts are normalised + log1p, log-normalised values are used as they are)");
    rep.warnings.push_back(who + ": the state of X is unclear (" + ev.describe() +
                           "); it is only scaled per gene");
  }
  if (spec.role == Role::Spatial && rep.state == DataState::Scaled)
    rep.warnings.push_back(who + ": X is already scaled per gene; it will be scaled again "
                                 "(harmless for the model, but imputed values are compared to it)");

  // 3. cells with zero total
  if (rep.state != DataState::Scaled && ev.n_zero_rows > 0) {
    std::vector<index_t> zero, keep;
    for (index_t i = 0; i < a.n_obs(); ++i) {
      bool all_zero = true;
      for (index_t j = 0; j < a.n_vars() && all_zero; ++j) all_zero = a.X(i, j) == 0.0f;
      (all_zero ? zero : keep).push_back(i);
    }
    std::string names;
    for (std::size_t q = 0; q < zero.size() && static_cast<index_t>(q) < opt.max_listed; ++q)
      names += (q ? ", " : "") + detail::cell_label(a, zero[q]);
    if (static_cast<index_t>(zero.size()) > opt.max_listed) names += ", ...";
    STAI_CHECK(opt.drop_zero_total_cells, who, ": ", zero.size(), " cell(s) have zero total "
               "expression: ", names, "; remove them, or set drop_zero_total_cells to drop them");
    STAI_CHECK(!keep.empty(), who, ": every cell has zero total expression");
    for (index_t i : zero) {
      rep.dropped_cells.push_back(i);
      if (static_cast<std::size_t>(i) < a.obs_names.size()) rep.dropped_cell_names.push_back(a.obs_names[static_cast<std::size_t>(i)]);
    }
    rep.warnings.push_back(who + ": dropped " + std::to_string(zero.size()) +
                           " cell(s) with zero total expression: " + names);
    subset_obs(a, keep);
  }

  // 4. coordinates
  if (spec.role == Role::Spatial && !spec.coords_key.empty()) {
    const auto it = a.obsm.find(spec.coords_key);
    STAI_CHECK(it != a.obsm.end(), who, ": no coordinates: obsm['", spec.coords_key,
               "'] is missing (obsm keys: ", detail::keys_of(a.obsm),
               "); store the cell positions there or name the right key");
    const RowMatrix<double>& c = it->second;
    STAI_CHECK(c.cols() == 2 || c.cols() == 3, who, ": obsm['", spec.coords_key, "'] has ", c.cols(),
               " columns; coordinates must be 2-D or 3-D (x, y[, z])");
    for (index_t i = 0; i < c.rows(); ++i)
      for (index_t d = 0; d < c.cols(); ++d)
        STAI_CHECK(std::isfinite(c(i, d)), who, ": obsm['", spec.coords_key, "'] has a missing or "
                   "infinite coordinate at ", detail::cell_label(a, i), ", column ", d,
                   "; remove cells without a position");
  }

  // 5. enough cells for the kNN graph
  if (spec.knn_k > 0)
    STAI_CHECK(a.n_obs() >= spec.knn_k, who, ": ", a.n_obs(), " cells but the spatial graph needs k = ",
               spec.knn_k, " neighbours per cell (the cell included); lower spatial_knn to at most ",
               a.n_obs());

  // 6. labels
  if (!spec.label_key.empty()) {
    const auto it = a.obs.find(spec.label_key);
    STAI_CHECK(it != a.obs.end(), who, ": no cell-type labels: obs['", spec.label_key,
               "'] is missing (obs columns: ", detail::keys_of(a.obs), "); name the label column");
    const Column& col = it->second;
    std::set<std::string> cls_s;
    std::set<double> cls_n;
    std::vector<index_t> missing;
    for (index_t i = 0; i < a.n_obs(); ++i) {
      if (col.kind == Column::Kind::String) {
        const std::string& v = col.str[static_cast<std::size_t>(i)];
        if (v.empty() || v == "nan" || v == "NaN") missing.push_back(i);
        else cls_s.insert(v);
      } else {
        const double v = col.num[static_cast<std::size_t>(i)];
        if (std::isnan(v)) missing.push_back(i);
        else cls_n.insert(v);
      }
    }
    rep.n_classes = static_cast<index_t>(col.kind == Column::Kind::String ? cls_s.size() : cls_n.size());
    if (!missing.empty()) {
      std::string names;
      for (std::size_t q = 0; q < missing.size() && static_cast<index_t>(q) < opt.max_listed; ++q)
        names += (q ? ", " : "") + detail::cell_label(a, missing[q]);
      if (static_cast<index_t>(missing.size()) > opt.max_listed) names += ", ...";
      const std::string msg = who + ": obs['" + spec.label_key + "'] has " + std::to_string(missing.size()) +
                              " cell(s) without a label: " + names;
      if (spec.role == Role::Reference) throw Error(msg + "; remove those cells or label them");
      rep.warnings.push_back(msg + " (they are left out of the evaluation)");
    }
    if (spec.role == Role::Reference)
      STAI_CHECK(rep.n_classes >= 2, who, ": obs['", spec.label_key, "'] has ", rep.n_classes,
                 " cell type(s); annotation needs at least 2 classes in the reference");
    else if (rep.n_classes < 2)
      rep.warnings.push_back(who + ": obs['" + spec.label_key + "'] has only " +
                             std::to_string(rep.n_classes) + " cell type(s)");
  }
  return rep;
}

}  // namespace stai
