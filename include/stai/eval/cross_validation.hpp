// stai — the paper's evaluation protocols: held-out-gene cross-validation of
// the imputation, annotation scoring with a label mapping, and the one-sided
// Mann-Whitney comparison of two methods' per-gene scores.
//
// Held-out-gene cross-validation (the paper's protocol, docs/evaluation.md):
//   * the shared genes (spatial order, matched as Pipeline::fit matches them) are
//     split into held-out sets: one gene per set (leave-one-out, the paper's
//     protocol for small panels) or k seeded gene folds (the paper's 10-fold
//     protocol for large panels; scikit-learn's shuffled KFold through
//     stai::kfold_split with a NumpyRandomState(seed));
//   * for every set, a full stAI ensemble is trained WITHOUT those genes
//     (Pipeline::fit with FitOptions::held_out): the scaling statistics, the
//     k calibration folds and every submodel see only the remaining genes;
//   * the inner calibration folds come from ONE NumpyRandomState(seed) that
//     is reused, in set order, across all held-out sets — exactly what the
//     authors' run_impute_loo does with its `kfold_randomstate` (so the
//     folds of gene i depend on how many sets came before it, and a partial
//     run reproduces the first sets of a full run). The k-fold scheme draws
//     its outer gene folds from a separate NumpyRandomState(seed) and then
//     reuses the inner state in the same way;
//   * each held-out gene is imputed from the reference's log-normalised
//     values (mean over the set's submodels) and scored against the MEASURED
//     spatial values as they are in the input (raw counts for count data,
//     as the authors' evaluation uses adata_spatial[:, gene].X): Pearson
//     correlation, RMSE after z-scoring both vectors, Jensen-Shannon
//     divergence of the two vectors normalised to sum 1; medians over genes
//     (non-finite scores, e.g. the PCC of a constant vector, are left out of
//     the medians and counted).
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../model/folds.hpp"
#include "../model/pipeline.hpp"
#include "gene_score.hpp"
#include "metrics.hpp"

namespace stai::eval {

// ---------------------------------------------------------------------------
// Held-out-gene cross-validation
// ---------------------------------------------------------------------------

enum class GeneCvScheme { LeaveOneOut, KFold };

inline const char* to_string(GeneCvScheme s) {
  return s == GeneCvScheme::LeaveOneOut ? "leave-one-gene-out" : "k-fold over genes";
}

struct GeneCvOptions {
  GeneCvScheme scheme = GeneCvScheme::LeaveOneOut;
  /// Number of gene folds of the k-fold scheme (the paper: 10).
  int gene_folds = 10;
  /// Seed of the fold random states; default: the config's seed (the
  /// authors use their random_seed for both).
  std::optional<std::uint64_t> seed;
  /// Stop after the held-out set that brings the number of scored genes to
  /// at least this (0 = every set). The random states are consumed exactly
  /// as in a full run, so the scored sets equal the full run's first sets.
  index_t max_genes = 0;
  /// Score only the sets that contain at least one of these genes (empty =
  /// all). Skipped sets still advance the inner random state, so every
  /// scored set is trained exactly as in a full run.
  std::vector<std::string> only_genes;
  /// Passed to every Pipeline::fit (spatial key, label key, declared states,
  /// ...). held_out and folds are set by the protocol and must be empty.
  FitOptions fit;
  /// Keep the measured and imputed vectors of every scored gene
  /// (GeneCvResult::measured / imputed, cells x scored genes).
  bool keep_values = false;
  /// With a refining configuration, also score the refinement's parts
  /// (GeneScore::variants), for ablations.
  bool score_variants = false;
};

/// Progress of a cross-validation run: which held-out set is being trained,
/// and the ensemble's own progress report. Return false to cancel
/// (stai::Cancelled is thrown out of cross_validate_genes).
struct GeneCvProgress {
  int set = 0, n_sets = 0;            ///< 0-based set being trained, number of sets in the run
  std::vector<std::string> held_out;  ///< its held-out genes
  Progress fit;                       ///< the ensemble's progress report
};
using GeneCvProgressFn = std::function<bool(const GeneCvProgress&)>;

struct GeneCvResult {
  GeneCvScheme scheme = GeneCvScheme::LeaveOneOut;
  int gene_folds = 0;                             ///< k-fold scheme: number of gene folds
  std::uint64_t seed = 0;
  std::vector<std::string> shared_genes;          ///< spatial order
  std::vector<std::vector<std::string>> sets;     ///< every held-out set of the scheme, in run order
  std::vector<int> sets_scored;                   ///< indices into `sets` that were trained and scored
  std::vector<GeneScore> rows;                    ///< one per scored gene, in run order
  double median_pcc = std::numeric_limits<double>::quiet_NaN();
  double median_rmse = std::numeric_limits<double>::quiet_NaN();
  double median_jsd = std::numeric_limits<double>::quiet_NaN();
  index_t n_nonfinite_pcc = 0;                    ///< genes whose PCC is undefined (constant vector)
  double seconds = 0;                             ///< wall time of the run
  std::vector<std::string> warnings, notes;       ///< from the fits (each distinct message once)
  /// keep_values: spatial cells x scored genes (columns in `rows` order).
  RowMatrix<float> measured, imputed;

