// Dropout: recomputed masks, scaling, eval identity, gradients.
#include <doctest/doctest.h>

#include <cstring>

#include <stai/backend/cpu.hpp>
#include <stai/layers/dropout.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

namespace {
template <class T>
bool same_bits(const RowMatrix<T>& a, const RowMatrix<T>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0;
}
// The mask as the documented formula gives it, computed independently of the layer.
std::vector<char> reference_mask(std::uint64_t seed, std::uint64_t step, std::uint64_t salt,
                                 index_t n, double p) {
  std::vector<char> m(static_cast<std::size_t>(n));
  const std::uint64_t stream = salt ^ (step * 0xD1B54A32D192ED03ULL);
  for (index_t i = 0; i < n; ++i)
    m[static_cast<std::size_t>(i)] =
        u64_to_unit(hash3(seed, stream, static_cast<std::uint64_t>(i))) >= p;
  return m;
}
}  // namespace

TEST_CASE("Dropout rejects probabilities outside 0 <= p < 1") {
  CHECK_THROWS_AS((Dropout<Cpu, float>(1.0)), Error);
  CHECK_THROWS_AS((Dropout<Cpu, float>(-0.1)), Error);
  CHECK_THROWS_AS((Dropout<Cpu, float>(1.5)), Error);
  CHECK_NOTHROW((Dropout<Cpu, float>(0.0)));
  CHECK_NOTHROW((Dropout<Cpu, float>(0.999)));
}

TEST_CASE("Dropout forward: mask formula, scaling and kept fraction") {
  Cpu be;
  Context<Cpu> ctx{be, true, 8848, 17};
  const double p = 0.3;
  Dropout<Cpu, double> drop(p, 5);
  RowMatrix<double> x = RowMatrix<double>::Constant(400, 250, 1.0), y(400, 250);
  drop.forward(ctx, cref(x), ref(y));
  const auto mask = reference_mask(8848, 17, 5, x.size(), p);
  index_t kept = 0;
  bool all_match = true;
  for (index_t i = 0; i < y.size(); ++i) {
    const bool k = mask[static_cast<std::size_t>(i)];
    kept += k;
    const double want = k ? 1.0 / (1.0 - p) : 0.0;
    if (y.data()[i] != want) all_match = false;
  }
  CHECK(all_match);
  const double frac = double(kept) / double(y.size());
  CHECK(frac == doctest::Approx(1 - p).epsilon(0.02));  // sd of frac ~ 0.0015
  CHECK(y.mean() == doctest::Approx(1.0).epsilon(0.02));  // expectation preserved
}

TEST_CASE("Dropout is the identity in evaluation and for p = 0") {
  Cpu be;
  RowMatrix<float> x = random_matrix(30, 7, 1).cast<float>(), y(30, 7), dx(30, 7);
  SUBCASE("evaluation mode") {
    Context<Cpu> ctx{be, false, 1, 3};
    Dropout<Cpu, float> drop(0.5, 9);
    drop.forward(ctx, cref(x), ref(y));
    CHECK(same_bits(x, y));
    drop.backward(ctx, cref(x), cref(y), cref(x), ref(dx));
    CHECK(same_bits(x, dx));
  }
  SUBCASE("p = 0 in training") {
    Context<Cpu> ctx{be, true, 1, 3};
    Dropout<Cpu, float> drop(0.0, 9);
    drop.forward(ctx, cref(x), ref(y));
    CHECK(same_bits(x, y));
    drop.backward(ctx, cref(x), cref(y), cref(x), ref(dx));
    CHECK(same_bits(x, dx));
  }
  SUBCASE("in place in evaluation") {
    Context<Cpu> ctx{be, false, 1, 3};
    Dropout<Cpu, float> drop(0.5, 9);
    RowMatrix<float> z = x;
    drop.forward(ctx, cref(z), ref(z));
    CHECK(same_bits(x, z));
  }
}

TEST_CASE("Dropout backward recomputes exactly the forward mask") {
  Cpu be;
  Context<Cpu> ctx{be, true, 42, 7};
  Dropout<Cpu, float> drop(0.4, 3);
  RowMatrix<float> ones = RowMatrix<float>::Ones(123, 45), y(123, 45), dx(123, 45);
  drop.forward(ctx, cref(ones), ref(y));
  drop.backward(ctx, cref(ones), cref(y), cref(ones), ref(dx));
  CHECK(same_bits(y, dx));
  index_t zeros = 0;
  for (index_t i = 0; i < y.size(); ++i) zeros += y.data()[i] == 0.0f;
  CHECK(zeros > 0);
  CHECK(zeros < y.size());
}

