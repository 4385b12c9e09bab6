// plot_gallery — renders every stai figure type from synthetic data.
//
//   plot_gallery OUTDIR
//
// writes, for each figure, a .png, .svg and .pdf into OUTDIR (which must exist):
//   spatial_continuous   one gene's expression on a synthetic cortex section
//   spatial_pair         measured vs imputed expression with the PCC
//   spatial_categories   cell types (7 categories, legend)
//   spatial_categories_many  30 categories (multi-column legend, generated colours)
//   true_vs_predicted    true vs predicted cell types with the accuracy
//   histogram            per-gene PCC distribution with its median
#include <cmath>
#include <cstdio>
#include <stai/plot/plot.hpp>
#include <stai/random.hpp>
#include <string>
#include <vector>

namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/";
  try {
    stai::Rng rng(7);
    // A synthetic cortex-like section: cells in a curved band, layers by depth.
    const int n = 3000;
    stai::RowMatrix<double> coords(n, 2);
    std::vector<double> depth(n);
    for (int i = 0; i < n; ++i) {
      const double u = rng.uniform(), v = rng.uniform();
      const double angle = 0.2 + 2.74 * u;  // radians along the arc
      const double r = 900 + 700 * v;       // radial position: depth
      coords(i, 0) = 1600 + r * std::cos(angle) + rng.normal(0, 4);
      coords(i, 1) = 1700 - r * std::sin(angle) + rng.normal(0, 4);  // image coordinates: y down
      depth[i] = v;
    }
    static const char* kTypes[] = {"L2/3 IT neurons", "L4 neurons", "L5 IT neurons", "L6 neurons",
                                   "Astrocytes", "Oligodendrocytes", "Microglia"};
    std::vector<std::string> truth(n), predicted(n);
    std::vector<double> measured(n), imputed(n);
    for (int i = 0; i < n; ++i) {
      const double g = rng.uniform();
      int t = depth[i] > 0.75 ? 0 : depth[i] > 0.5 ? 1 : depth[i] > 0.25 ? 2 : 3;
      if (g < 0.12) t = 4;
      else if (g < 0.18) t = 5;
      else if (g < 0.22) t = 6;
      truth[i] = kTypes[t];
      predicted[i] = rng.uniform() < 0.85 ? truth[i] : kTypes[rng.below(7)];
      const double signal = std::exp(-std::pow((depth[i] - 0.62) / 0.12, 2));  // "L4 marker"
      measured[i] = std::max(0.0, 4 * signal + rng.normal(0, 0.6));
      imputed[i] = std::max(0.0, 3 * signal + 0.4 + rng.normal(0, 0.3));
    }
    measured[5] = 60;  // an outlier: robust limits keep the map readable
    const double pcc = pearson(measured, imputed);

    std::vector<std::string> many(n);
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(std::floor(depth[i] * 5)) * 6 +
                    static_cast<int>(std::floor((coords(i, 0) + 200) / 3400 * 6));
      const int r = std::min(29, std::max(0, k));
      many[i] = std::string("region ") + (r < 10 ? "0" : "") + std::to_string(r) +
                (r == 7 ? " (a deliberately long category name to test the legend)" : "");
    }
    std::vector<double> gene_pcc;
    for (int g = 0; g < 33; ++g) gene_pcc.push_back(std::clamp(rng.normal(0.4, 0.16), -1.0, 1.0));
    gene_pcc.push_back(std::nan(""));  // a constant gene: PCC undefined

    for (const char* ext : {".png", ".svg", ".pdf"}) {
      stai::plot_spatial_continuous(dir + "spatial_continuous" + ext, coords, measured, "Rorb (measured)",
                                    "log expression");
      stai::plot_spatial_pair(dir + "spatial_pair" + ext, coords, measured, imputed, "Rorb", pcc);
      stai::plot_spatial_categories(dir + "spatial_categories" + ext, coords, truth, "cell types");
      stai::plot_spatial_categories(dir + "spatial_categories_many" + ext, coords, many, "30 regions");
      stai::plot_true_vs_predicted(dir + "true_vs_predicted" + ext, coords, truth, predicted);
      stai::plot_histogram(dir + "histogram" + ext, gene_pcc, "per-gene PCC", "Pearson correlation (PCC)");
    }
    std::printf("wrote 18 figures to %s (PCC of the pair = %.3f)\n", dir.c_str(), pcc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
