// stai — (class-weighted) cross-entropy on logits, softmax probabilities and
// the class-weight helper. Conventions: see losses/mse.hpp.
#pragma once
#include <cmath>
#include <vector>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/losses.hpp"
#include "../tensor/matrix.hpp"

namespace stai {

/// torch.nn.CrossEntropyLoss(weight=w) on logits (n x C) and integer labels:
///   loss = sum_i w_{y_i} nll_i / sum_i w_{y_i}   (unweighted: plain mean),
///   nll_i = -log softmax(logits_i)[y_i] (stable log-sum-exp).
/// `labels` (n values, backend memory) are class indices in [0, C); a
/// NEGATIVE label marks a row to ignore (like PyTorch's ignore_index = -100):
/// it adds nothing to the value, the normaliser or the gradient.
/// `class_weight` (C values, backend memory, >= 0) may be null.
/// Errors: a label >= C; no row with positive weight (all rows ignored or all
/// their class weights zero: the mean is undefined).
template <class B, class T>
class CrossEntropyLoss {
 public:
  double value_and_grad(Context<B>& ctx, CMatRef<T> logits, const index_t* labels,
                        const T* class_weight = nullptr, MatRef<T> dlogits = {},
                        double weight = 1.0) {
    const index_t n = logits.rows, C = logits.cols;
    STAI_CHECK(n > 0 && C > 0, "cross-entropy of an empty logit matrix (", n, " x ", C, ")");
    STAI_CHECK(labels != nullptr || n == 0, "cross-entropy: labels pointer is null");
    if (dlogits.data)
      STAI_CHECK(dlogits.rows == n && dlogits.cols == C, "cross-entropy: gradient buffer is ",
                 dlogits.rows, " x ", dlogits.cols, ", expected ", n, " x ", C);
    const double bad = reduce_sum(ctx.be, n, ops::InvalidLabel{labels, C});
    STAI_CHECK(bad == 0, "cross-entropy: ", bad, " label(s) are >= the number of classes (", C,
               "); labels must be in [0, ", C, ") or negative to ignore the row");
    const double wsum = reduce_sum(ctx.be, n, ops::LabelWeight<T>{labels, class_weight, C});
    STAI_CHECK(wsum > 0, "cross-entropy: the total weight of the labelled rows is ", wsum,
               " (every row ignored, or the class weights of all present labels are zero); "
               "give at least one labelled row a positive class weight");
    rowval_.reserve(n);
    launch_rows(ctx.be, n,
                ops::CrossEntropyRow<T>{logits.data, labels, class_weight, dlogits.data,
                                        rowval_.data(), C, static_cast<T>(weight / wsum)},
                64);
    return reduce_sum(ctx.be, n, ops::ReadAsDouble<double>{rowval_.data()}) / wsum;
  }

 private:
  Buffer<B, double> rowval_;
};

/// probs (n x C) = row-wise softmax of logits (stable); may alias logits.
template <class B, class T>
void softmax_rows(Context<B>& ctx, CMatRef<T> logits, MatRef<T> probs) {
  STAI_CHECK(probs.rows == logits.rows && probs.cols == logits.cols, "softmax: output is ",
             probs.rows, " x ", probs.cols, ", expected ", logits.rows, " x ", logits.cols);
  if (logits.cols == 0) return;
  launch_rows(ctx.be, logits.rows, ops::SoftmaxRow<T>{logits.data, probs.data, logits.cols}, 64);
}

/// Class weights w_c = 1 / count_c^p over host labels (negative labels are
/// ignored); a class with no labelled row gets weight 0. p = p_class = 2 in
/// the reference's annotation config; p = 0 gives 1 for present classes.
inline std::vector<double> class_weights(const index_t* labels, index_t n, index_t num_classes,
                                         double p = 2.0) {
  STAI_CHECK(num_classes > 0, "class_weights: the number of classes must be positive, got ",
             num_classes);
  STAI_CHECK(std::isfinite(p), "class_weights: exponent p must be finite, got ", p);
  std::vector<double> count(static_cast<std::size_t>(num_classes), 0.0);
  for (index_t i = 0; i < n; ++i) {
    const index_t y = labels[i];
    if (y < 0) continue;
    STAI_CHECK(y < num_classes, "class_weights: label ", y, " of row ", i, " is >= the number "
               "of classes (", num_classes, ")");
    count[static_cast<std::size_t>(y)] += 1;
  }
  std::vector<double> w(count.size(), 0.0);
  for (std::size_t c = 0; c < w.size(); ++c)
    if (count[c] > 0) w[c] = 1.0 / std::pow(count[c], p);
  return w;
}
inline std::vector<double> class_weights(const std::vector<index_t>& labels, index_t num_classes,
                                         double p = 2.0) {
  return class_weights(labels.data(), static_cast<index_t>(labels.size()), num_classes, p);
}

}  // namespace stai
