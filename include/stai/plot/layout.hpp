// stai — the layout of a map figure: the figure title, n map panels in a row
// (each with an optional panel title and a block to its right, e.g. a colour
// bar) and a shared legend at the far right, sized from PlotOptions or, when
// width/height are 0, from the data's aspect ratio.
#pragma once
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "extent.hpp"
#include "map_panel.hpp"
#include "options.hpp"
#include "style.hpp"
#include "text.hpp"

namespace stai::plot::detail {

/// Map box size for automatic layouts: long side `L`, the other from the data aspect.
inline void auto_box(const Extent& e, double L, double& w, double& h) {
  const double r = data_aspect(e);
  if (r <= 1) {
    w = L;
    h = std::max(L * r, 0.35 * L);
  } else {
    h = L;
    w = std::max(L / r, 0.35 * L);
  }
  w = std::round(w);
  h = std::round(h);
}

/// Geometry of a figure made of n map panels in a row, each followed by a
/// block of width right_w[i], plus a shared legend at the far right.
struct MapLayout {
  int width = 0, height = 0;
  double map_w = 0, map_h = 0, top = 0;
  std::vector<double> box_x;
  double legend_x = 0;
};

/// `legend_for(avail_h)` arranges the legend in at most avail_h and returns its
/// {block width, height}. With an automatic height the legend may be taller
/// than a flat map (up to 15 rows), and the figure grows to hold it.
template <class LegendFor>
MapLayout layout_maps(const std::string& path, const PlotOptions& o, const Extent& e,
                      const std::vector<double>& right_w, bool panel_titles, LegendFor&& legend_for) {
  auto legend_avail = [&](double mh) { return o.height > 0 ? mh : std::max(mh, 15 * kLegendRow); };
  const std::size_t n = right_w.size();
  const double fixed_h = 2 * kMargin + kTitleBand + (panel_titles ? kPanelTitleBand : 0);
  double fixed_w = 2 * kMargin + static_cast<double>(n - 1) * kPanelGap;
  for (double r : right_w) fixed_w += r;
  const double L = n == 1 ? 480 : 400;
  double aw, ah;
  auto_box(e, L, aw, ah);
  MapLayout lay;
  double map_h = o.height > 0 ? std::floor(o.height - fixed_h) : ah;
  if (o.height <= 0 && o.width > 0) {
    // width given: derive the box width first, height from the aspect
    const double lw = legend_for(legend_avail(ah)).first;
    const double mw = std::floor((o.width - fixed_w - lw) / static_cast<double>(n));
    map_h = std::round(std::clamp(mw * data_aspect(e), 0.35 * mw, 3.0 * mw));
  }
  const std::pair<double, double> legend_wh = legend_for(legend_avail(map_h));
  const double legend_w = legend_wh.first, legend_h = legend_wh.second;
  double map_w;
  if (o.width > 0) {
    map_w = std::floor((o.width - fixed_w - legend_w) / static_cast<double>(n));
  } else if (o.height > 0) {
    map_w = std::round(std::clamp(map_h / data_aspect(e), 0.35 * map_h, 3.0 * map_h));
  } else {
    map_w = aw;
  }
  // A box with room to spare in one direction hugs the data instead (the
  // spare room is split evenly around the content below).
  if (map_w >= kMinMap && map_h >= kMinMap) {
    const double r = data_aspect(e);
    if (map_w * r > map_h)
      map_w = std::max(kMinMap, std::round(map_h / r));
    else
      map_h = std::max(kMinMap, std::round(map_w * r));
  }
  const int W = o.width > 0 ? o.width : static_cast<int>(std::ceil(fixed_w + legend_w + n * map_w));
  const int H = o.height > 0 ? o.height : static_cast<int>(std::ceil(fixed_h + std::max(map_h, legend_h)));
  STAI_CHECK(map_w >= kMinMap && map_h >= kMinMap, path, ": a ", W, " x ", H, " figure leaves only ",
             static_cast<int>(std::max(0.0, map_w)), " x ", static_cast<int>(std::max(0.0, map_h)),
             " for each map (titles, colour bars and legend need the rest); make it at least ",
             static_cast<int>(std::ceil(fixed_w + legend_w + n * kMinMap)), " x ",
             static_cast<int>(std::ceil(fixed_h + kMinMap)), ", or set width/height to 0 for automatic sizing");
  lay.width = W;
  lay.height = H;
  lay.map_w = map_w;
  lay.map_h = map_h;
  const double slack_x = std::max(0.0, W - (fixed_w + legend_w + n * map_w));
  const double slack_y = std::max(0.0, H - (fixed_h + std::max(map_h, legend_h)));
  lay.top = std::floor(kMargin + kTitleBand + (panel_titles ? kPanelTitleBand : 0) + 0.5 * slack_y);
  double x = std::floor(kMargin + 0.5 * slack_x);
  for (std::size_t i = 0; i < n; ++i) {
    lay.box_x.push_back(x);
    x += map_w + right_w[i] + kPanelGap;
  }
  lay.legend_x = x - kPanelGap;
  return lay;
}

/// Legend callback of figures without a legend.
inline std::pair<double, double> no_legend(double) { return {0.0, 0.0}; }

/// Panel title centred over the map box, or over box + colour bar block
/// (right_w) when it is wider than the box; shrunk or shortened to fit.
inline void draw_panel_title(cairo_t* cr, const std::string& title, const MapPanel& p, double right_w) {
  font(cr, kPanelTitleFont);
  const bool wide = text_width(cr, title) > p.box_w;
  const std::string s = fit_text(cr, title, p.box_w + right_w, kPanelTitleFont, false);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  text(cr, s, p.box_x + 0.5 * (wide ? p.box_w + right_w : p.box_w), p.box_y - 0.5 * kPanelTitleBand, 0.5);
}

}  // namespace stai::plot::detail
