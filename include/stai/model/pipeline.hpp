// stai — the end-to-end API on annotated data: check, match genes,
// preprocess, build the spatial graph, train the ensemble, then impute any
// reference gene, annotate cell types and embed cells — on the training
// slice or on a NEW spatial slice.
//
//   stai::Pipeline<> model;                          // CPU backend, float
//   model.fit(spatial, reference, stai::Config::imputation(), {.label_key = "celltype"});
//   auto imp = model.impute({"Gad1", "Slc17a7"}); // values + spread across submodels
//   auto ann = model.annotate();                 // labels + class probabilities
//
// Preprocessing is the published method's (docs/model.md, "Preprocessing"): the reference is normalised to 1e4 per
// cell and log1p-transformed (skipped, with a note, when it already is
// log-normalised), the spatial data are not; the model genes of both sides
// are z-scored per gene (n - 1 deviation) and clipped above at 10; the
// imputed values are reference log-normalised expression.
#pragma once
#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../backend/cpu.hpp"  // the default backend, and knn_graph on it
#include "../data/anndata.hpp"
#include "../data/contract.hpp"
#include "../data/genes.hpp"
#include "../data/preprocess.hpp"
#include "../graph/knn.hpp"
#include "../refine/refinement.hpp"
#include "ensemble.hpp"

namespace stai {

struct FitOptions {
  std::string spatial_key = "spatial";  ///< obsm key of the spatial coordinates
  std::string label_key;                ///< reference obs column with cell types ("" = no classifier)
  std::vector<std::string> held_out;    ///< shared genes kept out of the model (evaluation)
  DataState spatial_state = DataState::Unknown;    ///< declared state of the spatial X
  DataState reference_state = DataState::Unknown;  ///< declared state of the reference X
  bool drop_zero_cells = false;         ///< drop all-zero cells instead of stopping
  bool case_insensitive_genes = true;   ///< Gad1 / GAD1 fallback (reported)
  std::vector<Fold> folds;              ///< explicit gene folds (default: seeded k-fold)
};

/// Everything fit() learned about the inputs, for reports and outputs.
struct FitReport {
  GeneMatch genes;                      ///< the gene matching report
  std::vector<std::string> model_genes; ///< genes the encoders see
  std::vector<std::string> warnings, notes;
  /// The refinement's parameters and inner scores (Config::refines()).
  std::optional<refine::Refinement> refinement;
  DataState spatial_state = DataState::Unknown, reference_state = DataState::Unknown;
  index_t n_spatial = 0, n_reference = 0;
  std::vector<std::string> dropped_spatial_cells, dropped_reference_cells;
};

struct Annotation {
  std::vector<std::string> class_names;
  RowMatrix<float> probabilities;   ///< cells x classes, mean over submodels
  std::vector<index_t> predicted;   ///< argmax per cell
  std::vector<std::string> labels;  ///< class name per cell
  std::vector<float> confidence;    ///< probability of the predicted class
};

template <class B = Cpu, class T = float>
class Pipeline {
 public:
  Pipeline() = default;

