// stai — expression, coordinate and label tables in delimited text.
//
// read_table reads a numeric table (CSV / TSV / whitespace, chosen by
// extension, sniffed, or forced) with a header row and, usually, a first
// column of row names, as cells x genes (or genes x cells with `transpose`).
// add_coordinates / add_labels join coordinate and label tables into an
// AnnData by cell name or by position.
//
// Row names (RowNames::Auto) are recognised the way R and pandas write them:
//  * the header has one field fewer than the data rows (R write.table), or
//  * the header's first field is empty ("" or blank), or
//  * the first field of the first data row is not a number;
// otherwise there are no row names and rows are named "0", "1", ... .
#pragma once
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../data/anndata.hpp"
#include "../data/names.hpp"
#include "csv.hpp"

namespace stai {

enum class RowNames { Auto, First, None };

struct TableReadOptions {
  Delimiter delimiter = Delimiter::Auto;
  bool header = true;  ///< first record holds column names
  RowNames row_names = RowNames::Auto;
};

/// A rectangular table of strings with names.
struct TextTable {
  std::string source;
  std::vector<std::string> col_names;  ///< one per value column
  std::vector<std::string> row_names;  ///< one per row ("0", "1", ... when absent)
  bool has_row_names = false;
  std::vector<std::vector<std::string>> cells;  ///< rows x value columns
  std::vector<std::size_t> lines;               ///< source line of each row

