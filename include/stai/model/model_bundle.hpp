// stai — a model bundle: a fitted ensemble plus what applying it to new data
// needs (scaling statistics, the reference's values of the imputable genes),
// in memory. Model files hold exactly one bundle: save_model
// (io/model_file_write.hpp) and load_model (io/model_file_read.hpp); the
// format is described in io/model_file_format.hpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../backend/cpu.hpp"
#include "../config.hpp"
#include "../data/preprocess.hpp"
#include "../error.hpp"
#include "../graph/csr.hpp"
#include "config.hpp"
#include "ensemble.hpp"
#include "submodel.hpp"

namespace stai {

namespace detail {
/// One parameter tensor of a submodel: name and shape.
struct ParamShape {
  std::string name;
  index_t rows = 0, cols = 0;
  bool operator==(const ParamShape&) const = default;
};
/// The parameter layout this build uses for a submodel with d_in fitting
/// genes and C classes (declaration order = order in the parameter block).
inline std::vector<ParamShape> parameter_layout(const Config& cfg, index_t d_in, index_t C) {
  Submodel<Cpu, float> m(cfg, d_in, C);
  std::vector<ParamShape> out;
  for (const auto& p : m.arena().info()) out.push_back({p.name, p.rows, p.cols});
  return out;
}
inline index_t layout_size(const std::vector<ParamShape>& l) {
  index_t n = 0;
  for (const auto& p : l) n += p.rows * p.cols;
  return n;
}
inline void check_unique_names(const std::vector<std::string>& names, const std::string& where,
                               const char* what) {
  std::unordered_set<std::string> seen;
  for (const auto& n : names)
    STAI_CHECK(seen.insert(n).second, where, ": the ", what, " list contains '", n,
               "' more than once; names must be unique");
}
}  // namespace detail

/// Everything a model file holds: a fitted ensemble (configuration, genes,
/// classes, submodels) plus what is needed to apply it to new data (scaling
/// statistics) and to impute (the reference's log-normalised values of the
/// imputable genes, sparse).
struct ModelBundle {
  Config config;
  std::vector<std::string> genes;        ///< model genes, in column order
  std::vector<std::string> class_names;  ///< empty: no classifier
  std::vector<SubmodelState> submodels;
  /// Scaling statistics of the spatial and the reference data. Either empty
  /// (not recorded) or covering exactly the model genes, in order.
  ScalingStats st_scaling, sc_scaling;
  std::vector<std::string> ref_genes;  ///< genes available for imputation
  /// The reference's log-normalised values of ref_genes, sparse: reference
  /// cell i holds ref_values[e] in column (gene) ref_pattern.indices[e] for e
  /// in [ref_pattern.indptr[i], ref_pattern.indptr[i+1]), columns strictly
  /// ascending; absent entries are 0. Set both with set_reference_values.
  CsrGraph ref_pattern;
  std::vector<float> ref_values;
  nlohmann::json metadata = nlohmann::json::object();  ///< free user metadata (an object)
  std::string library_version = version();  ///< set by load_model: the stai that wrote the file
  std::string created;                      ///< set by load_model: creation time, ISO 8601 UTC

  /// Reference cells (rows of every submodel's codes and of the reference values).
  index_t num_reference_cells() const { return submodels.empty() ? 0 : submodels.front().ref_codes.rows(); }

  /// Dense reference values (reference cells x genes) of the named genes, in
  /// the order given, for Ensemble::impute. Throws naming the missing genes.
  RowMatrix<float> reference_values(const std::vector<std::string>& wanted) const {
    std::vector<std::string> missing;
    const std::vector<index_t> cols = detail::lookup_columns(ref_genes, wanted, missing);
    if (!missing.empty())
      throw Error(detail::concat("the model's reference has no values for ", missing.size(), " of the ",
                                 wanted.size(), " requested genes: ", detail::quoted_list(missing),
                                 "; the model can impute only the ", ref_genes.size(),
                                 " reference genes stored in it (ModelBundle::ref_genes); "
                                 "save the model again with a reference that contains these genes"));
    return reference_columns(cols);
  }

