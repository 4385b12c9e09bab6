// stai — the checks every reader applies to the names it reads: cell names
// must be unique (a join by name, e.g. of a coordinate table, would
// otherwise give two cells the same row), and every name and label must be
// valid UTF-8 (the formats stai writes, .h5ad and JSON, require it).
//
// Duplicate cell names are refused rather than renamed: anndata's
// obs_names_make_unique would silently break the link to tables keyed by
// the original names.
#pragma once
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "../error.hpp"
#include "anndata.hpp"

namespace stai {

/// Byte offset of the first invalid UTF-8 sequence in s, or npos if valid
/// (overlong forms, surrogates and code points above U+10FFFF are invalid).
inline std::size_t invalid_utf8_at(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return i;
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char b = p[i + k];
      if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) return i;
    }
    i += len;
  }
  return std::string::npos;
}

/// The name with every byte outside printable ASCII shown as \xHH (for messages).
inline std::string escaped_name(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      o += static_cast<char>(c);
    } else {
      o += "\\x";
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

/// Throws unless every entry of `names` is valid UTF-8; `field` says what
/// they are in `source` (e.g. "var_names (gene names)").
inline void require_utf8(const std::vector<std::string>& names, const std::string& source, const std::string& field) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (invalid_utf8_at(names[i]) != std::string::npos)
      throw Error(source + ": " + field + ": entry " + std::to_string(i + 1) + " ('" + escaped_name(names[i]) +
                  "') is not valid UTF-8; write the file with UTF-8 text (e.g. re-encode it with iconv from its "
                  "original encoding)");
}

/// Throws unless the entries of `names` are distinct; `field` as above.
inline void require_unique(const std::vector<std::string>& names, const std::string& source, const std::string& field) {
  std::unordered_map<std::string, std::size_t> first;
  first.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto [it, fresh] = first.emplace(names[i], i);
    if (!fresh)
      throw Error(source + ": " + field + ": '" + escaped_name(names[i]) + "' appears more than once (entries " +
                  std::to_string(it->second + 1) + " and " + std::to_string(i + 1) +
                  "); cell names must be unique: rename the duplicates (e.g. with anndata's "
                  "obs_names_make_unique) and write the file again");
  }
}

/// The checks of every reader: unique, UTF-8 cell names; UTF-8 gene names,
/// annotation column names and text annotations.
inline void check_names(const AnnData& a) {
  const std::string src = a.source.empty() ? std::string("data") : a.source;
  require_utf8(a.obs_names, src, "obs_names (cell names)");
  require_unique(a.obs_names, src, "obs_names (cell names)");
  require_utf8(a.var_names, src, "var_names (gene names)");
  for (const auto* frame : {&a.obs, &a.var}) {
    const std::string f = frame == &a.obs ? "obs" : "var";
    for (const auto& [k, c] : *frame) {
      require_utf8({k}, src, f + " column names");
      require_utf8(c.str, src, f + "['" + k + "']");
      require_utf8(c.categories, src, f + "['" + k + "'] categories");
    }
  }
  for (const auto& [k, m] : a.obsm) require_utf8({k}, src, "obsm keys");
}

}  // namespace stai
