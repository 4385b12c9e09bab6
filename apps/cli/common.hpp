// stai command-line program — pieces shared by the subcommands: options,
// reading inputs by file type, the configuration, progress reporting, the
// JSON summary and small output helpers.
#pragma once
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <stai/backend/cpu.hpp>
#include <stai/backend/select.hpp>
#include <stai/data/contract.hpp>
#include <stai/data/genes.hpp>
#include <stai/eval/metrics.hpp>
#include <stai/io/config_yaml.hpp>
#include <stai/io/h5ad.hpp>
#include <stai/io/loom.hpp>
#include <stai/io/plot.hpp>
#include <stai/io/text.hpp>
#include <stai/model/model_file.hpp>
#include <stai/model/pipeline.hpp>

namespace stai::cli {

using json = nlohmann::json;
namespace fs = std::filesystem;

/// A mistake in how the program was called (exit code 2), as opposed to a
/// problem with the data or the run (stai::Error, exit code 1).
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& what) : std::runtime_error(what) {}
};

/// Set by SIGINT; the progress callback then cancels training.
inline std::atomic<bool>& interrupted() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline void on_sigint(int) { interrupted().store(true); }

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// Flags shared by the subcommands that read data and train a model.
struct CommonOptions {
  std::string spatial, reference, out;
  std::string config_path;
  long long seed = -1;  ///< -1 = from the config (default 8848)
  int threads = 0;      ///< 0 = all cores
  std::string backend = "cpu";  ///< cpu | cuda
  int device = 0;               ///< CUDA device id (--backend cuda)
  int epochs = -1;      ///< -1 = from the config
  std::string spatial_key = "spatial";
  std::string label_key;
  std::string layer, spatial_layer, reference_layer;
  std::string spatial_state = "auto", reference_state = "auto";
  bool drop_empty_cells = false;
  std::string save_model, model;
  bool quiet = false, json_summary = false;
  std::string plot_dir, plot_format = "png";
  std::string coords, coords_columns, labels, labels_column;
  bool embed = false;
};

inline const char* kStateHelp = "auto (detect), counts (raw counts), lognorm (normalised + log1p) or scaled";

/// Adds the options every training subcommand has.
inline void add_config_options(CLI::App* s, CommonOptions& o) {
  const char* g = "Model and training";
  s->add_option("--config", o.config_path,
                "YAML or JSON file with model/training settings, using the keys of the original stAI "
                "configs (d_hidden, lam_mmd, num_epoch, k_folds, ...)")
      ->group(g);
  s->add_option("--epochs", o.epochs, "training epochs per submodel (overrides the config)")->group(g);
  s->add_option("--seed", o.seed, "random seed (default 8848, as the original stAI); same seed, same result")
      ->group(g);
  s->add_option("--threads", o.threads, "CPU threads to use (default: all cores; the same thread count gives the same results bit for bit)")->group(g);
  s->add_option("--backend", o.backend,
                std::string("where to train and run the model: cpu, or cuda (an NVIDIA GPU; ") +
                    (cuda_compiled() ? "built into this program" : "not built into this program") + ")")
      ->check(CLI::IsMember({"cpu", "cuda"}, CLI::ignore_case))
      ->group(g);
  s->add_option("--device", o.device, "CUDA device id for --backend cuda (default 0)")->group(g);
}

