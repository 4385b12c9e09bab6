// stai — the Adam update as one per-element functor over a ParamArena block.
#pragma once
#include <cmath>

#include "../config.hpp"

namespace stai::ops {

/// One Adam step for element i of the arena block laid out as
/// [ params | grads | m | v ], each part n long (ParamArena's layout).
///
/// Operation order and scalar folding follow torch.optim.Adam (1.13,
/// single-tensor path, amsgrad=False, maximize=False) exactly:
///   g  = grad + weight_decay * p                      (only if weight_decay != 0)
///   m  = m * beta1 + (1 - beta1) * g                  (exp_avg.mul_(b1).add_(g, alpha=1-b1))
///   v  = v * beta2 + (1 - beta2) * g * g              (exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2))
///   denom = sqrt(v) / sqrt(1 - beta2^t) + eps         (eps OUTSIDE the square root)
///   p  = p + (-lr / (1 - beta1^t)) * m / denom        (param.addcdiv_(m, denom, -step_size))
/// which is p -= lr * m_hat / (sqrt(v_hat) + eps) with the bias-corrected
/// moments. The step-dependent scalars are computed in double on the host
/// and passed in already rounded to T (as PyTorch does with Python floats).
template <class T>
struct AdamStep {
  T* block;
  index_t n;
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  T neg_step_size;  ///< -lr / (1 - beta1^t)
  T bc2_sqrt;       ///< sqrt(1 - beta2^t)
  T eps, weight_decay;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    T& p = block[i];
    T g = block[n + i];
    T& m = block[2 * n + i];
    T& v = block[3 * n + i];
    if (weight_decay != T(0)) g = g + weight_decay * p;
    m = m * beta1 + one_minus_beta1 * g;
    v = v * beta2 + one_minus_beta2 * g * g;
    const T denom = std::sqrt(v) / bc2_sqrt + eps;
    p = p + neg_step_size * m / denom;
  }
};

}  // namespace stai::ops
