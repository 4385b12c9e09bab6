// stai — matching the genes of the spatial data and the reference.
//
// docs/model.md "Preprocessing" 1: keep the genes present in both data sets,
// matching names exactly, in the SPATIAL data's order. On top of that:
//   * duplicated names on one side keep their first occurrence (the later
//     columns are dropped, with a warning naming them);
//   * a case-insensitive fallback (Gad1 / GAD1) matches the genes left
//     unmatched by the exact pass, one-to-one only (a name whose lower-case form
//     is shared by several unmatched genes on a side is ambiguous and left
//     unmatched, with a warning). It is used only when it adds matches — so
//     the result equals the reference's exact matching whenever the fallback
//     finds nothing — and every such match is reported in the notes;
//   * fewer than `min_shared` shared genes is an error showing the first names
//     of each side.
// The library prints nothing: warnings and notes are returned as strings.
#pragma once
#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

namespace stai {

struct GeneMatchOptions {
  /// Minimum number of shared genes. 2 is the least the method can work
  /// with at all (one gene the encoders see, one calibration gene for the
  /// imputation loss); the trainer checks what its fold scheme needs on top
  /// (k folds need at least k + 1 training genes, leave-one-out one more).
  index_t min_shared = 2;
  /// Match genes left over by the exact pass case-insensitively.
  bool case_insensitive_fallback = true;
  /// Names of the two sides used in messages (e.g. the file names).
  std::string spatial_label = "spatial data";
  std::string reference_label = "reference";
  /// How many names to list in messages before "...".
  index_t max_listed = 10;
};

struct GeneMatch {
  /// Shared genes in the spatial data's order (the spatial data's spelling).
  std::vector<std::string> genes;
  /// Column of each shared gene in the spatial / reference matrix.
  std::vector<index_t> spatial_index, reference_index;
  /// Genes of each side that are not used (unmatched or duplicated names),
  /// in their side's order.
  std::vector<std::string> dropped_spatial, dropped_reference;
  /// Shared genes matched only case-insensitively: (spatial name, reference name).
  std::vector<std::pair<std::string, std::string>> case_insensitive;
  /// Things the user should know about but that do not stop the run
  /// (duplicated names, ambiguous case-insensitive names, low overlap).
  std::vector<std::string> warnings;
  /// Informational notes (case-insensitive matches, dropped-gene summary).
  std::vector<std::string> notes;

  index_t size() const { return static_cast<index_t>(genes.size()); }
  /// A human-readable summary: counts, the dropped genes, warnings and notes.
  std::string report() const;
};

namespace detail {

inline std::string lower(const std::string& s) {
  std::string r = s;
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

/// "a, b, c, ... (N in all)" with at most `max` names.
inline std::string list_names(const std::vector<std::string>& v, index_t max) {
  std::string s;
  const auto n = static_cast<index_t>(v.size());
  for (index_t i = 0; i < std::min(n, max); ++i) {
    if (i) s += ", ";
    s += "'" + v[static_cast<std::size_t>(i)] + "'";
  }
  if (n > max) s += ", ... (" + std::to_string(n) + " in all)";
  if (n == 0) s = "(none)";
  return s;
}

inline bool looks_like_ensembl(const std::vector<std::string>& v) {
  index_t hits = 0, seen = 0;
  for (const auto& g : v) {
    if (seen++ == 50) break;
    if (g.size() > 6 && g.compare(0, 3, "ENS") == 0 &&
        std::isdigit(static_cast<unsigned char>(g.back())))
      ++hits;
  }
  return seen > 0 && hits * 2 > seen;
}

}  // namespace detail

inline std::string GeneMatch::report() const {
  std::string s = std::to_string(genes.size()) + " shared genes";
  if (!case_insensitive.empty())
    s += " (" + std::to_string(case_insensitive.size()) + " matched case-insensitively)";
  s += "; dropped from the spatial data: " + std::to_string(dropped_spatial.size());
  if (!dropped_spatial.empty()) s += " [" + detail::list_names(dropped_spatial, 20) + "]";
  s += "; dropped from the reference: " + std::to_string(dropped_reference.size());
  if (!dropped_reference.empty()) s += " [" + detail::list_names(dropped_reference, 20) + "]";
  for (const auto& w : warnings) s += "\nwarning: " + w;
  for (const auto& n : notes) s += "\nnote: " + n;
  return s;
}

/// Matches spatial genes to reference genes (see the file comment). Throws
/// stai::Error when fewer than opt.min_shared genes are shared.
inline GeneMatch match_genes(const std::vector<std::string>& spatial,
                             const std::vector<std::string>& reference,
                             const GeneMatchOptions& opt = {}) {
  GeneMatch m;
  const auto ns = static_cast<index_t>(spatial.size()), nr = static_cast<index_t>(reference.size());

  // First occurrence of each name; later duplicates are dropped with a warning.
  auto first_of = [&](const std::vector<std::string>& names, const std::string& label,
                      std::vector<char>& is_dup) {
    std::unordered_map<std::string, index_t> pos;
    std::vector<std::string> dups;
    is_dup.assign(names.size(), 0);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!pos.emplace(names[i], static_cast<index_t>(i)).second) {
        is_dup[i] = 1;
        dups.push_back(names[i] + " (column " + std::to_string(i) + ", first at column " +
                       std::to_string(pos[names[i]]) + ")");
      }
    }
    if (!dups.empty())
      m.warnings.push_back(label + " has " + std::to_string(dups.size()) +
                           " duplicated gene name(s); the first occurrence is kept and these "
                           "columns are dropped: " + detail::list_names(dups, opt.max_listed));
    return pos;
  };
  std::vector<char> dup_s, dup_r;
  first_of(spatial, opt.spatial_label, dup_s);
  const auto ref_pos = first_of(reference, opt.reference_label, dup_r);

