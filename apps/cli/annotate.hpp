// stai command-line program — `stai annotate`: transfer cell-type labels
// from the scRNA-seq reference to the spatial cells.
#pragma once
#include "train.hpp"

namespace stai::cli {

struct AnnotateOptions {
  CommonOptions c;
};

inline CLI::App* add_annotate(CLI::App& app, AnnotateOptions& o) {
  auto* s = app.add_subcommand(
      "annotate",
      "Assign a cell type to every spatial cell, learned from a labelled single-cell RNA-seq reference "
      "(with a confidence and the probability of each type).");
  add_input_options(s, o.c, false);
  s->add_option("--label-key", o.c.label_key, "the reference's obs column with the cell types (e.g. celltype)")
      ->group("Input data");
  s->add_option("--out", o.c.out, "output file: .h5ad (the spatial data with the predictions in obs) or .csv/.tsv")
      ->required()
      ->group("Output");
  s->add_option("--model", o.c.model, "use a model saved with --save-model instead of training (no --reference)")
      ->group("Model and training");
  add_config_options(s, o.c);
  add_output_options(s, o.c, true);
  s->footer(
      "Examples:\n"
      "  stai annotate --spatial osmfish.h5ad --reference zeisel.h5ad --label-key celltype --out annotated.h5ad\n"
      "  stai annotate --spatial st.csv --coords positions.csv --reference sc.csv --labels types.csv \\\n"
      "                --out types.csv --plot figures\n"
      "\n"
      "Training uses the original stAI annotation settings (300 epochs, class-balanced weights); change them\n"
      "with --config. If the spatial data carry their own labels in the same obs column, accuracy and macro F1\n"
      "against them are reported. Output columns: stai_<label-key> (predicted type), stai_confidence,\n"
      "stai_prob_<type> (probability of each type).");
  return s;
}

template <class B>
json run_annotate_on(B& be, AnnotateOptions& o, const std::string& cmdline) {
  Console con{o.c.quiet, {}};
  Stopwatch total;
  const std::string out_ext = check_output(o.c.out, "--out", {".h5ad", ".csv", ".tsv"});
  check_model_options(o.c);
  guard_paths(o.c, con);
  Trained<B> t = train_or_load(o.c, Config::annotation(), true, con, be, {});
  const std::string label_key = o.c.label_key.empty() ? std::string("celltype") : o.c.label_key;

  Stopwatch sw;
  const Annotation ann = t.loaded ? t.model.annotate(be, t.spatial, o.c.spatial_key) : t.model.annotate(be);
  t.timings["annotate"] = sw.seconds();

  con.say("Predicted cell types (", ann.class_names.size(), " types in the reference):");
  double mean_conf = 0;
  for (float c : ann.confidence) mean_conf += c;
  mean_conf /= std::max<std::size_t>(1, ann.confidence.size());
  for (const auto& [k, n] : label_counts(ann)) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-24s %8lld cells (%5.1f%%)", k.c_str(), static_cast<long long>(n),
                  100.0 * double(n) / double(ann.labels.size()));
    con.say(buf);
  }
  con.say("Mean confidence (probability of the predicted type): ", fmt(mean_conf));

  // Agreement with labels carried by the spatial data, if any.
  json agreement = nullptr;
  const auto truth = t.spatial.obs.find(label_key);
  if (truth != t.spatial.obs.end() && truth->second.kind == Column::Kind::String) {
    const LabelAgreement a = compare_labels(truth->second.str, ann);
    if (a.available) {
      con.say("Against the spatial data's own obs['", label_key, "']: accuracy ", fmt(a.report.accuracy),
              ", macro F1 ", fmt(a.report.macro_f1), ", weighted F1 ", fmt(a.report.weighted_f1), " (",
              a.report.n, " cells", a.n_unknown ? ", " + std::to_string(a.n_unknown) + " of types absent from the reference left out" : std::string(), ")");
      json per = json::array();
      for (const auto& c : a.report.classes)
        per.push_back({{"class", c.name}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                       {"support", c.support}});
      agreement = {{"accuracy", a.report.accuracy}, {"macro_f1", a.report.macro_f1},
                   {"weighted_f1", a.report.weighted_f1}, {"n", a.report.n}, {"n_left_out", a.n_unknown},
                   {"classes", per}};
    }
  }

  const InterruptGuard write_phase;
  sw.reset();
  json outputs = {{"out", o.c.out}};
  if (out_ext == ".h5ad") {
    AnnData out = t.spatial;
    out.source.clear();
    put_annotation(out, ann, label_key);
    put_run_metadata(out, cmdline, t.cfg, t.timings, t.genes);
    write_h5ad(o.c.out, out);
  } else {
    std::vector<std::string> header{"cell", "stai_" + label_key, "stai_confidence"};
    for (const auto& c : ann.class_names) header.push_back("prob_" + c);
    std::vector<std::vector<std::string>> rows;
    for (index_t i = 0; i < ann.probabilities.rows(); ++i) {
      std::vector<std::string> r{t.spatial.obs_names[static_cast<std::size_t>(i)],
                                 ann.labels[static_cast<std::size_t>(i)],
                                 num_text(ann.confidence[static_cast<std::size_t>(i)])};
      for (index_t c = 0; c < ann.probabilities.cols(); ++c) r.push_back(num_text(ann.probabilities(i, c)));
      rows.push_back(std::move(r));
    }
    write_table(o.c.out, header, rows);
  }
  con.say("Wrote ", o.c.out);
  if (!o.c.save_model.empty()) {
    save_trained(t, o.c, cmdline);
    outputs["model"] = o.c.save_model;
    con.say("Saved the model to ", o.c.save_model, " (apply it to other slices with --model)");
  }
  if (!o.c.plot_dir.empty()) {
    make_plot_dir(o.c.plot_dir);
    outputs["plots"] = plot_annotation(o.c.plot_dir, o.c.plot_format, t.spatial, o.c.spatial_key, ann, label_key);
    con.say("Wrote the cell-type map to ", o.c.plot_dir);
  }
  t.timings["write"] = sw.seconds();
  t.timings["total"] = total.seconds();

  json counts = json::object();
  for (const auto& [k, n] : label_counts(ann)) counts[k] = n;
  json s = {{"command", "annotate"},
            {"status", "ok"},
            {"stai_version", version()},
            {"seed", t.cfg.seed},
            {"config", t.cfg.to_json()},
            {"inputs", t.inputs},
            {"n_cells", ann.labels.size()},
            {"classes", ann.class_names},
            {"predicted_counts", counts},
            {"mean_confidence", mean_conf},
            {"agreement", agreement},
            {"outputs", outputs},
            {"timings", t.timings},
            {"warnings", con.warnings}};
  if (!t.genes.is_null()) s["gene_match"] = {{"shared", t.genes["shared"]}, {"model_genes", t.genes["model_genes"].size()}};
  return s;
}

#if defined(STAI_WITH_CUDA)
json run_annotate_cuda(AnnotateOptions& o, const std::string& cmdline);  // apps/stai_cuda.cu
#endif

inline json run_annotate(AnnotateOptions& o, const std::string& cmdline) {
  return run_on_backend(
      o.c, [&](Cpu& be) { return run_annotate_on(be, o, cmdline); },
      [&]() { return STAI_CLI_CUDA(run_annotate_cuda(o, cmdline)); });
}

}  // namespace stai::cli
