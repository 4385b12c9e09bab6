// stai — Adam optimiser over a ParamArena (torch.optim.Adam semantics).
//
// Defaults as torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8 (added
// OUTSIDE the square root), no weight decay (L2: weight_decay * p added to the
// gradient, torch's semantics — not AdamW), bias correction, no amsgrad.
// stAI uses lr = 0.002 with the other defaults.
//
// One step is ONE functor loop (ops::AdamStep) over the arena's
// [params | grads | m | v] block; the moments live in the arena
// (ParamArena::adam_m / adam_v), zeroed by ParamArena::allocate().
// The step counter is the optimiser's; bias corrections use it.
// Usage per iteration: arena.zero_grad(be); forward; backward; adam.step(be, arena).
#pragma once
#include <cmath>
#include <cstdint>

#include "../context.hpp"
#include "../error.hpp"
#include "../ops/adam.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

template <class B, class T>
class Adam {
 public:
  Adam() : Adam(AdamOptions{}) {}
  explicit Adam(const AdamOptions& o) : o_(o) { validate(o_); }
  explicit Adam(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                double weight_decay = 0.0)
      : Adam(AdamOptions{lr, beta1, beta2, eps, weight_decay}) {}

  const AdamOptions& options() const { return o_; }
  double lr() const { return o_.lr; }
  /// Changes the learning rate for the following steps (schedules).
  void set_lr(double lr) {
    STAI_CHECK(std::isfinite(lr) && lr >= 0, "Adam: learning rate must be finite and >= 0, got ",
               lr);
    o_.lr = lr;
  }
  /// Number of steps taken so far (t of the bias corrections of the next step minus 1).
  std::int64_t steps() const { return t_; }

  /// One update of every parameter of `arena` from its gradients.
  void step(const B& be, ParamArena<B, T>& arena) {
    ++t_;
    const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
    const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
    const index_t n = arena.size();
    if (n == 0) return;
    launch(be, n,
           ops::AdamStep<T>{arena.params(), n, static_cast<T>(o_.beta1),
                            static_cast<T>(1.0 - o_.beta1), static_cast<T>(o_.beta2),
                            static_cast<T>(1.0 - o_.beta2), static_cast<T>(-o_.lr / bc1),
                            static_cast<T>(std::sqrt(bc2)), static_cast<T>(o_.eps),
                            static_cast<T>(o_.weight_decay)});
  }
  void step(Context<B>& ctx, ParamArena<B, T>& arena) { step(ctx.be, arena); }

  /// Forgets the moments and the step counter (a fresh optimiser on the same arena).
  void reset(const B& be, ParamArena<B, T>& arena) {
    t_ = 0;
    if (arena.size() > 0) fill(be, arena.adam_m(), 2 * arena.size(), T(0));  // m and v are adjacent
  }

 private:
  static void validate(const AdamOptions& o) {
    STAI_CHECK(std::isfinite(o.lr) && o.lr >= 0, "Adam: learning rate must be finite and >= 0, got ",
               o.lr);
    STAI_CHECK(o.beta1 >= 0 && o.beta1 < 1, "Adam: beta1 must be in [0, 1), got ", o.beta1);
    STAI_CHECK(o.beta2 >= 0 && o.beta2 < 1, "Adam: beta2 must be in [0, 1), got ", o.beta2);
    STAI_CHECK(o.eps >= 0, "Adam: eps must be >= 0, got ", o.eps);
    STAI_CHECK(o.weight_decay >= 0, "Adam: weight_decay must be >= 0, got ", o.weight_decay);
  }
  AdamOptions o_;
  std::int64_t t_ = 0;
};

}  // namespace stai
