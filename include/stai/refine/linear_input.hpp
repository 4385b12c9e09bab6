// stai — what the linear transfer head reads of the spatial cells, and the
// measured values the refinement's inner cross-validation scores against
// (Config::linear_lognorm, Config::inner_objective; docs/model.md "Refinement").
//
// The encoders read each model gene z-scored from the values as they are in
// the spatial input (raw counts for count data). Through those, a cell's
// size (its total count) reaches every prediction: a large cell looks like a
// cell expressing everything. Cell size predicts raw counts, but it is not
// expression. The linear head can instead read the cells log-normalised on
// the model genes:
//     v_ig = log1p(x_ig / t_i * median_i t_i),   t_i = sum over model genes of x_ig,
// (cells with t_i = 0 stay 0; log-normalised or scaled data are read as they
// are),
// which is what the reference side is (log-normalised expression). The
// refinement has a linear head on each input and mixes them (refinement.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "../data/contract.hpp"
#include "../tensor/matrix.hpp"

namespace stai::refine {

/// What the inner cross-validation maximises, over the measured model genes:
/// the mean PCC with the measured values as they are ("pcc"), with the
/// log-normalised measured values ("pcc_lognorm"), or the average of the two
/// ("balanced": a prediction must track expression AND the measured counts).
enum class InnerObjective { Pcc = 0, PccLognorm = 1, Balanced = 2 };

inline const char* to_string(InnerObjective o) {
  switch (o) {
    case InnerObjective::Pcc: return "pcc";
    case InnerObjective::PccLognorm: return "pcc_lognorm";
    case InnerObjective::Balanced: return "balanced";
  }
  return "?";
}

/// The weight of the log-normalised PCC in the objective (0, 1 or 1/2).
inline double lognorm_share(InnerObjective o) {
  return o == InnerObjective::Pcc ? 0.0 : o == InnerObjective::PccLognorm ? 1.0 : 0.5;
}

/// Cells (rows) log-normalised on the given columns: log1p(x / t * median t),
/// t the row's total; rows with t = 0 stay 0. Values must be >= 0 (counts).
inline RowMatrix<double> log_normalise_cells(const RowMatrix<double>& X) {
  const Eigen::VectorXd t = X.rowwise().sum();
  std::vector<double> pos;
  for (index_t i = 0; i < t.size(); ++i)
    if (t(i) > 0) pos.push_back(t(i));
  RowMatrix<double> out = RowMatrix<double>::Zero(X.rows(), X.cols());
  if (pos.empty()) return out;
  const std::size_t h = pos.size() / 2;
  std::nth_element(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(h), pos.end());
  double med = pos[h];
  if (pos.size() % 2 == 0) med = 0.5 * (med + *std::max_element(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(h)));
  for (index_t i = 0; i < X.rows(); ++i) {
    if (!(t(i) > 0)) continue;
    const double f = med / t(i);
    for (index_t j = 0; j < X.cols(); ++j) out(i, j) = std::log1p(X(i, j) * f);
  }
  return out;
}

/// The spatial model genes' values (cells x model genes, as in the input) on
/// the log-normalised scale: as they are when already log-normalised or when
/// any is negative (scaled data); otherwise (counts, or non-negative values
/// normalised some other way, e.g. by cell volume) log_normalise_cells.
inline RowMatrix<double> lognorm_view(const RowMatrix<double>& measured, DataState state) {
  if (state == DataState::LogNormalized || (measured.size() && measured.minCoeff() < 0)) return measured;
  return log_normalise_cells(measured);
}

}  // namespace stai::refine
