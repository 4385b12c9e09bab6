// stai — k-fold calibration training and the ensemble of submodels.
//
// docs/model.md "Training": the model genes are split into k seeded folds
// (scikit-learn's shuffled KFold, reproduced exactly); submodel f uses fold f
// as calibration genes and the rest as fitting genes. Each submodel is
// trained (full batch by default, or spatial minibatches that keep every
// owned cell's full neighbourhood, paired with sampled reference batches),
// then kept as parameters plus its reference codes, so it can impute and
// annotate NEW spatial data without the reference's training matrices.
// Final imputation = mean over submodels (the spread across submodels is
// returned as an uncertainty estimate); final annotation = argmax of the mean
// class probabilities.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "../graph/csr.hpp"
#include "../graph/minibatch.hpp"
#include "../losses/cross_entropy.hpp"
#include "../losses/gene_consistency.hpp"
#include "folds.hpp"
#include "submodel.hpp"

namespace stai {

/// Training data after preprocessing (host memory).
struct ModelInputs {
  RowMatrix<float> st;              ///< spatial cells x model genes, scaled
  RowMatrix<float> sc;              ///< reference cells x model genes, scaled
  std::vector<std::string> genes;   ///< the model genes (columns of st and sc)
  CsrGraph graph;                   ///< spatial kNN graph (row i: i's neighbours, i included)
  RowMatrix<double> coords;         ///< spatial coordinates (minibatch mode only)
  std::vector<index_t> labels;      ///< reference labels in [0, C) (empty: no classifier)
  std::vector<std::string> class_names;

  void validate() const {
    STAI_CHECK(st.cols() == sc.cols() && static_cast<index_t>(genes.size()) == st.cols(),
               "model inputs: spatial, reference and gene list disagree on the number of genes (",
               st.cols(), ", ", sc.cols(), ", ", genes.size(), ")");
    STAI_CHECK(graph.n == st.rows(), "model inputs: the spatial graph has ", graph.n,
               " nodes but there are ", st.rows(), " spatial cells");
    STAI_CHECK(labels.empty() || static_cast<index_t>(labels.size()) == sc.rows(),
               "model inputs: ", labels.size(), " labels for ", sc.rows(), " reference cells");
    for (index_t l : labels)
      STAI_CHECK(l >= 0 && l < static_cast<index_t>(class_names.size()),
                 "model inputs: label ", l, " outside [0, ", class_names.size(), ")");
  }
};

/// What the progress callback receives.
struct Progress {
  int submodel = 0, n_submodels = 0;  ///< 0-based submodel, count
  int epoch = 0, n_epochs = 0;        ///< epochs done, total
  LossTerms loss;                     ///< last step's loss terms
  double seconds = 0;                 ///< wall time since fit() started
};
/// Return false to cancel training.
using ProgressFn = std::function<bool(const Progress&)>;

/// Thrown when the progress callback cancels training.
class Cancelled : public Error {
 public:
  Cancelled() : Error("training cancelled") {}
};

/// A trained submodel: its genes, parameters and reference codes.
struct SubmodelState {
  std::vector<index_t> fit, calibration;  ///< indices into the model genes
  /// Validation genes (Config::validation_fold): neither inputs nor
  /// calibration genes of this submodel. Known after fit(); not kept in
  /// model files (the refinement's choices are, in the configuration).
  std::vector<index_t> validation;
  std::vector<float> params;              ///< the parameter block (float)
  RowMatrix<float> ref_codes;             ///< z2 of the reference cells (n2 x d)
  LossTerms final_loss;
};

/// Imputed values: mean over submodels and the spread (sample standard
/// deviation across submodels, 0 with one submodel).
struct Imputation {
  RowMatrix<float> mean, sd;
};

namespace detail {
template <class T>
RowMatrix<T> columns(const RowMatrix<float>& X, const std::vector<index_t>& cols) {
  RowMatrix<T> out(X.rows(), static_cast<index_t>(cols.size()));
  for (index_t i = 0; i < X.rows(); ++i)
    for (std::size_t j = 0; j < cols.size(); ++j) out(i, static_cast<index_t>(j)) = static_cast<T>(X(i, cols[j]));
  return out;
}
template <class T>
RowMatrix<T> rows_of(const RowMatrix<T>& X, const std::vector<index_t>& rows) {
  RowMatrix<T> out(static_cast<index_t>(rows.size()), X.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<index_t>(i)) = X.row(rows[i]);
  return out;
}
}  // namespace detail

template <class B, class T>
class Ensemble {
 public:
  Ensemble() = default;

