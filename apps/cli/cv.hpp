// stai command-line program — `stai cv`: held-out-gene evaluation. Measured
// spatial genes are hidden from the model group by group, imputed, and
// compared with their measurement (PCC, RMSE after z-scoring, JSD), as in
// the stAI paper's leave-one-gene-out and k-fold protocols.
#pragma once
#include <stai/eval/cross_validation.hpp>

#include "train.hpp"

namespace stai::cli {

struct CvOptions {
  CommonOptions c;
  std::string scheme = "loo";
  std::vector<std::string> genes;
  std::string sets_path;         ///< --sets: held-out sets read from a set,gene table
  std::string print_sets_path;   ///< --print-sets: write the sets and stop
  std::string predictions_path;  ///< --predictions: cells x held-out genes
};

/// The held-out sets of a `set,gene` table (one row per held-out gene; the
/// rows of one set id are held out together; sets in the order their id
/// first appears). Every gene must be one of `shared` (matched as --genes
/// matches, spelt as in `shared`) and may appear only once in the file.
inline std::vector<std::vector<std::string>> read_held_out_sets(const std::string& path,
                                                               const std::vector<std::string>& shared,
                                                               const std::string& shared_by) {
  need_file(path, "--sets");
  const std::string fix = "; the file needs a header 'set,gene' and one row per held-out gene (write one with "
                          "'stai cv ... --print-sets FILE')";
  TextTable t;
  try {
    TableReadOptions ro;
    ro.row_names = RowNames::None;
    t = read_text_table(path, ro);
  } catch (const Error& e) {
    throw Error("--sets: " + one_line(e.what()) + fix);
  }
  const index_t cs = t.find_col("set"), cg = t.find_col("gene");
  if (cs < 0 || cg < 0)
    throw Error("--sets: " + path + ":" + std::to_string(t.lines.empty() ? 1 : t.lines.front() - 1) +
                ": the header has no column '" + (cs < 0 ? "set" : "gene") + "' (its columns: " + t.col_list() +
                ")" + fix);
  std::vector<long long> ids;
  std::vector<std::vector<std::string>> sets;
  std::map<std::string, std::size_t> line_of;  // gene -> line where it was held out
  for (index_t i = 0; i < t.rows(); ++i) {
    const std::string where = "--sets: " + path + ":" + std::to_string(t.lines[static_cast<std::size_t>(i)]) + ": ";
    const std::string& id_text = t.cells[static_cast<std::size_t>(i)][static_cast<std::size_t>(cs)];
    const std::string& gene = t.cells[static_cast<std::size_t>(i)][static_cast<std::size_t>(cg)];
    double v = 0;
    if (!parse_number(id_text, v) || !std::isfinite(v) || v != std::floor(v) || std::abs(v) > 1e15)
      throw Error(where + "set '" + id_text + "' is not an integer; give each held-out set an integer id "
                  "(e.g. 1, 2, ...)");
    const index_t j = find_gene(shared, gene);
    if (j < 0)
      throw Error(where + "gene '" + gene + "' is not shared by " + shared_by +
                  "; only genes measured in both can be held out and compared (remove the row or fix the name)");
    const std::string& g = shared[static_cast<std::size_t>(j)];
    const auto seen = line_of.find(g);
    if (seen != line_of.end())
      throw Error(where + "gene '" + g + "' is already held out on line " + std::to_string(seen->second) +
                  "; each gene may be held out once (keep one of the two rows)");
    line_of[g] = t.lines[static_cast<std::size_t>(i)];
    const long long id = static_cast<long long>(v);
    const auto it = std::find(ids.begin(), ids.end(), id);
    if (it == ids.end()) {
      ids.push_back(id);
      sets.push_back({g});
    } else {
      sets[static_cast<std::size_t>(it - ids.begin())].push_back(g);
    }
  }
  return sets;
}

/// "loo" -> 0, "kfold:K" -> K (K >= 2); anything else is a usage error.
inline int parse_scheme(const std::string& s) {
  if (s == "loo") return 0;
  if (s.rfind("kfold:", 0) == 0) {
    const std::string k = s.substr(6);
    if (!k.empty() && k.size() < 7 && std::all_of(k.begin(), k.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      const int K = std::stoi(k);
      if (K >= 2) return K;
    }
  }
  throw UsageError("--scheme '" + s + "' is not understood; use loo (leave one gene out) or kfold:K with K >= 2 "
                   "(e.g. kfold:10)");
}

inline CLI::App* add_cv(CLI::App& app, CvOptions& o) {
  auto* s = app.add_subcommand(
      "cv",
      "Measure how well stai imputes YOUR data: genes the spatial method did measure are hidden from the "
      "model (one at a time, or in K groups), imputed, and compared with their measurement.");
  add_input_options(s, o.c, true);
  s->add_option("--scheme", o.scheme,
                "loo = leave one gene out (small panels, as in the paper); kfold:K = hide the genes in K groups "
                "(large panels, e.g. kfold:10)")
      ->group("Evaluation");
  s->add_option("--genes", o.genes, "evaluate only these shared genes (comma-separated); default: all shared genes")
      ->delimiter(',')
      ->group("Evaluation");
  s->add_option("--sets", o.sets_path,
                "held-out gene sets from a table (.csv or .tsv) with header set,gene: one row per held-out "
                "gene, the rows of one set held out together, sets trained in the order they first appear "
                "(instead of --scheme / --genes)")
      ->excludes("--scheme")
      ->excludes("--genes")
      ->group("Evaluation");
  s->add_option("--print-sets", o.print_sets_path,
                "write the held-out sets this run would use (set,gene; .csv or .tsv) and stop without training, "
                "e.g. to run other methods on exactly the same sets")
      ->group("Evaluation");
  s->add_option("--out", o.c.out,
                "per-gene results table (.csv or .tsv): gene, group, PCC, RMSE, JSD (required unless "
                "--print-sets)")
      ->group("Output");
  s->add_option("--predictions", o.predictions_path,
                "also write the held-out predictions (.csv or .tsv): one row per spatial cell (header cell, "
                "then the held-out genes), each gene's column imputed by the model that did not see it")
      ->group("Output");
  add_config_options(s, o.c);
  add_preset_option(s, o.c);
  add_output_options(s, o.c, false);
  s->footer(
      "Examples:\n"
      "  stai cv --spatial osmfish.h5ad --reference zeisel.h5ad --scheme loo --out cv.csv\n"
      "  stai cv --spatial merfish.h5ad --reference sc.h5ad --scheme kfold:10 --epochs 200 --out cv.csv --plot figs\n"
      "  stai cv --spatial merfish.h5ad --reference sc.h5ad --scheme kfold:10 --print-sets sets.csv\n"
      "  stai cv --spatial merfish.h5ad --reference sc.h5ad --sets sets.csv --out cv.csv --predictions pred.csv\n"
      "\n"
      "Per gene: PCC = Pearson correlation of imputed and measured values over cells (higher is better),\n"
      "RMSE = root mean squared error after z-scoring both (lower is better), JSD = Jensen-Shannon\n"
      "divergence of the two expression distributions over cells (lower is better). Every group trains a\n"
      "full model (k submodels), so leave-one-out on a large panel takes long: use kfold:K there.");
  return s;
}

template <class B>
json run_cv_on(B& be, CvOptions& o, const std::string& cmdline) {
  Console con{o.c.quiet, {}};
  Stopwatch total;
  const int K = o.sets_path.empty() ? parse_scheme(o.scheme) : 0;
  const bool only_print = !o.print_sets_path.empty();
  if (only_print) {
    check_output(o.print_sets_path, "--print-sets", {".csv", ".tsv"});
    if (!o.c.out.empty() || !o.predictions_path.empty() || !o.c.plot_dir.empty())
      throw UsageError("--print-sets only writes the held-out sets and trains nothing; drop --out, "
                       "--predictions and --plot (or run again with --sets FILE to evaluate them)");
  } else {
    if (o.c.out.empty())
      throw UsageError("cv needs --out FILE (the per-gene table), or --print-sets FILE to only write the "
                       "held-out sets");
    check_output(o.c.out, "--out", {".csv", ".tsv"});
    if (!o.predictions_path.empty()) check_output(o.predictions_path, "--predictions", {".csv", ".tsv"});
  }
  guard_paths(o.c, con, {{"--sets", o.sets_path}},
              {{"--predictions", o.predictions_path}, {"--print-sets", o.print_sets_path}});
  const Config cfg = build_config(preset_base(o.c.preset), o.c, con);
  Stopwatch sw;
  AnnData spatial = read_spatial(o.c);
  AnnData reference = read_reference(o.c);
  json timings = {{"read", sw.seconds()}};

  // The shared genes, as the pipeline will match them.
  GeneMatchOptions gm;
  gm.spatial_label = o.c.spatial;
  gm.reference_label = o.c.reference;
  const GeneMatch match = match_genes(spatial.var_names, reference.var_names, gm);
  std::vector<std::string> candidates;
  if (o.genes.empty()) {
    candidates = match.genes;
  } else {
    std::vector<std::string> missing;
    for (const auto& g : o.genes) {
      const index_t j = find_gene(match.genes, g);
      if (j < 0) missing.push_back(g);
      else if (std::find(candidates.begin(), candidates.end(), match.genes[static_cast<std::size_t>(j)]) == candidates.end())
        candidates.push_back(match.genes[static_cast<std::size_t>(j)]);
    }
    if (!missing.empty())
      throw Error("--genes: " + std::to_string(missing.size()) + " gene(s) are not shared by " + o.c.spatial +
                  " and " + o.c.reference + ": " + join(missing, ", ", 5) +
                  "; only genes measured in both can be held out and compared");
  }
  const index_t n_shared = match.size();
  std::vector<std::vector<std::string>> groups;
  if (!o.sets_path.empty()) {
    groups = read_held_out_sets(o.sets_path, match.genes, o.c.spatial + " and " + o.c.reference);
    candidates.clear();
    for (const auto& g : groups) candidates.insert(candidates.end(), g.begin(), g.end());
  } else {
    if (K > 0 && static_cast<index_t>(candidates.size()) < K)
      throw Error("--scheme kfold:" + std::to_string(K) + " needs at least " + std::to_string(K) + " genes to "
                  "evaluate but there are " + std::to_string(candidates.size()) + "; lower K or use --scheme loo");
    groups = eval::held_out_sets(candidates, K == 0 ? eval::GeneCvScheme::LeaveOneOut : eval::GeneCvScheme::KFold,
                                 K, cfg.seed);
  }
  std::size_t biggest = 0;
  for (const auto& g : groups) biggest = std::max(biggest, g.size());
  if (n_shared - static_cast<index_t>(biggest) <= cfg.k_folds)
    throw Error("holding out " + std::to_string(biggest) + " of the " + std::to_string(n_shared) +
                " shared genes leaves " + std::to_string(n_shared - static_cast<index_t>(biggest)) +
                " for the model, but k_folds = " + std::to_string(cfg.k_folds) + " needs at least " +
                std::to_string(cfg.k_folds + 1) + "; use more groups (kfold:K with a larger K, or loo) or lower "
                "k_folds in --config");

  const std::string scheme_text = !o.sets_path.empty() ? "held-out sets of " + o.sets_path
                                  : K == 0                ? std::string("leave one gene out")
                                                          : "kfold:" + std::to_string(K);
  if (only_print) {
    std::vector<std::vector<std::string>> rows;
    for (std::size_t gi = 0; gi < groups.size(); ++gi)
      for (const auto& g : groups[gi]) rows.push_back({std::to_string(gi + 1), g});
    write_table(o.print_sets_path, {"set", "gene"}, rows);
    con.say("Wrote the ", groups.size(), " held-out set(s) (", scheme_text, ", ", candidates.size(), " genes) to ",
            o.print_sets_path, "; nothing was trained");
    timings["total"] = total.seconds();
    return {{"command", "cv"},
            {"command_line", cmdline},
            {"status", "ok"},
            {"stai_version", version()},
            {"seed", cfg.seed},
            {"scheme", o.sets_path.empty() ? o.scheme : "sets"},
            {"n_shared_genes", n_shared},
            {"n_groups", groups.size()},
            {"sets", groups},
            {"outputs", {{"print_sets", o.print_sets_path}}},
            {"timings", timings},
            {"warnings", con.warnings}};
  }
  con.say("Held-out-gene evaluation (", scheme_text, "): ", candidates.size(), " genes in ", groups.size(), " group(s); each group trains ", cfg.k_folds,
          " submodels x ", cfg.num_epoch, " epochs on the remaining shared genes (", n_shared, " shared in all)");
  con.say("  gene                 PCC   RMSE(z)     JSD   group");

  FitOptions fo;
  fo.spatial_key = o.c.spatial_key;
  fo.spatial_state = parse_state(o.c.spatial_state);
  fo.reference_state = parse_state(o.c.reference_state);
  fo.drop_zero_cells = o.c.drop_empty_cells;
  std::vector<GeneScore> scores;
  json refinements = json::array();  // the refinement's choices, per group
  std::vector<int> group_of;
  std::vector<std::vector<double>> imputed_cols, measured_cols;
  RowMatrix<double> xy;
  std::vector<std::string> cells;  // the scored spatial cells (the same for every group)
  sw.reset();
  // The inner (calibration) folds of every group come from ONE seeded
  // RandomState, reused group after group, as the authors' leave-one-out
  // run does (the same protocol as eval::cross_validate_genes).
  NumpyRandomState inner(static_cast<std::uint32_t>(cfg.seed));
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    Pipeline<B, float> model;
    fo.held_out = groups[gi];
    fo.folds = kfold_split(n_shared - static_cast<index_t>(groups[gi].size()), cfg.k_folds, inner);
    const FitReport rep = fit_with_progress(model, be, spatial, reference, cfg, fo, o.c.quiet,
                                            "group " + std::to_string(gi + 1) + "/" + std::to_string(groups.size()) + ": ");
    if (gi == 0) {
      for (const auto& w : rep.warnings) con.warn(w);
      xy = xy_of(model.spatial().obsm.at(o.c.spatial_key));
      cells = model.spatial().obs_names;
    }
    STAI_CHECK(model.spatial().obs_names == cells, "cv: internal error: group ", gi + 1,
               " was trained on other spatial cells than group 1");
    const Imputation imp = model.impute(be, groups[gi]);
    const auto parts = model.impute_ablation(be, groups[gi]);
    if (rep.refinement) {
      const auto& r = *rep.refinement;
      refinements.push_back({{"group", gi + 1}, {"ridge_lambda", r.lambda}, {"blend_weight", r.weight},
                             {"smooth_alpha", r.alpha},
                             {"linear_lognorm", r.share}, {"ridge_lambda_lognorm", r.lambda_lognorm},
                             {"inner_objective", refine::to_string(r.objective)}, {"inner_pcc_neural", r.inner_neural},
                             {"inner_pcc_linear", r.inner_linear}, {"inner_pcc_blend", r.inner_blend},
                             {"inner_pcc_final", r.inner_final}});
    }
    for (std::size_t q = 0; q < groups[gi].size(); ++q) {
      const std::string& g = groups[gi][q];
      const index_t mj = find_gene(model.spatial().var_names, g);
      const auto v = column(imp.mean, static_cast<index_t>(q));
      const auto m = column(model.spatial().X, mj);
      scores.push_back(score_gene(g, v, m));
      for (const auto& [name, P] : parts) scores.back().variants.emplace_back(name, eval::pearson(column(P, static_cast<index_t>(q)), m));
      group_of.push_back(static_cast<int>(gi + 1));
      imputed_cols.push_back(v);
      measured_cols.push_back(m);
      char buf[200];
      std::snprintf(buf, sizeof buf, "  %-16s %7s %9s %7s   %zu/%zu", g.c_str(), fmt(scores.back().pcc).c_str(),
                    fmt(scores.back().rmse).c_str(), fmt(scores.back().jsd).c_str(), gi + 1, groups.size());
      con.say(buf);
    }
  }
  timings["train_and_impute"] = sw.seconds();

  std::vector<double> pcc, rmse, jsd;
  for (const auto& s : scores) {
    pcc.push_back(s.pcc);
    rmse.push_back(s.rmse);
    jsd.push_back(s.jsd);
  }
  const double mp = eval::median(pcc), mr = eval::median(rmse), mj = eval::median(jsd);
  con.say("Median over ", scores.size(), " genes: PCC ", fmt(mp), ", RMSE(z) ", fmt(mr), ", JSD ", fmt(mj),
          "   (the paper reports a leave-one-out median PCC of 0.395 on osmFISH + Zeisel)");

  const InterruptGuard write_phase;
  sw.reset();
  // With the refinement, the PCC of its parts too (pcc_neural, pcc_linear,
  // pcc_blend: the ablation of the same run).
  std::vector<std::string> header{"gene", "group", "pcc", "rmse_z", "jsd"};
  if (!scores.empty())
    for (const auto& v : scores.front().variants) header.push_back("pcc_" + v.first);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    rows.push_back({scores[i].gene, std::to_string(group_of[i]), num_text(scores[i].pcc), num_text(scores[i].rmse),
                    num_text(scores[i].jsd)});
    for (const auto& v : scores[i].variants) rows.back().push_back(num_text(v.second));
  }
  write_table(o.c.out, header, rows);
  con.say("Wrote ", o.c.out);
  json outputs = {{"out", o.c.out}};
  if (!o.predictions_path.empty()) {
    RowMatrix<float> pred(static_cast<index_t>(cells.size()), static_cast<index_t>(imputed_cols.size()));
    std::vector<std::string> names;
    for (std::size_t j = 0; j < imputed_cols.size(); ++j) {
      names.push_back(scores[j].gene);
      for (std::size_t i = 0; i < cells.size(); ++i)
        pred(static_cast<index_t>(i), static_cast<index_t>(j)) = static_cast<float>(imputed_cols[j][i]);
    }
    CsvWriteOptions wo;
    wo.delimiter = extension(o.predictions_path) == ".tsv" ? '\t' : ',';
    wo.corner = "cell";
    write_csv(o.predictions_path, pred, cells, names, wo);
    con.say("Wrote the held-out predictions (", cells.size(), " cells x ", names.size(), " genes) to ",
            o.predictions_path);
    outputs["predictions"] = o.predictions_path;
  }
  if (!o.c.plot_dir.empty()) {
    make_plot_dir(o.c.plot_dir);
    json plots = json::array();
    const std::string ext = o.c.plot_format;
    const std::string h = (fs::path(o.c.plot_dir) / ("pcc_histogram." + ext)).string();
    plot_histogram(h, pcc, "held-out genes: imputed vs measured", "Pearson correlation");
    plots.push_back(h);
    // best, median and worst genes by PCC
    std::vector<std::size_t> order(scores.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const double pa = std::isfinite(pcc[a]) ? pcc[a] : -2, pb = std::isfinite(pcc[b]) ? pcc[b] : -2;
      return pa > pb;
    });
    std::vector<std::size_t> pick{order.front(), order[order.size() / 2], order.back()};
    pick.erase(std::unique(pick.begin(), pick.end()), pick.end());
    for (std::size_t i : pick) {
      const std::string f = (fs::path(o.c.plot_dir) / ("heldout_" + safe_name(scores[i].gene) + "." + ext)).string();
      plot_spatial_pair(f, xy, measured_cols[i], imputed_cols[i], scores[i].gene, pcc[i]);
      plots.push_back(f);
    }
    outputs["plots"] = plots;
    con.say("Wrote ", plots.size(), " figure(s) to ", o.c.plot_dir);
  }
  timings["write"] = sw.seconds();
  timings["total"] = total.seconds();
  json summary = {{"command", "cv"},
          {"command_line", cmdline},
          {"status", "ok"},
          {"stai_version", version()},
          {"seed", cfg.seed},
          {"config", cfg.to_json()},
          {"scheme", o.scheme},
          {"inputs",
           {{"spatial", input_json(o.c.spatial, spatial, detect_state(spatial.X).state)},
            {"reference", input_json(o.c.reference, reference, detect_state(reference.X).state)}}},
          {"n_shared_genes", n_shared},
          {"n_groups", groups.size()},
          {"per_gene", scores_json(scores)},
          {"median_pcc", mp},
          {"median_rmse", mr},
          {"median_jsd", mj},
          {"mean_pcc", mean_finite(pcc)},
          {"outputs", outputs},
          {"timings", timings},
          {"warnings", con.warnings}};
  if (!refinements.empty()) summary["refinement"] = refinements;
  return summary;
}

#if defined(STAI_WITH_CUDA)
json run_cv_cuda(CvOptions& o, const std::string& cmdline);  // apps/stai_cuda.cu
#endif

inline json run_cv(CvOptions& o, const std::string& cmdline) {
  return run_on_backend(
      o.c, [&](Cpu& be) { return run_cv_on(be, o, cmdline); },
      [&]() { return STAI_CLI_CUDA(run_cv_cuda(o, cmdline)); });
}

}  // namespace stai::cli
