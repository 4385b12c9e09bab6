// stai — model and training configuration.
//
// Defaults are the authors' osmFISH imputation config (docs/model.md, "Presets");
// Config::annotation() gives their annotation config. Configs can be read
// from JSON text (this header) or YAML (io/config_yaml.hpp), accepting the
// reference implementation's key names, flat or nested under
// model_parameters / training_parameters / data_paths. Unknown keys and
// out-of-range values are errors that name the key.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../error.hpp"
#include "../refine/linear_input.hpp"

namespace stai {

enum class AttentionType { Euclidean, Learnable };
enum class GeneLossVariant { Cosine, Frobenius };

struct Config {
  // model_parameters
  int d_hidden = 64;
  int d_latent = 16;
  double lam_recon = 1, lam_mmd = 0.1, lam_cos = 1;
  double lam_clf = 0.1, lam_impute = 1, lam_genegraph = 0;
  double dropout = 0.0;  ///< the authors' model default
  AttentionType attn_type = AttentionType::Euclidean;
  int topk = 50;  ///< <= 0 means all reference cells (the paper's variant)
  bool linear_clf = false;
  GeneLossVariant gene_loss = GeneLossVariant::Cosine;
  // training_parameters
  int num_epoch = 500;
  double lr = 0.002;
  int k_folds = 5;
  int spatial_knn = 10;
  double p_class = 0;       ///< class weights 1/count^p; 0 = unweighted
  int spatial_batchsize = -1;  ///< -1 = full batch
  int rna_batchsize = -1;      ///< -1 = full batch
  int eval_step = 50;          ///< progress report interval (epochs)
  std::uint64_t seed = 8848;
  int threads = 0;             ///< 0 = all available
  // refinement (docs/model.md "Refinement"; off in the reference method)
  /// Submodel f also leaves out fold f+1 (its validation genes) from its
  /// inputs, so every model gene has a prediction from a submodel that never
  /// saw it: what the inner cross-validation of the refinement scores.
  bool validation_fold = false;
  double blend_weight = 0;     ///< weight of the linear transfer head in [0, 1]; -1 = chosen by inner CV
  double ridge_lambda = 0.1;   ///< ridge penalty of the linear transfer head (> 0); -1 = chosen by inner CV
  double smooth_alpha = 0;     ///< spatial smoothing weight in [0, 1); -1 = chosen by inner CV
  int smooth_iterations = 10;  ///< label-propagation steps of the smoothing
  /// Share u in [0, 1] of the linear head reading the cells log-normalised
  /// on the model genes, against the one reading their scaled values; -1 =
  /// chosen by inner CV.
  double linear_lognorm = 0;
  double ridge_lambda_lognorm = 0.1;  ///< its ridge penalty (> 0); -1 = chosen by inner CV
  /// What the inner cross-validation maximises (refine/linear_input.hpp).
  refine::InnerObjective inner_objective = refine::InnerObjective::Pcc;

  /// The refinement is applied (a blend or a smoothing is asked for).
  bool refines() const { return blend_weight != 0 || smooth_alpha != 0; }

  /// The authors' osmFISH imputation config (the default-constructed one).
  static Config imputation() { return Config{}; }
  /// The published method as its authors run it: the imputation config.
  static Config reference() { return imputation(); }
  /// stai's default for imputation: the published model trained for 150
  /// epochs with a validation fold, then refined (linear transfer head
  /// blended in, spatial smoothing), every refinement parameter, the linear
  /// head's input included, chosen by cross-validation on the measured model
  /// genes for predictions that track both the measured values and the
  /// log-normalised expression (inner objective "balanced").
  static Config stai() {
    Config c;
    c.num_epoch = 150;
    c.validation_fold = true;
    c.blend_weight = -1;
    c.ridge_lambda = -1;
    c.smooth_alpha = -1;
    c.linear_lognorm = -1;
    c.ridge_lambda_lognorm = -1;
    c.inner_objective = refine::InnerObjective::Balanced;
    return c;
  }
  /// A named preset: "reference" or "stai".
  static Config preset(const std::string& name) {
    if (name == "reference") return reference();
    if (name == "stai") return stai();
    throw Error("unknown preset '" + name + "': use 'stai' (the default) or 'reference' (the published method)");
  }
  /// The authors' osmFISH annotation config.
  static Config annotation() {
    Config c;
    c.lam_clf = 10;
    c.lam_impute = 2;
    c.lam_genegraph = 1;
    c.num_epoch = 300;
    c.p_class = 2;
    return c;
  }

