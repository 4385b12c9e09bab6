// stai command-line program — the run's configuration: a YAML/JSON file on top of the
// command's defaults, then the command-line overrides.
#pragma once
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include <stai/io/config_yaml.hpp>
#include <stai/model/config.hpp>

#include "console.hpp"
#include "options.hpp"
#include "readers.hpp"
#include "strings.hpp"

namespace stai::cli {

using json = nlohmann::json;

inline constexpr int kMaxEpochs = 1000000;
/// Seeds are 32-bit (the fold split draws from numpy's RandomState).
inline constexpr long long kMaxSeed = 4294967295LL;

/// The configuration a --preset starts from: for imputation, Config::preset;
/// on top of another base (the demo's annotation settings), the stai preset
/// adds the refinement with its parameters chosen by inner cross-validation.
inline Config preset_base(const std::string& preset) { return Config::preset(preset); }
inline Config with_preset(Config base, const std::string& preset) {
  if (preset != "stai") return base;
  const Config s = Config::stai();
  base.validation_fold = s.validation_fold;
  base.blend_weight = s.blend_weight;
  base.ridge_lambda = s.ridge_lambda;
  base.smooth_alpha = s.smooth_alpha;
  return base;
}

/// Reads a YAML/JSON config file on top of `base` (keys not in the file keep
/// base's values), then applies the command-line overrides. `min_epochs` is
/// 1, or 0 where an untrained model is meaningful (the demo's baseline).
inline Config build_config(Config base, const CommonOptions& o, Console& con, int min_epochs = 1) {
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
  if (o.epochs != kEpochsUnset && (o.epochs < min_epochs || o.epochs > kMaxEpochs))
    throw UsageError("--epochs " + std::to_string(o.epochs) + " is out of range; give " + std::to_string(min_epochs) +
                     " to " + std::to_string(kMaxEpochs) + " epochs per submodel");
  if (o.epochs != kEpochsUnset) base.num_epoch = o.epochs;
  if (o.seed != kSeedUnset && (o.seed < 0 || o.seed > kMaxSeed))
    throw UsageError("--seed " + std::to_string(o.seed) + " is out of range; give 0 to " + std::to_string(kMaxSeed));
  if (o.seed != kSeedUnset) base.seed = static_cast<std::uint64_t>(o.seed);
  if (o.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (o.threads > 0) base.threads = o.threads;
  const std::string from = o.config_path.empty() ? std::string() : " (from --config " + o.config_path + ")";
  if (base.num_epoch < min_epochs)
    throw Error("num_epoch = " + std::to_string(base.num_epoch) + from + " trains nothing; give 1 to " +
                std::to_string(kMaxEpochs) + " epochs");
  if (base.seed > static_cast<std::uint64_t>(kMaxSeed))
    throw Error("seed = " + std::to_string(base.seed) + from + " is out of range; give 0 to " + std::to_string(kMaxSeed));
  try {
    base.validate();
  } catch (const Error& ex) {
    throw Error(one_line(ex.what()) + (o.config_path.empty() ? "" : " (from --config " + o.config_path + ")"));
  }
  return base;
}

}  // namespace stai::cli
