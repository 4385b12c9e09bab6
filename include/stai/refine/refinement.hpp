// stai — the refinement of the imputation (Config::blend_weight,
// ridge_lambda, smooth_alpha, linear_input, inner_objective; docs/model.md
// "Refinement"): the neural head's prediction P of a gene and the linear
// transfer head's prediction L (linear_transfer.hpp, reading the spatial
// cells as linear_input.hpp says) are z-scored per gene over the cells and
// blended,
//     B = (1 - w) z(P) + w z(L),
// B is smoothed over the spatial graph (spatial_smoothing.hpp) with weight
// alpha, and put back on the neural head's scale:
//     out = mean(P) + sd(P) * smooth_alpha(B).
//
// The linear head's input, lambda, w and alpha are chosen, when asked (value
// -1), by cross-validation on the MEASURED model genes only: for each
// candidate input, lambda then w; the input whose blend scores best; then
// alpha. Every score is the inner objective (linear_input.hpp): the mean
// Pearson correlation of the model genes' predictions with their measured
// values, as they are, log-normalised, or both averaged:
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
  int iterations = 10;
  int input = 0;  ///< the linear head's input (LinearInput as int); -1 = choose
  InnerObjective objective = InnerObjective::Pcc;
  /// Inner objective over the model genes of the neural predictions, the
  /// linear ones, the blend, and the smoothed blend (NaN when not computed).
  double inner_neural = std::numeric_limits<double>::quiet_NaN();
  double inner_linear = std::numeric_limits<double>::quiet_NaN();
  double inner_blend = std::numeric_limits<double>::quiet_NaN();
  double inner_final = std::numeric_limits<double>::quiet_NaN();

  bool active() const { return weight != 0 || alpha != 0; }
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

/// The linear heads the inner cross-validation may choose from, indexed by
/// LinearInput; a null entry is not a candidate.
using LinearHeads = std::array<const LinearTransfer*, kLinearInputs.size()>;

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
  std::vector<int> candidates;
  for (std::size_t c = 0; c < heads.size(); ++c)
    if (heads[c] && (asked.input < 0 || asked.input == static_cast<int>(c))) candidates.push_back(static_cast<int>(c));
  STAI_CHECK(!candidates.empty(), "refinement: no linear head for input ", asked.input);
  Refinement r = asked;
  r.inner_neural = score(in.neural);
  // 1-2. Per candidate input: lambda (linear leave-one-gene-out predictions),
  // then the blend weight; the input whose blend scores best.
  double best_blend = -std::numeric_limits<double>::infinity();
  for (int c : candidates) {
    const LinearTransfer& lt = *heads[static_cast<std::size_t>(c)];
    STAI_CHECK(lt.genes() == G, "refinement: the linear head has ", lt.genes(), " genes for ", G, " model genes");
    Refinement rc = asked;
    rc.input = c;
    RowMatrix<double> lin;
    if (rc.lambda < 0) {
      double best = -std::numeric_limits<double>::infinity();
      for (double lam : kLambdaGrid) {
        RowMatrix<double> p = lt.leave_one_out(in.ref_values, lam);
        const double s = score(p);
        if (s > best) {
          best = s;
          rc.lambda = lam;
          lin = std::move(p);
        }
      }
    } else if (rc.weight != 0) {
      lin = lt.leave_one_out(in.ref_values, rc.lambda);
    }
    if (lin.size()) rc.inner_linear = score(lin);
    else lin = in.neural;  // weight 0: the linear head takes no part
    if (rc.weight < 0) {
      double best = -std::numeric_limits<double>::infinity();
      for (double w : kWeightGrid) {
        const double s = score(blend_zscores(in.neural, lin, w));
        if (s > best) {
          best = s;
          rc.weight = w;
        }
      }
    }
    rc.inner_blend = score(blend_zscores(in.neural, lin, rc.weight));
    if (rc.inner_blend > best_blend) {
      best_blend = rc.inner_blend;
      rc.inner_neural = r.inner_neural;
      r = rc;
      r.inner_final = std::numeric_limits<double>::quiet_NaN();
    }
  }
  // Recompute the chosen blend (kept per candidate only as its score).
  RowMatrix<double> lin = r.weight != 0 ? heads[static_cast<std::size_t>(r.input)]->leave_one_out(in.ref_values, r.lambda)
                                        : in.neural;
  const RowMatrix<double> blended = blend_zscores(in.neural, lin, r.weight);
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

/// One linear head, for the input `asked.input` (>= 0) says.
inline Refinement choose_refinement(const Refinement& asked, const LinearTransfer& lt, const InnerData& in,
                                    const CsrGraph& g) {
  STAI_CHECK(asked.input >= 0 && asked.input < static_cast<int>(kLinearInputs.size()),
             "refinement: one linear head needs a fixed input");
  LinearHeads heads{};
  heads[static_cast<std::size_t>(asked.input)] = &lt;
  return choose_refinement(asked, heads, in, g);
}

}  // namespace stai::refine
