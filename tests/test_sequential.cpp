// Sequential: composition, gradients through a 4-layer chain, accumulation,
// the stAI MLP factories.
#include <doctest/doctest.h>

#include <cstring>

#include <stai/backend/cpu.hpp>
#include <stai/layers/sequential.hpp>

#include "gradcheck.hpp"
#include "test_matrices.hpp"

using namespace stai;
using stai::test::check_gradient;
using stai::test::numeric_gradient;
using stai::test::random_matrix;

namespace {
using Seq4 = Sequential<Cpu, double, Linear<Cpu, double>, ReLU<Cpu, double>, Dropout<Cpu, double>,
                        Linear<Cpu, double>>;
Seq4 make_seq4(double p = 0.3) {
  return Seq4(Linear<Cpu, double>(5, 7), ReLU<Cpu, double>(), Dropout<Cpu, double>(p, 77),
              Linear<Cpu, double>(7, 3));
}
bool same_bits(const double* a, const double* b, index_t n) {
  return std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(double)) == 0;
}
}  // namespace

// The layer contract (layers/layer.hpp) accepts every stai layer and
// Sequential itself, and rejects a type that misses one member.
namespace {
struct NoBackward {
  void declare(ParamArena<Cpu, double>&, const std::string&) {}
  void bind(ParamArena<Cpu, double>&) {}
  index_t out_cols(index_t c) const { return c; }
  void forward(Context<Cpu>&, CMatRef<double>, MatRef<double>) {}
};
struct NoOutCols {
  void declare(ParamArena<Cpu, double>&, const std::string&) {}
  void bind(ParamArena<Cpu, double>&) {}
  void forward(Context<Cpu>&, CMatRef<double>, MatRef<double>) {}
  void backward(Context<Cpu>&, CMatRef<double>, CMatRef<double>, CMatRef<double>, MatRef<double>, Grad) {}
};
struct Complete : NoOutCols {
  index_t out_cols(index_t c) const { return c; }
};
}  // namespace
static_assert(Layer<Linear<Cpu, double>, Cpu, double>);
static_assert(Layer<ReLU<Cpu, double>, Cpu, double>);
static_assert(Layer<LeakyReLU<Cpu, float>, Cpu, float>);
static_assert(Layer<Dropout<Cpu, double>, Cpu, double>);
static_assert(Layer<Seq4, Cpu, double>);
static_assert(Layer<Complete, Cpu, double>);
static_assert(!Layer<NoBackward, Cpu, double>);
static_assert(!Layer<NoOutCols, Cpu, double>);
static_assert(!Layer<Linear<Cpu, float>, Cpu, double>);  // another scalar type
static_assert(!Layer<int, Cpu, double>);

TEST_CASE("Sequential declares '<prefix>.<i>' parameters and computes its widths") {
  Cpu be;
  ParamArena<Cpu, double> arena;
  Seq4 seq = make_seq4();
  seq.declare(arena, "enc");
  REQUIRE(arena.info().size() == 4);
  CHECK(arena.info(0).name == "enc.0.weight");
  CHECK(arena.info(1).name == "enc.0.bias");
  CHECK(arena.info(2).name == "enc.3.weight");
  CHECK(arena.info(3).name == "enc.3.bias");
  CHECK(seq.out_cols(5) == 3);
  CHECK(seq.cols_after(0, 5) == 7);
  CHECK(seq.cols_after(2, 5) == 7);
  CHECK(Seq4::size() == 4);
  arena.allocate(be);
  seq.bind(arena);
  Context<Cpu> ctx{be};
  RowMatrix<double> x = random_matrix(4, 5, 1), bad(4, 4);
  CHECK_THROWS_AS(seq.forward(ctx, cref(x), ref(bad)), Error);
  CHECK_THROWS_AS(seq.output(3), Error);
}