inline void add_input_options(CLI::App* s, CommonOptions& o, bool reference_required) {
  const char* g = "Input data";
  s->add_option("--spatial", o.spatial,
                "spatial data: cells x genes with cell positions (.h5ad, .loom, or .csv/.tsv/.txt "
                "with --coords)")
      ->required()
      ->group(g);
  auto* r = s->add_option("--reference", o.reference,
                          "single-cell RNA-seq reference of the same tissue (.h5ad, .loom, .csv/.tsv/.txt)")
                ->group(g);
  if (reference_required) r->required();
  s->add_option("--spatial-key", o.spatial_key, "obsm key holding the cell coordinates (default: spatial)")
      ->group(g);
  s->add_option("--layer", o.layer, "read this layer instead of X in both inputs (e.g. counts)")->group(g);
  s->add_option("--spatial-layer", o.spatial_layer, "read this layer instead of X in the spatial data")
      ->group(g);
  s->add_option("--reference-layer", o.reference_layer, "read this layer instead of X in the reference")
      ->group(g);
  s->add_option("--spatial-state", o.spatial_state, std::string("what the spatial values are: ") + kStateHelp)
      ->check(CLI::IsMember({"auto", "counts", "lognorm", "scaled"}))
      ->group(g);
  s->add_option("--reference-state", o.reference_state,
                std::string("what the reference values are: ") + kStateHelp)
      ->check(CLI::IsMember({"auto", "counts", "lognorm", "scaled"}))
      ->group(g);
  s->add_flag("--drop-empty-cells", o.drop_empty_cells,
              "drop cells whose values are all zero instead of stopping with an error")
      ->group(g);
  s->add_option("--coords", o.coords,
                "table of cell positions (columns x and y, one row per spatial cell) for text inputs")
      ->group(g);
  s->add_option("--coords-columns", o.coords_columns,
                "names of the coordinate columns in --coords, e.g. X,Y (default: x,y in any case)")
      ->group(g);
  s->add_option("--labels", o.labels, "table of reference cell types (one row per reference cell) for text inputs")
      ->group(g);
  s->add_option("--labels-column", o.labels_column, "column of --labels holding the cell types")->group(g);
}

inline void add_output_options(CLI::App* s, CommonOptions& o, bool models) {
  const char* g = "Output";
  if (models) {
    s->add_option("--save-model", o.save_model,
                  "also save the trained model to this file, to apply it later with --model")
        ->group(g);
  }
  s->add_flag("--quiet,-q", o.quiet, "print nothing but warnings and errors (no progress)")->group(g);
  s->add_flag("--json", o.json_summary,
              "print a one-line JSON summary of the run as the last line of standard output (for scripts)")
      ->group(g);
  s->add_option("--plot", o.plot_dir, "write figures into this folder (created if needed)")->group(g);
  s->add_option("--plot-format", o.plot_format, "figure format: png (default), svg or pdf")
      ->check(CLI::IsMember({"png", "svg", "pdf"}))
      ->group(g);
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string extension(const std::string& path) {
  const fs::path p(path);
  std::string e = lower(p.extension().string());
  return e;
}

/// Strips the "stai: " prefix of stai::Error messages, folds lines, and
/// names the program's flags where library messages name library options.
inline std::string one_line(std::string m) {
  if (m.rfind("stai: ", 0) == 0) m.erase(0, 6);
  for (char& c : m)
    if (c == '\n' || c == '\r') c = ' ';
  const std::pair<const char*, const char*> hints[] = {
      {"set drop_zero_total_cells to drop them", "pass --drop-empty-cells to drop them"},
      {"Declare the state of the reference explicitly", "Declare the state of the reference with --reference-state"},
      {"lower spatial_knn to at most", "lower spatial_knn (in --config) to at most"}};
  for (const auto& [from, to] : hints)
    if (const auto p = m.find(from); p != std::string::npos) m.replace(p, std::strlen(from), to);
  return m;
}

inline std::string fmt(double v, int prec = 3) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

inline std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%d min %02d s", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%d h %02d min", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep, std::size_t max = 1000000) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? sep : "") + v[i];
  if (v.size() > max) s += sep + "... (" + std::to_string(v.size()) + " in all)";
  return s;
}

