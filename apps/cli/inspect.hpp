// stai command-line program — `stai inspect FILE`: what is in a data file
// and what stai would do with it.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <stai/data/contract.hpp>
#include <stai/io/hdf5/file.hpp>

#include "console.hpp"
#include "options.hpp"
#include "readers.hpp"
#include "strings.hpp"

namespace stai::cli {

using json = nlohmann::json;

struct InspectOptions {
  std::string file;
  std::string layer, spatial_key = "spatial", label_key;
  std::string coords, coords_columns;
  bool quiet = false, json_summary = false;
};

inline CLI::App* add_inspect(CLI::App& app, InspectOptions& o) {
  auto* s = app.add_subcommand(
      "inspect",
      "Look inside a data file before using it: size, what the values are (raw counts, log-normalised, "
      "scaled), cell annotations, coordinates, layers, and whether stai can use it as spatial data or as a "
      "reference.");
  s->add_option("FILE", o.file, "the data file (.h5ad, .loom, .csv, .tsv, .txt)")->required();
  s->add_option("--layer", o.layer, "inspect this layer instead of X");
  s->add_option("--spatial-key", o.spatial_key, "obsm key of the coordinates to check (default: spatial)");
  s->add_option("--label-key", o.label_key, "obs column of cell types to check");
  s->add_option("--coords", o.coords, "table of cell positions to join (for text files)");
  s->add_option("--coords-columns", o.coords_columns, "names of the coordinate columns in --coords, e.g. X,Y");
  s->add_flag("--quiet,-q", o.quiet, "print nothing but warnings and errors");
  s->add_flag("--json", o.json_summary, "print a one-line JSON summary as the last line of standard output");
  s->footer(
      "Examples:\n"
      "  stai inspect osmfish.h5ad\n"
      "  stai inspect zeisel.h5ad --label-key level1class\n"
      "  stai inspect reference.h5ad --layer counts --json");
  return s;
}

inline json run_inspect(InspectOptions& o) {
  Console con{o.quiet, {}};
  need_file(o.file, "FILE");
  const std::string format = input_format(o.file, "FILE");
  std::vector<std::string> layers;
  bool has_raw = false;
  if (format != "text") {
    const h5::File f = h5::File::open(o.file);
    if (f.has_group("layers")) layers = f.group("layers").children();
    has_raw = format == "h5ad" && f.has_group("raw");
    if (!o.layer.empty() && std::find(layers.begin(), layers.end(), o.layer) == layers.end())
      throw Error("--layer: " + o.file + " has no layer '" + o.layer + "' (layers: " +
                  (layers.empty() ? std::string("none") : join(layers, ", ")) + ")");
  }
  AnnData a = read_any(o.file, "FILE", o.layer, o.spatial_key, true);
  if (!o.coords.empty()) {
    CommonOptions c;
    c.coords = o.coords;
    c.coords_columns = o.coords_columns;
    c.spatial_key = o.spatial_key;
    attach_coords(a, c);
  }
  const StateEvidence ev = detect_state(a.X);

  con.say("File:    ", o.file, " (", format == "h5ad" ? "AnnData .h5ad" : format == "loom" ? "loom" : "text table", ")");
  con.say("Matrix:  ", o.layer.empty() ? std::string("X") : "layers['" + o.layer + "']", ", ", a.n_obs(), " cells x ",
          a.n_vars(), " genes, ", fmt(100 * ev.zero_fraction, 1), "% zeros");
  con.say("Values:  ", to_string(ev.state), " (", ev.reason, "); range ", fmt(ev.min, 3), " .. ", fmt(ev.max, 3),
          ", per-cell totals ", fmt(ev.row_sum_min, 1), " .. ", fmt(ev.row_sum_max, 1), " (median ",
          fmt(ev.row_sum_median, 1), ")", ev.n_zero_rows ? ", " + std::to_string(ev.n_zero_rows) + " empty cells" : "");
  con.say("Genes:   ", join(a.var_names, ", ", 8));
  con.say("Cells:   ", join(a.obs_names, ", ", 5));

  // obs columns
  json obs = json::array();
  std::vector<std::string> label_candidates;
  con.say("obs (", a.obs.size(), " column", a.obs.size() == 1 ? "" : "s", "):", a.obs.empty() ? " none" : "");
  for (const auto& [k, c] : a.obs) {
    json j = {{"name", k}};
    std::string line;
    if (c.kind == Column::Kind::String) {
      std::map<std::string, index_t> cnt;
      for (const auto& v : c.str) ++cnt[v];
      std::vector<std::pair<std::string, index_t>> v(cnt.begin(), cnt.end());
      std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
      j["kind"] = c.categorical ? "categorical" : "text";
      j["n_values"] = v.size();
      json top = json::object();
      std::string shown;
      for (std::size_t q = 0; q < v.size() && q < 6; ++q) {
        top[v[q].first] = v[q].second;
        shown += (q ? ", " : "") + v[q].first + " (" + std::to_string(v[q].second) + ")";
      }
      if (v.size() > 6) shown += ", ...";
      j["top_values"] = top;
      line = std::string(c.categorical ? "categorical" : "text") + ", " + std::to_string(v.size()) + " values: " + shown;
      if (v.size() >= 2 && static_cast<index_t>(v.size()) <= std::max<index_t>(2, a.n_obs() / 5) && v.size() <= 500)
        label_candidates.push_back(k);
    } else {
      double mn = INFINITY, mx = -INFINITY, s = 0;
      index_t nan = 0;
      for (double x : c.num) {
        if (!std::isfinite(x)) {
          ++nan;
          continue;
        }
        mn = std::min(mn, x);
        mx = std::max(mx, x);
        s += x;
      }
      const index_t n = c.size() - nan;
      j["kind"] = "numeric";
      j["min"] = n ? mn : NAN;
      j["max"] = n ? mx : NAN;
      j["mean"] = n ? s / double(n) : NAN;
      j["n_missing"] = nan;
      line = "numeric, " + fmt(n ? mn : NAN, 3) + " .. " + fmt(n ? mx : NAN, 3) + ", mean " + fmt(n ? s / double(n) : NAN, 3) +
             (nan ? ", " + std::to_string(nan) + " missing" : "");
    }
    obs.push_back(j);
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-20s ", k.c_str());
    con.say(buf, line);
  }

  json obsm = json::object();
  con.say("obsm (", a.obsm.size(), "):", a.obsm.empty() ? " none" : "");
  for (const auto& [k, m] : a.obsm) {
    obsm[k] = {m.rows(), m.cols()};
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-20s ", k.c_str());
    con.say(buf, m.rows(), " x ", m.cols());
  }
  con.say("layers:  ", layers.empty() ? std::string("none") : join(layers, ", "), has_raw ? "   (and a .raw matrix)" : "");
  if (!a.uns.empty()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : a.uns) keys.push_back(k);
    con.say("uns:     ", join(keys, ", ", 12));
  }

