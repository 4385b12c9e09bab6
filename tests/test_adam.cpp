// Adam: against an independent hand-stepped double implementation of
// torch.optim.Adam's formula, bias correction at step 1, eps outside the
// square root, weight decay, learning-rate changes, reset, determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <stai/backend/cpu.hpp>
#include <stai/optim/adam.hpp>
#include <stai/tensor/param_arena.hpp>

using namespace stai;

namespace {

using AdamD = Adam<Cpu, double>;

/// The textbook form: m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
/// p -= lr m_hat / (sqrt(v_hat) + eps), with g += wd p first.
struct HandAdam {
  double lr, b1, b2, eps, wd;
  std::vector<double> p, m, v;
  int t = 0;
  void step(const std::vector<double>& grad) {
    ++t;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = grad[i] + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
};

struct ArenaFixture {
  Cpu be;
  ParamArena<Cpu, double> arena;
  explicit ArenaFixture(const std::vector<double>& p0) {
    arena.add("a", 1, 3, Init::Zero, 3, 1);
    arena.add("b", static_cast<index_t>(p0.size()) - 3, 1, Init::Zero, 1, 1);
    arena.allocate(be);
    arena.params_from_host(be, p0);
  }
  void set_grad(const std::vector<double>& g) {
    std::copy(g.begin(), g.end(), arena.grads());
  }
  std::vector<double> params() const { return arena.params_to_host(be); }
};

const std::vector<double> kP0 = {0.5, -1.2, 3.0, 0.0, 1e-3};
const std::vector<std::vector<double>> kGrads = {
    {0.1, -2.0, 0.0, 1e-4, 5.0},
    {-0.3, -1.0, 0.0, 1e-4, -5.0},
    {0.2, 0.5, 1.0, -2e-4, 0.0},
    {0.0, 3.0, -1.0, 0.0, 1.0},
    {1.5, -0.1, 0.25, 1e-4, -0.5},
    {-0.7, 0.2, 0.0, 3e-4, 2.0},
};

}  // namespace

TEST_CASE("Adam follows the hand-stepped torch.optim.Adam formula") {
  for (double wd : {0.0, 0.01}) {
    CAPTURE(wd);
    ArenaFixture fx(kP0);
    Adam<Cpu, double> adam(AdamOptions{0.002, 0.9, 0.999, 1e-8, wd});
    HandAdam hand{0.002, 0.9, 0.999, 1e-8, wd, kP0, std::vector<double>(5, 0.0),
                  std::vector<double>(5, 0.0)};
    for (std::size_t s = 0; s < kGrads.size(); ++s) {
      CAPTURE(s);
      if (s == 3) {  // a learning-rate change takes effect from the next step
        adam.set_lr(0.01);
        hand.lr = 0.01;
      }
      fx.set_grad(kGrads[s]);
      adam.step(fx.be, fx.arena);
      hand.step(kGrads[s]);
      CHECK(adam.steps() == static_cast<std::int64_t>(s + 1));
      const auto p = fx.params();
      for (std::size_t i = 0; i < p.size(); ++i) {
        CHECK(p[i] == doctest::Approx(hand.p[i]).epsilon(1e-12));
        CHECK(fx.arena.adam_m()[i] == doctest::Approx(hand.m[i]).epsilon(1e-12));
        CHECK(fx.arena.adam_v()[i] == doctest::Approx(hand.v[i]).epsilon(1e-12));
      }
      // gradients are left untouched (the caller zeroes them)
      for (std::size_t i = 0; i < p.size(); ++i) CHECK(fx.arena.grads()[i] == kGrads[s][i]);
    }
  }
}

TEST_CASE("Adam step 1: bias correction makes the first step lr * g / (|g| + eps)") {
  SUBCASE("default eps") {
    ArenaFixture fx(kP0);
    Adam<Cpu, double> adam(0.002);
    fx.set_grad(kGrads[0]);
    adam.step(fx.be, fx.arena);
    const auto p = fx.params();
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = kGrads[0][i];
      CHECK(p[i] == doctest::Approx(kP0[i] - 0.002 * g / (std::abs(g) + 1e-8)).epsilon(1e-12));
    }
    CHECK(p[2] == kP0[2]);  // zero gradient: no move
    // first moments after step 1: (1 - b1) g and (1 - b2) g^2
    CHECK(fx.arena.adam_m()[1] == doctest::Approx(0.1 * -2.0));
    CHECK(fx.arena.adam_v()[1] == doctest::Approx(0.001 * 4.0));
  }
  SUBCASE("eps is added outside the square root") {
    // g = 1e-4, eps = 1e-4: outside -> lr g / (g + eps) = lr / 2;
    // inside sqrt(g^2 + eps) would give ~ lr * 0.01.
    ArenaFixture fx({0.0, 0.0, 0.0, 0.0, 0.0});
    Adam<Cpu, double> adam(AdamOptions{1.0, 0.9, 0.999, 1e-4, 0.0});
    fx.set_grad({1e-4, 0, 0, 0, 0});
    adam.step(fx.be, fx.arena);
    CHECK(fx.params()[0] == doctest::Approx(-0.5).epsilon(1e-10));
  }
}