  /// Dense reference values of all ref_genes (reference cells x ref_genes).
  RowMatrix<float> reference_values() const {
    std::vector<index_t> cols(ref_genes.size());
    for (std::size_t q = 0; q < cols.size(); ++q) cols[q] = static_cast<index_t>(q);
    return reference_columns(cols);
  }

  /// Stores X (reference cells x ref_genes) sparsely: every entry that is not
  /// 0 (-0.0 counts as 0) is kept.
  void set_reference_values(const RowMatrix<float>& X) {
    ref_pattern = CsrGraph{};
    ref_pattern.n = X.rows();
    ref_pattern.indptr.assign(static_cast<std::size_t>(X.rows()) + 1, 0);
    ref_values.clear();
    for (index_t i = 0; i < X.rows(); ++i) {
      for (index_t j = 0; j < X.cols(); ++j)
        if (X(i, j) != 0.0f) {
          ref_pattern.indices.push_back(j);
          ref_values.push_back(X(i, j));
        }
      ref_pattern.indptr[static_cast<std::size_t>(i) + 1] = ref_pattern.num_edges();
    }
  }

  /// Throws unless the pieces fit together (sizes, indices, names, parameter
  /// layout of this build). `where` (e.g. the file name) prefixes messages.
  void check(const std::string& where = "model") const {
    config.validate();
    const index_t G = static_cast<index_t>(genes.size());
    const index_t C = static_cast<index_t>(class_names.size());
    STAI_CHECK(G >= 1, where, ": the model has no genes");
    detail::check_unique_names(genes, where, "model gene");
    detail::check_unique_names(class_names, where, "class name");
    detail::check_unique_names(ref_genes, where, "reference gene");
    STAI_CHECK(!submodels.empty(), where, ": the model has no submodels (fit the ensemble before saving)");
    const index_t n2 = num_reference_cells();
    STAI_CHECK(n2 >= 1, where, ": submodel 0 has no reference codes");
    for (std::size_t f = 0; f < submodels.size(); ++f) {
      const SubmodelState& s = submodels[f];
      const std::string sw = detail::concat(where, ": submodel ", f);
      STAI_CHECK(!s.fit.empty(), sw, " has no fitting genes");
      std::vector<char> used(static_cast<std::size_t>(G), 0);
      for (const auto* list : {&s.fit, &s.calibration})
        for (index_t g : *list) {
          STAI_CHECK(g >= 0 && g < G, sw, ": gene index ", g, " outside [0, ", G, ")");
          STAI_CHECK(!used[static_cast<std::size_t>(g)], sw, ": gene index ", g,
                     " appears twice in its fitting / calibration genes");
          used[static_cast<std::size_t>(g)] = 1;
        }
      const index_t want = detail::layout_size(
          detail::parameter_layout(config, static_cast<index_t>(s.fit.size()), C));
      STAI_CHECK(static_cast<index_t>(s.params.size()) == want, sw, " has ", s.params.size(),
                 " parameters but a model with this configuration, ", s.fit.size(), " fitting genes and ", C,
                 " classes has ", want);
      STAI_CHECK(s.ref_codes.rows() == n2 && s.ref_codes.cols() == config.d_latent, sw,
                 ": reference codes are ", s.ref_codes.rows(), " x ", s.ref_codes.cols(), ", expected ", n2,
                 " x ", config.d_latent, " (reference cells x d_latent)");
    }
    for (const auto& [st, side] : {std::pair{&st_scaling, "spatial"}, {&sc_scaling, "reference"}}) {
      st->check(detail::concat(where, ": ", side, " scaling statistics"));
      STAI_CHECK(st->genes.empty() || st->genes == genes, where, ": the ", side,
                 " scaling statistics cover ", st->genes.size(), " genes that are not the ", G,
                 " model genes in order; give statistics fitted on exactly the model genes (or none)");
    }
    check_reference_values(where, n2);
    STAI_CHECK(metadata.is_object(), where, ": metadata must be a JSON object, got ", metadata.type_name());
  }

