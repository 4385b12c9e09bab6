// stai command-line program — what a run reports: the gene matching, the inputs, the fit
// on the console, run metadata in uns, per-gene scores and label counts.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <stai/config.hpp>
#include <stai/data/genes.hpp>
#include <stai/eval/cross_validation.hpp>
#include <stai/model/pipeline.hpp>

#include "console.hpp"
#include "strings.hpp"

namespace stai::cli {

using json = nlohmann::json;

inline json gene_match_json(const GeneMatch& m, const std::vector<std::string>& model_genes) {
  json ci = json::array();
  for (const auto& [a, b] : m.case_insensitive) ci.push_back({a, b});
  return {{"shared", m.genes.size()},
          {"model_genes", model_genes},
          {"dropped_spatial", m.dropped_spatial},
          {"n_dropped_reference", m.dropped_reference.size()},
          {"case_insensitive", ci},
          {"warnings", m.warnings},
          {"notes", m.notes}};
}

inline json input_json(const std::string& path, const AnnData& a, DataState state) {
  return {{"path", path}, {"cells", a.n_obs()}, {"genes", a.n_vars()}, {"state", to_string(state)}};
}

/// Prints what fit() found (gene overlap, data states, notes) and passes the warnings on.
inline void report_fit(const FitReport& r, const Config& cfg, Console& con) {
  con.say("Genes: ", r.genes.size(), " shared between the spatial data and the reference; the model uses ",
          r.model_genes.size(), " of them in ", cfg.k_folds, " submodels");
  if (!r.genes.dropped_spatial.empty())
    con.say("  spatial genes not in the reference (ignored): ", join(r.genes.dropped_spatial, ", ", 10));
  con.say("Spatial data: ", to_string(r.spatial_state), " (scaled per gene); reference: ",
          to_string(r.reference_state),
          r.reference_state == DataState::LogNormalized ? " (used as is)" : " (normalised to 10,000 per cell + log1p)");
  if (!r.genes.case_insensitive.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [s, ref] : r.genes.case_insensitive) pairs.push_back(s + " ~ " + ref);
    con.warn(std::to_string(pairs.size()) + " gene(s) match only when case is ignored (spatial ~ reference): " +
             join(pairs, ", ", 10) + "; check that both data sets use the same gene nomenclature");
  }
  for (const auto& w : r.warnings) con.warn(w);
}

/// JSON as text; invalid UTF-8 (from a file name, say) is replaced, never an error.
inline std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// uns entries describing the run.
inline void put_run_metadata(AnnData& out, const std::string& command, const Config& cfg, const json& timings,
                             const json& genes, const json& extra = json::object()) {
  out.uns["stai_version"] = version();
  out.uns["stai_command"] = command;
  out.uns["stai_seed"] = std::to_string(cfg.seed);
  out.uns["stai_config"] = json_text(cfg.to_json());
  out.uns["stai_timings"] = json_text(timings);
  if (!genes.is_null()) out.uns["stai_gene_match"] = json_text(genes);
  for (const auto& [k, v] : extra.items()) out.uns[k] = v.is_string() ? v.get<std::string>() : json_text(v);
}

/// Per-gene agreement of an imputation with measured values (the library's
/// protocol: PCC, RMSE after z-scoring, JSD).
using eval::GeneScore;
using eval::score_gene;

inline json scores_json(const std::vector<GeneScore>& v) {
  json a = json::array();
  for (const auto& s : v) a.push_back({{"gene", s.gene}, {"pcc", s.pcc}, {"rmse", s.rmse}, {"jsd", s.jsd}});
  return a;
}

inline std::vector<double> pccs_of(const std::vector<GeneScore>& v) { return eval::metric_values(v, eval::Metric::PCC); }

using eval::mean_finite;

/// Counts of predicted labels, largest first.
inline std::vector<std::pair<std::string, index_t>> label_counts(const Annotation& ann) {
  std::map<std::string, index_t> m;
  for (const auto& l : ann.labels) ++m[l];
  std::vector<std::pair<std::string, index_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}

}  // namespace stai::cli
