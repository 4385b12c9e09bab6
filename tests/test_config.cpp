// Configuration: defaults, the reference's key names (JSON and YAML, flat and
// nested), and errors that name the key.
#include <doctest/doctest.h>

#include <stai/io/config_yaml.hpp>
#include <stai/model/config.hpp>

using namespace stai;

TEST_CASE("defaults are the authors' osmFISH configs") {
  const Config imp = Config::imputation(), ann = Config::annotation();
  CHECK(imp.d_hidden == 64);
  CHECK(imp.d_latent == 16);
  CHECK(imp.lam_mmd == 0.1);
  CHECK(imp.lam_clf == 0.1);
  CHECK(imp.lam_genegraph == 0);
  CHECK(imp.num_epoch == 500);
  CHECK(imp.lr == 0.002);
  CHECK(imp.k_folds == 5);
  CHECK(imp.spatial_knn == 10);
  CHECK(imp.topk == 50);
  CHECK(imp.seed == 8848);
  CHECK(ann.lam_clf == 10);
  CHECK(ann.lam_impute == 2);
  CHECK(ann.lam_genegraph == 1);
  CHECK(ann.num_epoch == 300);
  CHECK(ann.p_class == 2);
}

TEST_CASE("the reference's YAML config file is accepted") {
  const char* yaml = R"(data_paths:
  rna_data: ../data/osmFISH_Zeisel/zeisel_scRNA_filtered.h5ad
model_parameters:
  d_hidden: 32
  d_latent: 8
  lam_clf: 10
  lam_genegraph: 1
training_parameters:
  device_id: 0
  eval_step: 25
  k_folds: 4
  lr: 0.001
  num_epoch: 300
  rna_batchsize: -1
  spatial_knn: 12
  p_class: 2
)";
  const Config c = config_from_yaml_text(yaml);
  CHECK(c.d_hidden == 32);
  CHECK(c.d_latent == 8);
  CHECK(c.lam_clf == 10);
  CHECK(c.eval_step == 25);
  CHECK(c.k_folds == 4);
  CHECK(c.lr == 0.001);
  CHECK(c.spatial_knn == 12);
  CHECK(c.p_class == 2);
  CHECK(c.rna_batchsize == -1);
}

TEST_CASE("JSON config, round trip through to_json") {
  Config c = Config::from_json_text(R"({"lam_mmd": 0.5, "attn_type": "attention", "topk": null, "seed": 7})");
  CHECK(c.lam_mmd == 0.5);
  CHECK(c.attn_type == AttentionType::Learnable);
  CHECK(c.topk == 0);
  CHECK(c.seed == 7);
  Config d;
  d.apply(c.to_json());
  CHECK(d.to_json() == c.to_json());
}

TEST_CASE("bad configs give errors naming the key") {
  auto msg = [](const std::string& text) {
    try {
      Config::from_json_text(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(msg(R"({"lam_mmdd": 1})").find("unknown key 'lam_mmdd'") != std::string::npos);
  CHECK(msg(R"({"lr": -1})").find("'lr'") != std::string::npos);
  CHECK(msg(R"({"k_folds": 1})").find("'k_folds'") != std::string::npos);
  CHECK(msg(R"({"d_hidden": 2.5})").find("'d_hidden' must be an integer") != std::string::npos);
  CHECK(msg(R"({"attn_type": "cosine"})").find("'attn_type'") != std::string::npos);
  CHECK(msg(R"({"dropout": 1.0})").find("'dropout'") != std::string::npos);
  CHECK(msg("{not json").find("not valid JSON") != std::string::npos);
  CHECK_THROWS_AS(config_from_yaml_text("model_parameters:\n  d_latnt: 3\n"), Error);
  CHECK_THROWS_WITH_AS(config_from_yaml_text("a: [1, 2\n"), doctest::Contains("not valid YAML"), Error);
}
