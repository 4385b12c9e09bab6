// stai — delimited text (CSV / TSV) tokenising and writing.
//
// CsvParser splits text into records following RFC 4180: fields separated by
// one delimiter character, optionally enclosed in double quotes (a quote
// inside a quoted field is written twice; quoted fields may contain the
// delimiter and line breaks). LF, CRLF and CR line ends, a UTF-8 byte-order
// mark and blank lines are accepted. write_csv and write_text_table write
// atomically.
#pragma once
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "atomic_file.hpp"

namespace stai {

enum class Delimiter { Auto, Comma, Tab, Semicolon, Whitespace };

inline const char* delimiter_name(char d) {
  switch (d) {
    case ',': return "comma";
    case '\t': return "tab";
    case ';': return "semicolon";
    default: return "whitespace";
  }
}

/// Reads a whole file into memory; clear errors for missing / unreadable files.
inline std::string read_text_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  STAI_CHECK(fs::exists(path, ec), path, ": file not found (check the path and the working directory)");
  STAI_CHECK(!fs::is_directory(path, ec), path, ": is a directory, expected a text file");
  std::ifstream in(path, std::ios::binary);
  STAI_CHECK(in.good(), path, ": cannot open the file for reading (permissions?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  STAI_CHECK(!in.bad(), path, ": read error");
  std::string s = ss.str();
  if (s.size() >= 3 && static_cast<unsigned char>(s[0]) == 0xEF &&
      static_cast<unsigned char>(s[1]) == 0xBB && static_cast<unsigned char>(s[2]) == 0xBF)
    s.erase(0, 3);
  return s;
}

/// The delimiter character for `d`; Auto decides from the file extension
/// (.csv -> comma, .tsv/.tab -> tab) and otherwise from the first line
/// (the most frequent of tab, comma, semicolon outside quotes; none -> whitespace).
inline char resolve_delimiter(Delimiter d, const std::string& path, std::string_view text) {
  switch (d) {
    case Delimiter::Comma: return ',';
    case Delimiter::Tab: return '\t';
    case Delimiter::Semicolon: return ';';
    case Delimiter::Whitespace: return ' ';
    case Delimiter::Auto: break;
  }
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".csv") return ',';
  if (ext == ".tsv" || ext == ".tab") return '\t';
  std::size_t tabs = 0, commas = 0, semis = 0;
  bool q = false;
  for (char c : text) {
    if (c == '"') q = !q;
    if (q) continue;
    if (c == '\n' || c == '\r') break;
    tabs += c == '\t';
    commas += c == ',';
    semis += c == ';';
  }
  if (tabs == 0 && commas == 0 && semis == 0) return ' ';
  if (tabs >= commas && tabs >= semis) return '\t';
  return commas >= semis ? ',' : ';';
}

/// Streaming RFC 4180 record reader over an in-memory text.
/// A delimiter of ' ' means "runs of spaces/tabs" (whitespace-separated).
class CsvParser {
 public:
  CsvParser(std::string_view text, char delim, std::string source)
      : t_(text), d_(delim), src_(std::move(source)) {}

  /// Reads the next non-blank record into `fields`; false at end of input.
  bool next(std::vector<std::string>& fields) {
    fields.clear();
    // Skip blank lines.
    while (p_ < t_.size() && (t_[p_] == '\n' || t_[p_] == '\r')) eol();
    if (p_ >= t_.size()) return false;
    rec_line_ = line_;
    if (d_ == ' ') return next_ws(fields);
    std::string f;
    for (;;) {
      f.clear();
      if (p_ < t_.size() && t_[p_] == '"') {
        const std::size_t start_line = line_;
        ++p_;
        for (;;) {
          STAI_CHECK(p_ < t_.size(), src_, ":", start_line,
                     ": a quoted field is never closed (missing '\"')");
          char c = t_[p_];
          if (c == '"') {
            if (p_ + 1 < t_.size() && t_[p_ + 1] == '"') {
              f += '"';
              p_ += 2;
              continue;
            }
            ++p_;
            break;
          }
          if (c == '\n') ++line_;
          f += c;
          ++p_;
        }
        STAI_CHECK(p_ >= t_.size() || t_[p_] == d_ || t_[p_] == '\n' || t_[p_] == '\r', src_, ":",
                   line_, ": unexpected character '", t_[p_],
                   "' after a closing quote (quotes inside a field must be doubled)");
      } else {
        while (p_ < t_.size() && t_[p_] != d_ && t_[p_] != '\n' && t_[p_] != '\r') f += t_[p_++];
      }
      fields.push_back(f);
      if (p_ >= t_.size()) return true;
      if (t_[p_] == d_) {
        ++p_;
        continue;
      }
      eol();
      return true;
    }
  }
  /// Line number (1-based) where the last returned record started.
  std::size_t line() const { return rec_line_; }
  const std::string& source() const { return src_; }