  /// Recomputes the medians and the non-finite count from `rows`.
  void update_summary() {
    median_pcc = median(metric_values(rows, Metric::PCC));
    median_rmse = median(metric_values(rows, Metric::RMSE));
    median_jsd = median(metric_values(rows, Metric::JSD));
    n_nonfinite_pcc = 0;
    for (const auto& r : rows)
      if (!std::isfinite(r.pcc)) ++n_nonfinite_pcc;
  }
  double median_of(Metric m) const {
    return m == Metric::PCC ? median_pcc : m == Metric::RMSE ? median_rmse : median_jsd;
  }
};
/// Called after every scored set with the result so far (medians updated),
/// e.g. to write partial tables during a long run.
using GeneCvSetDoneFn = std::function<void(const GeneCvResult&)>;

/// The held-out sets of a scheme over n genes, as indices (ascending within
/// a set). LOO: {0}, {1}, ...; k-fold: the calibration (test) folds of
/// kfold_split(n, k, NumpyRandomState(seed)), in fold order.
inline std::vector<std::vector<index_t>> held_out_index_sets(index_t n, GeneCvScheme scheme, int gene_folds,
                                                             std::uint64_t seed) {
  std::vector<std::vector<index_t>> sets;
  if (scheme == GeneCvScheme::LeaveOneOut) {
    STAI_CHECK(n >= 1, "leave-one-gene-out needs at least one shared gene");
    for (index_t g = 0; g < n; ++g) sets.push_back({g});
    return sets;
  }
  STAI_CHECK(gene_folds >= 2, "k-fold gene cross-validation needs gene_folds >= 2, got ", gene_folds,
             " (use the leave-one-out scheme for one gene per set)");
  STAI_CHECK(n >= gene_folds, "cannot split ", n, " shared genes into ", gene_folds,
             " held-out folds; use fewer gene folds or leave-one-gene-out");
  NumpyRandomState rs(static_cast<std::uint32_t>(seed));
  for (auto& f : kfold_split(n, gene_folds, rs)) sets.push_back(std::move(f.calibration));
  return sets;
}

/// The same sets as gene names.
inline std::vector<std::vector<std::string>> held_out_sets(const std::vector<std::string>& shared_genes,
                                                           GeneCvScheme scheme, int gene_folds,
                                                           std::uint64_t seed) {
  std::vector<std::vector<std::string>> out;
  for (const auto& s : held_out_index_sets(static_cast<index_t>(shared_genes.size()), scheme, gene_folds, seed)) {
    std::vector<std::string> names;
    for (index_t g : s) names.push_back(shared_genes[static_cast<std::size_t>(g)]);
    out.push_back(std::move(names));
  }
  return out;
}

/// The shared genes of a spatial data set and a reference, matched exactly
/// as Pipeline::fit matches them with these options (spatial order and spelling).
inline std::vector<std::string> shared_genes(const AnnData& spatial, const AnnData& reference,
                                             const FitOptions& opt = {}) {
  GeneMatchOptions gm;
  gm.case_insensitive_fallback = opt.case_insensitive_genes;
  gm.spatial_label = spatial.source.empty() ? "spatial data" : spatial.source;
  gm.reference_label = reference.source.empty() ? "reference" : reference.source;
  return match_genes(spatial.var_names, reference.var_names, gm).genes;
}

namespace cv_detail {
inline void add_unique(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const auto& s : from)
    if (std::find(into.begin(), into.end(), s) == into.end()) into.push_back(s);
}
}  // namespace cv_detail

