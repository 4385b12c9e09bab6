// real_data — the paper's evaluation protocols on the real data sets in
// ../shared/data, with the reference defaults (Config::imputation() and
// Config::annotation()) or, with --preset stai, stai's imputation preset
// (Config::stai()):
//
//   osmfish           leave-one-gene-out imputation on osmFISH (3,405 cells x
//                     33 genes, TISSUE's subset) + the Allen SMART-seq subset
//                     (1,000 cells, no labels: imputation only)
//   merfish           10-fold gene cross-validation on the MERFISH slice
//                     (4,975 cells) + the Moffitt 2018 scRNA-seq reference
//                     (9,873 cells, 133 shared genes, labelled: the classifier
//                     term is on with the imputation weight lam_clf = 0.1, as
//                     the authors' run_impute_loo does with a labelled reference)
//   merfish-annotate  cell-type annotation of the MERFISH slice from the
//                     Moffitt reference, scored on the 9 shared types after
//                     mapping the MERFISH names (OD Mature 1-4 -> OD Mature,
//                     Pericytes -> Mural, ...)
//
// Usage:
//   real_data [--data DIR] [--which osmfish|merfish|merfish-annotate|all]
//             [--preset reference|stai] [--epochs N] [--threads N] [--out DIR] [--max-genes N] [--resume] [--quiet]
//
// Writes into --out (created if needed):
//   osmfish_loo_per_gene.csv, merfish_10fold_per_gene.csv   gene,set,pcc,rmse_z,jsd,measured_mean,imputed_mean
//     (rewritten after every held-out set, so a long run leaves partial tables;
//     --resume keeps the genes already in the table and trains only the
//     remaining held-out sets, each exactly as in an uninterrupted run)
//   merfish_annotation_per_class.csv, merfish_annotation_cells.csv
//   summary.json   medians, annotation scores, configurations, timings
// and prints the medians. --epochs and --max-genes are for quick checks; the
// full runs take hours on a 2-core machine (LOO trains 33 x 5 submodels).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <stai/eval/cross_validation.hpp>
#include <stai/io/atomic_file.hpp>
#include <stai/io/cv_table.hpp>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/text.hpp>
#include <string>
#include <vector>

#ifndef STAI_SHARED_DATA_DIR
#define STAI_SHARED_DATA_DIR "../shared/data"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Args {
  std::string data = STAI_SHARED_DATA_DIR;
  std::string which = "all";
  int epochs = -1;  ///< -1: the reference default
  int threads = 0;
  std::string out = "real_data_out";
  long max_genes = 0;
  bool quiet = false;
  bool resume = false;
  std::string preset = "reference";  ///< imputation preset: reference | stai
};

void write_text(const std::string& path, const std::string& text) {
  stai::AtomicFile f(path);
  {
    std::ofstream o(f.temp_path(), std::ios::binary | std::ios::trunc);
    STAI_CHECK(o.is_open(), path, ": cannot open for writing");
    o << text;
    o.close();
    STAI_CHECK(o.good(), path, ": writing failed (disk full?)");
  }
  f.commit();
}