/// A file name made from a gene or class name (letters, digits, - _ . kept).
inline std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s)
    o += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return o.empty() ? std::string("_") : o;
}

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  void reset() { t0_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

/// Human-readable output on stdout (silenced by --quiet) and warnings on stderr.
struct Console {
  bool quiet = false;
  std::vector<std::string> warnings;
  template <class... A>
  void say(const A&... a) const {
    if (quiet) return;
    std::ostringstream os;
    (os << ... << a);
    std::cout << os.str() << '\n' << std::flush;
  }
  void warn(const std::string& w) {
    const std::string m = one_line(w);
    warnings.push_back(m);
    std::cerr << "stai: warning: " << m << '\n' << std::flush;
  }
};

inline DataState parse_state(const std::string& s) {
  if (s == "counts") return DataState::RawCounts;
  if (s == "lognorm") return DataState::LogNormalized;
  if (s == "scaled") return DataState::Scaled;
  return DataState::Unknown;
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// Throws unless `path` names an existing, readable file.
inline void need_file(const std::string& path, const std::string& flag) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(flag + ": file '" + path + "' does not exist; check the path (relative paths start in '" +
                fs::current_path(ec).string() + "')");
  if (fs::is_directory(path, ec)) throw Error(flag + ": '" + path + "' is a folder; give a data file");
}

inline bool is_text_ext(const std::string& e) { return e == ".csv" || e == ".tsv" || e == ".txt" || e == ".tab"; }

/// The kind of a data file from its extension, or an error naming what is supported.
inline std::string input_format(const std::string& path, const std::string& flag) {
  const std::string e = extension(path);
  if (e == ".h5ad") return "h5ad";
  if (e == ".loom") return "loom";
  if (is_text_ext(e)) return "text";
  std::string hint;
  if (e == ".gz" || e == ".bz2" || e == ".zip") hint = " (decompress it first)";
  else if (e == ".rds" || e == ".h5seurat") hint = " (export it from R, e.g. with SeuratDisk or zellkonverter, as .h5ad)";
  else if (e == ".mtx") hint = " (load it in scanpy and write_h5ad)";
  else if (e == ".zarr") hint = " (write it as .h5ad with anndata's write_h5ad)";
  else if (e == ".h5") hint = " (10x .h5 files: load with scanpy.read_10x_h5 and write_h5ad)";
  throw Error(flag + ": cannot read '" + path + "': unsupported file type '" + (e.empty() ? std::string("(none)") : e) +
              "'; stai reads .h5ad, .loom, .csv, .tsv and .txt" + hint);
}

/// Reads a data file by its extension. `layer` = "" reads X (or /matrix).
inline AnnData read_any(const std::string& path, const std::string& flag, const std::string& layer,
                        const std::string& spatial_key = "spatial", bool want_xy = false) {
  need_file(path, flag);
  const std::string f = input_format(path, flag);
  AnnData a;
  if (f == "h5ad") {
    H5adReadOptions o;
    o.layer = layer;
    a = read_h5ad(path, o);
  } else if (f == "loom") {
    LoomReadOptions o;
    o.layer = layer;
    o.spatial_key = spatial_key;
    if (want_xy) {
      const h5::File file = h5::File::open(path);
      if (file.has_group("col_attrs")) {
        const auto ca = file.group("col_attrs");
        if (!ca.has(spatial_key)) {
          for (auto [x, y] : {std::pair{"X", "Y"}, {"x", "y"}, {"x_centroid", "y_centroid"}})
            if (ca.has_dataset(x) && ca.has_dataset(y)) {
              o.spatial_from_xy = true;
              o.x_attr = x;
              o.y_attr = y;
              break;
            }
        }
      }
    }
    a = read_loom(path, o);
  } else {
    if (!layer.empty()) throw Error(flag + ": '" + path + "' is a text table and has no layers; drop --layer");
    a = read_table(path);
  }
  a.source = path;
  return a;
}

/// Splits "a,b" / "a b" into names.
inline std::vector<std::string> split_names(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ';' || std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// Joins a coordinate table into a.obsm[key].
inline void attach_coords(AnnData& a, const CommonOptions& o) {
  need_file(o.coords, "--coords");
  TextTable t = read_text_table(o.coords);
  CoordinateOptions co;
  co.key = o.spatial_key;
  if (!o.coords_columns.empty()) {
    const auto cols = split_names(o.coords_columns);
    if (cols.size() != 2 && cols.size() != 3)
      throw UsageError("--coords-columns needs two or three column names, e.g. X,Y");
    co.x = cols[0];
    co.y = cols[1];
    if (cols.size() == 3) co.z = cols[2];
  } else {
    auto find = [&](const std::vector<std::string>& names) -> std::string {
      for (const auto& c : t.col_names)
        for (const auto& n : names)
          if (lower(c) == n) return c;
      return "";
    };
    co.x = find({"x", "x_centroid", "center_x", "imagecol", "col"});
    co.y = find({"y", "y_centroid", "center_y", "imagerow", "row"});
    if (co.x.empty() || co.y.empty())
      throw Error("--coords: " + o.coords + " has no columns named x and y (its columns: " + t.col_list() +
                  "); name them with --coords-columns, e.g. --coords-columns " +
                  (t.col_names.size() >= 2 ? t.col_names[0] + "," + t.col_names[1] : std::string("X,Y")));
  }
  add_coordinates(a, t, co);
}

inline void attach_labels(AnnData& a, const CommonOptions& o, const std::string& key) {
  need_file(o.labels, "--labels");
  TextTable t = read_text_table(o.labels);
  LabelOptions lo;
  lo.obs_key = key;
  lo.column = o.labels_column;
  if (lo.column.empty() && t.cols() > 1) {
    if (t.find_col(key) >= 0) lo.column = key;
    else
      throw Error("--labels: " + o.labels + " has " + std::to_string(t.cols()) + " columns (" + t.col_list() +
                  "); say which holds the cell types with --labels-column");
  }
  add_labels(a, t, lo);
}

inline std::string layer_for(const CommonOptions& o, bool spatial) {
  const std::string& specific = spatial ? o.spatial_layer : o.reference_layer;
  return specific.empty() ? o.layer : specific;
}

inline AnnData read_spatial(const CommonOptions& o) {
  AnnData a = read_any(o.spatial, "--spatial", layer_for(o, true), o.spatial_key, o.coords.empty());
  if (!o.coords.empty()) attach_coords(a, o);
  if (!a.obsm.count(o.spatial_key)) {
    std::string keys;
    for (const auto& [k, m] : a.obsm) keys += (keys.empty() ? "" : ", ") + k;
    if (input_format(o.spatial, "--spatial") == "text")
      throw Error("--spatial: " + o.spatial + " is a text table without cell positions; pass them with "
                  "--coords FILE (a table with columns x and y, one row per cell)");
    throw Error("--spatial: " + o.spatial + " has no cell coordinates in obsm['" + o.spatial_key +
                "'] (obsm keys: " + (keys.empty() ? std::string("none") : keys) +
                "); name the right key with --spatial-key, or give a table of positions with --coords");
  }
  return a;
}

inline AnnData read_reference(const CommonOptions& o) {
  AnnData a = read_any(o.reference, "--reference", layer_for(o, false));
  if (!o.labels.empty()) attach_labels(a, o, o.label_key.empty() ? std::string("celltype") : o.label_key);
  if (!o.label_key.empty() && !a.obs.count(o.label_key)) {
    std::vector<std::string> cands;
    for (const auto& [k, c] : a.obs)
      if (c.kind == Column::Kind::String) cands.push_back(k);
    throw Error("--label-key: the reference " + o.reference + " has no obs column '" + o.label_key +
                "'; its text columns are: " + (cands.empty() ? std::string("(none)") : join(cands, ", ")) +
                " (run 'stai inspect " + o.reference + "' to see them, or pass a table with --labels)");
  }
  return a;
}

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/// Checks, before any work is done, that `path` can be written: a supported
/// extension and an existing folder. Returns the extension.
inline std::string check_output(const std::string& path, const std::string& flag,
                                const std::vector<std::string>& exts) {
  const std::string e = extension(path);
  if (std::find(exts.begin(), exts.end(), e) == exts.end())
    throw Error(flag + ": cannot write '" + path + "': unsupported output type '" +
                (e.empty() ? std::string("(none)") : e) + "'; use " + join(exts, ", "));
  const fs::path p(path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(flag + ": the folder '" + dir.string() + "' of '" + path + "' does not exist; create it first");
  if (fs::is_directory(p, ec)) throw Error(flag + ": '" + path + "' is a folder; give a file name");
  return e;
}

inline void check_plot_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  const fs::path p(dir);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec))
    throw Error("--plot: '" + dir + "' is a file; give a folder for the figures");
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::exists(p, ec) && !fs::is_directory(parent, ec))
    throw Error("--plot: cannot create '" + dir + "': the folder '" + parent.string() + "' does not exist");
}

