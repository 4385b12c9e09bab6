// stai command-line program — checking output paths before any work is done, the
// figure folder, and a table writer.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <stai/error.hpp>
#include <stai/io/csv.hpp>
#include <stai/tensor/matrix.hpp>

#include "strings.hpp"

namespace stai::cli {

/// Checks, before any work is done, that `path` has a supported extension
/// (guard_paths checks that it can be written). Returns the extension.
inline std::string check_output(const std::string& path, const std::string& flag,
                                const std::vector<std::string>& exts) {
  const std::string e = extension(path);
  if (std::find(exts.begin(), exts.end(), e) == exts.end())
    throw Error(flag + ": cannot write '" + path + "': unsupported output type '" +
                (e.empty() ? std::string("(none)") : e) + "'; use " + join(exts, ", "));
  return e;
}

inline void make_plot_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--plot: cannot create the folder '" + dir + "': " + ec.message());
}

/// Writes a table of strings as CSV, or TSV for a .tsv path, atomically.
inline void write_table(const std::string& path, const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  write_text_table(path, header, rows, extension(path) == ".tsv" ? '\t' : ',');
}

inline std::string num_text(double v) { return std::isfinite(v) ? format_value(v) : std::string("NaN"); }

/// x, y columns of the coordinates (the first two), for figures.
inline RowMatrix<double> xy_of(const RowMatrix<double>& c) { return c.leftCols(2); }

}  // namespace stai::cli