  /// Throws naming the key when a value is out of range.
  void validate() const {
    auto need = [](bool ok, const char* key, const std::string& what) {
      STAI_CHECK(ok, "config: '", key, "' ", what);
    };
    need(d_hidden >= 1 && d_hidden <= 65536, "d_hidden", "must be in [1, 65536]");
    need(d_latent >= 1 && d_latent <= 65536, "d_latent", "must be in [1, 65536]");
    for (auto [v, k] : {std::pair{lam_recon, "lam_recon"}, {lam_mmd, "lam_mmd"}, {lam_cos, "lam_cos"},
                        {lam_clf, "lam_clf"}, {lam_impute, "lam_impute"},
                        {lam_genegraph, "lam_genegraph"}})
      need(std::isfinite(v) && v >= 0, k, "must be a finite number >= 0");
    need(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1)");
    need(num_epoch >= 0, "num_epoch", "must be >= 0");
    need(std::isfinite(lr) && lr > 0, "lr", "must be > 0");
    need(k_folds >= 2, "k_folds", "must be >= 2 (one fold of calibration genes, the rest for fitting)");
    need(spatial_knn >= 1, "spatial_knn", "must be >= 1");
    need(std::isfinite(p_class) && p_class >= 0, "p_class", "must be >= 0");
    need(spatial_batchsize == -1 || spatial_batchsize >= 2, "spatial_batchsize", "must be -1 (full batch) or >= 2");
    need(rna_batchsize == -1 || rna_batchsize >= 2, "rna_batchsize", "must be -1 (full batch) or >= 2");
    need(eval_step >= 1, "eval_step", "must be >= 1");
    need(threads >= 0, "threads", "must be >= 0 (0 = all cores)");
    need(blend_weight == -1 || (blend_weight >= 0 && blend_weight <= 1), "blend_weight",
         "must be in [0, 1], or -1 (chosen by inner cross-validation)");
    need(ridge_lambda == -1 || (std::isfinite(ridge_lambda) && ridge_lambda > 0), "ridge_lambda",
         "must be > 0, or -1 (chosen by inner cross-validation)");
    need(smooth_alpha == -1 || (smooth_alpha >= 0 && smooth_alpha < 1), "smooth_alpha",
         "must be in [0, 1), or -1 (chosen by inner cross-validation)");
    need(smooth_iterations >= 1 && smooth_iterations <= 1000, "smooth_iterations", "must be in [1, 1000]");
    need(linear_lognorm == -1 || (linear_lognorm >= 0 && linear_lognorm <= 1), "linear_lognorm",
         "must be in [0, 1], or -1 (chosen by inner cross-validation)");
    need(ridge_lambda_lognorm == -1 || (std::isfinite(ridge_lambda_lognorm) && ridge_lambda_lognorm > 0),
         "ridge_lambda_lognorm", "must be > 0, or -1 (chosen by inner cross-validation)");
    need(!validation_fold || k_folds >= 3, "validation_fold",
         "needs k_folds >= 3 (a calibration fold, a validation fold and fitting genes per submodel)");
    need(validation_fold || (blend_weight != -1 && ridge_lambda != -1 && smooth_alpha != -1 &&
                             linear_lognorm != -1 && ridge_lambda_lognorm != -1),
         "validation_fold",
         "must be true when blend_weight, ridge_lambda, ridge_lambda_lognorm, linear_lognorm or smooth_alpha is "
         "-1: the inner cross-validation "
         "scores predictions of genes a submodel never saw");
  }

