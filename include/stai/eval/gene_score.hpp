// stai — the per-gene scores of held-out-gene evaluation: Pearson
// correlation, RMSE after z-scoring both vectors and Jensen-Shannon
// divergence of imputed against measured values (eval/cross_validation.hpp
// computes them for every held-out gene; io/cv_table.hpp reads and writes
// them as CSV).
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "metrics.hpp"

namespace stai::eval {


/// The per-gene scores of the protocol.
enum class Metric { PCC, RMSE, JSD };

inline const char* to_string(Metric m) {
  switch (m) {
    case Metric::PCC: return "PCC";
    case Metric::RMSE: return "RMSE (z-scored)";
    case Metric::JSD: return "JSD";
  }
  return "?";
}
/// PCC: higher is better; RMSE and JSD: lower is better.
inline bool higher_is_better(Metric m) { return m == Metric::PCC; }

/// One held-out gene's scores.
struct GeneScore {
  std::string gene;
  int set = 0;  ///< the held-out set it belonged to (LOO: its position among the shared genes)
  double pcc = std::numeric_limits<double>::quiet_NaN();
  double rmse = std::numeric_limits<double>::quiet_NaN();  ///< RMSE after z-scoring both vectors
  double jsd = std::numeric_limits<double>::quiet_NaN();
  double measured_mean = 0, imputed_mean = 0;
  /// GeneCvOptions::score_variants: the PCC of the refinement's parts
  /// (name, PCC): the neural head alone, the linear head alone, their blend
  /// before smoothing.
  std::vector<std::pair<std::string, double>> variants;

  double value(Metric m) const { return m == Metric::PCC ? pcc : m == Metric::RMSE ? rmse : jsd; }
};

/// Scores one gene: imputed vs measured values of the same cells.
inline GeneScore score_gene(const std::string& gene, const std::vector<double>& imputed,
                            const std::vector<double>& measured) {
  STAI_CHECK(imputed.size() == measured.size() && !imputed.empty(), "score_gene('", gene, "'): ",
             imputed.size(), " imputed but ", measured.size(), " measured values; both must cover the same cells");
  GeneScore s;
  s.gene = gene;
  s.pcc = pearson(imputed, measured);
  s.rmse = rmse_zscored(imputed, measured);
  s.jsd = jensen_shannon(imputed, measured);
  double a = 0, b = 0;
  for (std::size_t i = 0; i < imputed.size(); ++i) {
    a += imputed[i];
    b += measured[i];
  }
  s.imputed_mean = a / static_cast<double>(imputed.size());
  s.measured_mean = b / static_cast<double>(measured.size());
  return s;
}

/// One metric of each row, in row order.
inline std::vector<double> metric_values(const std::vector<GeneScore>& rows, Metric m) {
  std::vector<double> v;
  v.reserve(rows.size());
  for (const auto& r : rows) v.push_back(r.value(m));
  return v;
}

}  // namespace stai::eval