TEST_CASE("Adam float steps agree with the double hand-stepped sequence") {
  Cpu be;
  ParamArena<Cpu, float> arena;
  arena.add("w", 1, 5, Init::Zero, 1, 1);
  arena.allocate(be);
  arena.params_from_host(be, std::vector<float>(kP0.begin(), kP0.end()));
  Adam<Cpu, float> adam(0.002);
  HandAdam hand{0.002, 0.9, 0.999, 1e-8, 0.0, kP0, std::vector<double>(5, 0.0),
                std::vector<double>(5, 0.0)};
  for (const auto& g : kGrads) {
    for (std::size_t i = 0; i < 5; ++i) arena.grads()[i] = static_cast<float>(g[i]);
    adam.step(be, arena);
    hand.step(g);
  }
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(arena.params()[i] == doctest::Approx(hand.p[i]).epsilon(1e-5));
}

TEST_CASE("Adam is deterministic across runs and thread counts, and reset restarts") {
  const index_t n = 50000;  // above the parallel grain
  auto run = [&](int threads, bool with_reset) {
    Cpu be;
    be.threads = threads;
    ParamArena<Cpu, float> arena;
    arena.add("w", n, 1, Init::Normal01, 1, 1);
    arena.allocate(be);
    Rng rng(8848);
    arena.initialize(be, rng);
    Adam<Cpu, float> adam(0.002);
    Rng grng(7);
    for (int s = 0; s < 4; ++s) {
      for (index_t i = 0; i < n; ++i) arena.grads()[i] = static_cast<float>(grng.normal());
      adam.step(be, arena);
      if (with_reset && s == 1) {
        adam.reset(be, arena);
        CHECK(adam.steps() == 0);
        bool zero = true;
        for (index_t i = 0; i < n; ++i) zero = zero && arena.adam_m()[i] == 0.0f && arena.adam_v()[i] == 0.0f;
        CHECK(zero);
      }
    }
    return arena.params_to_host(be);
  };
  const auto a = run(1, false), b = run(2, false), c = run(1, false), r = run(2, true);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), r.data(), a.size() * sizeof(float)) != 0);
}

TEST_CASE("Adam rejects invalid hyper-parameters") {
  CHECK_THROWS_AS(AdamD(-0.1), Error);
  CHECK_THROWS_AS(AdamD(0.1, 1.0), Error);
  CHECK_THROWS_AS(AdamD(0.1, 0.9, -0.5), Error);
  CHECK_THROWS_AS(AdamD(0.1, 0.9, 0.999, -1.0), Error);
  CHECK_THROWS_AS(AdamD(0.1, 0.9, 0.999, 1e-8, -1.0), Error);
  Adam<Cpu, double> adam;
  CHECK(adam.lr() == 1e-3);  // torch default
  CHECK_THROWS_AS(adam.set_lr(std::nan("")), Error);
  ParamArena<Cpu, double> unallocated;
  unallocated.add("w", 2, 2, Init::Zero, 2, 2);
  Cpu be;
  CHECK_THROWS_AS(adam.step(be, unallocated), Error);
}