TEST_CASE("Sequential equals calling the layers by hand (same bits)") {
  Cpu be;
  for (bool training : {false, true}) {
    CAPTURE(training);
    Context<Cpu> ctx{be, training, 8848, 3};
    ParamArena<Cpu, double> a1, a2;
    Seq4 seq = make_seq4();
    seq.declare(a1, "s");
    Linear<Cpu, double> l0(5, 7), l3(7, 3);
    ReLU<Cpu, double> r1;
    Dropout<Cpu, double> d2(0.3, 77);
    l0.declare(a2, "l0");
    l3.declare(a2, "l3");
    a1.allocate(be);
    a2.allocate(be);
    seq.bind(a1);
    l0.bind(a2);
    l3.bind(a2);
    Rng rng(5);
    a1.initialize(be, rng);
    std::memcpy(a2.params(), a1.params(), sizeof(double) * static_cast<std::size_t>(a1.size()));

    const index_t n = 6;
    RowMatrix<double> x = random_matrix(n, 5, 2), dy = random_matrix(n, 3, 3);
    RowMatrix<double> y(n, 3), dx(n, 5);
    seq.forward(ctx, cref(x), ref(y));
    seq.backward(ctx, cref(x), cref(y), cref(dy), ref(dx));

    RowMatrix<double> h0(n, 7), h1(n, 7), h2(n, 7), y2(n, 3);
    l0.forward(ctx, cref(x), ref(h0));
    r1.forward(ctx, cref(h0), ref(h1));
    d2.forward(ctx, cref(h1), ref(h2));
    l3.forward(ctx, cref(h2), ref(y2));
    RowMatrix<double> g2(n, 7), g1(n, 7), g0(n, 7), dx2(n, 5);
    l3.backward(ctx, cref(h2), cref(y2), cref(dy), ref(g2));
    d2.backward(ctx, cref(h1), cref(h2), cref(g2), ref(g1));
    r1.backward(ctx, cref(h0), cref(h1), cref(g1), ref(g0));
    l0.backward(ctx, cref(x), cref(h0), cref(g0), ref(dx2));

    CHECK(same_bits(y.data(), y2.data(), y.size()));
    CHECK(same_bits(dx.data(), dx2.data(), dx.size()));
    CHECK(same_bits(a1.grads(), a2.grads(), a1.size()));
    CHECK(same_bits(seq.output(0).data, h0.data(), h0.size()));
    CHECK(same_bits(seq.output(2).data, h2.data(), h2.size()));
  }
}

TEST_CASE("Sequential gradients match central differences (every parameter and the input)") {
  Cpu be;
  for (bool training : {false, true}) {
    CAPTURE(training);
    // training: a fixed step, so the dropout mask is the same in every evaluation
    Context<Cpu> ctx{be, training, 8848, 12};
    ParamArena<Cpu, double> arena;
    Seq4 seq = make_seq4(0.4);
    seq.declare(arena, "s");
    arena.allocate(be);
    seq.bind(arena);
    Rng rng(6);
    arena.initialize(be, rng);
    const index_t n = 8;
    RowMatrix<double> x = random_matrix(n, 5, 7), R = random_matrix(n, 3, 8);
    RowMatrix<double> y(n, 3), dx(n, 5);
    auto f = [&] {
      seq.forward(ctx, cref(x), ref(y));
      return test::dot(cref(y), cref(R));
    };
    f();
    arena.zero_grad(be);
    seq.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
    std::vector<double> gp(arena.grads(), arena.grads() + arena.size());
    test::check_arena_gradient(arena, f, gp);
    std::vector<double> gx(dx.data(), dx.data() + dx.size());
    check_gradient("Sequential input", gx, numeric_gradient(f, x.data(), x.size()));
    if (training) {
      // the dropout really dropped something: some hidden unit of some row is zero
      // after dropout while it was positive after ReLU
      bool dropped = false;
      for (index_t i = 0; i < seq.output(1).size(); ++i)
        if (seq.output(1).data[i] > 0 && seq.output(2).data[i] == 0) dropped = true;
      CHECK(dropped);
    }

    SUBCASE("two backward calls accumulate twice the parameter gradients") {
      seq.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
      for (index_t i = 0; i < arena.size(); ++i)
        CHECK(arena.grads()[i] == doctest::Approx(2 * gp[static_cast<std::size_t>(i)]));
      for (index_t i = 0; i < dx.size(); ++i)
        CHECK(dx.data()[i] == doctest::Approx(gx[static_cast<std::size_t>(i)]));
    }
    SUBCASE("Grad::Accumulate adds into dx; a null dx is skipped") {
      seq.backward(ctx, cref(x), cref(y), cref(R), ref(dx), Grad::Accumulate);
      for (index_t i = 0; i < dx.size(); ++i)
        CHECK(dx.data()[i] == doctest::Approx(2 * gx[static_cast<std::size_t>(i)]));
      seq.backward(ctx, cref(x), cref(y), cref(R), MatRef<double>{});
      for (index_t i = 0; i < arena.size(); ++i)
        CHECK(arena.grads()[i] == doctest::Approx(3 * gp[static_cast<std::size_t>(i)]));
    }
    SUBCASE("workspaces are reused for the same shapes") {
      const double* p0 = seq.output(0).data;
      seq.forward(ctx, cref(x), ref(y));
      CHECK(seq.output(0).data == p0);
    }
  }
}

