// stai — reading a Config from YAML (the reference implementation's config
// files). Needs yaml-cpp (link yaml-cpp; the stai program does).
#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include <yaml-cpp/yaml.h>

#include "../model/config.hpp"

namespace stai {

namespace detail {
inline nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~" || s == "None") return nullptr;
      try {
        std::size_t pos = 0;
        const long long i = std::stoll(s, &pos);
        if (pos == s.size()) return i;
      } catch (...) {
      }
      try {
        std::size_t pos = 0;
        const double d = std::stod(s, &pos);
        if (pos == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(yaml_to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}
}  // namespace detail

/// Parses YAML text into a Config (same keys and checks as JSON).
inline Config config_from_yaml_text(const std::string& text, const std::string& source = "config") {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(source + ": not valid YAML: " + e.what());
  }
  Config c;
  try {
    c.apply(detail::yaml_to_json(root));
  } catch (const Error& e) {
    throw Error(source + ": " + std::string(e.what()).substr(6));
  }
  return c;
}

/// Reads a config file; .json is parsed as JSON, anything else as YAML
/// (YAML is a superset of JSON).
inline Config load_config(const std::string& path) {
  std::ifstream f(path);
  STAI_CHECK(f, "cannot open config file '", path, "': check the path");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") return Config::from_json_text(text, path);
  return config_from_yaml_text(text, path);
}

}  // namespace stai
