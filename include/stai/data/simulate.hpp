// stai — a simulator of a spatial tissue and of a matching scRNA-seq
// reference from a different platform, with known truth.
//
// Tissue: cells on a jittered 2-D grid; cell types arranged in cortical-like
// LAYERS (bands along y with wavy borders), PATCHES (blobs of a smooth random
// field) and a SCATTERED type. Expression: every type has a log-mean profile
// over all genes (a shared baseline plus marker programs), modulated by a
// smooth spatial component (a depth gradient that some genes follow).
// Spatial counts: Poisson at a shallow depth with per-cell size factors and
// extra dropout; only a panel of genes is "measured", the rest are kept as
// truth for imputation checks. Reference: the same programs seen through a
// different platform: gene-wise capture bias, much deeper counts, different
// cell-type proportions, no coordinates (its depth state is drawn at random).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "../random.hpp"
#include "anndata.hpp"

namespace stai {

struct SimulationOptions {
  index_t n_spatial = 2500;      ///< spatial cells
  index_t n_reference = 1800;    ///< reference cells
  index_t n_types = 6;           ///< cell types (>= 3: layers, patches, scattered)
  index_t n_genes = 80;          ///< genes in the reference (whole "transcriptome")
  index_t n_panel = 36;          ///< genes measured by the spatial panel (first n_panel genes)
  index_t markers_per_type = 6;  ///< marker genes per type
  double spatial_depth = 200;    ///< mean molecules per spatial cell over all genes
  double reference_depth = 4000; ///< mean UMIs per reference cell
  double spatial_dropout = 0.3;  ///< extra per-molecule loss in the spatial platform
  double capture_bias_sd = 0.5;  ///< gene-wise log capture bias of the reference platform
  std::uint64_t seed = 1;
};

struct Simulation {
  AnnData spatial;     ///< n_spatial x n_panel raw counts, obs "celltype", obsm "spatial"
  AnnData reference;   ///< n_reference x n_genes raw counts, obs "celltype"
  /// Spatial cells x ALL genes: the counts the spatial platform would have
  /// measured for every gene (truth for genes outside the panel).
  RowMatrix<float> spatial_truth;
  std::vector<std::string> all_genes;
  std::vector<std::string> type_names;
  std::vector<index_t> spatial_type, reference_type;
};

namespace detail {
inline double poisson(Rng& rng, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda < 30) {  // Knuth
    const double L = std::exp(-lambda);
    double p = 1;
    int k = 0;
    do {
      ++k;
      p *= rng.uniform();
    } while (p > L);
    return k - 1;
  }
  // normal approximation with continuity, adequate at this depth
  const double v = std::round(rng.normal(lambda, std::sqrt(lambda)));
  return v < 0 ? 0 : v;
}
}  // namespace detail