TEST_CASE("A one-layer Sequential is the layer itself") {
  Cpu be;
  Context<Cpu> ctx{be};
  ParamArena<Cpu, double> arena;
  Sequential<Cpu, double, Linear<Cpu, double>> seq(Linear<Cpu, double>(3, 2));
  seq.declare(arena, "one");
  arena.allocate(be);
  seq.bind(arena);
  Rng rng(1);
  arena.initialize(be, rng);
  RowMatrix<double> x = random_matrix(4, 3, 9), R = random_matrix(4, 2, 10), y(4, 2), dx(4, 3);
  auto f = [&] {
    seq.forward(ctx, cref(x), ref(y));
    return test::dot(cref(y), cref(R));
  };
  f();
  seq.backward(ctx, cref(x), cref(y), cref(R), ref(dx));
  std::vector<double> gp(arena.grads(), arena.grads() + arena.size());
  test::check_arena_gradient(arena, f, gp);
  std::vector<double> gx(dx.data(), dx.data() + dx.size());
  check_gradient("1-layer input", gx, numeric_gradient(f, x.data(), x.size()));
}

TEST_CASE("stAI MLP factories: shapes, names, initialisation, gradients") {
  Cpu be;
  ParamArena<Cpu, double> arena;
  auto enc = make_encoder<Cpu, double>(6, 8, 3, 0.2, 1);
  auto dec = make_decoder<Cpu, double>(3, 8, 6);
  auto clf = make_classifier<Cpu, double>(3, 8, 4);
  enc.declare(arena, "enc");
  dec.declare(arena, "dec");
  clf.declare(arena, "clf");
  CHECK(enc.out_cols(6) == 3);
  CHECK(dec.out_cols(3) == 6);
  CHECK(clf.out_cols(3) == 4);
  CHECK(arena.find("enc.3.weight") >= 0);
  CHECK(arena.find("dec.2.bias") >= 0);
  CHECK(arena.find("clf.2.weight") >= 0);
  CHECK(arena.info(arena.find("enc.0.weight")).init == Init::Normal01);
  CHECK(arena.info(arena.find("dec.0.bias")).init == Init::Normal01);
  CHECK(arena.info(arena.find("clf.0.weight")).init == Init::TorchLinear);
  CHECK(clf.layer<1>().slope() == doctest::Approx(0.01));
  CHECK(enc.layer<2>().p() == doctest::Approx(0.2));
  arena.allocate(be);
  enc.bind(arena);
  dec.bind(arena);
  clf.bind(arena);
  Rng rng(2);
  arena.initialize(be, rng);

  // encoder -> decoder chained, gradient w.r.t. every parameter of both and the input
  Context<Cpu> ctx{be, true, 3, 1};
  RowMatrix<double> x = random_matrix(5, 6, 11), R = random_matrix(5, 6, 12);
  RowMatrix<double> z(5, 3), xr(5, 6), dz(5, 3), dx(5, 6), logits(5, 4), Rc = random_matrix(5, 4, 13),
      dzc(5, 3);
  auto f = [&] {
    enc.forward(ctx, cref(x), ref(z));
    dec.forward(ctx, cref(z), ref(xr));
    clf.forward(ctx, cref(z), ref(logits));
    return test::dot(cref(xr), cref(R)) + test::dot(cref(logits), cref(Rc));
  };
  f();
  arena.zero_grad(be);
  dec.backward(ctx, cref(z), cref(xr), cref(R), ref(dz));
  clf.backward(ctx, cref(z), cref(logits), cref(Rc), ref(dz), Grad::Accumulate);
  enc.backward(ctx, cref(x), cref(z), cref(dz), ref(dx));
  std::vector<double> gp(arena.grads(), arena.grads() + arena.size());
  test::check_arena_gradient(arena, f, gp);
  std::vector<double> gx(dx.data(), dx.data() + dx.size());
  check_gradient("encoder input", gx, numeric_gradient(f, x.data(), x.size()));
}
