// stai command-line program — "train a model on the inputs, or load a saved
// one", shared by `stai impute` and `stai annotate`.
#pragma once
#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <stai/io/model_file_read.hpp>
#include <stai/io/model_file_write.hpp>
#include <stai/model/pipeline.hpp>
#include <stai/plot/plot.hpp>

#include "annotation.hpp"
#include "backend.hpp"
#include "console.hpp"
#include "matrix_columns.hpp"
#include "options.hpp"
#include "path_guard.hpp"
#include "outputs.hpp"
#include "progress.hpp"
#include "readers.hpp"
#include "report.hpp"
#include "run_config.hpp"
#include "strings.hpp"

namespace stai::cli {

/// A fitted (or loaded) model and what the outputs need to know about it.
template <class B>
struct Trained {
  Pipeline<B, float> model;
  bool loaded = false;         ///< from --model
  AnnData spatial;             ///< the spatial cells the outputs describe (obs, obsm, measured X)
  std::vector<std::string> ref_genes;  ///< genes the model can impute
  Config cfg;                  ///< the configuration used (or stored in the model)
  FitReport report;            ///< fit path only
  json genes = nullptr;        ///< gene matching report (fit path)
  json inputs = json::object();
  json timings = json::object();
};

/// Called after the inputs are read and before training (to check requests
/// early): reference (or model) genes, spatial data.
using Precheck = std::function<void(const std::vector<std::string>& ref_genes, const AnnData& spatial)>;

inline void check_model_options(const CommonOptions& o) {
  if (!o.save_model.empty() && !o.model.empty())
    throw UsageError("--save-model and --model cannot be combined: the model is already saved");
  if (!o.model.empty() && !o.reference.empty())
    throw UsageError("give either --reference (to train a model) or --model (to use a saved one), not both");
  if (o.model.empty() && o.reference.empty())
    throw UsageError("give --reference (the scRNA-seq data to train with) or --model (a model saved with --save-model)");
}

template <class B>
Trained<B> train_or_load(const CommonOptions& o, const Config& base, bool need_labels, Console& con, B& be,
                         const Precheck& precheck) {
  Trained<B> t;
  Stopwatch sw;
  if (!o.model.empty()) {
    need_file(o.model, "--model");
    if (!o.config_path.empty() || o.epochs != kEpochsUnset)
      con.warn("--config and --epochs are ignored with --model: the saved model is used as trained");
    if (!o.label_key.empty()) con.warn("--label-key is ignored with --model: the model's cell types are used");
    ModelBundle b = load_model(o.model);
    t.spatial = read_spatial(o);
    t.inputs["spatial"] = input_json(o.spatial, t.spatial, detect_state(t.spatial.X).state);
    t.inputs["model"] = {{"path", o.model},
                         {"genes", b.genes.size()},
                         {"classes", b.class_names},
                         {"reference_cells", b.num_reference_cells()},
                         {"written_by", b.library_version},
                         {"created", b.created}};
    t.timings["read"] = sw.seconds();
    if (need_labels && b.class_names.empty())
      throw Error("--model: " + o.model + " was trained without cell-type labels and cannot annotate; train a "
                  "model with --label-key");
    if (precheck) precheck(b.ref_genes, t.spatial);
    Ensemble<B, float> ens;
    restore_ensemble(ens, b);
    t.cfg = b.config;
    t.ref_genes = b.ref_genes;
    t.model.restore(std::move(ens), b.st_scaling, b.sc_scaling, b.ref_genes, b.reference_values());
    t.loaded = true;
    con.say("Loaded the model ", o.model, " (", b.genes.size(), " genes, ", b.submodels.size(), " submodels",
            b.class_names.empty() ? std::string() : ", " + std::to_string(b.class_names.size()) + " cell types",
            ", ", b.ref_genes.size(), " imputable genes)");
    return t;
  }

  if (need_labels && o.label_key.empty() && o.labels.empty())
    throw UsageError("--label-key is required: name the reference's obs column with the cell types "
                     "(e.g. --label-key celltype; 'stai inspect REFERENCE' lists the columns)");
  t.cfg = build_config(base, o, con);
  AnnData spatial = read_spatial(o);
  CommonOptions o2 = o;
  if (o2.label_key.empty() && !o2.labels.empty()) o2.label_key = "celltype";
  AnnData reference = read_reference(o2);
  t.timings["read"] = sw.seconds();
  con.say("Read ", o.spatial, ": ", spatial.n_obs(), " cells x ", spatial.n_vars(), " genes; ", o.reference, ": ",
          reference.n_obs(), " cells x ", reference.n_vars(), " genes");
  if (precheck) precheck(reference.var_names, spatial);
  t.ref_genes = reference.var_names;

  FitOptions fo;
  fo.spatial_key = o.spatial_key;
  fo.label_key = o2.label_key;
  fo.spatial_state = parse_state(o.spatial_state);
  fo.reference_state = parse_state(o.reference_state);
  fo.drop_zero_cells = o.drop_empty_cells;
  con.say("Training ", t.cfg.k_folds, " submodels x ", t.cfg.num_epoch, " epochs (seed ", t.cfg.seed, ", ",
          backend_text(be), ")...");
  sw.reset();
  t.report = fit_with_progress(t.model, be, std::move(spatial), std::move(reference), t.cfg, fo, o.quiet);
  t.timings["train"] = sw.seconds();
  con.say("Trained in ", duration(sw.seconds()));
  report_fit(t.report, t.cfg, con);
  t.spatial = t.model.spatial();
  t.genes = gene_match_json(t.report.genes, t.report.model_genes);
  t.inputs["spatial"] = {{"path", o.spatial},
                         {"cells", t.report.n_spatial},
                         {"genes", t.spatial.n_vars()},
                         {"state", to_string(t.report.spatial_state)},
                         {"dropped_cells", t.report.dropped_spatial_cells.size()}};
  t.inputs["reference"] = {{"path", o.reference},
                           {"cells", t.report.n_reference},
                           {"genes", t.ref_genes.size()},
                           {"state", to_string(t.report.reference_state)},
                           {"dropped_cells", t.report.dropped_reference_cells.size()}};
  return t;
}

/// Saves the trained model (with the run's metadata).
template <class B>
void save_trained(const Trained<B>& t, const CommonOptions& o, const std::string& command) {
  json meta = {{"command", command}, {"spatial", utf8_text(o.spatial)}, {"reference", utf8_text(o.reference)},
               {"spatial_key", utf8_text(o.spatial_key)}, {"label_key", utf8_text(o.label_key)}};
  ModelBundle b = make_model_bundle(t.model.ensemble(), t.model.spatial_scaling(), t.model.reference_scaling(),
                                    t.model.reference_genes(), t.model.reference_lognorm(), meta);
  b.config.eval_step = t.cfg.eval_step;
  save_model(o.save_model, b);
}

/// Checks that every requested gene is in the reference (exactly or ignoring case).
inline void check_genes_known(const std::vector<std::string>& genes, const std::vector<std::string>& ref_genes,
                              const std::string& where) {
  std::vector<std::string> missing;
  std::set<std::string> seen;
  for (const auto& g : genes) {
    if (!seen.insert(g).second) throw Error("gene '" + g + "' is requested twice; list each gene once");
    if (find_gene(ref_genes, g) < 0) missing.push_back(g);
  }
  if (!missing.empty())
    throw Error(std::to_string(missing.size()) + " requested gene(s) are not in " + where + ": " +
                join(missing, ", ", 5) + "; check the spelling (names are matched exactly, then ignoring case) "
                "or list the available genes with 'stai inspect'");
}

/// Reference genes not measured in the spatial data (compared ignoring case).
inline std::vector<std::string> unmeasured(const std::vector<std::string>& ref_genes, const AnnData& spatial) {
  std::set<std::string> measured;
  for (const auto& g : spatial.var_names) measured.insert(lower(g));
  std::vector<std::string> out;
  for (const auto& g : ref_genes)
    if (!measured.count(lower(g))) out.push_back(g);
  return out;
}

/// Figures of predicted cell types (true vs predicted when the spatial data
/// carry labels too). Returns the files written.
inline std::vector<std::string> plot_annotation(const std::string& dir, const std::string& ext,
                                                const AnnData& spatial, const std::string& coords_key,
                                                const Annotation& ann, const std::string& truth_key) {
  std::vector<std::string> files;
  const RowMatrix<double> xy = xy_of(spatial.obsm.at(coords_key));
  PlotOptions po;
  po.categories = ann.class_names;
  const auto it = truth_key.empty() ? spatial.obs.end() : spatial.obs.find(truth_key);
  const std::string f = (fs::path(dir) / ("celltypes." + ext)).string();
  if (it != spatial.obs.end() && it->second.kind == Column::Kind::String) {
    for (const auto& l : it->second.str)  // true types absent from the reference go after its classes
      if (std::find(po.categories.begin(), po.categories.end(), l) == po.categories.end()) po.categories.push_back(l);
    plot_true_vs_predicted(f, xy, it->second.str, ann.labels, "cell types: measured vs predicted by stai", po);
  } else {
    plot_spatial_categories(f, xy, ann.labels, "cell types predicted by stai", po);
  }
  files.push_back(f);
  return files;
}

}  // namespace stai::cli
