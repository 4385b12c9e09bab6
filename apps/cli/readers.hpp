// stai command-line program — reading the inputs by file type: .h5ad, .loom and text
// tables, with coordinate and label tables joined in.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <stai/data/anndata.hpp>
#include <stai/error.hpp>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>
#include <stai/io/loom.hpp>
#include <stai/io/text.hpp>

#include "options.hpp"
#include "strings.hpp"

namespace stai::cli {

/// Throws unless `path` names an existing, readable file.
inline void need_file(const std::string& path, const std::string& flag) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(flag + ": file '" + path + "' does not exist; check the path (relative paths start in '" +
                fs::current_path(ec).string() + "')");
  if (fs::is_directory(path, ec)) throw Error(flag + ": '" + path + "' is a folder; give a data file");
}

inline bool is_text_ext(const std::string& e) { return e == ".csv" || e == ".tsv" || e == ".txt" || e == ".tab"; }

/// The kind of a data file from its extension, or an error naming what is supported.
inline std::string input_format(const std::string& path, const std::string& flag) {
  const std::string e = extension(path);
  if (e == ".h5ad") return "h5ad";
  if (e == ".loom") return "loom";
  if (is_text_ext(e)) return "text";
  std::string hint;
  if (e == ".gz" || e == ".bz2" || e == ".zip") hint = " (decompress it first)";
  else if (e == ".rds" || e == ".h5seurat") hint = " (export it from R, e.g. with SeuratDisk or zellkonverter, as .h5ad)";
  else if (e == ".mtx") hint = " (load it in scanpy and write_h5ad)";
  else if (e == ".zarr") hint = " (write it as .h5ad with anndata's write_h5ad)";
  else if (e == ".h5") hint = " (10x .h5 files: load with scanpy.read_10x_h5 and write_h5ad)";
  throw Error(flag + ": cannot read '" + path + "': unsupported file type '" + (e.empty() ? std::string("(none)") : e) +
              "'; stai reads .h5ad, .loom, .csv, .tsv and .txt" + hint);
}

/// Reads a data file by its extension. `layer` = "" reads X (or /matrix).
inline AnnData read_any(const std::string& path, const std::string& flag, const std::string& layer,
                        const std::string& spatial_key = "spatial", bool want_xy = false) {
  need_file(path, flag);
  const std::string f = input_format(path, flag);
  AnnData a;
  if (f == "h5ad") {
    H5adReadOptions o;
    o.layer = layer;
    a = read_h5ad(path, o);
  } else if (f == "loom") {
    LoomReadOptions o;
    o.layer = layer;
    o.spatial_key = spatial_key;
    if (want_xy) {
      const h5::File file = h5::File::open(path);
      if (file.has_group("col_attrs")) {
        const auto ca = file.group("col_attrs");
        if (!ca.has(spatial_key)) {
          for (auto [x, y] : {std::pair{"X", "Y"}, {"x", "y"}, {"x_centroid", "y_centroid"}})
            if (ca.has_dataset(x) && ca.has_dataset(y)) {
              o.spatial_from_xy = true;
              o.x_attr = x;
              o.y_attr = y;
              break;
            }
        }
      }
    }
    a = read_loom(path, o);
  } else {
    if (!layer.empty()) throw Error(flag + ": '" + path + "' is a text table and has no layers; drop --layer");
    a = read_table(path);
  }
  a.source = path;
  return a;
}

/// Joins a coordinate table into a.obsm[key].
inline void attach_coords(AnnData& a, const CommonOptions& o) {
  need_file(o.coords, "--coords");
  TextTable t = read_text_table(o.coords);
  CoordinateOptions co;
  co.key = o.spatial_key;
  if (!o.coords_columns.empty()) {
    const auto cols = split_names(o.coords_columns);
    if (cols.size() != 2 && cols.size() != 3)
      throw UsageError("--coords-columns needs two or three column names, e.g. X,Y");
    co.x = cols[0];
    co.y = cols[1];
    if (cols.size() == 3) co.z = cols[2];
  } else {
    auto find = [&](const std::vector<std::string>& names) -> std::string {
      for (const auto& c : t.col_names)
        for (const auto& n : names)
          if (lower(c) == n) return c;
      return "";
    };
    co.x = find({"x", "x_centroid", "center_x", "imagecol", "col"});
    co.y = find({"y", "y_centroid", "center_y", "imagerow", "row"});
    if (co.x.empty() || co.y.empty())
      throw Error("--coords: " + o.coords + " has no columns named x and y (its columns: " + t.col_list() +
                  "); name them with --coords-columns, e.g. --coords-columns " +
                  (t.col_names.size() >= 2 ? t.col_names[0] + "," + t.col_names[1] : std::string("X,Y")));
  }
  add_coordinates(a, t, co);
}

inline void attach_labels(AnnData& a, const CommonOptions& o, const std::string& key) {
  need_file(o.labels, "--labels");
  TextTable t = read_text_table(o.labels);
  LabelOptions lo;
  lo.obs_key = key;
  lo.column = o.labels_column;
  if (lo.column.empty() && t.cols() > 1) {
    if (t.find_col(key) >= 0) lo.column = key;
    else
      throw Error("--labels: " + o.labels + " has " + std::to_string(t.cols()) + " columns (" + t.col_list() +
                  "); say which holds the cell types with --labels-column");
  }
  add_labels(a, t, lo);
}

inline std::string layer_for(const CommonOptions& o, bool spatial) {
  const std::string& specific = spatial ? o.spatial_layer : o.reference_layer;
  return specific.empty() ? o.layer : specific;
}

inline AnnData read_spatial(const CommonOptions& o) {
  AnnData a = read_any(o.spatial, "--spatial", layer_for(o, true), o.spatial_key, o.coords.empty());
  if (!o.coords.empty()) attach_coords(a, o);
  if (!a.obsm.count(o.spatial_key)) {
    std::string keys;
    for (const auto& [k, m] : a.obsm) keys += (keys.empty() ? "" : ", ") + k;
    if (input_format(o.spatial, "--spatial") == "text")
      throw Error("--spatial: " + o.spatial + " is a text table without cell positions; pass them with "
                  "--coords FILE (a table with columns x and y, one row per cell)");
    throw Error("--spatial: " + o.spatial + " has no cell coordinates in obsm['" + o.spatial_key +
                "'] (obsm keys: " + (keys.empty() ? std::string("none") : keys) +
                "); name the right key with --spatial-key, or give a table of positions with --coords");
  }
  return a;
}

inline AnnData read_reference(const CommonOptions& o) {
  AnnData a = read_any(o.reference, "--reference", layer_for(o, false));
  if (!o.labels.empty()) attach_labels(a, o, o.label_key.empty() ? std::string("celltype") : o.label_key);
  if (!o.label_key.empty() && !a.obs.count(o.label_key)) {
    std::vector<std::string> cands;
    for (const auto& [k, c] : a.obs)
      if (c.kind == Column::Kind::String) cands.push_back(k);
    throw Error("--label-key: the reference " + o.reference + " has no obs column '" + o.label_key +
                "'; its text columns are: " + (cands.empty() ? std::string("(none)") : join(cands, ", ")) +
                " (run 'stai inspect " + o.reference + "' to see them, or pass a table with --labels)");
  }
  return a;
}

}  // namespace stai::cli
