// stai command-line program — `stai impute`: predict the expression of genes
// the spatial panel did not measure, from the scRNA-seq reference.
#pragma once
#include "train.hpp"

namespace stai::cli {

struct ImputeOptions {
  CommonOptions c;
  std::vector<std::string> genes;
  std::string genes_file;
  bool all_unmeasured = false;
};

inline CLI::App* add_impute(CLI::App& app, ImputeOptions& o) {
  auto* s = app.add_subcommand(
      "impute",
      "Predict (impute) the expression of genes that the spatial method did not measure, for every spatial "
      "cell, by learning from a single-cell RNA-seq reference of the same tissue.");
  add_input_options(s, o.c, false);
  const char* g = "What to impute";
  auto* og = s->add_option("--genes", o.genes, "genes to impute, comma-separated (e.g. Gad1,Slc17a7)")
                 ->delimiter(',')
                 ->group(g);
  auto* of = s->add_option("--genes-file", o.genes_file, "text file with the genes to impute (one per line)")
                 ->group(g);
  auto* oa = s->add_flag("--all-unmeasured", o.all_unmeasured,
                         "impute every reference gene that the spatial data did not measure")
                 ->group(g);
  og->excludes(of)->excludes(oa);
  of->excludes(oa);
  s->add_option("--out", o.c.out, "output file: .h5ad (opens in scanpy) or .csv/.tsv (cells x genes)")
      ->required()
      ->group("Output");
  s->add_option("--label-key", o.c.label_key,
                "also annotate cell types: the reference's obs column with the cell types")
      ->group("Model and training");
  s->add_option("--model", o.c.model, "use a model saved with --save-model instead of training (no --reference)")
      ->group("Model and training");
  add_config_options(s, o.c);
  add_preset_option(s, o.c);
  add_output_options(s, o.c, true);
  s->add_flag("--embed", o.c.embed, "store the cells' latent codes in obsm['X_stai'] of the .h5ad output")
      ->group("Output");
  s->footer(
      "Examples:\n"
      "  stai impute --spatial osmfish.h5ad --reference zeisel.h5ad --genes Gad1,Slc17a7 --out imputed.h5ad\n"
      "  stai impute --spatial st.h5ad --reference sc.h5ad --all-unmeasured --label-key celltype \\\n"
      "              --out imputed.h5ad --save-model model.stai --plot figures\n"
      "  stai impute --spatial slice2.h5ad --model model.stai --genes-file genes.txt --out slice2.csv\n"
      "\n"
      "The imputed values are log-normalised expression on the reference's scale (counts per 10,000, log1p).\n"
      "With .h5ad output, obs keeps the spatial cells' annotations, var['stai_spread'] is the mean spread of\n"
      "the prediction across the submodels, and uns records the configuration, seed, version and timings.");
  return s;
}

inline std::vector<std::string> read_gene_file(const std::string& path) {
  need_file(path, "--genes-file");
  std::ifstream f(path);
  STAI_CHECK(f, "--genes-file: cannot open '", path, "' (permissions?)");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    for (auto& g : split_names(line)) out.push_back(g);
  }
  if (out.empty()) throw Error("--genes-file: " + path + " lists no genes; write one gene name per line");
  return out;
}

