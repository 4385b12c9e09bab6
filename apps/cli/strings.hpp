// stai command-line program — small text helpers: case, extensions, number and duration
// formatting, joining and splitting names, one-line error messages.
#pragma once
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <stai/data/names.hpp>

namespace stai::cli {

namespace fs = std::filesystem;

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

/// s itself when it is valid UTF-8, else with its other bytes shown as \xHH.
inline std::string utf8_text(const std::string& s) {
  return invalid_utf8_at(s) == std::string::npos ? s : escaped_name(s);
}

/// The command line as one string (for metadata; bytes that are not UTF-8,
/// e.g. in a file name, are shown as \xHH).
inline std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    a = utf8_text(a);
    if (a.find(' ') != std::string::npos) a = "'" + a + "'";
    s += (i ? " " : "") + a;
  }
  return s;
}

}  // namespace stai::cli