std::string need_file(const std::string& dir, const std::string& rel) {
  const std::string p = (fs::path(dir) / rel).string();
  STAI_CHECK(fs::exists(p), p, " does not exist; pass the shared data folder with --data DIR "
             "(it holds osmfish_allen_tissue/ and merfish_moffitt/)");
  return p;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(double v, int prec = 3) {
  if (!std::isfinite(v)) return "nan";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

stai::Config with_overrides(stai::Config c, const Args& a) {
  if (a.epochs >= 0) c.num_epoch = a.epochs;
  c.eval_step = std::max(1, std::min(c.eval_step, std::max(1, c.num_epoch)));
  c.threads = a.threads;
  return c;
}

json config_json(const stai::Config& c) { return c.to_json(); }

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/// osmFISH (TISSUE subset): cells x genes counts + X/Y by position; Allen:
/// genes x cells counts.
std::pair<stai::AnnData, stai::AnnData> load_osmfish_allen(const std::string& dir) {
  const std::string base = "osmfish_allen_tissue/";
  stai::AnnData sp = stai::read_table(need_file(dir, base + "Spatial_count.txt"));
  stai::CoordinateOptions co;
  co.match = stai::Match::ByPosition;
  stai::add_coordinates(sp, need_file(dir, base + "Locations.txt"), co);
  stai::ExpressionTableOptions t;
  t.transpose = true;
  stai::AnnData ref = stai::read_table(need_file(dir, base + "scRNA_count.txt"), t);
  return {std::move(sp), std::move(ref)};
}

/// MERFISH slice (h5ad, obs celltype, obsm spatial) + Moffitt reference
/// (genes x cells counts; labels by position).
std::pair<stai::AnnData, stai::AnnData> load_merfish_moffitt(const std::string& dir) {
  stai::H5adReadOptions ro;
  ro.obs_columns = std::vector<std::string>{"celltype"};
  ro.obsm_keys = std::vector<std::string>{"spatial"};
  stai::AnnData sp = stai::read_h5ad(need_file(dir, "merfish_moffitt/orgaccc_slice/merfish.h5ad"), ro);
  stai::ExpressionTableOptions t;
  t.transpose = true;
  stai::AnnData ref = stai::read_table(need_file(dir, "merfish_moffitt/stged_scrna/ref_exp_clear_100um.csv"), t);
  stai::LabelOptions lo;
  lo.match = stai::Match::ByPosition;
  lo.obs_key = "celltype";
  stai::add_labels(ref, need_file(dir, "merfish_moffitt/stged_scrna/ref_label_clear_100um.csv"), lo);
  return {std::move(sp), std::move(ref)};
}

/// MERFISH (Moffitt 2018 MERFISH classes) -> Moffitt scRNA-seq class names.
stai::eval::LabelMap merfish_label_map() {
  return {{"OD Mature 1", "OD Mature"},     {"OD Mature 2", "OD Mature"},     {"OD Mature 3", "OD Mature"},
          {"OD Mature 4", "OD Mature"},     {"OD Immature 1", "OD Immature"}, {"OD Immature 2", "OD Immature"},
          {"Endothelial 1", "Endothelial"}, {"Endothelial 2", "Endothelial"}, {"Endothelial 3", "Endothelial"},
          {"Pericytes", "Mural"}};
}

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

json run_gene_cv(const std::string& name, stai::Cpu& be, const stai::AnnData& sp, const stai::AnnData& ref,
                 const stai::Config& cfg, stai::eval::GeneCvOptions opt, const std::string& csv_path,
                 const Args& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto shared = stai::eval::shared_genes(sp, ref, opt.fit);
  std::printf("\n== %s: %s, %zu shared genes, %d submodels x %d epochs per held-out set ==\n", name.c_str(),
              stai::eval::to_string(opt.scheme), shared.size(), cfg.k_folds, cfg.num_epoch);
  std::fflush(stdout);
  auto progress = [&](const stai::eval::GeneCvProgress& p) {
    if (!a.quiet && p.fit.epoch == p.fit.n_epochs) {
      const auto& L = p.fit.loss;
      std::printf("  set %d/%d submodel %d/%d done at %.1f s: loss %.4f (recon %.3f mmd %.3f cos %.3f clf %.3f "
                  "impute %.3f gene %.3f)\n",
                  p.set + 1, p.n_sets, p.fit.submodel + 1, p.fit.n_submodels, seconds_since(t0), L.total, L.recon,
                  L.mmd, L.cos, L.clf, L.impute, L.gene);
      std::fflush(stdout);
    }
    return true;
  };
  std::size_t printed = 0;
  auto on_set = [&](const stai::eval::GeneCvResult& r) {
    for (; printed < r.rows.size(); ++printed) {
      const auto& g = r.rows[printed];
      std::printf("  [set %d/%zu] %-10s PCC %s  RMSE(z) %s  JSD %s   (%.1f s)\n", g.set + 1, r.sets.size(),
                  g.gene.c_str(), fmt(g.pcc).c_str(), fmt(g.rmse).c_str(), fmt(g.jsd, 4).c_str(), r.seconds);
    }
    std::fflush(stdout);
  };
  // --resume: keep the genes an earlier (interrupted) run already scored.
  std::vector<stai::eval::GeneScore> previous;
  if (a.resume && fs::exists(csv_path)) {
    std::ifstream in(csv_path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    previous = stai::eval::scores_from_csv(text, csv_path);
    std::set<std::string> done;
    for (const auto& g : previous) done.insert(g.gene);
    for (const auto& g : shared)
      if (!done.count(g)) opt.only_genes.push_back(g);
    std::printf("  resuming: %zu genes already scored in %s, %zu to go\n", previous.size(), csv_path.c_str(),
                opt.only_genes.size());
    std::fflush(stdout);
  }
  auto merged = [&](const std::vector<stai::eval::GeneScore>& rows) {
    std::vector<stai::eval::GeneScore> all = previous;
    all.insert(all.end(), rows.begin(), rows.end());
    std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.set < y.set; });
    return all;
  };
  auto on_set_merged = [&](const stai::eval::GeneCvResult& r) {
    on_set(r);
    write_text(csv_path, stai::eval::to_csv(merged(r.rows)));
  };
  opt.score_variants = cfg.refines();
  stai::eval::GeneCvResult r;
  if (!a.resume || previous.empty() || !opt.only_genes.empty()) {
    r = stai::eval::cross_validate_genes(be, sp, ref, cfg, opt, progress, on_set_merged);
  } else {
    std::printf("  nothing left to train\n");
  }
  const double run_seconds = r.seconds;
  r.rows = merged(r.rows);
  r.update_summary();
  for (const auto& w : r.warnings) std::printf("  warning: %s\n", w.c_str());
  if (!a.quiet)
    for (const auto& n : r.notes)
      if (n.rfind("refinement:", 0) == 0) std::printf("  %s\n", n.c_str());
  write_text(csv_path, stai::eval::to_csv(r.rows));
  std::printf("%s: %zu genes scored in %.1f s: median PCC %s, median RMSE(z) %s, median JSD %s%s\n", name.c_str(),
              r.rows.size(), r.seconds, fmt(r.median_pcc).c_str(), fmt(r.median_rmse).c_str(),
              fmt(r.median_jsd, 4).c_str(),
              r.n_nonfinite_pcc ? (" (" + std::to_string(r.n_nonfinite_pcc) + " genes with undefined PCC)").c_str()
                                : "");
  std::printf("wrote %s\n", csv_path.c_str());
  if (opt.score_variants) {
    std::string v = "gene,set,final";
    if (!r.rows.empty())
      for (const auto& [name, x] : r.rows.front().variants) v += "," + name;
    v += "\n";
    for (const auto& g : r.rows) {
      v += stai::csv_escape(g.gene, ',') + "," + std::to_string(g.set) + "," + fmt(g.pcc, 6);
      for (const auto& [name, x] : g.variants) v += "," + fmt(x, 6);
      v += "\n";
    }
    const std::string vp = csv_path.substr(0, csv_path.size() - 4) + "_variants.csv";
    write_text(vp, v);
    std::printf("wrote %s\n", vp.c_str());
  }
  json rows = json::array();
  for (const auto& g : r.rows)
    rows.push_back({{"gene", g.gene}, {"set", g.set}, {"pcc", std::isfinite(g.pcc) ? json(g.pcc) : json()},
                    {"rmse_z", std::isfinite(g.rmse) ? json(g.rmse) : json()},
                    {"jsd", std::isfinite(g.jsd) ? json(g.jsd) : json()}});
  return {{"scheme", stai::eval::to_string(r.scheme)},
          {"gene_folds", r.gene_folds},
          {"seed", r.seed},
          {"n_shared_genes", r.shared_genes.size()},
          {"n_sets", r.sets.size()},
          {"n_sets_scored", r.sets_scored.size()},
          {"n_genes_scored", r.rows.size()},
          {"median_pcc", r.median_pcc},
          {"median_rmse_z", r.median_rmse},
          {"median_jsd", r.median_jsd},
          {"n_undefined_pcc", r.n_nonfinite_pcc},
          {"seconds", run_seconds},
          {"n_genes_resumed", previous.size()},
          {"config", config_json(cfg)},
          {"per_gene_csv", csv_path},
          {"warnings", r.warnings},
          {"notes", r.notes},
          {"per_gene", rows}};
}

json run_osmfish(stai::Cpu& be, const Args& a) {
  auto [sp, ref] = load_osmfish_allen(a.data);
  const stai::Config cfg = with_overrides(stai::Config::preset(a.preset), a);
  stai::eval::GeneCvOptions o;
  o.scheme = stai::eval::GeneCvScheme::LeaveOneOut;
  o.max_genes = a.max_genes;
  return run_gene_cv("osmFISH + Allen", be, sp, ref, cfg, o,
                     (fs::path(a.out) / "osmfish_loo_per_gene.csv").string(), a);
}

json run_merfish(stai::Cpu& be, const Args& a) {
  auto [sp, ref] = load_merfish_moffitt(a.data);
  const stai::Config cfg = with_overrides(stai::Config::preset(a.preset), a);
  stai::eval::GeneCvOptions o;
  o.scheme = stai::eval::GeneCvScheme::KFold;
  o.gene_folds = 10;
  o.max_genes = a.max_genes;
  o.fit.label_key = "celltype";  // labelled reference: classifier term on (lam_clf = 0.1)
  return run_gene_cv("MERFISH + Moffitt", be, sp, ref, cfg, o,
                     (fs::path(a.out) / "merfish_10fold_per_gene.csv").string(), a);
}

json run_merfish_annotate(stai::Cpu& be, const Args& a) {
  auto [sp, ref] = load_merfish_moffitt(a.data);
  const stai::Config cfg = with_overrides(stai::Config::annotation(), a);
  std::printf("\n== MERFISH + Moffitt: annotation, %d submodels x %d epochs ==\n", cfg.k_folds, cfg.num_epoch);
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  stai::FitOptions fo;
  fo.label_key = "celltype";
  stai::Pipeline<> model;
  const auto rep = model.fit(be, sp, ref, cfg, fo, [&](const stai::Progress& p) {
    if (!a.quiet && p.epoch == p.n_epochs) {
      std::printf("  submodel %d/%d done at %.1f s: loss %.4f (clf %.3f)\n", p.submodel + 1, p.n_submodels,
                  seconds_since(t0), p.loss.total, p.loss.clf);
      std::fflush(stdout);
    }
    return true;
  });
  for (const auto& w : rep.warnings) std::printf("  warning: %s\n", w.c_str());
  const stai::Annotation ann = model.annotate(be);
  const auto truth = stai::eval::obs_labels(model.spatial(), "celltype");
  const auto map = merfish_label_map();
  const auto ev = stai::eval::evaluate_annotation(ann, truth, map);
  const double secs = seconds_since(t0);

  std::string per_class = "class,precision,recall,f1,support\n";
  for (const auto& c : ev.report.classes)
    per_class += stai::csv_escape(c.name, ',') + "," + fmt(c.precision, 6) + "," + fmt(c.recall, 6) + "," +
                 fmt(c.f1, 6) + "," + std::to_string(c.support) + "\n";
  const std::string pc_path = (fs::path(a.out) / "merfish_annotation_per_class.csv").string();
  write_text(pc_path, per_class);
  const auto mapped = stai::eval::map_labels(truth, map);
  std::string cells = "cell,true_type,mapped_type,predicted,confidence\n";
  for (std::size_t i = 0; i < truth.size(); ++i)
    cells += stai::csv_escape(model.spatial().obs_names[i], ',') + "," +
             stai::csv_escape(truth[i], ',') + "," + stai::csv_escape(mapped[i], ',') + "," +
             stai::csv_escape(ann.labels[i], ',') + "," + fmt(ann.confidence[i], 6) + "\n";
  const std::string cells_path = (fs::path(a.out) / "merfish_annotation_cells.csv").string();
  write_text(cells_path, cells);

  std::printf("MERFISH annotation (%lld of %lld cells of the %zu shared types) in %.1f s: accuracy %s, macro F1 %s, "
              "weighted F1 %s\n",
              static_cast<long long>(ev.n_evaluated), static_cast<long long>(ev.n_cells), ev.shared_types.size(), secs,
              fmt(ev.report.accuracy).c_str(), fmt(ev.report.macro_f1).c_str(), fmt(ev.report.weighted_f1).c_str());
  for (const auto& c : ev.report.classes)
    std::printf("  %-12s precision %s recall %s F1 %s (n = %lld)\n", c.name.c_str(), fmt(c.precision).c_str(),
                fmt(c.recall).c_str(), fmt(c.f1).c_str(), static_cast<long long>(c.support));
  for (const auto& [t, n] : ev.excluded)
    std::printf("  not scored: %lld cells of type '%s' (not in the reference)\n", static_cast<long long>(n), t.c_str());
  std::printf("wrote %s, %s\n", pc_path.c_str(), cells_path.c_str());

  json classes = json::array();
  for (const auto& c : ev.report.classes)
    classes.push_back({{"class", c.name}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                       {"support", c.support}});
  json excluded = json::object();
  for (const auto& [t, n] : ev.excluded) excluded[t] = n;
  return {{"accuracy", ev.report.accuracy},  {"macro_f1", ev.report.macro_f1},
          {"weighted_f1", ev.report.weighted_f1}, {"n_cells", ev.n_cells},
          {"n_scored", ev.n_evaluated},       {"shared_types", ev.shared_types},
          {"excluded", excluded},             {"per_class", classes},
          {"confusion", ev.report.confusion}, {"seconds", secs},
          {"config", config_json(cfg)},       {"warnings", rep.warnings}};
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"stai real-data runner: the paper's held-out-gene cross-validation and annotation on ../shared/data"};
  app.add_option("--data", a.data, "the shared data folder (holds osmfish_allen_tissue/ and merfish_moffitt/)");
  app.add_option("--which", a.which, "what to run")
      ->check(CLI::IsMember({"osmfish", "merfish", "merfish-annotate", "all"}));
  app.add_option("--epochs", a.epochs, "override num_epoch (quick checks; default: the reference's 500 / 300)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--preset", a.preset, "imputation preset: reference (the published method) or stai")
      ->check(CLI::IsMember({"reference", "stai"}));
  app.add_option("--threads", a.threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 4096));
  app.add_option("--out", a.out, "output folder (created if needed)");
  app.add_option("--max-genes", a.max_genes,
                 "score only the first held-out sets, up to this many genes (0 = all; quick checks)")
      ->check(CLI::Range(0L, 1000000L));
  app.add_flag("--resume", a.resume,
               "keep the genes already in the per-gene tables in --out and train only the remaining held-out sets");
  app.add_flag("--quiet", a.quiet, "print only results, no per-submodel progress");
  CLI11_PARSE(app, argc, argv);

  try {
    fs::create_directories(a.out);
    stai::Cpu be;
    be.threads = a.threads;
    std::printf("stai %s real-data runner: data %s, out %s, threads %d%s%s\n", stai::version(),
                a.data.c_str(), a.out.c_str(), be.num_threads(),
                a.epochs >= 0 ? (", epochs " + std::to_string(a.epochs)).c_str() : "",
                a.max_genes > 0 ? (", max genes " + std::to_string(a.max_genes)).c_str() : "");
    json summary = {{"stai_version", stai::version()},
                    {"data", a.data},
                    {"threads", be.num_threads()},
                    {"epochs_override", a.epochs >= 0 ? json(a.epochs) : json()},
                    {"max_genes", a.max_genes}};
    const std::string summary_path = (fs::path(a.out) / "summary.json").string();
    const bool all = a.which == "all";
    if (all || a.which == "osmfish") {
      summary["osmfish_allen_loo"] = run_osmfish(be, a);
      write_text(summary_path, summary.dump(2) + "\n");
    }
    if (all || a.which == "merfish") {
      summary["merfish_moffitt_10fold"] = run_merfish(be, a);
      write_text(summary_path, summary.dump(2) + "\n");
    }
    if (all || a.which == "merfish-annotate") {
      summary["merfish_moffitt_annotation"] = run_merfish_annotate(be, a);
      write_text(summary_path, summary.dump(2) + "\n");
    }
    std::printf("\nwrote %s\n", summary_path.c_str());
    std::printf("For comparison, the paper (other data pairs): osmFISH + Zeisel LOO median PCC 0.395, "
                "MERFISH (153 genes) + Moffitt LOO median PCC 0.423, osmFISH annotation accuracy 0.774.\n");
  } catch (const stai::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