  /// Trains on a spatial slice and a reference. The inputs are copied.
  FitReport fit(B& be, AnnData spatial, AnnData reference, const Config& cfg, const FitOptions& opt = {},
                const ProgressFn& progress = {}) {
    cfg.validate();
    FitReport rep;
    // 1. The input contract.
    ContractOptions co;
    co.drop_zero_total_cells = opt.drop_zero_cells;
    InputSpec ss{Role::Spatial, opt.spatial_state, opt.spatial_key, "", cfg.spatial_knn};
    InputSpec rs{Role::Reference, opt.reference_state, "", opt.label_key, 0};
    const InputReport sr = check_input(spatial, ss, co);
    const InputReport rr = check_input(reference, rs, co);
    rep.spatial_state = sr.state;
    rep.reference_state = rr.state;
    rep.dropped_spatial_cells = sr.dropped_cell_names;
    rep.dropped_reference_cells = rr.dropped_cell_names;
    for (const auto& w : sr.warnings) rep.warnings.push_back(w);
    for (const auto& w : rr.warnings) rep.warnings.push_back(w);

    // 2. Reference normalisation (docs/model.md, "Preprocessing" step 2).
    if (rr.state == DataState::LogNormalized) {
      rep.notes.push_back(reference.source + ": X is already log-normalised; normalize_total + log1p is skipped");
    } else {
      normalize_total_log1p(reference.X, 1e4, reference.source);
    }

    // 3. Shared genes, then the model genes (held-out genes removed).
    GeneMatchOptions gm;
    gm.case_insensitive_fallback = opt.case_insensitive_genes;
    gm.spatial_label = spatial.source.empty() ? "spatial data" : spatial.source;
    gm.reference_label = reference.source.empty() ? "reference" : reference.source;
    rep.genes = match_genes(spatial.var_names, reference.var_names, gm);
    for (const auto& w : rep.genes.warnings) rep.warnings.push_back(w);
    for (const auto& n : rep.genes.notes) rep.notes.push_back(n);
    std::vector<std::string> st_names, sc_names;
    for (index_t j = 0; j < rep.genes.size(); ++j) {
      const std::string& g = rep.genes.genes[static_cast<std::size_t>(j)];
      if (std::find(opt.held_out.begin(), opt.held_out.end(), g) != opt.held_out.end()) continue;
      st_names.push_back(spatial.var_names[static_cast<std::size_t>(rep.genes.spatial_index[j])]);
      sc_names.push_back(reference.var_names[static_cast<std::size_t>(rep.genes.reference_index[j])]);
      rep.model_genes.push_back(g);
    }
    for (const auto& h : opt.held_out)
      STAI_CHECK(std::find(rep.genes.genes.begin(), rep.genes.genes.end(), h) != rep.genes.genes.end(),
                 "held-out gene '", h, "' is not among the genes shared by ", gm.spatial_label, " and ",
                 gm.reference_label);
    STAI_CHECK(static_cast<index_t>(rep.model_genes.size()) > cfg.k_folds, "only ",
               rep.model_genes.size(), " model genes for k_folds = ", cfg.k_folds,
               ": every submodel needs at least one fitting and one calibration gene; lower k_folds "
               "or share more genes");

    // 4. Scaling of the model genes (docs/model.md, "Preprocessing" step 3).
    ModelInputs in;
    in.st = scale_genes(spatial.X, spatial.var_names, st_names, 10.0, &st_scaling_, spatial.source);
    in.sc = scale_genes(reference.X, reference.var_names, sc_names, 10.0, &sc_scaling_, reference.source);
    in.genes = rep.model_genes;

    // 5. The spatial graph.
    in.coords = spatial.obsm.at(opt.spatial_key);
    in.graph = knn_graph(in.coords, cfg.spatial_knn);

    // 6. Labels (order of first appearance, as the reference).
    if (!opt.label_key.empty()) {
      const Column& col = reference.obs.at(opt.label_key);
      STAI_CHECK(col.kind == Column::Kind::String, reference.source, ": obs['", opt.label_key,
                 "'] must hold cell-type names (strings or categories)");
      std::map<std::string, index_t> code;
      for (const auto& s : col.str) {
        auto it = code.find(s);
        if (it == code.end()) {
          code.emplace(s, static_cast<index_t>(in.class_names.size()));
          in.class_names.push_back(s);
          in.labels.push_back(static_cast<index_t>(in.class_names.size() - 1));
        } else {
          in.labels.push_back(it->second);
        }
      }
    }

    // 7. Train.
    ensemble_.fit(be, in, cfg, progress, opt.folds);
    ref_genes_ = reference.var_names;
    ref_lognorm_ = std::move(reference.X);

    // 8. Refinement: its parameters, chosen on the measured model genes.
    if (cfg.refines()) {
      refine::Refinement asked = refinement_of(cfg);
      refine::Refinement r = asked;
      if (asked.lambda < 0 || asked.weight < 0 || asked.alpha < 0 || asked.share < 0 || asked.lambda_lognorm < 0) {
        refine::InnerData inner;
        inner.measured = model_gene_values(spatial, st_names);
        const RowMatrix<double> lognorm = refine::lognorm_view(inner.measured, sr.state);
        if (asked.objective != refine::InnerObjective::Pcc) inner.measured_lognorm = lognorm;
        const RowMatrix<float> model_values = reference_values(rep.model_genes);
        inner.neural = ensemble_.validation_predictions(be, in.st, in.graph, model_values).template cast<double>();
        inner.ref_values = model_values.template cast<double>();
        std::optional<refine::LinearTransfer> scaled_head, lognorm_head;
        refine::LinearHeads heads;
        if (asked.uses_scaled()) heads.scaled = &scaled_head.emplace(linear_head(in.st.template cast<double>()));
        if (asked.uses_lognorm()) heads.lognorm = &lognorm_head.emplace(linear_head(lognorm));
        r = refine::choose_refinement(asked, heads, inner, in.graph);
      }
      ensemble_.resolve_refinement(r.lambda, r.lambda_lognorm, r.share, r.weight, r.alpha);
      rep.refinement = r;
      rep.notes.push_back(refinement_note(r));
    }
    rep.n_spatial = spatial.n_obs();
    rep.n_reference = reference.n_obs();
    report_ = rep;
    spatial_ = std::move(spatial);
    spatial_scaled_ = std::move(in.st);
    graph_ = std::move(in.graph);
    spatial_key_ = opt.spatial_key;
    return rep;
  }

