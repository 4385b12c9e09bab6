// Linear and activation layers: forward against hand-computed values,
// gradients against central differences, accumulation semantics.
#include <doctest/doctest.h>

#include <stai/backend/cpu.hpp>
#include <stai/layers/activations.hpp>
#include <stai/layers/linear.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

TEST_CASE("Linear forward matches a hand-computed case") {
  Cpu be;
  Context<Cpu> ctx{be};
  ParamArena<Cpu, double> arena;
  Linear<Cpu, double> lin(2, 3);
  lin.declare(arena, "lin");
  arena.allocate(be);
  lin.bind(arena);
  // W = [[1,2],[3,4],[5,6]], b = [0.5,-1,2]
  const double w[] = {1, 2, 3, 4, 5, 6}, b[] = {0.5, -1, 2};
  std::copy(w, w + 6, arena.param(0));
  std::copy(b, b + 3, arena.param(1));
  RowMatrix<double> x(2, 2), y(2, 3);
  x << 1, -1, 0.5, 2;
  lin.forward(ctx, cref(x), ref(y));
  // row 0: [1-2, 3-4, 5-6] + b = [-0.5, -2, 1]; row 1: [0.5+4, 1.5+8, 2.5+12] + b = [5, 8.5, 16.5]
  CHECK(y(0, 0) == doctest::Approx(-0.5));
  CHECK(y(0, 1) == doctest::Approx(-2));
  CHECK(y(0, 2) == doctest::Approx(1));
  CHECK(y(1, 0) == doctest::Approx(5));
  CHECK(y(1, 1) == doctest::Approx(8.5));
  CHECK(y(1, 2) == doctest::Approx(16.5));
}

TEST_CASE("Linear gradients match central differences, and parameter grads accumulate") {
  Cpu be;
  Context<Cpu> ctx{be};
  ParamArena<Cpu, double> arena;
  Linear<Cpu, double> lin(5, 4);
  lin.declare(arena, "lin");
  arena.allocate(be);
  lin.bind(arena);
  Rng rng(3);
  arena.initialize(be, rng);
  RowMatrix<double> x = random_matrix(7, 5, 11), R = random_matrix(7, 4, 12);
  RowMatrix<double> y(7, 4), dx(7, 5);
  auto f = [&] {
    lin.forward(ctx, cref(x), ref(y));
    return test::dot(cref(y), cref(R));
  };
  f();
  arena.zero_grad(be);
  lin.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
  std::vector<double> ga(arena.grads(), arena.grads() + arena.size());
  test::check_arena_gradient(arena, f, ga);
  std::vector<double> gx(dx.data(), dx.data() + dx.size());
  check_gradient("Linear input", gx, numeric_gradient(f, x.data(), x.size()));

  SUBCASE("two backward calls accumulate twice the parameter gradient") {
    lin.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
    for (index_t i = 0; i < arena.size(); ++i)
      CHECK(arena.grads()[i] == doctest::Approx(2 * ga[static_cast<std::size_t>(i)]));
    // while the input gradient is overwritten
    for (index_t i = 0; i < dx.size(); ++i) CHECK(dx.data()[i] == doctest::Approx(gx[static_cast<std::size_t>(i)]));
  }
  SUBCASE("Grad::Accumulate adds into dx") {
    lin.backward(ctx, cref(x), cref(y), cref(R), ref(dx), Grad::Accumulate);
    for (index_t i = 0; i < dx.size(); ++i) CHECK(dx.data()[i] == doctest::Approx(2 * gx[static_cast<std::size_t>(i)]));
  }
}

TEST_CASE("LeakyReLU forward and gradient") {
  Cpu be;
  Context<Cpu> ctx{be};
  for (double slope : {0.0, 0.01, 0.2}) {
    CAPTURE(slope);
    LeakyReLU<Cpu, double> act(slope);
    RowMatrix<double> x = random_matrix(6, 5, 21), R = random_matrix(6, 5, 22), y(6, 5), dx(6, 5);
    act.forward(ctx, cref(x), ref(y));
    for (index_t i = 0; i < x.size(); ++i) {
      const double v = x.data()[i];
      CHECK(y.data()[i] == doctest::Approx(v > 0 ? v : slope * v));
    }
    auto f = [&] {
      act.forward(ctx, cref(x), ref(y));
      return test::dot(cref(y), cref(R));
    };
    act.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
    std::vector<double> gx(dx.data(), dx.data() + dx.size());
    check_gradient("LeakyReLU input", gx, numeric_gradient(f, x.data(), x.size()));
  }
}

TEST_CASE("Initialisation is deterministic and follows the declared scheme") {
  Cpu be;
  auto make = [&](std::uint64_t seed) {
    ParamArena<Cpu, float> a;
    Linear<Cpu, float> l1(30, 20, true, Init::Normal01, Init::Normal01), l2(20, 10);
    l1.declare(a, "l1");
    l2.declare(a, "l2");
    a.allocate(be);
    Rng rng(seed);
    a.initialize(be, rng);
    return a.params_to_host(be);
  };
  const auto p1 = make(8848), p2 = make(8848), p3 = make(8849);
  CHECK(std::memcmp(p1.data(), p2.data(), p1.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(p1.data(), p3.data(), p1.size() * sizeof(float)) != 0);
  // N(0, 0.1^2) block: first 30*20 + 20 values; sample sd ~ 0.1
  double s = 0, s2 = 0;
  const int n = 620;
  for (int i = 0; i < n; ++i) { s += p1[i]; s2 += double(p1[i]) * p1[i]; }
  const double sd = std::sqrt(s2 / n - (s / n) * (s / n));
  CHECK(sd == doctest::Approx(0.1).epsilon(0.1));
  // TorchLinear block: |w| <= 1/sqrt(20)
  for (std::size_t i = n; i < p1.size(); ++i) CHECK(std::abs(p1[i]) <= 1.0 / std::sqrt(20.0) + 1e-7);
}