template <class B>
json run_impute_on(B& be, ImputeOptions& o, const std::string& cmdline) {
  Console con{o.c.quiet, {}};
  Stopwatch total;
  const int sources = int(!o.genes.empty()) + int(!o.genes_file.empty()) + int(o.all_unmeasured);
  if (sources != 1)
    throw UsageError("say which genes to impute with one of --genes G1,G2 / --genes-file FILE / --all-unmeasured");
  const std::string out_ext = check_output(o.c.out, "--out", {".h5ad", ".csv", ".tsv"});
  check_model_options(o.c);
  guard_paths(o.c, con, {{"--genes-file", o.genes_file}});
  std::vector<std::string> genes = o.genes;
  if (!o.genes_file.empty()) genes = read_gene_file(o.genes_file);
  if (o.c.embed && !o.c.model.empty()) throw UsageError("--embed is not available with --model");

  Trained<B> t = train_or_load(o.c, preset_base(o.c.preset), false, con, be,
                            [&](const std::vector<std::string>& ref, const AnnData& spatial) {
                              const std::string where =
                                  o.c.model.empty() ? "the reference " + o.c.reference : "the model " + o.c.model;
                              if (o.all_unmeasured) {
                                genes = unmeasured(ref, spatial);
                                if (genes.empty())
                                  throw Error("every gene of " + where + " is measured in " + o.c.spatial +
                                              "; nothing is unmeasured. Name genes with --genes to impute "
                                              "measured ones (e.g. to compare with the measurement)");
                              } else {
                                check_genes_known(genes, ref, where);
                              }
                            });

  Stopwatch sw;
  con.say("Imputing ", genes.size(), " gene(s) for ", t.spatial.n_obs(), " cells...");
  Imputation imp = t.loaded ? t.model.impute(be, t.spatial, genes, o.c.spatial_key) : t.model.impute(be, genes);
  t.timings["impute"] = sw.seconds();

  // Genes that are also measured: agreement with the measurement.
  std::vector<GeneScore> scores;
  std::vector<index_t> measured_col(genes.size(), -1);
  for (std::size_t j = 0; j < genes.size(); ++j) {
    measured_col[j] = find_gene(t.spatial.var_names, genes[j]);
    if (measured_col[j] >= 0)
      scores.push_back(score_gene(genes[j], column(imp.mean, static_cast<index_t>(j)),
                                  column(t.spatial.X, measured_col[j])));
  }
  if (!scores.empty()) {
    con.say("Genes that are also measured (", scores.size(), "): imputed vs measured");
    con.say("  gene                 PCC   RMSE(z)     JSD");
    for (std::size_t q = 0; q < scores.size() && q < 20; ++q) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "  %-16s %7s %9s %7s", scores[q].gene.c_str(), fmt(scores[q].pcc).c_str(),
                    fmt(scores[q].rmse).c_str(), fmt(scores[q].jsd).c_str());
      con.say(buf);
    }
    if (scores.size() > 20) con.say("  ... (", scores.size() - 20, " more in the --json summary)");
    if (!t.loaded)
      con.say("  (the model was trained on these genes, so this agreement is optimistic; 'stai cv' holds genes "
              "out for an honest estimate)");
  }

  // Annotation when the model has a classifier.
  std::optional<Annotation> ann;
  if (t.model.ensemble().has_classifier()) {
    sw.reset();
    ann = t.loaded ? t.model.annotate(be, t.spatial, o.c.spatial_key) : t.model.annotate(be);
    t.timings["annotate"] = sw.seconds();
  }

  // Outputs.
  const InterruptGuard write_phase;
  sw.reset();
  json outputs = {{"out", o.c.out}};
  if (out_ext == ".h5ad") {
    AnnData out;
    out.X = imp.mean;
    out.obs_names = t.spatial.obs_names;
    out.var_names = genes;
    out.obs = t.spatial.obs;
    out.obsm = t.spatial.obsm;
    std::vector<double> meas, spread;
    for (std::size_t j = 0; j < genes.size(); ++j) {
      meas.push_back(measured_col[j] >= 0 ? 1.0 : 0.0);
      spread.push_back(imp.sd.rows() ? double(imp.sd.col(static_cast<index_t>(j)).mean()) : 0.0);
    }
    out.var["stai_measured"] = Column::numeric(meas);
    out.var["stai_spread"] = Column::numeric(spread);
    if (ann) put_annotation(out, *ann, t.loaded ? std::string("celltype") : o.c.label_key);
    if (o.c.embed) {
      const auto codes = t.model.embed(be);
      index_t w = 0;
      for (const auto& c : codes) w += c.cols();
      RowMatrix<double> e(out.X.rows(), w);
      index_t at = 0;
      for (const auto& c : codes) {
        e.middleCols(at, c.cols()) = c.template cast<double>();
        at += c.cols();
      }
      out.obsm["X_stai"] = std::move(e);
    }
    put_run_metadata(out, cmdline, t.cfg, t.timings, t.genes);
    write_h5ad(o.c.out, out);
  } else {
    CsvWriteOptions wo;
    wo.delimiter = out_ext == ".tsv" ? '\t' : ',';
    wo.corner = "cell";
    write_csv(o.c.out, imp.mean, t.spatial.obs_names, genes, wo);
    if (ann) con.warn("the cell-type predictions are not written to " + o.c.out + " (CSV holds the imputed "
                      "matrix only); write .h5ad, or run 'stai annotate'");
  }
  con.say("Wrote ", o.c.out, " (", imp.mean.rows(), " cells x ", imp.mean.cols(), " imputed genes)");
  if (!o.c.save_model.empty()) {
    save_trained(t, o.c, cmdline);
    outputs["model"] = o.c.save_model;
    con.say("Saved the model to ", o.c.save_model, " (apply it to other slices with --model)");
  }

  // Figures.
  json plots = json::array();
  if (!o.c.plot_dir.empty()) {
    make_plot_dir(o.c.plot_dir);
    const RowMatrix<double> xy = xy_of(t.spatial.obsm.at(o.c.spatial_key));
    const std::string ext = o.c.plot_format;
    int shown = 0;
    for (std::size_t j = 0; j < genes.size() && shown < 4; ++j, ++shown) {
      const std::string f = (fs::path(o.c.plot_dir) / ("imputed_" + safe_name(genes[j]) + "." + ext)).string();
      const auto v = column(imp.mean, static_cast<index_t>(j));
      if (measured_col[j] >= 0) {
        const auto m = column(t.spatial.X, measured_col[j]);
        plot_spatial_pair(f, xy, m, v, genes[j], eval::pearson(v, m));
      } else {
        plot_spatial_continuous(f, xy, v, genes[j] + " imputed by stai", "log-normalised expression");
      }
      plots.push_back(f);
    }
    if (scores.size() >= 2) {
      const std::string f = (fs::path(o.c.plot_dir) / ("pcc_histogram." + ext)).string();
      plot_histogram(f, pccs_of(scores), "imputed vs measured, per gene", "Pearson correlation");
      plots.push_back(f);
    }
    if (ann)
      for (const auto& f : plot_annotation(o.c.plot_dir, ext, t.spatial, o.c.spatial_key, *ann, o.c.label_key))
        plots.push_back(f);
    con.say("Wrote ", plots.size(), " figure(s) to ", o.c.plot_dir);
    outputs["plots"] = plots;
  }
  t.timings["write"] = sw.seconds();
  t.timings["total"] = total.seconds();

  json s = {{"command", "impute"},
            {"status", "ok"},
            {"stai_version", version()},
            {"seed", t.cfg.seed},
            {"config", t.cfg.to_json()},
            {"inputs", t.inputs},
            {"n_cells", imp.mean.rows()},
            {"n_genes_imputed", genes.size()},
            {"genes", genes},
            {"measured_genes", scores_json(scores)},
            {"outputs", outputs},
            {"timings", t.timings},
            {"warnings", con.warnings}};
  if (!scores.empty()) s["median_pcc_measured"] = eval::median(pccs_of(scores));
  if (!t.genes.is_null()) s["gene_match"] = {{"shared", t.genes["shared"]}, {"model_genes", t.genes["model_genes"].size()}};
  if (ann) {
    json counts = json::object();
    for (const auto& [k, n] : label_counts(*ann)) counts[k] = n;
    s["annotation"] = {{"classes", ann->class_names}, {"predicted_counts", counts}};
  }
  return s;
}

#if defined(STAI_WITH_CUDA)
json run_impute_cuda(ImputeOptions& o, const std::string& cmdline);  // apps/stai_cuda.cu
#endif

inline json run_impute(ImputeOptions& o, const std::string& cmdline) {
  return run_on_backend(
      o.c, [&](Cpu& be) { return run_impute_on(be, o, cmdline); },
      [&]() { return STAI_CLI_CUDA(run_impute_cuda(o, cmdline)); });
}

}  // namespace stai::cli