inline void make_plot_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--plot: cannot create the folder '" + dir + "': " + ec.message());
}

/// Writes a table of strings as CSV/TSV, atomically.
inline void write_table(const std::string& path, const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  const char d = extension(path) == ".tsv" ? '\t' : ',';
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    STAI_CHECK(f, tmp, ": cannot create the file (is the folder writable?)");
    auto line = [&](const std::vector<std::string>& v) {
      for (std::size_t j = 0; j < v.size(); ++j) f << (j ? std::string(1, d) : "") << csv_escape(v[j], d);
      f << '\n';
    };
    line(header);
    for (const auto& r : rows) line(r);
    f.close();
    STAI_CHECK(f, tmp, ": write failed (disk full?)");
  });
}

inline std::string num_text(double v) { return std::isfinite(v) ? format_value(v) : std::string("NaN"); }

/// x, y columns of the coordinates (the first two), for figures.
inline RowMatrix<double> xy_of(const RowMatrix<double>& c) { return c.leftCols(2); }

// ---------------------------------------------------------------------------
// Configuration and backend
// ---------------------------------------------------------------------------

/// Reads a YAML/JSON config file on top of `base` (keys not in the file keep
/// base's values), then applies the command-line overrides.
inline Config build_config(Config base, const CommonOptions& o, Console& con) {
  if (!o.config_path.empty()) {
    need_file(o.config_path, "--config");
    std::ifstream f(o.config_path);
    STAI_CHECK(f, "--config: cannot open '", o.config_path, "' (permissions?)");
    std::stringstream ss;
    ss << f.rdbuf();
    json j;
    const std::string e = extension(o.config_path);
    try {
      if (e == ".json") {
        j = json::parse(ss.str());
      } else {
        j = detail::yaml_to_json(YAML::Load(ss.str()));
      }
    } catch (const std::exception& ex) {
      throw Error("--config: " + o.config_path + " is not valid " + (e == ".json" ? "JSON" : "YAML") + ": " +
                  one_line(ex.what()));
    }
    if (j.is_null()) j = json::object();
    try {
      for (const auto& n : base.apply(j)) con.warn(o.config_path + ": " + n);
    } catch (const Error& ex) {
      std::string m = one_line(ex.what());
      if (m.rfind("config: ", 0) == 0) m.erase(0, 8);
      throw Error("--config: " + o.config_path + ": " + m);
    }
  }
  if (o.epochs >= 0) base.num_epoch = o.epochs;
  if (o.epochs < -1) throw UsageError("--epochs must be >= 0");
  if (o.seed >= 0) base.seed = static_cast<std::uint64_t>(o.seed);
  if (o.seed < -1) throw UsageError("--seed must be >= 0");
  if (o.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (o.threads > 0) base.threads = o.threads;
  try {
    base.validate();
  } catch (const Error& ex) {
    throw Error(one_line(ex.what()) + (o.config_path.empty() ? "" : " (from --config " + o.config_path + ")"));
  }
  return base;
}

/// Threads to use when --threads is not given: all cores. (Results are
/// bitwise reproducible for a given thread count; on a machine busy with
/// other work, --threads 1 can be faster than competing for the cores.)
inline int default_threads() { return std::max(1, omp_get_num_procs()); }

inline std::string threads_text(int n) { return std::to_string(n) + (n == 1 ? " thread" : " threads"); }

inline Cpu make_backend(int threads) {
  Cpu be;
  be.threads = threads > 0 ? threads : default_threads();
  omp_set_num_threads(be.threads);
  return be;
}

/// What a backend is, for messages: "2 threads", "CUDA device 0".
inline std::string backend_text(const Cpu& be) { return threads_text(be.num_threads()); }
template <class B>
std::string backend_text(const B& be) {
  return "CUDA device " + std::to_string(be.device);
}

/// STAI_CLI_CUDA(call): the call in programs built with the CUDA backend;
/// elsewhere a placeholder never reached (run_on_backend refuses cuda first).
#if defined(STAI_WITH_CUDA)
#define STAI_CLI_CUDA(call) (call)
#else
#define STAI_CLI_CUDA(call) json()
#endif

/// Runs a command on the backend chosen by --backend: `on_cpu(Cpu&)` here,
/// or `on_cuda()`, a function compiled by nvcc into the program
/// (apps/stai_cuda.cu) that opens the device and runs the same template.
/// A clear error where CUDA is not built in or there is no GPU.
template <class OnCpu, class OnCuda>
json run_on_backend(const CommonOptions& o, OnCpu&& on_cpu, OnCuda&& on_cuda) {
  const BackendKind k = parse_backend(o.backend);  // checked by the option already
  if (o.device < 0) throw UsageError("--device must be >= 0 (a CUDA device id)");
  if (k == BackendKind::Cuda) {
    require_backend(k);
    make_backend(o.threads);  // host-side threads (reading, preprocessing, the spatial graph)
    return on_cuda();
  }
  if (o.device != 0) throw UsageError("--device is only used with --backend cuda");
  Cpu be = make_backend(o.threads);
  return on_cpu(be);
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

/// Training progress on stderr: a redrawn bar on a terminal, plain lines
/// every eval_step epochs otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(bool quiet, int eval_step, std::string prefix = "")
      : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1), eval_step_(std::max(1, eval_step)),
        prefix_(std::move(prefix)) {}
  ~ProgressPrinter() { finish(); }

  void set_prefix(std::string p) { prefix_ = std::move(p); }

  bool operator()(const Progress& p) {
    if (interrupted().load()) return false;
    if (quiet_) return true;
    const double total = double(p.n_submodels) * double(p.n_epochs);
    const double done = double(p.submodel) * double(p.n_epochs) + double(p.epoch);
    const double eta = done > 0 ? p.seconds / done * (total - done) : NAN;
    const bool last = p.epoch == p.n_epochs;
    if (tty_) {
      const auto now = std::chrono::steady_clock::now();
      if (drawn_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return true;
      last_draw_ = now;
      const int width = 24;
      const int fill = total > 0 ? static_cast<int>(width * done / total) : width;
      std::string bar(static_cast<std::size_t>(fill), '#');
      bar += std::string(static_cast<std::size_t>(width - fill), '-');
      std::fprintf(stderr, "\r\033[K%s[%s] submodel %d/%d  epoch %d/%d  loss %.4f  elapsed %s  ETA %s",
                   prefix_.c_str(), bar.c_str(), p.submodel + 1, p.n_submodels, p.epoch, p.n_epochs,
                   p.loss.total, duration(p.seconds).c_str(), duration(eta).c_str());
      std::fflush(stderr);
      drawn_ = true;
    } else if (p.epoch % eval_step_ == 0 || last) {
      std::fprintf(stderr,
                   "stai: %ssubmodel %d/%d, epoch %d/%d: loss %.4f (recon %.4f, mmd %.4f, cos %.4f, impute "
                   "%.4f, clf %.4f, gene %.4f), %s elapsed, about %s left\n",
                   prefix_.c_str(), p.submodel + 1, p.n_submodels, p.epoch, p.n_epochs, p.loss.total,
                   p.loss.recon, p.loss.mmd, p.loss.cos, p.loss.impute, p.loss.clf, p.loss.gene,
                   duration(p.seconds).c_str(), duration(eta).c_str());
      std::fflush(stderr);
    }
    return true;
  }
  void finish() {
    if (tty_ && drawn_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      drawn_ = false;
    }
  }

 private:
  bool quiet_, tty_;
  int eval_step_;
  std::string prefix_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

/// Installs the Ctrl-C handler while alive (training can then stop cleanly).
struct SigintGuard {
  void (*old_)(int);
  SigintGuard() : old_(std::signal(SIGINT, on_sigint)) {}
  ~SigintGuard() { std::signal(SIGINT, old_); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
};

/// Trains with progress. The callback runs every epoch (eval_step 1 inside)
/// so that the bar moves and Ctrl-C is noticed; the plain lines keep the
/// user's eval_step.
template <class B>
FitReport fit_with_progress(Stai<B, float>& model, B& be, AnnData spatial, AnnData reference, const Config& cfg,
                                   const FitOptions& fo, bool quiet, const std::string& prefix = "") {
  Config inner = cfg;
  inner.eval_step = 1;
  ProgressPrinter pp(quiet, cfg.eval_step, prefix);
  SigintGuard guard;
  FitReport rep = model.fit(be, std::move(spatial), std::move(reference), inner, fo,
                            [&pp](const Progress& p) { return pp(p); });
  pp.finish();
  return rep;
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

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
  for (const auto& w : r.warnings) con.warn(w);
}

/// uns entries describing the run.
inline void put_run_metadata(AnnData& out, const std::string& command, const Config& cfg, const json& timings,
                             const json& genes, const json& extra = json::object()) {
  out.uns["stai_version"] = version();
  out.uns["stai_command"] = command;
  out.uns["stai_seed"] = std::to_string(cfg.seed);
  out.uns["stai_config"] = cfg.to_json().dump();
  out.uns["stai_timings"] = timings.dump();
  if (!genes.is_null()) out.uns["stai_gene_match"] = genes.dump();
  for (const auto& [k, v] : extra.items()) out.uns[k] = v.is_string() ? v.get<std::string>() : v.dump();
}

/// The command line as one string (for metadata).
inline std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.find(' ') != std::string::npos) a = "'" + a + "'";
    s += (i ? " " : "") + a;
  }
  return s;
}