/// Held-out-gene cross-validation of stAI's imputation (see the file
/// comment). `cfg` is used for every ensemble (e.g. Config::imputation()).
/// Throws stai::Cancelled when the progress callback returns false.
template <class B = Cpu, class T = float>
GeneCvResult cross_validate_genes(B& be, const AnnData& spatial, const AnnData& reference, const Config& cfg,
                                  const GeneCvOptions& opt = {}, const GeneCvProgressFn& progress = {},
                                  const GeneCvSetDoneFn& on_set_done = {}) {
  cfg.validate();
  STAI_CHECK(opt.fit.held_out.empty(), "cross_validate_genes: GeneCvOptions::fit.held_out must be empty; the "
             "protocol chooses the held-out genes (use only_genes to score a subset)");
  STAI_CHECK(opt.fit.folds.empty(), "cross_validate_genes: GeneCvOptions::fit.folds must be empty; the "
             "protocol draws the calibration folds of every held-out set");
  STAI_CHECK(opt.max_genes >= 0, "cross_validate_genes: max_genes must be >= 0 (0 = all genes)");
  const auto t0 = std::chrono::steady_clock::now();

  GeneCvResult res;
  res.scheme = opt.scheme;
  res.gene_folds = opt.scheme == GeneCvScheme::KFold ? opt.gene_folds : 0;
  res.seed = opt.seed.value_or(cfg.seed);
  res.shared_genes = shared_genes(spatial, reference, opt.fit);
  const index_t n = static_cast<index_t>(res.shared_genes.size());
  const auto idx_sets = held_out_index_sets(n, opt.scheme, opt.gene_folds, res.seed);
  for (const auto& s : idx_sets) {
    std::vector<std::string> names;
    for (index_t g : s) names.push_back(res.shared_genes[static_cast<std::size_t>(g)]);
    res.sets.push_back(std::move(names));
  }
  std::size_t largest = 0;
  for (const auto& s : idx_sets) largest = std::max(largest, s.size());
  STAI_CHECK(n - static_cast<index_t>(largest) > cfg.k_folds, "cross_validate_genes: ", n,
             " shared genes leave only ", n - static_cast<index_t>(largest), " model genes when ", largest,
             " are held out, but k_folds = ", cfg.k_folds, " needs at least ", cfg.k_folds + 1,
             "; lower k_folds, use more gene folds, or share more genes");
  for (const auto& g : opt.only_genes)
    STAI_CHECK(std::find(res.shared_genes.begin(), res.shared_genes.end(), g) != res.shared_genes.end(),
               "cross_validate_genes: only_genes lists '", g, "', which is not among the ", n,
               " genes shared by the spatial data and the reference");

  // Which sets are scored.
  std::vector<int> todo;
  {
    index_t count = 0;
    for (std::size_t s = 0; s < res.sets.size(); ++s) {
      if (opt.max_genes > 0 && count >= opt.max_genes) break;
      bool wanted = opt.only_genes.empty();
      for (const auto& g : res.sets[s])
        if (std::find(opt.only_genes.begin(), opt.only_genes.end(), g) != opt.only_genes.end()) wanted = true;
      if (!wanted) continue;
      todo.push_back(static_cast<int>(s));
      count += static_cast<index_t>(res.sets[s].size());
    }
  }

  // The inner calibration folds: ONE random state reused across the sets,
  // in set order (the authors' kfold_randomstate).
  NumpyRandomState inner(static_cast<std::uint32_t>(res.seed));
  std::vector<std::vector<double>> kept_measured, kept_imputed;
  std::size_t next = 0;
  for (std::size_t s = 0; s < res.sets.size() && next < todo.size(); ++s) {
    const index_t n_model = n - static_cast<index_t>(res.sets[s].size());
    std::vector<Fold> folds = kfold_split(n_model, cfg.k_folds, inner);
    if (static_cast<int>(s) != todo[next]) continue;  // skipped: the state still advanced
    ++next;

    FitOptions fo = opt.fit;
    fo.held_out = res.sets[s];
    fo.folds = std::move(folds);
    ProgressFn inner_progress;
    if (progress) {
      inner_progress = [&, s](const Progress& p) {
        GeneCvProgress cp;
        cp.set = static_cast<int>(s);
        cp.n_sets = static_cast<int>(res.sets.size());
        cp.held_out = res.sets[s];
        cp.fit = p;
        return progress(cp);
      };
    }
    Pipeline<B, T> model;
    const FitReport rep = model.fit(be, spatial, reference, cfg, fo, inner_progress);
    cv_detail::add_unique(res.warnings, rep.warnings);
    cv_detail::add_unique(res.notes, rep.notes);
    // The model must not have seen the held-out genes.
    for (const auto& g : res.sets[s])
      STAI_CHECK(std::find(rep.model_genes.begin(), rep.model_genes.end(), g) == rep.model_genes.end(),
                 "cross_validate_genes: internal error: held-out gene '", g, "' is a model gene");
    STAI_CHECK(static_cast<index_t>(rep.model_genes.size()) == n_model, "cross_validate_genes: the fit used ",
               rep.model_genes.size(), " model genes, expected ", n_model,
               " (the gene matching of the fit and of the protocol disagree)");

    const Imputation imp = model.impute(be, res.sets[s]);
    const auto parts = opt.score_variants ? model.impute_ablation(be, res.sets[s])
                                          : std::vector<std::pair<std::string, RowMatrix<float>>>{};
    const AnnData& sp = model.spatial();  // after the input checks (cells possibly dropped)
    const index_t cells = sp.n_obs();
    for (std::size_t q = 0; q < res.sets[s].size(); ++q) {
      const std::string& g = res.sets[s][q];
      const auto it = std::find(sp.var_names.begin(), sp.var_names.end(), g);
      STAI_CHECK(it != sp.var_names.end(), "cross_validate_genes: held-out gene '", g,
                 "' is not a column of the spatial data");
      const index_t col = static_cast<index_t>(it - sp.var_names.begin());
      std::vector<double> a(static_cast<std::size_t>(cells)), m(static_cast<std::size_t>(cells));
      for (index_t i = 0; i < cells; ++i) {
        a[static_cast<std::size_t>(i)] = static_cast<double>(imp.mean(i, static_cast<index_t>(q)));
        m[static_cast<std::size_t>(i)] = static_cast<double>(sp.X(i, col));
      }
      GeneScore sc = score_gene(g, a, m);
      sc.set = static_cast<int>(s);
      for (const auto& [name, P] : parts) {
        std::vector<double> v(static_cast<std::size_t>(cells));
        for (index_t i = 0; i < cells; ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(P(i, static_cast<index_t>(q)));
        sc.variants.emplace_back(name, pearson(v, m));
      }
      res.rows.push_back(std::move(sc));
      if (opt.keep_values) {
        kept_imputed.push_back(std::move(a));
        kept_measured.push_back(std::move(m));
      }
    }
    res.sets_scored.push_back(static_cast<int>(s));
    res.update_summary();
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_set_done) on_set_done(res);
  }

  if (opt.keep_values && !kept_imputed.empty()) {
    const index_t cells = static_cast<index_t>(kept_imputed.front().size());
    const index_t G = static_cast<index_t>(kept_imputed.size());
    res.imputed.resize(cells, G);
    res.measured.resize(cells, G);
    for (index_t j = 0; j < G; ++j)
      for (index_t i = 0; i < cells; ++i) {
        res.imputed(i, j) = static_cast<float>(kept_imputed[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)]);
        res.measured(i, j) = static_cast<float>(kept_measured[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)]);
      }
  }
  res.update_summary();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