  index_t rows() const { return static_cast<index_t>(cells.size()); }
  index_t cols() const { return static_cast<index_t>(col_names.size()); }
  /// Index of the column called `name`, or -1.
  index_t find_col(const std::string& name) const {
    for (std::size_t j = 0; j < col_names.size(); ++j)
      if (col_names[j] == name) return static_cast<index_t>(j);
    return -1;
  }
  std::string col_list() const {
    std::string s;
    for (std::size_t j = 0; j < col_names.size() && j < 30; ++j) s += (j ? ", " : "") + col_names[j];
    return s.empty() ? "(none)" : s;
  }
};

/// Parses delimited text already in memory (`source` names it in errors).
inline TextTable parse_text_table(std::string_view text, const std::string& source,
                                  const TableReadOptions& o = {}) {
  TextTable t;
  t.source = source;
  const char d = resolve_delimiter(o.delimiter, source, text);
  CsvParser p(text, d, source);
  std::vector<std::string> rec;
  std::vector<std::vector<std::string>> recs;
  std::vector<std::size_t> lines;
  while (p.next(rec)) {
    recs.push_back(rec);
    lines.push_back(p.line());
  }
  STAI_CHECK(!recs.empty(), source, ": the file is empty (no header and no data)");
  std::vector<std::string> header;
  std::size_t header_line = 0;
  std::size_t first = 0;
  if (o.header) {
    header = std::move(recs[0]);
    header_line = lines[0];
    first = 1;
  }
  STAI_CHECK(recs.size() > first, source, ": the table has a header but no data rows");
  const std::size_t width = recs[first].size();
  for (std::size_t r = first; r < recs.size(); ++r)
    STAI_CHECK(recs[r].size() == width, source, ":", lines[r], ": row has ", recs[r].size(),
               " fields but line ", lines[first], " has ", width, " (", delimiter_name(d),
               "-separated); the table is ragged — check for missing or extra delimiters");

  bool names = false;
  double dummy = 0;
  switch (o.row_names) {
    case RowNames::First: names = true; break;
    case RowNames::None: names = false; break;
    case RowNames::Auto:
      if (o.header && header.size() + 1 == width) names = true;
      else if (o.header && !header.empty() && header.size() == width &&
               (header[0].empty() || header[0].find_first_not_of(" \t") == std::string::npos))
        names = true;
      else names = width >= 2 && !parse_number(recs[first][0], dummy);
      break;
  }
  STAI_CHECK(!names || width >= 1, source, ": no columns");
  const std::size_t nvals = width - (names ? 1 : 0);
  if (o.header) {
    if (header.size() == nvals + 1 && names) header.erase(header.begin());
    STAI_CHECK(header.size() == nvals, source, ":", header_line, ": header has ", header.size(),
               " fields but the data rows have ", width,
               names ? " (including the row-name column)" : "",
               "; expected ", nvals, names ? " or " + std::to_string(nvals + 1) : std::string(""));
    t.col_names = std::move(header);
  } else {
    for (std::size_t j = 0; j < nvals; ++j) t.col_names.push_back(std::to_string(j));
  }
  t.has_row_names = names;
  for (std::size_t r = first; r < recs.size(); ++r) {
    if (names) {
      t.row_names.push_back(recs[r][0]);
      t.cells.emplace_back(recs[r].begin() + 1, recs[r].end());
    } else {
      t.row_names.push_back(std::to_string(r - first));
      t.cells.push_back(std::move(recs[r]));
    }
    t.lines.push_back(lines[r]);
  }
  return t;
}

/// Reads a delimited text file as a table of strings.
inline TextTable read_text_table(const std::string& path, const TableReadOptions& o = {}) {
  return parse_text_table(read_text_file(path), path, o);
}

/// Numeric value of cell (i, j) or a clear error naming the row and column.
inline double table_number(const TextTable& t, index_t i, index_t j) {
  double v = 0;
  const auto& s = t.cells[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
  STAI_CHECK(parse_number(s, v), t.source, ":", t.lines[static_cast<std::size_t>(i)], ": value '", s,
             "' in row '", t.row_names[static_cast<std::size_t>(i)], "', column '",
             t.col_names[static_cast<std::size_t>(j)], "' is not a number");
  return v;
}

struct ExpressionTableOptions {
  TableReadOptions table;
  /// The file is genes x cells (one gene per row); transpose to cells x genes.
  bool transpose = false;
};

inline AnnData table_to_anndata(const TextTable& t, bool transpose) {
  AnnData a;
  a.source = t.source;
  const index_t r = t.rows(), c = t.cols();
  STAI_CHECK(r > 0 && c > 0, t.source, ": the table has no values (", r, " rows x ", c, " columns)");
  a.X.resize(transpose ? c : r, transpose ? r : c);
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const float v = static_cast<float>(table_number(t, i, j));
      if (transpose) a.X(j, i) = v;
      else a.X(i, j) = v;
    }
  a.obs_names = transpose ? t.col_names : t.row_names;
  a.var_names = transpose ? t.row_names : t.col_names;
  a.validate();
  check_names(a);
  return a;
}

/// Reads an expression table as an AnnData (cells x genes).
inline AnnData read_table(const std::string& path, const ExpressionTableOptions& o = {}) {
  return table_to_anndata(read_text_table(path, o.table), o.transpose);
}

enum class Match { Auto, ByName, ByPosition };

namespace text_detail {

/// For each cell of `a`, the row of `t` that describes it.
inline std::vector<index_t> match_rows(const AnnData& a, const TextTable& t, Match m) {
  const index_t n = a.n_obs();
  std::vector<index_t> rows(static_cast<std::size_t>(n));
  bool by_name = m == Match::ByName;
  std::unordered_map<std::string, index_t> pos;
  if (m != Match::ByPosition && t.has_row_names) {
    require_utf8(t.row_names, t.source, "cell names (first column)");
    require_unique(t.row_names, t.source, "cell names (first column)");
    for (index_t i = 0; i < t.rows(); ++i)
      pos.emplace(t.row_names[static_cast<std::size_t>(i)], i);
    if (m == Match::Auto) {
      by_name = true;
      for (auto& nm : a.obs_names)
        if (!pos.count(nm)) {
          by_name = false;
          break;
        }
    }
  }
  if (by_name) {
    STAI_CHECK(t.has_row_names, t.source, ": matching by cell name needs a first column of cell names");
    std::vector<std::string> missing;
    for (index_t i = 0; i < n; ++i) {
      auto it = pos.find(a.obs_names[static_cast<std::size_t>(i)]);
      if (it == pos.end()) {
        if (missing.size() < 5) missing.push_back(a.obs_names[static_cast<std::size_t>(i)]);
        continue;
      }
      rows[static_cast<std::size_t>(i)] = it->second;
    }
    if (!missing.empty()) {
      std::string s;
      for (auto& x : missing) s += (s.empty() ? "" : ", ") + x;
      STAI_CHECK(false, t.source, ": cells not found by name: ", s, " ...; use Match::ByPosition if the rows are in the same order");
    }
    return rows;
  }
  STAI_CHECK(t.rows() == n, t.source, ": has ", t.rows(), " rows but the data has ", n,
             " cells, and the cell names do not all match; cannot join by name or by position");
  for (index_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  return rows;
}

}  // namespace text_detail

struct CoordinateOptions {
  TableReadOptions table;
  std::string x = "X", y = "Y";
  std::string z;                 ///< optional third coordinate column
  std::string key = "spatial";   ///< obsm key to fill
  Match match = Match::Auto;     ///< Auto: by cell name when every cell is found, else by position
};

/// Joins a coordinate table (columns x, y[, z]) into a.obsm[key] (n x 2 or n x 3).
inline void add_coordinates(AnnData& a, const TextTable& t, const CoordinateOptions& o = {}) {
  std::vector<std::string> names{o.x, o.y};
  if (!o.z.empty()) names.push_back(o.z);
  std::vector<index_t> cj;
  for (auto& nm : names) {
    const index_t j = t.find_col(nm);
    STAI_CHECK(j >= 0, t.source, ": no coordinate column '", nm, "'; columns are: ", t.col_list(),
               " (set CoordinateOptions::x / y)");
    cj.push_back(j);
  }
  auto rows = text_detail::match_rows(a, t, o.match);
  RowMatrix<double> m(a.n_obs(), static_cast<index_t>(cj.size()));
  for (index_t i = 0; i < a.n_obs(); ++i)
    for (std::size_t q = 0; q < cj.size(); ++q)
      m(i, static_cast<index_t>(q)) = table_number(t, rows[static_cast<std::size_t>(i)], cj[q]);
  a.obsm[o.key] = std::move(m);
}
inline void add_coordinates(AnnData& a, const std::string& path, const CoordinateOptions& o = {}) {
  add_coordinates(a, read_text_table(path, o.table), o);
}

struct LabelOptions {
  TableReadOptions table;
  std::string column;              ///< label column; "" = the only value column
  std::string obs_key = "celltype";
  Match match = Match::Auto;
  bool categorical = true;
};

/// Joins a label table into a.obs[obs_key] (strings).
inline void add_labels(AnnData& a, const TextTable& t, const LabelOptions& o = {}) {
  index_t j = 0;
  if (o.column.empty()) {
    STAI_CHECK(t.cols() == 1, t.source, ": has ", t.cols(), " value columns (", t.col_list(),
               "); say which holds the labels with LabelOptions::column");
  } else {
    j = t.find_col(o.column);
    STAI_CHECK(j >= 0, t.source, ": no label column '", o.column, "'; columns are: ", t.col_list());
  }
  auto rows = text_detail::match_rows(a, t, o.match);
  std::vector<std::string> labels(static_cast<std::size_t>(a.n_obs()));
  for (index_t i = 0; i < a.n_obs(); ++i)
    labels[static_cast<std::size_t>(i)] =
        t.cells[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])][static_cast<std::size_t>(j)];
  require_utf8(labels, t.source, "column '" + t.col_names[static_cast<std::size_t>(j)] + "'");
  a.obs[o.obs_key] = Column::strings(std::move(labels), o.categorical);
}
inline void add_labels(AnnData& a, const std::string& path, const LabelOptions& o = {}) {
  add_labels(a, read_text_table(path, o.table), o);
}

/// Writes an AnnData's X (cells x genes) with cell and gene names as CSV/TSV, atomically.
inline void write_csv(const std::string& path, const AnnData& a, const CsvWriteOptions& o = {}) {
  a.validate();
  write_csv(path, a.X, a.obs_names, a.var_names, o);
}

}  // namespace stai
