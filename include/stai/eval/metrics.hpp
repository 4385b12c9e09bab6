// stai — evaluation metrics of the paper's protocol (host side, double).
//
// Imputation, per gene: Pearson correlation, RMSE after z-scoring both
// vectors, Jensen-Shannon divergence between the vectors normalised to sum 1.
// Annotation: accuracy, per-class precision / recall / F1, macro and weighted
// F1, confusion matrix. Comparison of two methods' per-gene scores: the
// one-sided Mann-Whitney U test (normal approximation with tie correction).
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

namespace stai::eval {

/// Pearson correlation of x and y; NaN when either is constant (undefined).
inline double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  STAI_CHECK(x.size() == y.size() && !x.empty(), "pearson: vectors differ in length or are empty");
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = x[i] - mx, b = y[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  if (sxx <= 0 || syy <= 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

/// z-score with the population standard deviation (numpy/scipy default);
/// a constant vector becomes all zeros.
inline std::vector<double> zscore(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  const double m = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  const double sd = std::sqrt(ss / n);
  std::vector<double> z(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) z[i] = sd > 0 ? (x[i] - m) / sd : 0.0;
  return z;
}

/// RMSE between the z-scored vectors.
inline double rmse_zscored(const std::vector<double>& x, const std::vector<double>& y) {
  STAI_CHECK(x.size() == y.size() && !x.empty(), "rmse: vectors differ in length or are empty");
  const auto a = zscore(x), b = zscore(y);
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

/// Jensen-Shannon divergence (natural log) between x and y, each normalised to
/// sum 1. Both must be non-negative with a positive sum; negative entries
/// (e.g. an imputation that went below 0) are clipped to 0 first.
inline double jensen_shannon(const std::vector<double>& x, const std::vector<double>& y) {
  STAI_CHECK(x.size() == y.size() && !x.empty(), "jsd: vectors differ in length or are empty");
  double sx = 0, sy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += std::max(x[i], 0.0);
    sy += std::max(y[i], 0.0);
  }
  if (sx <= 0 || sy <= 0) return std::numeric_limits<double>::quiet_NaN();
  double js = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double p = std::max(x[i], 0.0) / sx, q = std::max(y[i], 0.0) / sy, m = 0.5 * (p + q);
    if (p > 0) js += 0.5 * p * std::log(p / m);
    if (q > 0) js += 0.5 * q * std::log(q / m);
  }
  return js;
}

/// Median of the finite values (NaN if none).
inline double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double a) { return !std::isfinite(a); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Mean of the finite values (NaN if none).
inline double mean_finite(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n ? s / n : std::numeric_limits<double>::quiet_NaN();
}

struct ClassReport {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;
  index_t support = 0;  ///< number of true members
};

struct AnnotationReport {
  double accuracy = 0, macro_f1 = 0, weighted_f1 = 0;
  std::vector<ClassReport> classes;
  /// confusion[t][p] = number of cells of true class t predicted as p.
  std::vector<std::vector<index_t>> confusion;
  index_t n = 0;
};

/// Annotation metrics over cells whose true label is in [0, C) (cells with a
/// negative true label are ignored: types absent from the reference).
/// Precision/recall/F1 follow scikit-learn with zero_division = 0; macro F1
/// averages over classes with support > 0 or predictions > 0 (as sklearn
/// averages over the union of labels present), weighted F1 weights by support.
inline AnnotationReport annotation_report(const std::vector<index_t>& truth,
                                          const std::vector<index_t>& pred,
                                          const std::vector<std::string>& class_names) {
  STAI_CHECK(truth.size() == pred.size(), "annotation_report: label vectors differ in length");
  const index_t C = static_cast<index_t>(class_names.size());
  AnnotationReport r;
  r.confusion.assign(static_cast<std::size_t>(C), std::vector<index_t>(static_cast<std::size_t>(C), 0));
  index_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= C) continue;
    STAI_CHECK(pred[i] >= 0 && pred[i] < C, "annotation_report: prediction ", pred[i],
               " outside [0, ", C, ")");
    ++r.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(pred[i])];
    ++r.n;
    if (truth[i] == pred[i]) ++correct;
  }
  STAI_CHECK(r.n > 0, "annotation_report: no cell has a true label among the reference classes");
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.n);
  double f1_sum = 0, wf1 = 0;
  index_t present = 0;
  for (index_t c = 0; c < C; ++c) {
    index_t tp = r.confusion[c][c], fp = 0, fn = 0;
    for (index_t o = 0; o < C; ++o) {
      if (o == c) continue;
      fp += r.confusion[o][c];
      fn += r.confusion[c][o];
    }
    ClassReport cr;
    cr.name = class_names[static_cast<std::size_t>(c)];
    cr.support = tp + fn;
    cr.precision = tp + fp > 0 ? double(tp) / double(tp + fp) : 0.0;
    cr.recall = tp + fn > 0 ? double(tp) / double(tp + fn) : 0.0;
    cr.f1 = cr.precision + cr.recall > 0 ? 2 * cr.precision * cr.recall / (cr.precision + cr.recall) : 0.0;
    if (tp + fn + fp > 0) {
      f1_sum += cr.f1;
      ++present;
    }
    wf1 += cr.f1 * double(cr.support);
    r.classes.push_back(cr);
  }
  r.macro_f1 = present ? f1_sum / double(present) : 0.0;
  r.weighted_f1 = wf1 / double(r.n);
  return r;
}

struct MannWhitney {
  double u = 0;       ///< U statistic of the first sample
  double z = 0;       ///< normal-approximation z (with continuity correction)
  double p_value = 1; ///< one-sided: H1 = first sample tends to be LARGER
};

/// One-sided Mann-Whitney U test, alternative "a greater than b" (as
/// scipy.stats.mannwhitneyu(a, b, alternative='greater', method='asymptotic')
/// with use_continuity=True), ties handled by mid-ranks and the tie-corrected
/// variance. Non-finite values are dropped.
inline MannWhitney mann_whitney_greater(std::vector<double> a, std::vector<double> b) {
  auto finite = [](std::vector<double>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  };
  finite(a);
  finite(b);
  STAI_CHECK(!a.empty() && !b.empty(), "Mann-Whitney U: a sample is empty");
  const double n1 = double(a.size()), n2 = double(b.size()), n = n1 + n2;
  std::vector<std::pair<double, int>> all;
  for (double v : a) all.push_back({v, 0});
  for (double v : b) all.push_back({v, 1});
  std::sort(all.begin(), all.end(), [](auto& x, auto& y) { return x.first < y.first; });
  double r1 = 0, tie_term = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = 0.5 * double(i + 1 + j);  // mean of ranks i+1..j
    const double t = double(j - i);
    tie_term += t * t * t - t;
    for (std::size_t k = i; k < j; ++k)
      if (all[k].second == 0) r1 += rank;
    i = j;
  }
  MannWhitney m;
  m.u = r1 - n1 * (n1 + 1) / 2;
  const double mu = n1 * n2 / 2;
  const double var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var <= 0) {
    m.z = 0;
    m.p_value = 1;  // all values tied: no evidence either way
    return m;
  }
  m.z = (m.u - mu - 0.5) / std::sqrt(var);
  m.p_value = 0.5 * std::erfc(m.z / std::sqrt(2.0));
  return m;
}

}  // namespace stai::eval
