// stai — the model file header's JSON: how doubles (non-finite ones as
// "nan" / "inf" / "-inf"), scaling statistics and loss terms are written, and
// typed access to the fields of a header being read, whose failures name the
// file and the field. The format: io/model_file_format.hpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../config.hpp"
#include "../data/preprocess.hpp"
#include "../error.hpp"
#include "../model/submodel.hpp"

namespace stai::detail::model_file {

inline nlohmann::json real_to_json(double v) {
  if (std::isfinite(v)) return v;
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

inline nlohmann::json scaling_to_json(const ScalingStats& s) {
  nlohmann::json m = nlohmann::json::array(), d = nlohmann::json::array();
  for (double v : s.means) m.push_back(v);
  for (double v : s.stds) d.push_back(v);
  return {{"genes", s.genes}, {"means", m}, {"stds", d}, {"clip", real_to_json(s.clip)}};
}

inline nlohmann::json loss_to_json(const LossTerms& l) {
  return {{"total", real_to_json(l.total)}, {"recon", real_to_json(l.recon)}, {"mmd", real_to_json(l.mmd)},
          {"cos", real_to_json(l.cos)},     {"clf", real_to_json(l.clf)},     {"impute", real_to_json(l.impute)},
          {"gene", real_to_json(l.gene)}};
}

/// Typed access to header fields; every failure names the file and the field.
class HeaderReader {
 public:
  explicit HeaderReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(detail::concat(file_, ": the model header field '", field, "' ", what,
                               "; the file is damaged or was not written by stai (save the model again)"));
  }
  const nlohmann::json& at(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object()) fail(field, "is not an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(field.empty() ? key : field + "." + key, "is missing");
    return *it;
  }
  static std::string path(const std::string& field, const std::string& key) {
    return field.empty() ? key : field + "." + key;
  }
  std::string str(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_string()) fail(path(field, key), "must be a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::uint64_t uint(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
      fail(path(field, key), "must be a non-negative integer, got " + v.dump());
    return v.get<std::uint64_t>();
  }
  double real(const nlohmann::json& v, const std::string& field) const {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
    }
    fail(field, "must be a number (or \"nan\", \"inf\", \"-inf\"), got " + v.dump());
  }
  double real(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    return real(at(obj, key, field), path(field, key));
  }
  const nlohmann::json& array(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_array()) fail(path(field, key), "must be an array, got " + std::string(v.type_name()));
    return v;
  }
  std::vector<std::string> strings(const nlohmann::json& obj, const std::string& key,
                                   const std::string& field = {}) const {
    std::vector<std::string> out;
    for (const auto& v : array(obj, key, field)) {
      if (!v.is_string()) fail(path(field, key), "must be an array of strings, found " + v.dump());
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  std::vector<index_t> indices(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    std::vector<index_t> out;
    for (const auto& v : array(obj, key, field)) {
      if (!v.is_number_integer()) fail(path(field, key), "must be an array of integers, found " + v.dump());
      out.push_back(v.get<index_t>());
    }
    return out;
  }
  std::vector<double> reals(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    std::vector<double> out;
    for (const auto& v : array(obj, key, field)) out.push_back(real(v, path(field, key)));
    return out;
  }
  ScalingStats scaling(const nlohmann::json& obj, const std::string& field) const {
    ScalingStats s;
    s.genes = strings(obj, "genes", field);
    s.means = reals(obj, "means", field);
    s.stds = reals(obj, "stds", field);
    s.clip = real(obj, "clip", field);
    return s;
  }
  LossTerms loss(const nlohmann::json& obj, const std::string& field) const {
    LossTerms l;
    l.total = real(obj, "total", field);
    l.recon = real(obj, "recon", field);
    l.mmd = real(obj, "mmd", field);
    l.cos = real(obj, "cos", field);
    l.clf = real(obj, "clf", field);
    l.impute = real(obj, "impute", field);
    l.gene = real(obj, "gene", field);
    return l;
  }

 private:
  std::string file_;
};

}  // namespace stai::detail::model_file