  const FitReport& report() const { return report_; }
  const Ensemble<B, T>& ensemble() const { return ensemble_; }
  const ScalingStats& spatial_scaling() const { return st_scaling_; }
  const ScalingStats& reference_scaling() const { return sc_scaling_; }
  const std::vector<std::string>& reference_genes() const { return ref_genes_; }
  const RowMatrix<float>& reference_lognorm() const { return ref_lognorm_; }
  const AnnData& spatial() const { return spatial_; }
  /// The training slice's scaled model genes (cells x model genes) and its spatial graph.
  const RowMatrix<float>& spatial_scaled() const { return spatial_scaled_; }
  const CsrGraph& spatial_graph() const { return graph_; }

  /// Reference genes that are not measured in the training spatial data.
  std::vector<std::string> unmeasured_genes() const {
    std::vector<std::string> out;
    std::vector<std::string> measured;
    for (const auto& g : spatial_.var_names) measured.push_back(detail::lower(g));
    std::sort(measured.begin(), measured.end());
    for (const auto& g : ref_genes_)
      if (!std::binary_search(measured.begin(), measured.end(), detail::lower(g))) out.push_back(g);
    return out;
  }

  /// Imputes reference genes (measured or not) for the training slice.
  Imputation impute(B& be, const std::vector<std::string>& genes) const {
    need_fitted();
    return refined(ensemble_.impute(be, spatial_scaled_, graph_, reference_values(genes)), genes,
                   own_lognorm_inputs(), spatial_scaled_, graph_);
  }
  /// Imputes reference genes for a NEW spatial slice (same gene panel).
  Imputation impute(B& be, const AnnData& other, const std::vector<std::string>& genes,
                    const std::string& spatial_key = "spatial") const {
    need_fitted();
    Prepared p = prepare_spatial(other, spatial_key);
    return refined(ensemble_.impute(be, p.X, p.g, reference_values(genes)), genes, p.lognorm, p.X, p.g);
  }

  /// The refinement's parts, for ablations: the neural ensemble alone
  /// ("neural"), the linear transfer head alone ("linear") and their blend
  /// before the smoothing ("blend"); empty when the model does not refine.
  std::vector<std::pair<std::string, RowMatrix<float>>> impute_ablation(B& be,
                                                                       const std::vector<std::string>& genes) const {
    need_fitted();
    std::vector<std::pair<std::string, RowMatrix<float>>> out;
    refine::Refinement r = refinement();
    if (!r.active()) return out;
    const RowMatrix<double> P =
        ensemble_.impute(be, spatial_scaled_, graph_, reference_values(genes)).mean.template cast<double>();
    RowMatrix<double> L = linear_prediction(genes, own_lognorm_inputs(), spatial_scaled_);
    if (L.size() == 0) L = P;  // weight 0: no linear head
    r.alpha = 0;
    out.emplace_back("neural", P.template cast<float>());
    out.emplace_back("linear", L.template cast<float>());
    out.emplace_back("blend", refine::refine_predictions(P, L, r, graph_).template cast<float>());
    return out;
  }

  /// The refinement the fitted model applies (its configuration's values).
  refine::Refinement refinement() const { return refinement_of(ensemble_.config()); }

  Annotation annotate(B& be) const {
    need_fitted();
    return make_annotation(ensemble_.annotate(be, spatial_scaled_, graph_));
  }
  Annotation annotate(B& be, const AnnData& other, const std::string& spatial_key = "spatial") const {
    need_fitted();
    Prepared p = prepare_spatial(other, spatial_key);
    return make_annotation(ensemble_.annotate(be, p.X, p.g));
  }
  /// Spatial codes, one matrix per submodel.
  std::vector<RowMatrix<float>> embed(B& be) const {
    need_fitted();
    return ensemble_.embed(be, spatial_scaled_, graph_);
  }