  /// Applies one key; unknown keys throw. Returns false for keys that are
  /// accepted but ignored (device_id: stai picks the backend at build time).
  bool set(const std::string& key, const nlohmann::json& v) {
    auto num = [&](double& dst) {
      STAI_CHECK(v.is_number(), "config: '", key, "' must be a number, got ", v.dump());
      dst = v.get<double>();
    };
    auto integer = [&](int& dst) {
      STAI_CHECK(v.is_number_integer() || (v.is_number() && std::floor(v.get<double>()) == v.get<double>()),
                 "config: '", key, "' must be an integer, got ", v.dump());
      dst = static_cast<int>(v.get<double>());
    };
    if (key == "d_hidden") integer(d_hidden);
    else if (key == "d_latent") integer(d_latent);
    else if (key == "lam_recon") num(lam_recon);
    else if (key == "lam_mmd") num(lam_mmd);
    else if (key == "lam_cos") num(lam_cos);
    else if (key == "lam_clf") num(lam_clf);
    else if (key == "lam_impute") num(lam_impute);
    else if (key == "lam_genegraph") num(lam_genegraph);
    else if (key == "dropout") num(dropout);
    else if (key == "num_epoch" || key == "epochs") integer(num_epoch);
    else if (key == "lr") num(lr);
    else if (key == "k_folds") integer(k_folds);
    else if (key == "spatial_knn") integer(spatial_knn);
    else if (key == "p_class") {
      if (v.is_null()) p_class = 0; else num(p_class);
    } else if (key == "spatial_batchsize") integer(spatial_batchsize);
    else if (key == "rna_batchsize") integer(rna_batchsize);
    else if (key == "eval_step") integer(eval_step);
    else if (key == "topk" || key == "top_k") {
      if (v.is_null()) topk = 0; else integer(topk);
    } else if (key == "threads") integer(threads);
    else if (key == "blend_weight") num(blend_weight);
    else if (key == "ridge_lambda") num(ridge_lambda);
    else if (key == "smooth_alpha") num(smooth_alpha);
    else if (key == "smooth_iterations") integer(smooth_iterations);
    else if (key == "linear_lognorm") num(linear_lognorm);
    else if (key == "ridge_lambda_lognorm") num(ridge_lambda_lognorm);
    else if (key == "inner_objective") {
      STAI_CHECK(v.is_string(), "config: 'inner_objective' must be 'pcc', 'pcc_lognorm' or 'balanced', got ",
                 v.dump());
      const auto s = v.get<std::string>();
      if (s == "pcc") inner_objective = refine::InnerObjective::Pcc;
      else if (s == "pcc_lognorm") inner_objective = refine::InnerObjective::PccLognorm;
      else if (s == "balanced") inner_objective = refine::InnerObjective::Balanced;
      else throw Error("config: 'inner_objective' must be 'pcc', 'pcc_lognorm' or 'balanced', got '" + s + "'");
    }
    else if (key == "validation_fold") {
      STAI_CHECK(v.is_boolean(), "config: 'validation_fold' must be true or false");
      validation_fold = v.get<bool>();
    }
    else if (key == "seed" || key == "random_seed") {
      STAI_CHECK(v.is_number_integer() && v.get<long long>() >= 0, "config: '", key,
                 "' must be a non-negative integer");
      seed = v.get<std::uint64_t>();
    } else if (key == "linear_clf") {
      STAI_CHECK(v.is_boolean(), "config: 'linear_clf' must be true or false");
      linear_clf = v.get<bool>();
    } else if (key == "attn_type" || key == "attention") {
      STAI_CHECK(v.is_string(), "config: '", key, "' must be a string");
      const auto s = v.get<std::string>();
      if (s == "euclidean") attn_type = AttentionType::Euclidean;
      else if (s == "attention" || s == "learnable") attn_type = AttentionType::Learnable;
      else throw Error("config: '" + key + "' must be 'euclidean' or 'attention', got '" + s + "'");
    } else if (key == "gene_loss") {
      STAI_CHECK(v.is_string(), "config: 'gene_loss' must be a string");
      const auto s = v.get<std::string>();
      if (s == "cosine") gene_loss = GeneLossVariant::Cosine;
      else if (s == "frobenius") gene_loss = GeneLossVariant::Frobenius;
      else throw Error("config: 'gene_loss' must be 'cosine' or 'frobenius', got '" + s + "'");
    } else if (key == "device_id") {
      return false;
    } else {
      throw Error("config: unknown key '" + key +
                  "'. Known keys: d_hidden d_latent lam_recon lam_mmd lam_cos lam_clf lam_impute "
                  "lam_genegraph dropout attn_type topk linear_clf gene_loss num_epoch lr k_folds "
                  "spatial_knn p_class spatial_batchsize rna_batchsize eval_step seed threads validation_fold "
                  "blend_weight ridge_lambda smooth_alpha smooth_iterations linear_lognorm ridge_lambda_lognorm inner_objective");
    }
    return true;
  }

