// stai — spatial maps of categories (e.g. cell types), from codes or string
// labels, and true vs predicted categories side by side with the accuracy.
// Each category has its palette colour (colormap.hpp) by its position in the
// category order, in every panel and in the legend (legend.hpp); conventions
// of every map in plot/plot.hpp.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "colormap.hpp"
#include "extent.hpp"
#include "layout.hpp"
#include "legend.hpp"
#include "map_panel.hpp"
#include "options.hpp"
#include "spacing.hpp"
#include "surface.hpp"
#include "text.hpp"
#include "ticks.hpp"

namespace stai {
namespace plot::detail {

/// Category codes from string labels in the given (or sorted) order.
inline std::vector<index_t> encode(const std::string& path, const std::vector<const std::vector<std::string>*>& sets,
                                   const std::vector<std::string>& given, std::vector<std::string>& names) {
  names = given;
  if (names.empty()) {
    for (const auto* s : sets) names.insert(names.end(), s->begin(), s->end());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  } else {
    auto sorted = names;
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    STAI_CHECK(dup == sorted.end(), path, ": category '", *dup,
               "' appears twice in PlotOptions::categories; list each category once");
  }
  std::vector<std::pair<std::string, index_t>> lookup;
  for (std::size_t k = 0; k < names.size(); ++k) lookup.emplace_back(names[k], static_cast<index_t>(k));
  std::sort(lookup.begin(), lookup.end());
  std::vector<index_t> codes;
  for (const auto* s : sets) {
    for (std::size_t i = 0; i < s->size(); ++i) {
      const std::string& lab = (*s)[i];
      auto it = std::lower_bound(lookup.begin(), lookup.end(), std::make_pair(lab, index_t{-1}));
      STAI_CHECK(it != lookup.end() && it->first == lab, path, ": label '", lab, "' (cell ", i,
                 ") is not in PlotOptions::categories; add it there or leave that list empty");
      codes.push_back(it->second);
    }
  }
  return codes;
}

/// Shared body of the categorical figures: one panel per code vector.
inline FigureInfo categorical_figure(const std::string& path, ImageFormat fmt, const RowMatrix<double>& coords,
                                     const std::vector<std::vector<index_t>>& panels,
                                     const std::vector<std::string>& names,
                                     const std::vector<std::string>& panel_titles, const std::string& title,
                                     const PlotOptions& o) {
  const Extent e = check_coords(path, coords);
  bool missing = false;
  for (const auto& codes : panels)
    for (index_t c : codes) missing = missing || c < 0;
  Measure m;
  Legend lg = make_legend(m, names, missing);
  const std::vector<double> right(panels.size(), 0.0);
  const MapLayout lay = layout_maps(path, o, e, right, !panel_titles.empty(),
                                    [&](double avail) { return legend_size(lg, avail); });
  const double spacing = typical_spacing(coords, e);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = title;
  info.categories = names;
  for (std::size_t p = 0; p < panels.size(); ++p)
    info.panels.push_back(fit_panel(lay.box_x[p], lay.top, lay.map_w, lay.map_h, e, spacing, o.point_size));
  std::vector<index_t> order(static_cast<std::size_t>(coords.rows()));
  std::iota(order.begin(), order.end(), index_t{0});
  render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    draw_title(cr, title, lay.width);
    for (std::size_t p = 0; p < panels.size(); ++p) {
      const MapPanel& mp = info.panels[p];
      if (!panel_titles.empty())
        draw_panel_title(cr, panel_titles[p], mp, 0.0);
      const auto& codes = panels[p];
      draw_cells(cr, mp, coords, order, [&](index_t i) {
        const index_t c = codes[static_cast<std::size_t>(i)];
        return c < 0 ? missing_color() : category_color(static_cast<std::size_t>(c));
      });
      frame(cr, mp.box_x, mp.box_y, mp.box_w, mp.box_h);
    }
    draw_legend(cr, lg, lay.legend_x, lay.top, lay.map_h);
  });
  return info;
}


}  // namespace plot::detail

/// Spatial map of categories given as codes into `names` (code k is names[k];
/// a negative code means unassigned and is drawn light grey). The legend lists
/// `names` in order; category k has plot::category_color(k).
inline FigureInfo plot_spatial_categories(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<index_t>& codes, const std::vector<std::string>& names,
                                          const std::string& title, const PlotOptions& options = {}) {
  const ImageFormat fmt = image_format_from_path(path);
  plot::detail::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(codes.size()) == coords.rows(), path, ": ", codes.size(), " labels for ",
             coords.rows(), " cells; give exactly one label per cell");
  STAI_CHECK(!names.empty(), path, ": no category names given; pass the names that the codes index");
  for (std::size_t i = 0; i < codes.size(); ++i)
    STAI_CHECK(codes[i] < static_cast<index_t>(names.size()), path, ": cell ", i, " has category code ",
               codes[i], " but only ", names.size(), " category names were given (codes are 0-based)");
  return plot::detail::categorical_figure(path, fmt, coords, {codes}, names, {}, title, options);
}

/// Spatial map of string labels (e.g. cell types); the category order is
/// options.categories or, if empty, the sorted distinct labels.
inline FigureInfo plot_spatial_categories(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<std::string>& labels, const std::string& title,
                                          const PlotOptions& options = {}) {
  const ImageFormat fmt = image_format_from_path(path);
  plot::detail::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(labels.size()) == coords.rows(), path, ": ", labels.size(),
             " labels for ", coords.rows(), " cells; give exactly one label per cell");
  std::vector<std::string> names;
  const auto codes = plot::detail::encode(path, {&labels}, options.categories, names);
  return plot::detail::categorical_figure(path, fmt, coords, {codes}, names, {}, title, options);
}

/// True and predicted cell types side by side with the same colour per type
/// (order: options.categories, else the sorted union of both label sets); the
/// title gets the accuracy (fraction of cells whose prediction equals the truth).
inline FigureInfo plot_true_vs_predicted(const std::string& path, const RowMatrix<double>& coords,
                                         const std::vector<std::string>& truth,
                                         const std::vector<std::string>& predicted,
                                         const std::string& title = "cell types",
                                         const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(truth.size()) == coords.rows() &&
                 static_cast<index_t>(predicted.size()) == coords.rows(),
             path, ": ", truth.size(), " true and ", predicted.size(), " predicted labels for ", coords.rows(),
             " cells; give exactly one label per cell in each");
  std::vector<std::string> names;
  const auto all = d::encode(path, {&truth, &predicted}, options.categories, names);
  const auto n = static_cast<std::ptrdiff_t>(truth.size());
  std::vector<index_t> ct(all.begin(), all.begin() + n), cp(all.begin() + n, all.end());
  index_t hits = 0;
  for (std::size_t i = 0; i < ct.size(); ++i) hits += ct[i] == cp[i];
  const double acc = static_cast<double>(hits) / static_cast<double>(ct.size());
  const std::string stats = "accuracy = " + d::format_fixed(100.0 * acc, 1) + "%, n = " + std::to_string(ct.size());
  const std::string full = title.empty() ? stats : title + " (" + stats + ")";
  FigureInfo info = d::categorical_figure(path, fmt, coords, {ct, cp}, names, {"true", "predicted"}, full, options);
  info.accuracy = acc;
  return info;
}

}  // namespace stai