/// Finds `g` among `names`: exactly, then ignoring case. -1 when absent.
inline index_t find_gene(const std::vector<std::string>& names, const std::string& g) {
  for (std::size_t j = 0; j < names.size(); ++j)
    if (names[j] == g) return static_cast<index_t>(j);
  const std::string lg = lower(g);
  for (std::size_t j = 0; j < names.size(); ++j)
    if (lower(names[j]) == lg) return static_cast<index_t>(j);
  return -1;
}

/// Column j of X as doubles.
inline std::vector<double> column(const RowMatrix<float>& X, index_t j) {
  std::vector<double> v(static_cast<std::size_t>(X.rows()));
  for (index_t i = 0; i < X.rows(); ++i) v[static_cast<std::size_t>(i)] = X(i, j);
  return v;
}

/// Per-gene agreement of an imputation with measured values.
struct GeneScore {
  std::string gene;
  double pcc = NAN, rmse = NAN, jsd = NAN;
};

inline GeneScore score_gene(const std::string& gene, const std::vector<double>& imputed,
                            const std::vector<double>& measured) {
  GeneScore s;
  s.gene = gene;
  s.pcc = eval::pearson(imputed, measured);
  s.rmse = eval::rmse_zscored(imputed, measured);
  double tot = 0, tot2 = 0;
  for (double v : measured) tot += v;
  for (double v : imputed) tot2 += std::max(v, 0.0);
  s.jsd = (tot > 0 && tot2 > 0) ? eval::jensen_shannon(imputed, measured) : NAN;
  return s;
}