  // Exact pass.
  std::vector<index_t> match_s(static_cast<std::size_t>(ns), -1);  // spatial -> reference column
  std::vector<char> used_r(static_cast<std::size_t>(nr), 0);
  for (index_t i = 0; i < ns; ++i) {
    if (dup_s[static_cast<std::size_t>(i)]) continue;
    const auto it = ref_pos.find(spatial[static_cast<std::size_t>(i)]);
    if (it != ref_pos.end()) {
      match_s[static_cast<std::size_t>(i)] = it->second;
      used_r[static_cast<std::size_t>(it->second)] = 1;
    }
  }

  // Case-insensitive pass over what is left: one-to-one only.
  if (opt.case_insensitive_fallback) {
    std::unordered_map<std::string, std::vector<index_t>> left_s, left_r;
    for (index_t i = 0; i < ns; ++i)
      if (!dup_s[static_cast<std::size_t>(i)] && match_s[static_cast<std::size_t>(i)] < 0)
        left_s[detail::lower(spatial[static_cast<std::size_t>(i)])].push_back(i);
    for (index_t j = 0; j < nr; ++j)
      if (!dup_r[static_cast<std::size_t>(j)] && !used_r[static_cast<std::size_t>(j)])
        left_r[detail::lower(reference[static_cast<std::size_t>(j)])].push_back(j);
    std::vector<std::string> ambiguous;
    for (index_t i = 0; i < ns; ++i) {
      if (dup_s[static_cast<std::size_t>(i)] || match_s[static_cast<std::size_t>(i)] >= 0) continue;
      const std::string key = detail::lower(spatial[static_cast<std::size_t>(i)]);
      const auto it = left_r.find(key);
      if (it == left_r.end()) continue;
      const auto& cs = left_s[key];
      if (it->second.size() != 1 || cs.size() != 1) {
        std::string a = spatial[static_cast<std::size_t>(i)] + " ~ {";
        for (std::size_t q = 0; q < it->second.size(); ++q)
          a += (q ? ", " : "") + reference[static_cast<std::size_t>(it->second[q])];
        ambiguous.push_back(a + "}");
        continue;
      }
      const index_t j = it->second[0];
      match_s[static_cast<std::size_t>(i)] = j;
      used_r[static_cast<std::size_t>(j)] = 1;
      m.case_insensitive.emplace_back(spatial[static_cast<std::size_t>(i)],
                                      reference[static_cast<std::size_t>(j)]);
    }
    if (!ambiguous.empty())
      m.warnings.push_back("genes left unmatched because their case-insensitive match is ambiguous "
                           "(several genes differ only by case): " +
                           detail::list_names(ambiguous, opt.max_listed));
    if (!m.case_insensitive.empty()) {
      std::vector<std::string> pairs;
      for (const auto& [a, b] : m.case_insensitive) pairs.push_back(a + " = " + b);
      m.notes.push_back(std::to_string(m.case_insensitive.size()) +
                        " gene(s) matched only when ignoring case (spatial = reference), "
                        "which exact matching would drop: " +
                        detail::list_names(pairs, opt.max_listed) +
                        "; set case_insensitive_fallback = false to match names exactly");
    }
  }

  for (index_t i = 0; i < ns; ++i) {
    const index_t j = match_s[static_cast<std::size_t>(i)];
    if (j >= 0) {
      m.genes.push_back(spatial[static_cast<std::size_t>(i)]);
      m.spatial_index.push_back(i);
      m.reference_index.push_back(j);
    } else {
      m.dropped_spatial.push_back(spatial[static_cast<std::size_t>(i)]);
    }
  }
  for (index_t j = 0; j < nr; ++j)
    if (!used_r[static_cast<std::size_t>(j)]) m.dropped_reference.push_back(reference[static_cast<std::size_t>(j)]);

  const auto shared = static_cast<index_t>(m.genes.size());
  if (shared < opt.min_shared) {
    std::string hint;
    const bool es = detail::looks_like_ensembl(spatial), er = detail::looks_like_ensembl(reference);
    if (es != er)
      hint = " The " + (es ? opt.spatial_label : opt.reference_label) +
             " seems to use Ensembl IDs and the other side gene symbols: use the same kind of name "
             "on both sides (e.g. a var column holding symbols).";
    else
      hint = " Check that both files name genes the same way (symbols vs IDs, species) and that "
             "the right column is used as var_names.";
    throw Error(detail::concat(
        "only ", shared, " gene(s) are shared between the ", opt.spatial_label, " (", ns,
        " genes) and the ", opt.reference_label, " (", nr, " genes); at least ", opt.min_shared,
        " are needed.", hint, " First genes of the ", opt.spatial_label, ": ",
        detail::list_names(spatial, 5), ". First genes of the ", opt.reference_label, ": ",
        detail::list_names(reference, 5), ".",
        shared > 0 ? " Shared: " + detail::list_names(m.genes, 5) + "." : std::string()));
  }
  if (ns > 0 && shared * 2 < ns)
    m.warnings.push_back("only " + std::to_string(shared) + " of the " + std::to_string(ns) + " " +
                         opt.spatial_label + " genes are found in the " + opt.reference_label +
                         "; check the gene naming if more were expected");
  if (!m.dropped_spatial.empty())
    m.notes.push_back(std::to_string(m.dropped_spatial.size()) + " " + opt.spatial_label +
                      " gene(s) not used: " + detail::list_names(m.dropped_spatial, opt.max_listed));
  if (!m.dropped_reference.empty())
    m.notes.push_back(std::to_string(m.dropped_reference.size()) + " " + opt.reference_label +
                      " gene(s) not used (not measured in the " + opt.spatial_label + ")");
  return m;
}

}  // namespace stai