// ---------------------------------------------------------------------------
// Comparing two methods
// ---------------------------------------------------------------------------

/// One-sided Mann-Whitney U test that method A's per-gene scores are BETTER
/// than method B's (larger PCC; smaller RMSE or JSD), as the paper compares
/// methods. Lower-is-better metrics are negated first, so u counts the pairs
/// (plus half the ties) in which A is better. Non-finite scores are dropped.
inline MannWhitney compare_scores(const std::vector<double>& a, const std::vector<double>& b, Metric m) {
  if (higher_is_better(m)) return mann_whitney_greater(a, b);
  std::vector<double> na(a.size()), nb(b.size());
  std::transform(a.begin(), a.end(), na.begin(), [](double v) { return -v; });
  std::transform(b.begin(), b.end(), nb.begin(), [](double v) { return -v; });
  return mann_whitney_greater(std::move(na), std::move(nb));
}

/// The same on two result tables, restricted to the genes both scored
/// (matched by name; an error if there are none).
inline MannWhitney compare_methods(const std::vector<GeneScore>& a, const std::vector<GeneScore>& b, Metric m) {
  std::map<std::string, double> bv;
  for (const auto& r : b) bv.emplace(r.gene, r.value(m));
  std::vector<double> xa, xb;
  for (const auto& r : a) {
    const auto it = bv.find(r.gene);
    if (it == bv.end()) continue;
    xa.push_back(r.value(m));
    xb.push_back(it->second);
  }
  STAI_CHECK(!xa.empty(), "compare_methods: the two result tables share no gene; compare results of the "
             "same genes");
  return compare_scores(xa, xb, m);
}