 private:
  /// Dense columns `cols` of the reference values, in the order given
  /// (repeats allowed): out(i, q) = value of reference cell i in column cols[q].
  RowMatrix<float> reference_columns(const std::vector<index_t>& cols) const {
    const CsrGraph& P = ref_pattern;
    const index_t nc = static_cast<index_t>(ref_genes.size()), nq = static_cast<index_t>(cols.size());
    check_reference_values("model", P.n);
    // first[c]: first output column taking source column c; next[q]: the next one after q.
    std::vector<index_t> first(static_cast<std::size_t>(nc), -1), next(cols.size(), -1);
    for (index_t q = nq - 1; q >= 0; --q) {
      const index_t c = cols[static_cast<std::size_t>(q)];
      STAI_CHECK(c >= 0 && c < nc, "reference values: column ", c, " outside [0, ", nc, ")");
      next[static_cast<std::size_t>(q)] = first[static_cast<std::size_t>(c)];
      first[static_cast<std::size_t>(c)] = q;
    }
    RowMatrix<float> out = RowMatrix<float>::Zero(P.n, nq);
    for (index_t i = 0; i < P.n; ++i)
      for (index_t e = P.indptr[i]; e < P.indptr[i + 1]; ++e)
        for (index_t q = first[static_cast<std::size_t>(P.indices[static_cast<std::size_t>(e)])]; q >= 0;
             q = next[static_cast<std::size_t>(q)])
          out(i, q) = ref_values[static_cast<std::size_t>(e)];
    return out;
  }

  /// Throws unless the reference values are n2 rows of ref_genes.size()
  /// columns, well formed and finite.
  void check_reference_values(const std::string& where, index_t n2) const {
    const std::string w = detail::concat(where, ": reference values");
    STAI_CHECK(ref_genes.size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), w, ": ",
               ref_genes.size(), " reference genes do not fit a 32-bit column index");
    STAI_CHECK(ref_pattern.n == n2, where, ": the reference values have ", ref_pattern.n,
               " rows but there are ", n2, " reference cells (with no imputable genes, "
               "pass set_reference_values a reference-cells x 0 matrix)");
    ref_pattern.validate_columns(static_cast<index_t>(ref_genes.size()),
                                 detail::concat(w, " (one column per reference gene, ", ref_genes.size(), ")"));
    STAI_CHECK(ref_values.size() == ref_pattern.indices.size(), w, ": ", ref_pattern.indices.size(),
               " column indices but ", ref_values.size(), " values");
    for (index_t i = 0; i < ref_pattern.n; ++i)
      for (index_t e = ref_pattern.indptr[i]; e < ref_pattern.indptr[i + 1]; ++e)
        STAI_CHECK(std::isfinite(ref_values[static_cast<std::size_t>(e)]), w, ": value at (row ", i, ", column ",
                   ref_pattern.indices[static_cast<std::size_t>(e)], ") is ", ref_values[static_cast<std::size_t>(e)],
                   "; values must be finite");
  }
};

/// A bundle of a fitted ensemble plus its preprocessing and reference values.
template <class B, class T>
ModelBundle make_model_bundle(const Ensemble<B, T>& e, ScalingStats st_scaling, ScalingStats sc_scaling,
                              std::vector<std::string> ref_genes, const RowMatrix<float>& ref_values,
                              nlohmann::json metadata = nlohmann::json::object()) {
  ModelBundle b;
  b.config = e.config();
  b.genes = e.genes();
  b.class_names = e.class_names();
  b.submodels = e.submodels();
  b.st_scaling = std::move(st_scaling);
  b.sc_scaling = std::move(sc_scaling);
  b.ref_genes = std::move(ref_genes);
  b.set_reference_values(ref_values);
  b.metadata = std::move(metadata);
  return b;
}

/// Restores `e` from a (loaded) bundle: Ensemble::restore with copies of its pieces.
template <class B, class T>
void restore_ensemble(Ensemble<B, T>& e, const ModelBundle& b) {
  b.check();
  e.restore(b.config, b.genes, b.class_names, b.submodels);
}

}  // namespace stai