  // What stai would do.
  auto attempt = [&](const InputSpec& spec) -> std::pair<bool, std::string> {
    AnnData copy = a;
    try {
      const InputReport r = check_input(copy, spec, {});
      std::string w;
      for (const auto& x : r.warnings) w += (w.empty() ? "" : "; ") + one_line(x);
      return {true, w};
    } catch (const Error& e) {
      return {false, one_line(e.what())};
    }
  };
  const std::string label = !o.label_key.empty() ? o.label_key : (label_candidates.empty() ? "" : label_candidates.front());
  const auto [sp_ok, sp_msg] = attempt({Role::Spatial, DataState::Unknown, o.spatial_key, "", 10});
  const auto [rf_ok, rf_msg] = attempt({Role::Reference, DataState::Unknown, "", label, 0});
  con.say("");
  con.say("What stai would do with it:");
  if (sp_ok) {
    const auto& c = a.obsm.at(o.spatial_key);
    con.say("  as --spatial:   usable. Coordinates obsm['", o.spatial_key, "'] (", c.cols(), "-D) give each cell its 10 "
            "nearest neighbours; the values (", to_string(ev.state), ") are z-scored per gene and clipped at 10.",
            sp_msg.empty() ? "" : " Note: " + sp_msg);
  } else {
    con.say("  as --spatial:   not usable as is: ", sp_msg);
  }
  if (rf_ok) {
    con.say("  as --reference: usable. ",
            ev.state == DataState::LogNormalized ? "The values look log-normalised and are used as they are"
                                                 : "The counts are normalised to 10,000 per cell and log1p-transformed",
            "; the genes shared with the spatial data are z-scored for the model, and any of its ", a.n_vars(),
            " genes can be imputed.", rf_msg.empty() ? "" : " Note: " + rf_msg);
    if (!label.empty())
      con.say("                  Cell types for annotation: --label-key ", label,
              label_candidates.size() > 1 ? " (other candidate columns: " +
                                                join(std::vector<std::string>(label_candidates.begin() + 1, label_candidates.end()), ", ") + ")"
                                          : std::string());
    else
      con.say("                  No column of cell types was found; annotation needs one (--label-key).");
  } else {
    con.say("  as --reference: not usable as is: ", rf_msg);
  }

  return {{"command", "inspect"},
          {"status", "ok"},
          {"stai_version", version()},
          {"file", o.file},
          {"format", format},
          {"matrix", o.layer.empty() ? std::string("X") : "layers/" + o.layer},
          {"n_obs", a.n_obs()},
          {"n_vars", a.n_vars()},
          {"state", to_string(ev.state)},
          {"state_reason", ev.reason},
          {"zero_fraction", ev.zero_fraction},
          {"min", ev.min},
          {"max", ev.max},
          {"n_empty_cells", ev.n_zero_rows},
          {"var_names_head", std::vector<std::string>(a.var_names.begin(), a.var_names.begin() + std::min<std::size_t>(20, a.var_names.size()))},
          {"obs", obs},
          {"obsm", obsm},
          {"layers", layers},
          {"has_raw", has_raw},
          {"label_candidates", label_candidates},
          {"usable_as_spatial", sp_ok},
          {"spatial_problem", sp_ok ? json(nullptr) : json(sp_msg)},
          {"usable_as_reference", rf_ok},
          {"reference_problem", rf_ok ? json(nullptr) : json(rf_msg)},
          {"warnings", con.warnings}};
}

}  // namespace stai::cli
