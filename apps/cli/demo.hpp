// stai command-line program — `stai demo`: simulate a tissue and a matching
// reference with known truth, train, impute the unmeasured genes, annotate,
// and compare with the truth.
#pragma once
#include <stai/data/simulate.hpp>

#include "train.hpp"

namespace stai::cli {

struct DemoOptions {
  CommonOptions c;
  std::string write_inputs;
  long long n_spatial = 1200, n_reference = 900, n_genes = 80, n_panel = 30, n_types = 6;
};

/// Epochs of the demo unless --epochs says otherwise: enough for the
/// imputation and annotation to settle on the demo's data, small enough to
/// finish well within two minutes on two cores.
inline constexpr int kDemoEpochs = 100;

inline CLI::App* add_demo(CLI::App& app, DemoOptions& o) {
  auto* s = app.add_subcommand(
      "demo",
      "Try stai without data: simulate a spatial tissue and a single-cell reference with known truth, train, "
      "impute the genes the simulated spatial panel did not measure, annotate the cells, and score the results "
      "against the truth (about a minute on a laptop).");
  add_config_options(s, o.c);
  add_preset_option(s, o.c);
  const char* g = "Simulation";
  s->add_option("--n-spatial", o.n_spatial, "spatial cells to simulate")->check(CLI::Range(10LL, 10000000LL))->group(g);
  s->add_option("--n-reference", o.n_reference, "reference cells to simulate")->check(CLI::Range(10LL, 10000000LL))->group(g);
  s->add_option("--n-genes", o.n_genes, "genes in the reference (the whole transcriptome)")->check(CLI::Range(4LL, 100000LL))->group(g);
  s->add_option("--n-panel", o.n_panel, "genes measured by the spatial panel")->check(CLI::Range(2LL, 100000LL))->group(g);
  s->add_option("--n-types", o.n_types, "cell types")->check(CLI::Range(3LL, 26LL))->group(g);
  s->add_option("--write-inputs", o.write_inputs,
                "only write the simulated data to this folder (spatial.h5ad, reference.h5ad, truth.h5ad) and stop, "
                "to try the other commands on them")
      ->group(g);
  s->add_option("--out", o.c.out, "also write the imputed unmeasured genes and predicted types (.h5ad)")->group("Output");
  add_output_options(s, o.c, false);
  s->footer(
      "Examples:\n"
      "  stai demo\n"
      "  stai demo --plot demo-figures\n"
      "  stai demo --write-inputs demo-data && stai impute --spatial demo-data/spatial.h5ad \\\n"
      "      --reference demo-data/reference.h5ad --all-unmeasured --out imputed.h5ad\n"
      "\n"
      "The simulated tissue has cell types in layers, patches and scattered cells, marker-gene programs, a\n"
      "smooth depth gradient, and shallow, dropout-prone counts; the reference sees the same cell types\n"
      "through another platform (gene-wise capture bias, deeper counts, other type proportions).");
  return s;
}

template <class B>
json run_demo_on(B& be, DemoOptions& o, const std::string& cmdline) {
  Console con{o.c.quiet, {}};
  Stopwatch total;
  if (o.n_panel > o.n_genes) throw UsageError("--n-panel must not exceed --n-genes");
  if (!o.c.out.empty()) check_output(o.c.out, "--out", {".h5ad"});
  guard_paths(o.c, con);
  Config base = with_preset(Config::annotation(), o.c.preset);
  base.num_epoch = kDemoEpochs;
  const Config cfg = build_config(base, o.c, con, 0);

  SimulationOptions so;
  so.n_spatial = o.n_spatial;
  so.n_reference = o.n_reference;
  so.n_genes = o.n_genes;
  so.n_panel = o.n_panel;
  so.n_types = o.n_types;
  so.seed = o.c.seed != kSeedUnset ? static_cast<std::uint64_t>(o.c.seed) : 1;
  Stopwatch sw;
  Simulation sim = simulate(so);
  json timings = {{"simulate", sw.seconds()}};
  con.say("stai demo: simulated a tissue of ", so.n_spatial, " cells with ", so.n_types,
          " cell types (layers, patches and scattered cells), measured by a spatial panel of ", so.n_panel, " of ",
          so.n_genes, " genes (shallow counts with dropout), and a single-cell reference of ", so.n_reference,
          " cells from another platform that measures all ", so.n_genes,
          " genes (capture bias, deeper counts, other cell-type proportions).");

  json outputs = json::object();
  if (!o.write_inputs.empty()) {
    std::error_code ec;
    fs::create_directories(o.write_inputs, ec);
    if (ec) throw Error("--write-inputs: cannot create the folder '" + o.write_inputs + "': " + ec.message());
    const std::string sp = (fs::path(o.write_inputs) / "spatial.h5ad").string();
    const std::string rp = (fs::path(o.write_inputs) / "reference.h5ad").string();
    const std::string tp = (fs::path(o.write_inputs) / "truth.h5ad").string();
    AnnData truth = sim.spatial;
    truth.X = sim.spatial_truth;
    truth.var_names = sim.all_genes;
    sim.spatial.source.clear();
    sim.reference.source.clear();
    truth.source.clear();
    for (AnnData* a : {&sim.spatial, &sim.reference, &truth}) {
      a->uns["stai_simulation"] = json{{"n_spatial", so.n_spatial}, {"n_reference", so.n_reference},
                                      {"n_genes", so.n_genes}, {"n_panel", so.n_panel},
                                      {"n_types", so.n_types}, {"seed", so.seed}}
                                      .dump();
    }
    write_h5ad(sp, sim.spatial);
    write_h5ad(rp, sim.reference);
    write_h5ad(tp, truth);
    con.say("Wrote ", sp, " (spatial panel, raw counts, coordinates in obsm['spatial'], true types in "
            "obs['celltype']),");
    con.say("      ", rp, " (reference, raw counts, cell types in obs['celltype']),");
    con.say("      ", tp, " (what the spatial platform would have measured for every gene).");
    con.say("Try: stai impute --spatial ", sp, " --reference ", rp, " --all-unmeasured --out imputed.h5ad");
    outputs = {{"spatial", sp}, {"reference", rp}, {"truth", tp}};
    timings["total"] = total.seconds();
    return {{"command", "demo"},      {"status", "ok"},         {"stai_version", version()},
            {"simulation_seed", so.seed}, {"outputs", outputs}, {"timings", timings},
            {"warnings", con.warnings}};
  }

  con.say("Training stAI (", cfg.k_folds, " submodels x ", cfg.num_epoch, " epochs, seed ", cfg.seed, ", ",
          backend_text(be), ") on the ", so.n_panel, " measured genes and the reference's cell types...");
  Pipeline<B, float> model;
  FitOptions fo;
  fo.label_key = "celltype";
  sw.reset();
  const FitReport rep = fit_with_progress(model, be, sim.spatial, sim.reference, cfg, fo, o.c.quiet);
  timings["train"] = sw.seconds();
  for (const auto& w : rep.warnings) con.warn(w);

  sw.reset();
  const std::vector<std::string> genes = model.unmeasured_genes();
  const Imputation imp = model.impute(be, genes);
  const Annotation ann = model.annotate(be);
  timings["impute_and_annotate"] = sw.seconds();

  // Scores against the truth.
  std::vector<GeneScore> scores;
  std::vector<std::vector<double>> truth_cols;
  for (std::size_t j = 0; j < genes.size(); ++j) {
    const index_t g = find_gene(sim.all_genes, genes[j]);
    truth_cols.push_back(column(sim.spatial_truth, g));
    scores.push_back(score_gene(genes[j], column(imp.mean, static_cast<index_t>(j)), truth_cols.back()));
  }
  const auto pcc = pccs_of(scores);
  std::vector<std::string> true_labels;
  for (index_t t : sim.spatial_type) true_labels.push_back(sim.type_names[static_cast<std::size_t>(t)]);
  const LabelAgreement agree = compare_labels(true_labels, ann);
  const double med = eval::median(pcc), mean = mean_finite(pcc);
  const double acc = agree.available ? agree.report.accuracy : NAN;
  const double f1 = agree.available ? agree.report.macro_f1 : NAN;
  std::vector<double> rm;
  for (const auto& s : scores) rm.push_back(s.rmse);

  con.say("");
  con.say("Results against the simulation's truth:");
  con.say("  what                                              value");
  {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-45s %10zu", "unmeasured genes imputed", genes.size());
    con.say(buf);
  }
  auto row = [&](const char* what, double v) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-45s %10s", what, fmt(v).c_str());
    con.say(buf);
  };
  row("median PCC, imputed vs true expression", med);
  row("mean PCC, imputed vs true expression", mean);
  row("median RMSE after z-scoring", eval::median(rm));
  row("cell-type annotation accuracy", acc);
  row("cell-type annotation macro F1", f1);
  {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-45s %10s", "training time", duration(double(timings["train"])).c_str());
    con.say(buf);
  }
  con.say("PCC: correlation over cells between a gene's imputed values and the counts the spatial platform would");
  con.say("have measured (1 = perfect, 0 = unrelated). Accuracy: fraction of cells given their true type.");