inline json scores_json(const std::vector<GeneScore>& v) {
  json a = json::array();
  for (const auto& s : v) a.push_back({{"gene", s.gene}, {"pcc", s.pcc}, {"rmse", s.rmse}, {"jsd", s.jsd}});
  return a;
}

inline std::vector<double> pccs_of(const std::vector<GeneScore>& v) {
  std::vector<double> p;
  for (const auto& s : v) p.push_back(s.pcc);
  return p;
}

inline double mean_finite(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n ? s / n : NAN;
}

/// Annotation columns added to obs: predicted label, confidence, one
/// probability column per class (names made safe for h5ad keys).
inline void put_annotation(AnnData& out, const Annotation& ann, const std::string& label_key) {
  const std::string base = "stai_" + (label_key.empty() ? std::string("celltype") : label_key);
  out.obs[base] = Column::strings(ann.labels, true);
  out.obs[base].categories = ann.class_names;
  out.obs["stai_confidence"] =
      Column::numeric(std::vector<double>(ann.confidence.begin(), ann.confidence.end()));
  std::set<std::string> used;
  for (std::size_t c = 0; c < ann.class_names.size(); ++c) {
    std::string k = "stai_prob_" + ann.class_names[c];
    for (char& ch : k)
      if (ch == '/') ch = '_';
    while (!used.insert(k).second) k += "_";
    std::vector<double> p(static_cast<std::size_t>(ann.probabilities.rows()));
    for (index_t i = 0; i < ann.probabilities.rows(); ++i)
      p[static_cast<std::size_t>(i)] = ann.probabilities(i, static_cast<index_t>(c));
    out.obs[k] = Column::numeric(std::move(p));
  }
}