  /// Reference log-normalised values (reference cells x genes) of `genes`,
  /// matched exactly, then case-insensitively; unknown genes are an error
  /// naming them.
  RowMatrix<float> reference_values(const std::vector<std::string>& genes) const {
    STAI_CHECK(!genes.empty(), "no genes to impute were given");
    std::map<std::string, index_t> exact, lower;
    for (std::size_t j = 0; j < ref_genes_.size(); ++j) {
      exact.emplace(ref_genes_[j], static_cast<index_t>(j));
      lower.emplace(detail::lower(ref_genes_[j]), static_cast<index_t>(j));
    }
    std::vector<index_t> cols;
    std::vector<std::string> missing;
    for (const auto& g : genes) {
      if (auto it = exact.find(g); it != exact.end()) {
        cols.push_back(it->second);
      } else if (auto jt = lower.find(detail::lower(g)); jt != lower.end()) {
        cols.push_back(jt->second);
      } else {
        missing.push_back(g);
      }
    }
    STAI_CHECK(missing.empty(), missing.size(), " gene(s) to impute are not in the reference, e.g. '",
               missing.front(), "'; the reference has ", ref_genes_.size(), " genes");
    RowMatrix<float> V(ref_lognorm_.rows(), static_cast<index_t>(cols.size()));
    for (std::size_t c = 0; c < cols.size(); ++c) V.col(static_cast<index_t>(c)) = ref_lognorm_.col(cols[c]);
    return V;
  }

  /// Restores a fitted model from its parts (model files).
  void restore(Ensemble<B, T> ens, ScalingStats st, ScalingStats sc, std::vector<std::string> ref_genes,
               RowMatrix<float> ref_lognorm) {
    ensemble_ = std::move(ens);
    st_scaling_ = std::move(st);
    sc_scaling_ = std::move(sc);
    ref_genes_ = std::move(ref_genes);
    ref_lognorm_ = std::move(ref_lognorm);
  }