  const InterruptGuard write_phase;
  sw.reset();
  if (!o.c.out.empty()) {
    AnnData out;
    out.X = imp.mean;
    out.obs_names = model.spatial().obs_names;
    out.var_names = genes;
    out.obs = model.spatial().obs;
    out.obsm = model.spatial().obsm;
    put_annotation(out, ann, "celltype");
    put_run_metadata(out, cmdline, cfg, timings, gene_match_json(rep.genes, rep.model_genes));
    write_h5ad(o.c.out, out);
    outputs["out"] = o.c.out;
    con.say("Wrote ", o.c.out);
  }
  if (!o.c.plot_dir.empty()) {
    make_plot_dir(o.c.plot_dir);
    const std::string ext = o.c.plot_format;
    json plots = json::array();
    const RowMatrix<double> xy = xy_of(model.spatial().obsm.at("spatial"));
    std::vector<std::size_t> order(scores.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const double pa = std::isfinite(pcc[a]) ? pcc[a] : -2, pb = std::isfinite(pcc[b]) ? pcc[b] : -2;
      return pa > pb;
    });
    if (!order.empty()) {
      std::vector<std::size_t> pick{order.front(), order[order.size() / 2], order.back()};
      pick.erase(std::unique(pick.begin(), pick.end()), pick.end());
      for (std::size_t i : pick) {
        const std::string f = (fs::path(o.c.plot_dir) / ("imputed_" + safe_name(genes[i]) + "." + ext)).string();
        plot_spatial_pair(f, xy, truth_cols[i], column(imp.mean, static_cast<index_t>(i)),
                          genes[i] + " (true vs imputed)", pcc[i]);
        plots.push_back(f);
      }
      const std::string h = (fs::path(o.c.plot_dir) / ("pcc_histogram." + ext)).string();
      plot_histogram(h, pcc, "unmeasured genes: imputed vs truth", "Pearson correlation");
      plots.push_back(h);
    }
    for (const auto& f : plot_annotation(o.c.plot_dir, ext, model.spatial(), "spatial", ann, "celltype"))
      plots.push_back(f);
    outputs["plots"] = plots;
    con.say("Wrote ", plots.size(), " figure(s) to ", o.c.plot_dir);
  }
  timings["write"] = sw.seconds();
  timings["total"] = total.seconds();
  return {{"command", "demo"},
          {"status", "ok"},
          {"stai_version", version()},
          {"seed", cfg.seed},
          {"simulation_seed", so.seed},
          {"config", cfg.to_json()},
          {"simulation",
           {{"n_spatial", so.n_spatial}, {"n_reference", so.n_reference}, {"n_genes", so.n_genes},
            {"n_panel", so.n_panel}, {"n_types", so.n_types}}},
          {"n_unmeasured_genes", genes.size()},
          {"median_pcc", med},
          {"mean_pcc", mean},
          {"median_rmse", eval::median(rm)},
          {"accuracy", acc},
          {"macro_f1", f1},
          {"per_gene", scores_json(scores)},
          {"outputs", outputs},
          {"timings", timings},
          {"warnings", con.warnings}};
}

#if defined(STAI_WITH_CUDA)
json run_demo_cuda(DemoOptions& o, const std::string& cmdline);  // apps/stai_cuda.cu
#endif

inline json run_demo(DemoOptions& o, const std::string& cmdline) {
  return run_on_backend(
      o.c, [&](Cpu& be) { return run_demo_on(be, o, cmdline); },
      [&]() { return STAI_CLI_CUDA(run_demo_cuda(o, cmdline)); });
}

}  // namespace stai::cli