/// Counts of predicted labels, largest first.
inline std::vector<std::pair<std::string, index_t>> label_counts(const Annotation& ann) {
  std::map<std::string, index_t> m;
  for (const auto& l : ann.labels) ++m[l];
  std::vector<std::pair<std::string, index_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}

/// Accuracy / macro F1 of predicted labels against true labels (cells whose
/// true label is not one of the classes are left out).
struct LabelAgreement {
  bool available = false;
  eval::AnnotationReport report;
  index_t n_unknown = 0;
};

inline LabelAgreement compare_labels(const std::vector<std::string>& truth, const Annotation& ann) {
  LabelAgreement a;
  std::map<std::string, index_t> code;
  for (std::size_t c = 0; c < ann.class_names.size(); ++c) code[ann.class_names[c]] = static_cast<index_t>(c);
  std::vector<index_t> t, p;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto it = code.find(truth[i]);
    if (it == code.end()) {
      ++a.n_unknown;
      t.push_back(-1);
    } else {
      t.push_back(it->second);
    }
    p.push_back(ann.predicted[i]);
  }
  if (static_cast<index_t>(truth.size()) == a.n_unknown) return a;
  a.report = eval::annotation_report(t, p, ann.class_names);
  a.available = true;
  return a;
}

}  // namespace stai::cli