 private:
  void need_fitted() const {
    STAI_CHECK(!ensemble_.submodels().empty(), "the model is not fitted: call fit() or load a model file");
  }
  /// A new slice as the model reads it: the scaled model genes, the spatial
  /// graph, and (when the refinement uses them) the model genes
  /// log-normalised.
  struct Prepared {
    RowMatrix<float> X;
    CsrGraph g;
    RowMatrix<double> lognorm;
  };
  Prepared prepare_spatial(const AnnData& other, const std::string& key) const {
    AnnData a = other;
    InputSpec ss{Role::Spatial, DataState::Unknown, key, "", ensemble_.config().spatial_knn};
    const InputReport rep = check_input(a, ss, {});
    // The new slice is scaled with ITS OWN statistics, as the training
    // slice was (per-slice z-scoring removes slice-wide depth differences);
    // genes are matched to the model genes by name.
    GeneMatchOptions gm;
    gm.spatial_label = a.source;
    gm.reference_label = "the model's genes";
    const GeneMatch m = match_genes(a.var_names, st_scaling_.genes, gm);
    STAI_CHECK(m.size() == st_scaling_.size(), a.source, ": the model needs all its ", st_scaling_.size(),
               " genes but only ", m.size(), " are present; missing e.g. '",
               missing_example(m), "'");
    std::vector<std::string> names;
    // in model gene order
    for (const auto& g : st_scaling_.genes)
      for (index_t j = 0; j < m.size(); ++j)
        if (a.var_names[static_cast<std::size_t>(m.spatial_index[j])] == g ||
            detail::lower(a.var_names[static_cast<std::size_t>(m.spatial_index[j])]) == detail::lower(g)) {
          names.push_back(a.var_names[static_cast<std::size_t>(m.spatial_index[j])]);
          break;
        }
    Prepared p;
    p.X = scale_genes(a.X, a.var_names, names, 10.0, nullptr, a.source);
    p.g = knn_graph(a.obsm.at(key), ensemble_.config().spatial_knn);
    if (refinement().uses_lognorm()) p.lognorm = refine::lognorm_view(model_gene_values(a, names), rep.state);
    return p;
  }
  /// The model genes' values as they are in `a` (cells x model genes, in
  /// the order of `names`).
  static RowMatrix<double> model_gene_values(const AnnData& a, const std::vector<std::string>& names) {
    const std::vector<index_t> cols = gene_columns(a.var_names, names, a.source);
    RowMatrix<double> m(a.n_obs(), static_cast<index_t>(cols.size()));
    for (std::size_t j = 0; j < cols.size(); ++j)
      m.col(static_cast<index_t>(j)) = a.X.col(cols[j]).template cast<double>();
    return m;
  }
  /// The training slice's model genes log-normalised, when the refinement
  /// uses them (empty otherwise).
  RowMatrix<double> own_lognorm_inputs() const {
    if (!refinement().uses_lognorm()) return {};
    return refine::lognorm_view(model_gene_values(spatial_, st_scaling_.genes), report_.spatial_state);
  }
  std::string missing_example(const GeneMatch& m) const {
    for (const auto& g : st_scaling_.genes)
      if (std::find(m.genes.begin(), m.genes.end(), g) == m.genes.end()) return g;
    return "?";
  }
  static refine::Refinement refinement_of(const Config& c) {
    refine::Refinement r;
    r.lambda = c.ridge_lambda;
    r.weight = c.blend_weight;
    r.alpha = c.smooth_alpha;
    r.iterations = c.smooth_iterations;
    r.share = c.linear_lognorm;
    r.lambda_lognorm = c.ridge_lambda_lognorm;
    r.objective = c.inner_objective;
    return r;
  }
  static std::string refinement_note(const refine::Refinement& r) {
    auto f = [](double v) {
      std::ostringstream o;
      o.precision(3);
      o << v;
      return o.str();
    };
    std::string s = "refinement: linear heads weight " + f(r.weight) + " (log-normalised share " + f(r.share) +
                    ", ridge lambda " + f(r.lambda) + " scaled, " + f(r.lambda_lognorm) +
                    " log-normalised), spatial smoothing alpha " + f(r.alpha);
    if (std::isfinite(r.inner_neural))
      s += std::string("; inner ") + refine::to_string(r.objective) + " objective over the model genes: neural " +
           f(r.inner_neural) + ", linear " + f(r.inner_linear) + ", blend " + f(r.inner_blend) + ", smoothed " +
           f(r.inner_final);
    return s;
  }
  /// The reference's model genes as the encoders see them (scaled with the
  /// fit's statistics), from the kept log-normalised reference.
  RowMatrix<float> reference_model_inputs() const {
    return apply_scaling(sc_scaling_, ref_lognorm_, ref_genes_, "reference");
  }
  refine::LinearTransfer linear_head(const RowMatrix<double>& spatial_inputs) const {
    return refine::LinearTransfer(reference_model_inputs().template cast<double>(), spatial_inputs);
  }
  /// The linear prediction L (refinement.hpp) of `genes` for a slice given
  /// its model genes log-normalised and scaled; empty when the blend does not
  /// use it.
  RowMatrix<double> linear_prediction(const std::vector<std::string>& genes, const RowMatrix<double>& lognorm,
                                      const RowMatrix<float>& scaled) const {
    const refine::Refinement r = refinement();
    if (r.weight == 0) return {};
    const RowMatrix<double> targets = reference_values(genes).template cast<double>();
    RowMatrix<double> Ls, Ll;
    if (r.uses_scaled()) Ls = linear_head(scaled.template cast<double>()).predict(targets, r.lambda);
    if (r.uses_lognorm()) Ll = linear_head(lognorm).predict(targets, r.lambda_lognorm);
    return refine::mix_linear(Ls, Ll, r.share);
  }
  Imputation refined(Imputation imp, const std::vector<std::string>& genes, const RowMatrix<double>& lognorm,
                     const RowMatrix<float>& scaled, const CsrGraph& g) const {
    const refine::Refinement r = refinement();
    if (!r.active()) return imp;
    RowMatrix<double> L = linear_prediction(genes, lognorm, scaled);
    if (L.size() == 0) L = imp.mean.template cast<double>();  // weight 0: the blend is the neural head
    imp.mean = refine::refine_predictions(imp.mean.template cast<double>(), L, r, g).template cast<float>();
    return imp;
  }
  Annotation make_annotation(RowMatrix<float> probs) const {
    Annotation a;
    a.class_names = ensemble_.class_names();
    a.probabilities = std::move(probs);
    for (index_t i = 0; i < a.probabilities.rows(); ++i) {
      index_t best = 0;
      for (index_t c = 1; c < a.probabilities.cols(); ++c)
        if (a.probabilities(i, c) > a.probabilities(i, best)) best = c;
      a.predicted.push_back(best);
      a.labels.push_back(a.class_names[static_cast<std::size_t>(best)]);
      a.confidence.push_back(a.probabilities(i, best));
    }
    return a;
  }

  Ensemble<B, T> ensemble_;
  FitReport report_;
  ScalingStats st_scaling_, sc_scaling_;
  RowMatrix<float> ref_lognorm_, spatial_scaled_;
  std::vector<std::string> ref_genes_;
  AnnData spatial_;
  CsrGraph graph_;
  std::string spatial_key_;
};

}  // namespace stai
