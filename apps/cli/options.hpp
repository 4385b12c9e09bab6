// stai command-line program — the options shared by the subcommands (input data, model and
// training, output) and the usage-error type.
#pragma once
#include <limits>
#include <string>

#include <CLI/CLI.hpp>

#include <stai/backend/select.hpp>
#include <stai/data/contract.hpp>

namespace stai::cli {

/// A mistake in how the program was called (exit code 2), as opposed to a
/// problem with the data or the run (stai::Error, exit code 1).
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& what) : std::runtime_error(what) {}
};

/// --seed / --epochs not given (the config's value is used).
inline constexpr long long kSeedUnset = std::numeric_limits<long long>::min();
inline constexpr int kEpochsUnset = std::numeric_limits<int>::min();

/// Flags shared by the subcommands that read data and train a model.
struct CommonOptions {
  std::string spatial, reference, out;
  std::string config_path;
  long long seed = kSeedUnset;  ///< kSeedUnset = from the config (default 8848)
  int threads = 0;      ///< 0 = all cores
  std::string backend = "cpu";  ///< cpu | cuda
  int device = 0;               ///< CUDA device id (--backend cuda)
  int epochs = kEpochsUnset;    ///< kEpochsUnset = from the config
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
  std::string preset = "stai";  ///< imputation preset: stai | reference
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

/// --preset, for the subcommands that impute.
inline void add_preset_option(CLI::App* s, CommonOptions& o) {
  s->add_option("--preset", o.preset,
                "imputation method: stai (default: the stAI model refined by a linear transfer head and spatial "
                "smoothing, chosen by cross-validation on the measured genes) or reference (the published method, "
                "reproduced exactly)")
      ->check(CLI::IsMember({"stai", "reference"}))
      ->group("Model and training");
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

inline DataState parse_state(const std::string& s) {
  if (s == "counts") return DataState::RawCounts;
  if (s == "lognorm") return DataState::LogNormalized;
  if (s == "scaled") return DataState::Scaled;
  return DataState::Unknown;
}

}  // namespace stai::cli
