// stai — the options shared by all figures (size, point size, colour limits,
// category order).
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace stai {

/// Options shared by all figures; every field has a usable default.
struct PlotOptions {
  int width = 0;   ///< whole figure width (px for PNG, pt for SVG/PDF); 0 = automatic
  int height = 0;  ///< whole figure height; 0 = automatic (from the data's aspect ratio)
  double point_size = 0;  ///< marker diameter in px; 0 = automatic from the cell density
  double percentile_low = 1.0, percentile_high = 99.0;  ///< robust colour limits (percent)
  /// Explicit colour limits; a finite value overrides the matching percentile.
  double vmin = std::numeric_limits<double>::quiet_NaN();
  double vmax = std::numeric_limits<double>::quiet_NaN();
  /// Category order for categorical maps (legend order and colours). Empty = the
  /// distinct labels sorted (like a pandas Categorical); when given, every label
  /// must be in it, and categories without cells still get their legend entry.
  std::vector<std::string> categories;
};

}  // namespace stai