// ---------------------------------------------------------------------------
// Annotation
// ---------------------------------------------------------------------------

/// Maps label names of one data set onto another's (e.g. "OD Mature 2" ->
/// "OD Mature"); names without an entry are kept as they are.
using LabelMap = std::map<std::string, std::string>;

inline std::vector<std::string> map_labels(const std::vector<std::string>& labels, const LabelMap& map) {
  std::vector<std::string> out;
  out.reserve(labels.size());
  for (const auto& l : labels) {
    const auto it = map.find(l);
    out.push_back(it == map.end() ? l : it->second);
  }
  return out;
}

/// The string labels of obs[key] (an error naming the key when absent or numeric).
inline std::vector<std::string> obs_labels(const AnnData& a, const std::string& key) {
  const auto it = a.obs.find(key);
  STAI_CHECK(it != a.obs.end(), a.source.empty() ? std::string("data") : a.source, ": no obs column '", key,
             "' with the true cell types");
  STAI_CHECK(it->second.kind == Column::Kind::String, a.source.empty() ? std::string("data") : a.source,
             ": obs['", key, "'] must hold cell-type names");
  return it->second.str;
}

struct AnnotationEvaluation {
  AnnotationReport report;  ///< over the evaluated cells, classes = the reference's classes
  index_t n_cells = 0;      ///< cells given
  index_t n_evaluated = 0;  ///< cells whose (mapped) true type is a reference class
  /// (mapped) true types absent from the reference, with their cell counts
  /// (those cells are not scored, as in the paper).
  std::vector<std::pair<std::string, index_t>> excluded;
  /// reference classes that occur among the (mapped) true types, in class order
  std::vector<std::string> shared_types;
};

/// Scores predicted labels against true labels mapped onto the reference's
/// class names: accuracy, per-class precision/recall/F1, macro and weighted
/// F1 and the confusion matrix (eval::annotation_report) over the cells whose
/// true type exists in the reference.
inline AnnotationEvaluation evaluate_annotation(const std::vector<std::string>& truth,
                                                const std::vector<std::string>& predicted,
                                                const std::vector<std::string>& class_names,
                                                const LabelMap& map = {}) {
  STAI_CHECK(truth.size() == predicted.size(), "evaluate_annotation: ", truth.size(), " true labels but ",
             predicted.size(), " predictions; both must cover the same cells");
  STAI_CHECK(!class_names.empty(), "evaluate_annotation: no reference classes");
  std::map<std::string, index_t> code;
  for (std::size_t c = 0; c < class_names.size(); ++c) code.emplace(class_names[c], static_cast<index_t>(c));
  const auto mapped = map_labels(truth, map);
  AnnotationEvaluation ev;
  ev.n_cells = static_cast<index_t>(truth.size());
  std::vector<index_t> t(truth.size()), p(truth.size());
  std::map<std::string, index_t> excluded;
  std::vector<char> present(class_names.size(), 0);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto pi = code.find(predicted[i]);
    STAI_CHECK(pi != code.end(), "evaluate_annotation: prediction '", predicted[i], "' of cell ", i,
               " is not a reference class");
    p[i] = pi->second;
    const auto ti = code.find(mapped[i]);
    if (ti == code.end()) {
      t[i] = -1;
      ++excluded[mapped[i]];
    } else {
      t[i] = ti->second;
      present[static_cast<std::size_t>(ti->second)] = 1;
      ++ev.n_evaluated;
    }
  }
  STAI_CHECK(ev.n_evaluated > 0, "evaluate_annotation: no cell's true type is a reference class (e.g. '",
             mapped.empty() ? std::string() : mapped.front(), "' vs '", class_names.front(),
             "'); give a label map from the spatial names to the reference names");
  ev.report = annotation_report(t, p, class_names);
  for (const auto& [name, count] : excluded) ev.excluded.emplace_back(name, count);
  for (std::size_t c = 0; c < class_names.size(); ++c)
    if (present[c]) ev.shared_types.push_back(class_names[c]);
  return ev;
}

/// The same for an ensemble's annotation of the spatial cells.
inline AnnotationEvaluation evaluate_annotation(const Annotation& ann, const std::vector<std::string>& truth,
                                                const LabelMap& map = {}) {
  return evaluate_annotation(truth, ann.labels, ann.class_names, map);
}

}  // namespace stai::eval