TEST_CASE("Dropout masks differ between salts, steps and seeds, and repeat otherwise") {
  Cpu be;
  RowMatrix<float> ones = RowMatrix<float>::Ones(64, 64);
  auto run = [&](std::uint64_t seed, std::uint64_t step, std::uint64_t salt) {
    Context<Cpu> ctx{be, true, seed, step};
    Dropout<Cpu, float> drop(0.5, salt);
    RowMatrix<float> y(64, 64);
    drop.forward(ctx, cref(ones), ref(y));
    return y;
  };
  const auto base = run(1, 0, 0);
  CHECK(same_bits(base, run(1, 0, 0)));
  CHECK_FALSE(same_bits(base, run(1, 0, 1)));  // another layer
  CHECK_FALSE(same_bits(base, run(1, 1, 0)));  // next step
  CHECK_FALSE(same_bits(base, run(2, 0, 0)));  // another run seed
  CHECK_FALSE(same_bits(run(1, 1, 0), run(1, 0, 1)));
}

TEST_CASE("Dropout masks do not depend on the thread count or the scalar type") {
  Cpu b1{1}, b2{2};
  Context<Cpu> c1{b1, true, 5, 2};
  Context<Cpu> c2{b2, true, 5, 2};
  const index_t r = 300, c = 200;  // 60,000 elements: above the parallel grain
  RowMatrix<float> xf = random_matrix(r, c, 4).cast<float>(), y1(r, c), y2(r, c);
  Dropout<Cpu, float> df(0.25, 11);
  df.forward(c1, cref(xf), ref(y1));
  df.forward(c2, cref(xf), ref(y2));
  CHECK(same_bits(y1, y2));
  RowMatrix<double> xd = RowMatrix<double>::Ones(r, c), yd(r, c);
  Dropout<Cpu, double> dd(0.25, 11);
  dd.forward(c2, cref(xd), ref(yd));
  bool same_pattern = true;
  for (index_t i = 0; i < yd.size(); ++i)
    if ((yd.data()[i] == 0.0) != (y2.data()[i] == 0.0f)) same_pattern = false;
  CHECK(same_pattern);
}

TEST_CASE("Dropout gradient matches central differences (fixed mask)") {
  Cpu be;
  Context<Cpu> ctx{be, true, 99, 4};
  Dropout<Cpu, double> drop(0.35, 21);
  RowMatrix<double> x = random_matrix(9, 6, 31), R = random_matrix(9, 6, 32), y(9, 6), dx(9, 6);
  auto f = [&] {
    drop.forward(ctx, cref(x), ref(y));
    return test::dot(cref(y), cref(R));
  };
  drop.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
  std::vector<double> gx(dx.data(), dx.data() + dx.size());
  check_gradient("Dropout input", gx, numeric_gradient(f, x.data(), x.size()));

  SUBCASE("Grad::Accumulate adds") {
    drop.backward(ctx, cref(x), cref(y), cref(R), ref(dx), Grad::Accumulate);
    for (index_t i = 0; i < dx.size(); ++i)
      CHECK(dx.data()[i] == doctest::Approx(2 * gx[static_cast<std::size_t>(i)]));
  }
  SUBCASE("a null dx is skipped") {
    CHECK_NOTHROW(drop.backward(ctx, cref(x), cref(y), cref(R), MatRef<double>{}));
  }
  SUBCASE("forward_add is residual + dropout") {
    RowMatrix<double> res = random_matrix(9, 6, 33), y2(9, 6);
    drop.forward(ctx, cref(x), ref(y));
    drop.forward_add(ctx, cref(x), cref(res), ref(y2));
    for (index_t i = 0; i < y.size(); ++i)
      CHECK(y2.data()[i] == doctest::Approx(res.data()[i] + y.data()[i]));
    Context<Cpu> ev{be, false, 99, 4};
    drop.forward_add(ev, cref(x), cref(res), ref(y2));
    for (index_t i = 0; i < y.size(); ++i)
      CHECK(y2.data()[i] == doctest::Approx(res.data()[i] + x.data()[i]));
  }
}
