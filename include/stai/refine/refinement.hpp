// stai — the refinement of the imputation (Config::blend_weight,
// ridge_lambda, ridge_lambda_lognorm, linear_lognorm, smooth_alpha,
// inner_objective; docs/model.md "Refinement"). Three predictions of a gene:
// the neural head's P, and two linear transfer heads (linear_transfer.hpp),
// L_s reading the spatial cells' scaled model genes (as the encoders do) and
// L_l reading them log-normalised (linear_input.hpp). Per gene over the
// cells,
//     L = (1 - u) z(L_s) + u z(L_l)        (L_s at u = 0, L_l at u = 1),
//     B = (1 - w) z(P) + w z(L),
// B is smoothed over the spatial graph (spatial_smoothing.hpp) with weight
// alpha, and put back on the neural head's scale:
//     out = mean(P) + sd(P) * smooth_alpha(B).
// So the output is a stacked blend of the three, with weights
// (1 - w, w (1 - u), w u) on their z-scores.
//
// The lambdas, u, w and alpha are chosen, when asked (value -1), by
// cross-validation on the MEASURED model genes only: each head's lambda by
// its own predictions, then u and w together on a grid, then alpha. Every
// score is the inner objective (linear_input.hpp): the mean Pearson
// correlation of the model genes' predictions with their measured values, as
// they are, log-normalised, or both averaged:
//   * the neural predictions of a model gene come from the submodel for
//     which it was a validation gene (Config::validation_fold): that
//     submodel neither saw it as an input nor fitted it as a calibration
//     gene, so it is predicted as a held-out gene is;
//   * the linear predictions of a model gene come from coefficients fitted
//     without it (LinearTransfer::leave_one_out).
// Genes outside the model genes (held out for evaluation, or never measured)
// take no part in any choice.
#pragma once
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "../graph/csr.hpp"
#include "columns.hpp"
#include "linear_input.hpp"
#include "linear_transfer.hpp"
#include "spatial_smoothing.hpp"

namespace stai::refine {

/// The candidate values of the inner cross-validation.
inline constexpr std::array<double, 5> kLambdaGrid{1e-3, 1e-2, 1e-1, 1.0, 10.0};
inline constexpr std::array<double, 11> kWeightGrid{0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1};
inline constexpr std::array<double, 9> kAlphaGrid{0, .1, .2, .3, .4, .5, .6, .7, .8};

/// The refinement's parameters and the inner scores behind them.
struct Refinement {
  double lambda = 0.1, weight = 0, alpha = 0;
  double lambda_lognorm = 0.1;  ///< ridge penalty of the log-normalised linear head
  double share = 0;             ///< u: the log-normalised head's share of the linear prediction
  int iterations = 10;
  InnerObjective objective = InnerObjective::Pcc;
  /// Inner objective over the model genes of the neural predictions, the
  /// linear ones, the blend, and the smoothed blend (NaN when not computed).
  double inner_neural = std::numeric_limits<double>::quiet_NaN();
  double inner_linear = std::numeric_limits<double>::quiet_NaN();
  double inner_blend = std::numeric_limits<double>::quiet_NaN();
  double inner_final = std::numeric_limits<double>::quiet_NaN();