  const Config& config() const { return cfg_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<SubmodelState>& submodels() const { return subs_; }
  index_t num_reference_cells() const { return subs_.empty() ? 0 : subs_[0].ref_codes.rows(); }
  bool has_classifier() const { return !class_names_.empty(); }

  /// Records the refinement parameters chosen after fit() (Config keys
  /// ridge_lambda, ridge_lambda_lognorm, linear_lognorm, blend_weight,
  /// smooth_alpha), so that model files keep them.
  void resolve_refinement(double lambda, double lambda_lognorm, double share, double weight, double alpha) {
    cfg_.ridge_lambda_lognorm = lambda_lognorm;
    cfg_.linear_lognorm = share;
    cfg_.ridge_lambda = lambda;
    cfg_.blend_weight = weight;
    cfg_.smooth_alpha = alpha;
    cfg_.validate();
  }

  /// Restores a fitted ensemble (model files).
  void restore(Config cfg, std::vector<std::string> genes, std::vector<std::string> class_names,
               std::vector<SubmodelState> subs) {
    cfg_ = std::move(cfg);
    genes_ = std::move(genes);
    class_names_ = std::move(class_names);
    subs_ = std::move(subs);
  }

  /// Trains the k submodels. The folds come from a numpy-compatible random
  /// state seeded with cfg.seed unless `folds` is given.
  void fit(B& be, const ModelInputs& in, const Config& cfg, const ProgressFn& progress = {},
           std::vector<Fold> folds = {}) {
    cfg.validate();
    in.validate();
    cfg_ = cfg;
    genes_ = in.genes;
    class_names_ = in.labels.empty() ? std::vector<std::string>{} : in.class_names;
    if (folds.empty()) {
      NumpyRandomState rs(static_cast<std::uint32_t>(cfg.seed));
      folds = kfold_split(static_cast<index_t>(in.genes.size()), cfg.k_folds, rs);
    }
    STAI_CHECK(in.st.rows() >= 2 && in.sc.rows() >= 2, "training needs at least 2 cells on each side");
    subs_.clear();
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<std::vector<index_t>> validation = validation_genes(folds);
    for (std::size_t f = 0; f < folds.size(); ++f) {
      Fold fold = folds[f];
      if (!validation[f].empty()) {
        std::vector<index_t> fit;
        for (index_t g : fold.fit)
          if (!std::binary_search(validation[f].begin(), validation[f].end(), g)) fit.push_back(g);
        fold.fit = std::move(fit);
      }
      subs_.push_back(train_one(be, in, fold, static_cast<int>(f), static_cast<int>(folds.size()), progress, t0));
      subs_.back().validation = validation[f];
    }
  }

  /// Config::validation_fold: submodel f's validation genes are the
  /// calibration genes of fold f + 1 (cyclically), so every model gene is a
  /// validation gene of exactly one submodel. Empty sets otherwise.
  std::vector<std::vector<index_t>> validation_genes(const std::vector<Fold>& folds) const {
    std::vector<std::vector<index_t>> v(folds.size());
    if (!cfg_.validation_fold) return v;
    STAI_CHECK(folds.size() >= 3, "validation_fold needs at least 3 gene folds, got ", folds.size());
    for (std::size_t f = 0; f < folds.size(); ++f) {
      v[f] = folds[(f + 1) % folds.size()].calibration;
      std::sort(v[f].begin(), v[f].end());
    }
    return v;
  }

  /// Each model gene's prediction (spatial cells x model genes) by the
  /// submodel for which it is a validation gene; `model_values` are the
  /// reference values of the model genes (reference cells x model genes).
  /// Needs a fit with Config::validation_fold.
  RowMatrix<float> validation_predictions(B& be, const RowMatrix<float>& st, const CsrGraph& g,
                                          const RowMatrix<float>& model_values) const {
    check_ready(st, g);
    const index_t G = static_cast<index_t>(genes_.size());
    STAI_CHECK(model_values.cols() == G && model_values.rows() == num_reference_cells(),
               "validation predictions: the values must be reference cells x the ", G, " model genes");
    RowMatrix<float> out = RowMatrix<float>::Zero(st.rows(), G);
    std::vector<int> covered(static_cast<std::size_t>(G), 0);
    GatGraph<B> gg(be, g);
    for (const auto& sub : subs_) {
      if (sub.validation.empty()) continue;
      const RowMatrix<T> h = predict_one(be, sub, st, gg, detail::columns<float>(model_values, sub.validation));
      for (std::size_t c = 0; c < sub.validation.size(); ++c) {
        out.col(sub.validation[c]) = h.col(static_cast<index_t>(c)).template cast<float>();
        ++covered[static_cast<std::size_t>(sub.validation[c])];
      }
    }
    for (index_t j = 0; j < G; ++j)
      STAI_CHECK(covered[static_cast<std::size_t>(j)] == 1, "validation predictions: model gene '",
                 genes_[static_cast<std::size_t>(j)], "' is the validation gene of ",
                 covered[static_cast<std::size_t>(j)], " submodels (train with validation_fold: true)");
    return out;
  }

  /// Imputes `values` (reference cells x genes, e.g. log-normalised
  /// expression of any reference genes) for spatial cells `st` (scaled model
  /// genes, in genes() order) with kNN graph `g`.
  Imputation impute(B& be, const RowMatrix<float>& st, const CsrGraph& g,
                    const RowMatrix<float>& values) const {
    check_ready(st, g);
    STAI_CHECK(values.rows() == num_reference_cells(), "impute: the values have ", values.rows(),
               " rows but the model's reference has ", num_reference_cells(), " cells");
    const index_t n1 = st.rows(), G = values.cols();
    Imputation out;
    out.mean = RowMatrix<float>::Zero(n1, G);
    RowMatrix<double> m = RowMatrix<double>::Zero(n1, G), m2 = RowMatrix<double>::Zero(n1, G);
    GatGraph<B> gg(be, g);
    Matrix<B, T> v, y;
    upload(be, RowMatrix<T>(values.template cast<T>()), v);
    y.resize(n1, G);
    index_t s = 0;
    for (const auto& sub : subs_) {
      const RowMatrix<T> h = predict_one(be, sub, st, gg, v, y);
      ++s;
      // Welford's running mean and sum of squares
      for (index_t e = 0; e < h.size(); ++e) {
        const double x1 = static_cast<double>(h.data()[e]);
        const double delta = x1 - m.data()[e];
        m.data()[e] += delta / double(s);
        m2.data()[e] += delta * (x1 - m.data()[e]);
      }
    }
    out.mean = m.cast<float>();
    out.sd = RowMatrix<float>::Zero(n1, G);
    if (s > 1)
      for (index_t e = 0; e < m2.size(); ++e)
        out.sd.data()[e] = static_cast<float>(std::sqrt(m2.data()[e] / double(s - 1)));
    return out;
  }

  /// Mean class probabilities over submodels (spatial cells x classes).
  RowMatrix<float> annotate(B& be, const RowMatrix<float>& st, const CsrGraph& g) const {
    check_ready(st, g);
    STAI_CHECK(has_classifier(), "annotate: the model was trained without reference labels; "
               "train with a label column (e.g. --label-key celltype)");
    const index_t n1 = st.rows(), C = static_cast<index_t>(class_names_.size());
    RowMatrix<double> acc = RowMatrix<double>::Zero(n1, C);
    GatGraph<B> gg(be, g);
    for (const auto& sub : subs_) {
      auto model = make_model(be, sub);
      Context<B> ctx{be, false, cfg_.seed, 0};
      Matrix<B, T> x, z1, p;
      upload(be, detail::columns<T>(st, sub.fit), x);
      z1.resize(n1, cfg_.d_latent);
      p.resize(n1, C);
      model->encode_spatial(ctx, x.cref(), gg, z1.ref());
      model->class_probabilities(ctx, z1.cref(), p.ref());
      acc += download(be, p.cref()).template cast<double>();
    }
    return (acc / double(subs_.size())).cast<float>();
  }

  /// Latent codes of the spatial cells, one matrix per submodel.
  std::vector<RowMatrix<float>> embed(B& be, const RowMatrix<float>& st, const CsrGraph& g) const {
    check_ready(st, g);
    std::vector<RowMatrix<float>> out;
    GatGraph<B> gg(be, g);
    for (const auto& sub : subs_) {
      auto model = make_model(be, sub);
      Context<B> ctx{be, false, cfg_.seed, 0};
      Matrix<B, T> x, z1;
      upload(be, detail::columns<T>(st, sub.fit), x);
      z1.resize(st.rows(), cfg_.d_latent);
      model->encode_spatial(ctx, x.cref(), gg, z1.ref());
      out.push_back(download(be, z1.cref()).template cast<float>());
    }
    return out;
  }

 private:
  void check_ready(const RowMatrix<float>& st, const CsrGraph& g) const {
    STAI_CHECK(!subs_.empty(), "the ensemble has not been fitted (call fit() or load a model)");
    STAI_CHECK(st.cols() == static_cast<index_t>(genes_.size()), "the spatial data have ", st.cols(),
               " model genes but the model was trained on ", genes_.size());
    STAI_CHECK(g.n == st.rows(), "the spatial graph has ", g.n, " nodes for ", st.rows(), " cells");
  }

  /// One submodel's attention-weighted values v (uploaded) for cells st,
  /// through the output buffer y (cells x v.cols()).
  RowMatrix<T> predict_one(B& be, const SubmodelState& sub, const RowMatrix<float>& st, const GatGraph<B>& gg,
                           const Matrix<B, T>& v, Matrix<B, T>& y) const {
    auto model = make_model(be, sub);
    Context<B> ctx{be, false, cfg_.seed, 0};
    Matrix<B, T> x, z1, z2;
    upload(be, detail::columns<T>(st, sub.fit), x);
    upload(be, RowMatrix<T>(sub.ref_codes.template cast<T>()), z2);
    z1.resize(st.rows(), cfg_.d_latent);
    model->encode_spatial(ctx, x.cref(), gg, z1.ref());
    model->attend(ctx, z1.cref(), z2.cref());
    model->apply_attention(ctx, v.cref(), y.ref());
    return download(be, y.cref());
  }
  RowMatrix<T> predict_one(B& be, const SubmodelState& sub, const RowMatrix<float>& st, const GatGraph<B>& gg,
                           const RowMatrix<float>& values) const {
    Matrix<B, T> v, y;
    upload(be, RowMatrix<T>(values.template cast<T>()), v);
    y.resize(st.rows(), values.cols());
    return predict_one(be, sub, st, gg, v, y);
  }

  std::unique_ptr<Submodel<B, T>> make_model(B& be, const SubmodelState& sub) const {
    auto m = std::make_unique<Submodel<B, T>>(cfg_, static_cast<index_t>(sub.fit.size()),
                                               static_cast<index_t>(class_names_.size()));
    std::vector<T> p(sub.params.begin(), sub.params.end());
    m->set_parameters(be, p);
    return m;
  }

  SubmodelState train_one(B& be, const ModelInputs& in, const Fold& fold, int f, int nf,
                          const ProgressFn& progress, std::chrono::steady_clock::time_point t0) {
    const index_t n1 = in.st.rows(), n2 = in.sc.rows();
    const index_t nfit = static_cast<index_t>(fold.fit.size()), ncal = static_cast<index_t>(fold.calibration.size());
    STAI_CHECK(nfit >= 1 && ncal >= 1, "fold ", f, " has ", nfit, " fitting and ", ncal,
               " calibration genes; both need at least one");
    const index_t C = static_cast<index_t>(class_names_.size());
    Submodel<B, T> model(cfg_, nfit, C);
    model.initialize(be, cfg_.seed);

    // Host matrices of this fold.
    const RowMatrix<T> st_fit = detail::columns<T>(in.st, fold.fit);
    const RowMatrix<T> st_cal = detail::columns<T>(in.st, fold.calibration);
    const RowMatrix<T> sc_fit = detail::columns<T>(in.sc, fold.fit);
    const RowMatrix<T> sc_cal = detail::columns<T>(in.sc, fold.calibration);

    // Labels and class weights (1 / count^p_class; classes absent -> count 1, as the reference).
    Buffer<B, index_t> labels;
    Buffer<B, T> cw;
    const bool use_labels = C > 0;
    std::vector<index_t> lab = in.labels;
    std::vector<T> w;
    if (use_labels && cfg_.p_class > 0) {
      std::vector<double> cnt(static_cast<std::size_t>(C), 0.0);
      for (index_t l : lab) cnt[static_cast<std::size_t>(l)] += 1;
      for (double c : cnt) w.push_back(static_cast<T>(1.0 / std::pow(c > 0 ? c : 1.0, cfg_.p_class)));
    }

    const bool full = cfg_.spatial_batchsize < 0 || cfg_.spatial_batchsize >= n1;
    const bool full_sc = cfg_.rna_batchsize < 0 || cfg_.rna_batchsize >= n2;
    Context<B> ctx{be, true, cfg_.seed, 0};
    LossTerms last;
    auto report = [&](int epoch) {
      if (!progress) return;
      Progress p;
      p.submodel = f;
      p.n_submodels = nf;
      p.epoch = epoch;
      p.n_epochs = cfg_.num_epoch;
      p.loss = last;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!progress(p)) throw Cancelled();
    };

    // Reference side: full batch or sampled batches (drop_last, as the reference's loader).
    const index_t sc_bs = full_sc ? n2 : cfg_.rna_batchsize;
    Matrix<B, T> d_sc_fit, d_sc_cal, d_A2;
    Buffer<B, index_t> d_lab;
    if (!w.empty()) {
      cw.reserve(C);
      copy_from_host(be, cw.data(), w.data(), C);
    }
    auto upload_sc = [&](const std::vector<index_t>* rows) {
      if (rows) {
        upload(be, detail::rows_of(sc_fit, *rows), d_sc_fit);
        upload(be, detail::rows_of(sc_cal, *rows), d_sc_cal);
      } else {
        upload(be, sc_fit, d_sc_fit);
        upload(be, sc_cal, d_sc_cal);
      }
      if (use_labels) {
        std::vector<index_t> l;
        if (rows) for (index_t r : *rows) l.push_back(lab[static_cast<std::size_t>(r)]);
        else l = lab;
        d_lab.reserve(static_cast<index_t>(l.size()));
        copy_from_host(be, d_lab.data(), l.data(), static_cast<index_t>(l.size()));
      }
      if (cfg_.lam_genegraph > 0) {
        d_A2.resize(nfit, ncal);
        gene_correlation(ctx, d_sc_fit.cref(), d_sc_cal.cref(), d_A2.ref());
      }
    };
    auto sc_batches = [&](std::uint64_t epoch) {
      std::vector<std::vector<index_t>> out;
      Rng rng(cfg_.seed, 0x5cb0 + epoch);
      const auto perm = permutation(n2, rng);
      for (index_t s = 0; s + sc_bs <= n2; s += sc_bs)
        out.emplace_back(perm.begin() + s, perm.begin() + s + sc_bs);
      return out;
    };

    if (full) {
      Matrix<B, T> d_st_fit, d_st_cal;
      upload(be, st_fit, d_st_fit);
      upload(be, st_cal, d_st_cal);
      GatGraph<B> gg(be, in.graph);
      if (full_sc) upload_sc(nullptr);
      for (int e = 0; e < cfg_.num_epoch; ++e) {
        // Full batch: the reference's per-epoch shuffle permutes rows and the
        // (exact) graph with them, which changes nothing; it is skipped.
        const auto scb = full_sc ? std::vector<std::vector<index_t>>{} : sc_batches(static_cast<std::uint64_t>(e));
        const std::size_t steps = full_sc ? 1 : scb.size();
        for (std::size_t s = 0; s < steps; ++s) {
          if (!full_sc) upload_sc(&scb[s]);
          StepBatch<B, T> b{d_st_fit.cref(), d_st_cal.cref(), &gg, n1, d_sc_fit.cref(), d_sc_cal.cref(),
                            use_labels ? d_lab.data() : nullptr, w.empty() ? nullptr : cw.data(),
                            d_A2.cref()};
          last = model.train_step(ctx, b);
          ++ctx.step;
        }
        if ((e + 1) % cfg_.eval_step == 0 || e + 1 == cfg_.num_epoch) report(e + 1);
      }
    } else {
      STAI_CHECK(in.coords.rows() == n1, "spatial minibatches need the spatial coordinates");
      const SpatialBatches sb = make_spatial_batches(in.coords, in.graph, cfg_.spatial_batchsize);
      std::vector<GatGraph<B>> graphs;
      for (const auto& b : sb.batches) graphs.emplace_back(be, b.graph);
      Matrix<B, T> d_st_fit, d_st_cal;
      if (full_sc) upload_sc(nullptr);
      for (int e = 0; e < cfg_.num_epoch; ++e) {
        const auto order = sb.epoch_order(cfg_.seed, static_cast<std::uint64_t>(e));
        const auto scb = full_sc ? std::vector<std::vector<index_t>>{} : sc_batches(static_cast<std::uint64_t>(e));
        const std::size_t steps = full_sc ? order.size() : std::min(order.size(), scb.size());
        for (std::size_t s = 0; s < steps; ++s) {
          const SpatialBatch& batch = sb.batches[static_cast<std::size_t>(order[s])];
          if (batch.n_owned < 2) continue;
          upload(be, detail::rows_of(st_fit, batch.nodes), d_st_fit);
          const std::vector<index_t> owned(batch.nodes.begin(), batch.nodes.begin() + batch.n_owned);
          upload(be, detail::rows_of(st_cal, owned), d_st_cal);
          if (!full_sc) upload_sc(&scb[s]);
          StepBatch<B, T> b{d_st_fit.cref(), d_st_cal.cref(), &graphs[static_cast<std::size_t>(order[s])],
                            batch.n_owned, d_sc_fit.cref(), d_sc_cal.cref(),
                            use_labels ? d_lab.data() : nullptr, w.empty() ? nullptr : cw.data(),
                            d_A2.cref()};
          last = model.train_step(ctx, b);
          ++ctx.step;
        }
        if ((e + 1) % cfg_.eval_step == 0 || e + 1 == cfg_.num_epoch) report(e + 1);
      }
    }

    // Keep the parameters and the reference codes (evaluation mode).
    SubmodelState st;
    st.fit = fold.fit;
    st.calibration = fold.calibration;
    const auto p = model.parameters(be);
    st.params.assign(p.begin(), p.end());
    Context<B> ectx{be, false, cfg_.seed, 0};
    Matrix<B, T> x2, z2;
    upload(be, sc_fit, x2);
    z2.resize(n2, cfg_.d_latent);
    model.encode_reference(ectx, x2.cref(), z2.ref());
    st.ref_codes = download(be, z2.cref()).template cast<float>();
    st.final_loss = last;
    return st;
  }

  Config cfg_;
  std::vector<std::string> genes_, class_names_;
  std::vector<SubmodelState> subs_;
};

}  // namespace stai