  /// Applies a JSON object: flat keys, or the reference's sections
  /// model_parameters / training_parameters (data_paths is ignored here: the
  /// program takes files as arguments). Returns notes on ignored keys.
  std::vector<std::string> apply(const nlohmann::json& j) {
    STAI_CHECK(j.is_object(), "config: the top level must be a mapping of keys to values");
    std::vector<std::string> notes;
    for (const auto& [k, v] : j.items()) {
      if (k == "model_parameters" || k == "training_parameters") {
        STAI_CHECK(v.is_object(), "config: '", k, "' must be a mapping");
        for (const auto& [k2, v2] : v.items())
          if (!set(k2, v2)) notes.push_back("config key '" + k2 + "' is ignored");
      } else if (k == "data_paths") {
        notes.push_back("config section 'data_paths' is ignored: pass files on the command line");
      } else if (!set(k, v)) {
        notes.push_back("config key '" + k + "' is ignored");
      }
    }
    validate();
    return notes;
  }

  static Config from_json_text(const std::string& text, const std::string& source = "config") {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(source + ": not valid JSON: " + e.what());
    }
    Config c;
    c.apply(j);
    return c;
  }

  /// The configuration as JSON. The refinement keys are written only when
  /// any differs from the published method's values, so that records of the
  /// reference method read as they always have.
  nlohmann::json to_json() const {
    nlohmann::json j = core_json();
    if (validation_fold || refines() || ridge_lambda != Config{}.ridge_lambda ||
        smooth_iterations != Config{}.smooth_iterations) {
      j["validation_fold"] = validation_fold;
      j["blend_weight"] = blend_weight;
      j["ridge_lambda"] = ridge_lambda;
      j["smooth_alpha"] = smooth_alpha;
      j["smooth_iterations"] = smooth_iterations;
    }
    // Written only when not the published defaults, so that model files and
    // records of earlier stai presets read as they always have.
    if (linear_lognorm != 0 || ridge_lambda_lognorm != Config{}.ridge_lambda_lognorm) {
      j["linear_lognorm"] = linear_lognorm;
      j["ridge_lambda_lognorm"] = ridge_lambda_lognorm;
    }
    if (inner_objective != refine::InnerObjective::Pcc) j["inner_objective"] = refine::to_string(inner_objective);
    return j;
  }

 private:
  nlohmann::json core_json() const {
    return {{"d_hidden", d_hidden},
            {"d_latent", d_latent},
            {"lam_recon", lam_recon},
            {"lam_mmd", lam_mmd},
            {"lam_cos", lam_cos},
            {"lam_clf", lam_clf},
            {"lam_impute", lam_impute},
            {"lam_genegraph", lam_genegraph},
            {"dropout", dropout},
            {"attn_type", attn_type == AttentionType::Euclidean ? "euclidean" : "attention"},
            {"topk", topk},
            {"linear_clf", linear_clf},
            {"gene_loss", gene_loss == GeneLossVariant::Cosine ? "cosine" : "frobenius"},
            {"num_epoch", num_epoch},
            {"lr", lr},
            {"k_folds", k_folds},
            {"spatial_knn", spatial_knn},
            {"p_class", p_class},
            {"spatial_batchsize", spatial_batchsize},
            {"rna_batchsize", rna_batchsize},
            {"eval_step", eval_step},
            {"seed", seed},
            {"threads", threads}};
  }
};

}  // namespace stai