  bool active() const { return weight != 0 || alpha != 0; }
  /// Which linear heads the parameters use (a share of -1 may use both).
  bool uses_scaled() const { return weight != 0 && share != 1; }
  bool uses_lognorm() const { return weight != 0 && share != 0; }
};

/// What the inner cross-validation needs, all over the same model genes.
struct InnerData {
  RowMatrix<double> measured;      ///< n1 x G measured spatial values (as in the input)
  RowMatrix<double> measured_lognorm;  ///< the same, log-normalised (lognorm_view); needed unless the objective is Pcc
  RowMatrix<double> neural;        ///< n1 x G neural predictions, each from a submodel that never saw the gene
  RowMatrix<double> ref_values;    ///< n2 x G reference values of the model genes (the imputed scale)
};

/// B = (1 - w) z(P) + w z(L), per column.
inline RowMatrix<double> blend_zscores(const RowMatrix<double>& P, const RowMatrix<double>& L, double w) {
  if (w == 0) return zscore_columns(P);
  if (w == 1) return zscore_columns(L);
  return (1 - w) * zscore_columns(P) + w * zscore_columns(L);
}

/// L = (1 - u) z(L_s) + u z(L_l), per column (L_s itself at u = 0, L_l at u = 1).
inline RowMatrix<double> mix_linear(const RowMatrix<double>& Ls, const RowMatrix<double>& Ll, double u) {
  if (u == 0) return Ls;
  if (u == 1) return Ll;
  return (1 - u) * zscore_columns(Ls) + u * zscore_columns(Ll);
}

/// The refined predictions: out = mean(P) + scale * smooth(B) per column,
/// scale = sd(P) (sd(L) where P is constant, 1 where both are).
inline RowMatrix<double> refine_predictions(const RowMatrix<double>& P, const RowMatrix<double>& L,
                                            const Refinement& r, const CsrGraph& g) {
  STAI_CHECK(P.rows() == L.rows() && P.cols() == L.cols(), "refinement: the neural and linear predictions "
             "differ in shape");
  RowMatrix<double> B = smooth_over_graph(blend_zscores(P, L, r.weight), g, r.alpha, r.iterations);
  const ColumnMoments mp = column_moments(P), ml = column_moments(L);
  for (index_t j = 0; j < P.cols(); ++j) {
    const double s = mp.sd(j) > 0 ? mp.sd(j) : ml.sd(j) > 0 ? ml.sd(j) : 1.0;
    B.col(j) = (B.col(j).array() * s + mp.mean(j)).matrix();
  }
  return B;
}

/// The linear heads the inner cross-validation draws on: scaled and
/// log-normalised inputs; one the parameters do not need may be null.
struct LinearHeads {
  const LinearTransfer* scaled = nullptr;
  const LinearTransfer* lognorm = nullptr;
};

/// Resolves the parameters of `asked` that are -1 (choose) by the inner
/// cross-validation described in the file comment; fixed values are kept.
inline Refinement choose_refinement(Refinement asked, const LinearHeads& heads, const InnerData& in,
                                    const CsrGraph& g) {
  const index_t G = in.measured.cols();
  const double q = lognorm_share(asked.objective);
  STAI_CHECK(in.neural.cols() == G && in.ref_values.cols() == G &&
                 (q == 0 || (in.measured_lognorm.rows() == in.measured.rows() && in.measured_lognorm.cols() == G)),
             "refinement: the inner data do not cover the ", G, " model genes");
  auto score = [&](const RowMatrix<double>& pred) {
    double s = 0;
    if (q < 1) s += (1 - q) * eval::mean_finite(column_pearson(pred, in.measured));
    if (q > 0) s += q * eval::mean_finite(column_pearson(pred, in.measured_lognorm));
    return s;
  };
  Refinement r = asked;
  r.inner_neural = score(in.neural);
  // 1. Each head's lambda, by its leave-one-gene-out predictions.
  auto fit_head = [&](const LinearTransfer* lt, double& lambda, const char* what) {
    STAI_CHECK(lt != nullptr, "refinement: the ", what, " linear head is missing");
    STAI_CHECK(lt->genes() == G, "refinement: the linear head has ", lt->genes(), " genes for ", G, " model genes");
    if (lambda >= 0) return lt->leave_one_out(in.ref_values, lambda);
    RowMatrix<double> best_p;
    double best = -std::numeric_limits<double>::infinity();
    for (double lam : kLambdaGrid) {
      RowMatrix<double> p = lt->leave_one_out(in.ref_values, lam);
      const double s = score(p);
      if (s > best) {
        best = s;
        lambda = lam;
        best_p = std::move(p);
      }
    }
    return best_p;
  };
  const bool linear = r.weight != 0;
  RowMatrix<double> Ls, Ll;
  if (linear && r.share != 1) Ls = fit_head(heads.scaled, r.lambda, "scaled");
  if (linear && r.share != 0) Ll = fit_head(heads.lognorm, r.lambda_lognorm, "log-normalised");
  // 2. u and w together (the blend's score).
  RowMatrix<double> lin = in.neural;  // weight 0: no linear head takes part
  if (linear) {
    std::vector<double> us, ws;
    if (r.share < 0) us.assign(kWeightGrid.begin(), kWeightGrid.end());
    else us.push_back(r.share);
    if (r.weight < 0) ws.assign(kWeightGrid.begin(), kWeightGrid.end());
    else ws.push_back(r.weight);
    double best = -std::numeric_limits<double>::infinity();
    double bu = us.front(), bw = ws.front();
    for (double u : us) {
      const RowMatrix<double> L = mix_linear(Ls, Ll, u);
      if (ws.size() == 1 && us.size() == 1) break;
      for (double w : ws) {
        const double s = score(blend_zscores(in.neural, L, w));
        if (s > best) {
          best = s;
          bu = u;
          bw = w;
        }
      }
    }
    r.share = bu;
    r.weight = bw;
    lin = mix_linear(Ls, Ll, r.share);
    r.inner_linear = score(lin);
  }
  const RowMatrix<double> blended = blend_zscores(in.neural, lin, r.weight);
  r.inner_blend = score(blended);
  // 3. the smoothing weight.
  if (r.alpha < 0) {
    double best = -std::numeric_limits<double>::infinity();
    for (double a : kAlphaGrid) {
      const double s = score(smooth_over_graph(blended, g, a, r.iterations));
      if (s > best) {
        best = s;
        r.alpha = a;
      }
    }
  }
  r.inner_final = score(smooth_over_graph(blended, g, r.alpha, r.iterations));
  return r;
}

/// One linear head on the scaled input (share 0).
inline Refinement choose_refinement(Refinement asked, const LinearTransfer& lt, const InnerData& in,
                                    const CsrGraph& g) {
  STAI_CHECK(asked.share == 0, "refinement: one linear head takes share 0");
  return choose_refinement(asked, LinearHeads{&lt, nullptr}, in, g);
}

}  // namespace stai::refine