 private:
  void eol() {
    if (t_[p_] == '\r' && p_ + 1 < t_.size() && t_[p_ + 1] == '\n') ++p_;
    ++p_;
    ++line_;
  }
  bool next_ws(std::vector<std::string>& fields) {
    for (;;) {
      while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t')) ++p_;
      if (p_ >= t_.size()) return true;
      if (t_[p_] == '\n' || t_[p_] == '\r') {
        eol();
        return true;
      }
      std::string f;
      if (t_[p_] == '"') {
        ++p_;
        for (;;) {
          STAI_CHECK(p_ < t_.size(), src_, ":", rec_line_, ": a quoted field is never closed");
          if (t_[p_] == '"') {
            if (p_ + 1 < t_.size() && t_[p_ + 1] == '"') {
              f += '"';
              p_ += 2;
              continue;
            }
            ++p_;
            break;
          }
          if (t_[p_] == '\n') ++line_;
          f += t_[p_++];
        }
      } else {
        while (p_ < t_.size() && t_[p_] != ' ' && t_[p_] != '\t' && t_[p_] != '\n' && t_[p_] != '\r')
          f += t_[p_++];
      }
      fields.push_back(std::move(f));
    }
  }

  std::string_view t_;
  char d_;
  std::string src_;
  std::size_t p_ = 0, line_ = 1, rec_line_ = 1;
};

/// Parses a number: surrounding spaces allowed, "NA"/"NaN"/"nan" -> NaN, "inf".
/// Returns false when `s` is not a number.
inline bool parse_number(std::string_view s, double& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) return false;
  if (s == "NA" || s == "NaN" || s == "nan" || s == "NAN") {
    out = std::nan("");
    return true;
  }
  if (s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+' || s.front() == ' ') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {
    out = (s.front() == '-') ? -HUGE_VAL : HUGE_VAL;
    return ptr == s.data() + s.size();
  }
  return ec == std::errc() && ptr == s.data() + s.size();
}

/// Quotes a field when needed (delimiter, quote, line break, outer spaces).
inline std::string csv_escape(const std::string& f, char delim) {
  const bool need = f.find(delim) != std::string::npos || f.find('"') != std::string::npos ||
                    f.find('\n') != std::string::npos || f.find('\r') != std::string::npos ||
                    (!f.empty() && (f.front() == ' ' || f.back() == ' '));
  if (!need) return f;
  std::string o = "\"";
  for (char c : f) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

/// Shortest text that reads back to exactly the same value.
template <class T>
std::string format_value(T v) {
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, p);
}

struct CsvWriteOptions {
  char delimiter = ',';
  /// Text of the top-left header cell (above the row names).
  std::string corner;
};

namespace csv_detail {

/// Writes `path` atomically: `fill(put)` hands every line (without its '\n')
/// to put(line), which appends the line end, writes it and clears `line`.
template <class Fill>
void write_lines(const std::string& path, Fill&& fill) {
  write_atomically(path, [&](const std::string& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    STAI_CHECK(f, tmp, ": cannot create the file (is the directory writable?)");
    struct Closer {
      std::FILE* f;
      ~Closer() {
        if (f) std::fclose(f);
      }
    } closer{f};
    auto put = [&](std::string& line) {
      line += '\n';
      STAI_CHECK(std::fwrite(line.data(), 1, line.size(), f) == line.size(), tmp,
                 ": write failed (disk full?)");
      line.clear();
    };
    fill(put);
    const int rc = std::fclose(f);
    closer.f = nullptr;
    STAI_CHECK(rc == 0, tmp, ": closing the file failed (disk full?)");
  });
}

inline void check_delimiter(const std::string& path, char delimiter) {
  STAI_CHECK(delimiter != '"' && delimiter != '\n' && delimiter != '\r', path, ": invalid delimiter");
}

}  // namespace csv_detail

/// Writes a matrix with row and column names as CSV/TSV, atomically.
/// Empty row_names writes no name column.
template <class T>
void write_csv(const std::string& path, const RowMatrix<T>& m, const std::vector<std::string>& row_names,
               const std::vector<std::string>& col_names, const CsvWriteOptions& o = {}) {
  STAI_CHECK(row_names.empty() || static_cast<index_t>(row_names.size()) == m.rows(), path,
             ": ", row_names.size(), " row names for a matrix with ", m.rows(), " rows");
  STAI_CHECK(static_cast<index_t>(col_names.size()) == m.cols(), path, ": ", col_names.size(),
             " column names for a matrix with ", m.cols(), " columns");
  csv_detail::check_delimiter(path, o.delimiter);
  csv_detail::write_lines(path, [&](auto& put) {
    std::string line;
    if (!row_names.empty()) line += csv_escape(o.corner, o.delimiter);
    for (std::size_t j = 0; j < col_names.size(); ++j) {
      if (j || !row_names.empty()) line += o.delimiter;
      line += csv_escape(col_names[j], o.delimiter);
    }
    put(line);
    for (index_t i = 0; i < m.rows(); ++i) {
      if (!row_names.empty()) line += csv_escape(row_names[static_cast<std::size_t>(i)], o.delimiter);
      for (index_t j = 0; j < m.cols(); ++j) {
        if (j || !row_names.empty()) line += o.delimiter;
        line += format_value(m(i, j));
      }
      put(line);
    }
  });
}

/// Writes a table of text fields (a header record, then the rows) as
/// delimited text, atomically; fields are quoted where needed.
inline void write_text_table(const std::string& path, const std::vector<std::string>& header,
                             const std::vector<std::vector<std::string>>& rows, char delimiter = ',') {
  csv_detail::check_delimiter(path, delimiter);
  csv_detail::write_lines(path, [&](auto& put) {
    std::string line;
    auto record = [&](const std::vector<std::string>& v) {
      for (std::size_t j = 0; j < v.size(); ++j) {
        if (j) line += delimiter;
        line += csv_escape(v[j], delimiter);
      }
      put(line);
    };
    record(header);
    for (const auto& r : rows) record(r);
  });
}

}  // namespace stai
