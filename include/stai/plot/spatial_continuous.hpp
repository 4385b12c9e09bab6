// stai — spatial maps of continuous values: one value per cell (e.g. a gene's
// expression), or a gene's measured and imputed expression side by side.
// viridis with robust colour limits and a colour bar per panel
// (colorbar.hpp); conventions of every map in plot/plot.hpp.
#pragma once
#include <cairo.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "colorbar.hpp"
#include "colormap.hpp"
#include "extent.hpp"
#include "layout.hpp"
#include "map_panel.hpp"
#include "options.hpp"
#include "spacing.hpp"
#include "surface.hpp"
#include "ticks.hpp"

namespace stai {

/// Spatial map of one continuous value per cell (e.g. a gene's expression),
/// viridis, with a colour bar labelled `colorbar_label`.
inline FigureInfo plot_spatial_continuous(const std::string& path, const RowMatrix<double>& coords,
                                          const std::vector<double>& values, const std::string& title,
                                          const std::string& colorbar_label = "",
                                          const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  const d::Extent e = d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(values.size()) == coords.rows(), path, ": ", values.size(),
             " values for ", coords.rows(), " cells; give exactly one value per cell (row of coords)");
  const std::pair<double, double> lim = d::color_limits(path, "cell", values, options);
  const double lo = lim.first, hi = lim.second;  // (no structured binding: clang < 16 cannot capture one)
  d::Measure m;
  const double cbw = d::colorbar_width(m, lo, hi, colorbar_label);
  const d::MapLayout lay = d::layout_maps(path, options, e, {cbw}, false, d::no_legend);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = title;
  MapPanel p = d::fit_panel(lay.box_x[0], lay.top, lay.map_w, lay.map_h, e, d::typical_spacing(coords, e),
                            options.point_size);
  p.vmin = lo;
  p.vmax = hi;
  info.panels.push_back(p);
  const auto order = d::value_order(values);
  d::render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    d::draw_title(cr, title, lay.width);
    d::draw_cells(cr, p, coords, order,
                  [&](index_t i) { return d::value_color(values[static_cast<std::size_t>(i)], lo, hi); });
    d::frame(cr, p.box_x, p.box_y, p.box_w, p.box_h);
    d::draw_colorbar(cr, p.box_x + p.box_w, p.box_y, p.box_h, lo, hi, colorbar_label, cbw);
  });
  return info;
}

/// Measured and imputed expression of one gene side by side: panels "measured"
/// and "imputed (PCC = 0.41)", each with its own robust colour scale and bar.
/// A non-finite pcc is written as "n/a". Explicit options.vmin/vmax, when
/// given, apply to both panels (then they share one scale).
inline FigureInfo plot_spatial_pair(const std::string& path, const RowMatrix<double>& coords,
                                    const std::vector<double>& measured, const std::vector<double>& imputed,
                                    const std::string& gene, double pcc, const PlotOptions& options = {}) {
  namespace d = plot::detail;
  const ImageFormat fmt = image_format_from_path(path);
  const d::Extent e = d::check_coords(path, coords);
  STAI_CHECK(static_cast<index_t>(measured.size()) == coords.rows() &&
                 static_cast<index_t>(imputed.size()) == coords.rows(),
             path, ": ", measured.size(), " measured and ", imputed.size(), " imputed values for ",
             coords.rows(), " cells; give exactly one value per cell in each");
  const auto lim_m = d::color_limits(path, "measured", measured, options);
  const auto lim_i = d::color_limits(path, "imputed", imputed, options);
  d::Measure m;
  const std::vector<double> right = {d::colorbar_width(m, lim_m.first, lim_m.second, ""),
                                     d::colorbar_width(m, lim_i.first, lim_i.second, "")};
  const d::MapLayout lay = d::layout_maps(path, options, e, right, true, d::no_legend);
  FigureInfo info;
  info.width = lay.width;
  info.height = lay.height;
  info.title = gene;
  const double spacing = d::typical_spacing(coords, e);
  const std::vector<const std::vector<double>*> vals = {&measured, &imputed};
  const std::pair<double, double> lims[2] = {lim_m, lim_i};
  for (int k = 0; k < 2; ++k) {
    MapPanel p = d::fit_panel(lay.box_x[static_cast<std::size_t>(k)], lay.top, lay.map_w, lay.map_h, e, spacing,
                              options.point_size);
    p.vmin = lims[k].first;
    p.vmax = lims[k].second;
    info.panels.push_back(p);
  }
  const std::string pcc_text = std::isfinite(pcc) ? d::format_fixed(pcc, 2) : std::string("n/a");
  const std::string titles[2] = {"measured", "imputed (PCC = " + pcc_text + ")"};
  d::render(path, fmt, lay.width, lay.height, [&](cairo_t* cr) {
    d::draw_title(cr, gene, lay.width);
    for (int k = 0; k < 2; ++k) {
      const MapPanel& p = info.panels[static_cast<std::size_t>(k)];
      const std::vector<double>& v = *vals[static_cast<std::size_t>(k)];
      d::draw_panel_title(cr, titles[k], p, right[static_cast<std::size_t>(k)]);
      d::draw_cells(cr, p, coords, d::value_order(v),
                    [&](index_t i) { return d::value_color(v[static_cast<std::size_t>(i)], p.vmin, p.vmax); });
      d::frame(cr, p.box_x, p.box_y, p.box_w, p.box_h);
      d::draw_colorbar(cr, p.box_x + p.box_w, p.box_y, p.box_h, p.vmin, p.vmax, "",
                       right[static_cast<std::size_t>(k)]);
    }
  });
  return info;
}

}  // namespace stai