inline Simulation simulate(const SimulationOptions& o) {
  STAI_CHECK(o.n_types >= 3, "simulate: n_types must be >= 3");
  STAI_CHECK(o.n_panel >= 2 && o.n_panel <= o.n_genes, "simulate: need 2 <= n_panel <= n_genes");
  STAI_CHECK(o.n_spatial >= 10 && o.n_reference >= 10, "simulate: need at least 10 cells per data set");
  Rng rng(o.seed, 0x51a1);
  Simulation s;
  const index_t G = o.n_genes, K = o.n_types;
  for (index_t g = 0; g < G; ++g) s.all_genes.push_back("Gene" + std::to_string(g + 1));
  for (index_t k = 0; k < K; ++k) s.type_names.push_back("Type" + std::string(1, char('A' + k)));

  // Expression programs: log-means per type and gene.
  RowMatrix<double> logmu(K, G);
  std::vector<double> base(static_cast<std::size_t>(G)), depth_gene(static_cast<std::size_t>(G));
  for (index_t g = 0; g < G; ++g) {
    base[g] = rng.normal(-1.0, 0.8);
    depth_gene[g] = rng.uniform() < 0.3 ? rng.normal(0.0, 1.0) : 0.0;  // genes that follow depth
  }
  for (index_t k = 0; k < K; ++k)
    for (index_t g = 0; g < G; ++g) logmu(k, g) = base[g] + rng.normal(0.0, 0.3);
  // Markers: spread over panel and non-panel genes so unmeasured genes carry
  // type information the reference can transfer.
  for (index_t k = 0; k < K; ++k)
    for (index_t m = 0; m < o.markers_per_type; ++m) {
      const index_t g = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(G)));
      logmu(k, g) += rng.uniform(1.5, 3.0);
    }

  // Tissue layout.
  const index_t n1 = o.n_spatial;
  const index_t side = static_cast<index_t>(std::ceil(std::sqrt(double(n1))));
  RowMatrix<double> xy(n1, 2);
  s.spatial_type.resize(static_cast<std::size_t>(n1));
  std::vector<double> depth(static_cast<std::size_t>(n1));
  const index_t n_layers = K - 2;  // types 0..K-3 are layers, K-2 patches, K-1 scattered
  // smooth random field for patches: a few random Gaussian bumps
  std::vector<std::array<double, 3>> bumps;
  for (int b = 0; b < 6; ++b) bumps.push_back({rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.1)});
  for (index_t i = 0; i < n1; ++i) {
    const double x = (double(i % side) + rng.uniform(-0.35, 0.35)) / double(side);
    const double y = (double(i / side) + rng.uniform(-0.35, 0.35)) / double(side);
    xy(i, 0) = 1000 * x;
    xy(i, 1) = 1000 * y;
    const double wavy = y + 0.04 * std::sin(6.28318 * 2 * x);
    depth[i] = std::clamp(wavy, 0.0, 1.0);
    index_t t = std::clamp<index_t>(static_cast<index_t>(depth[i] * double(n_layers)), 0, n_layers - 1);
    double field = 0;
    for (const auto& b : bumps) {
      const double dx = x - b[0], dy = y - b[1];
      field += std::exp(-(dx * dx + dy * dy) / (2 * b[2] * b[2]));
    }
    if (field > 0.6) t = K - 2;
    if (rng.uniform() < 0.08) t = K - 1;
    s.spatial_type[i] = t;
  }

  // Reference types: different proportions (closer to uniform, one rare type).
  const index_t n2 = o.n_reference;
  s.reference_type.resize(static_cast<std::size_t>(n2));
  std::vector<double> ref_depth(static_cast<std::size_t>(n2));
  for (index_t i = 0; i < n2; ++i) {
    const double u = rng.uniform();
    index_t t = static_cast<index_t>(u * double(K));
    if (t == 0 && rng.uniform() < 0.5) t = 1;  // type 0 rarer in the reference
    s.reference_type[i] = std::min(t, K - 1);
    // a reference cell of a layer type has the depth of that layer
    const index_t tt = s.reference_type[i];
    ref_depth[i] = tt < n_layers ? (double(tt) + rng.uniform()) / double(n_layers) : rng.uniform();
  }

  auto rates = [&](index_t t, double d, std::vector<double>& p) {
    double tot = 0;
    for (index_t g = 0; g < G; ++g) {
      p[g] = std::exp(logmu(t, g) + depth_gene[g] * (d - 0.5) * 2.0);
      tot += p[g];
    }
    for (auto& v : p) v /= tot;
  };
  std::vector<double> p(static_cast<std::size_t>(G));

  // Spatial counts for all genes (truth); the panel is the first n_panel genes.
  s.spatial_truth.resize(n1, G);
  for (index_t i = 0; i < n1; ++i) {
    rates(s.spatial_type[i], depth[i], p);
    const double size = o.spatial_depth * std::exp(rng.normal(0.0, 0.35));
    for (index_t g = 0; g < G; ++g)
      s.spatial_truth(i, g) =
          static_cast<float>(detail::poisson(rng, size * p[g] * (1.0 - o.spatial_dropout) * double(G) / 20.0));
  }
  // Reference counts with gene-wise capture bias.
  std::vector<double> bias(static_cast<std::size_t>(G));
  for (auto& b : bias) b = std::exp(rng.normal(0.0, o.capture_bias_sd));
  AnnData& ref = s.reference;
  ref.source = "simulated reference";
  ref.X.resize(n2, G);
  for (index_t i = 0; i < n2; ++i) {
    rates(s.reference_type[i], ref_depth[i], p);
    const double size = o.reference_depth * std::exp(rng.normal(0.0, 0.4));
    for (index_t g = 0; g < G; ++g)
      ref.X(i, g) = static_cast<float>(detail::poisson(rng, size * p[g] * bias[g]));
    // no empty cells
    if (ref.X.row(i).sum() == 0) ref.X(i, 0) = 1;
  }
  for (index_t i = 0; i < n2; ++i) ref.obs_names.push_back("ref" + std::to_string(i));
  ref.var_names = s.all_genes;
  {
    std::vector<std::string> lab;
    for (index_t t : s.reference_type) lab.push_back(s.type_names[t]);
    ref.obs["celltype"] = Column::strings(lab);
  }

  AnnData& st = s.spatial;
  st.source = "simulated spatial";
  st.X = s.spatial_truth.leftCols(o.n_panel);
  for (index_t i = 0; i < n1; ++i) {
    if (st.X.row(i).sum() == 0) st.X(i, 0) = 1;  // no empty cells
    st.obs_names.push_back("cell" + std::to_string(i));
  }
  st.var_names.assign(s.all_genes.begin(), s.all_genes.begin() + o.n_panel);
  {
    std::vector<std::string> lab;
    for (index_t t : s.spatial_type) lab.push_back(s.type_names[t]);
    st.obs["celltype"] = Column::strings(lab);
  }
  st.obsm["spatial"] = xy;
  return s;
}

}  // namespace stai
