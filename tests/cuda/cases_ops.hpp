// The comparison cases of single components: layers, losses, attention heads
// and the optimiser (see comparison.hpp for what a case is).
#pragma once

#include "comparison.hpp"

namespace cuda_test {

// --------------------------------------------------------------- layers ----

struct LinearCase {
  static constexpr const char* name = "Linear";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 37, in = 13, out = 7;
    ParamArena<B, T> a;
    Linear<B, T> lin(in, out);
    setup(be, a, lin, "lin", 7);
    const auto x = dev(be, rnd<T>(n, in, 1)), dy = dev(be, rnd<T>(n, out, 2));
    auto dx2 = dev(be, rnd<T>(n, in, 3));
    Matrix<B, T> y(n, out), dx(n, in);
    lin.forward(ctx, x.cref(), y.ref());
    a.zero_grad(be);
    lin.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    lin.backward(ctx, x.cref(), y.cref(), dy.cref(), dx2.ref(), Grad::Accumulate);
    Outputs o;
    o.add("y", fetch(be, y));
    o.add("dx", fetch(be, dx));
    o.add("dx (accumulated)", fetch(be, dx2));
    o.add("parameter gradients (two backward calls)", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct ActivationCase {
  static constexpr const char* name = "LeakyReLU / ReLU";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 29, c = 11;
    const auto x = dev(be, rnd<T>(n, c, 4)), dy = dev(be, rnd<T>(n, c, 5));
    Outputs o;
    LeakyReLU<B, T> leaky(0.2);
    ReLU<B, T> relu;
    Matrix<B, T> y(n, c), dx(n, c);
    leaky.forward(ctx, x.cref(), y.ref());
    leaky.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    o.add("leaky y", fetch(be, y));
    o.add("leaky dx", fetch(be, dx));
    relu.forward(ctx, x.cref(), y.ref());
    relu.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref(), Grad::Accumulate);
    o.add("relu y", fetch(be, y));
    o.add("leaky dx + relu dx", fetch(be, dx));
    return o;
  }
};

struct DropoutCase {
  static constexpr const char* name = "Dropout";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be, true, 11, 3};
    const index_t n = 64, c = 33;  // > 2000 elements: many kept and dropped
    const auto x = dev(be, rnd<T>(n, c, 6, 0.5, 1.5)), r = dev(be, rnd<T>(n, c, 7));
    const auto dy = dev(be, rnd<T>(n, c, 8, 0.5, 1.5));
    Dropout<B, T> drop(0.3, 5);
    Matrix<B, T> y(n, c), ya(n, c), dx(n, c);
    drop.forward(ctx, x.cref(), y.ref());
    drop.forward_add(ctx, x.cref(), r.cref(), ya.ref());
    drop.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    Outputs o;
    auto mask = [](std::vector<double> v) {
      for (double& e : v) e = e != 0 ? 1.0 : 0.0;
      return v;
    };
    const auto hy = fetch(be, y), hdx = fetch(be, dx);
    o.add("forward mask", mask(hy), true);
    o.add("backward mask", mask(hdx), true);
    o.add("y", hy);
    o.add("residual + dropout(x)", fetch(be, ya));
    o.add("dx", hdx);
    // evaluation: identity
    Context<B> ectx{be, false, 11, 3};
    drop.forward(ectx, x.cref(), y.ref());
    o.add("y (evaluation)", fetch(be, y));
    return o;
  }
};

struct SequentialCase {
  static constexpr const char* name = "Sequential (encoder MLP with dropout)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be, true, 21, 2};
    const index_t n = 41, din = 12, h = 16, d = 5;
    ParamArena<B, T> a;
    auto enc = make_encoder<B, T>(din, h, d, 0.2, 0x77, Init::Normal01);
    setup(be, a, enc, "enc", 9);
    const auto x = dev(be, rnd<T>(n, din, 10)), dy = dev(be, rnd<T>(n, d, 11));
    Matrix<B, T> y(n, d), dx(n, din);
    enc.forward(ctx, x.cref(), y.ref());
    a.zero_grad(be);
    enc.backward(ctx, x.cref(), y.cref(), dy.cref(), dx.ref());
    Outputs o;
    o.add("y", fetch(be, y));
    o.add("hidden (after ReLU)", fetch(be, enc.output(1)));
    o.add("dx", fetch(be, dx));
    o.add("parameter gradients", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct GatCase {
  static constexpr const char* name = "Gat / GatResidual / GatGraph";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n = 40, din = 6, dout = 5;
    const CsrGraph csr = random_graph(n, 4, 12);
    GatGraph<B> g(be, csr);
    Outputs o;
    o.add("in_ptr", fetch(be, g.in_ptr(), n + 1), true);
    o.add("in_src", fetch(be, g.in_src(), g.num_edges()), true);
    o.add("out_edge", fetch(be, g.out_edge(), g.num_edges()), true);
    {
      Context<B> ctx{be};
      ParamArena<B, T> a;
      Gat<B, T> gat(din, dout);
      setup(be, a, gat, "gat", 13);
      const auto x = dev(be, rnd<T>(n, din, 14)), dy = dev(be, rnd<T>(n, dout, 15));
      Matrix<B, T> y(n, dout), dx(n, din);
      gat.forward(ctx, g, x.cref(), y.ref());
      a.zero_grad(be);
      gat.backward(ctx, g, x.cref(), y.cref(), dy.cref(), dx.ref());
      o.add("gat y", fetch(be, y));
      o.add("gat dx", fetch(be, dx));
      o.add("gat parameter gradients", as_double(a.grads_to_host(be)));
    }
    {
      Context<B> ctx{be, true, 31, 4};
      ParamArena<B, T> a;
      GatResidual<B, T> blk(dout, 0.25, 0x99);
      setup(be, a, blk, "res", 16);
      blk.set_graph(g);
      const auto z = dev(be, rnd<T>(n, dout, 17)), dy = dev(be, rnd<T>(n, dout, 18));
      auto dz = dev(be, rnd<T>(n, dout, 19));
      Matrix<B, T> y(n, dout);
      blk.forward(ctx, z.cref(), y.ref());
      a.zero_grad(be);
      blk.backward(ctx, z.cref(), y.cref(), dy.cref(), dz.ref(), Grad::Accumulate);
      o.add("residual y", fetch(be, y));
      o.add("residual dz (accumulated)", fetch(be, dz));
      o.add("residual parameter gradients", as_double(a.grads_to_host(be)));
    }
    return o;
  }
};

// --------------------------------------------------------------- losses ----

struct MseCase {
  static constexpr const char* name = "MseLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const auto p = dev(be, rnd<T>(53, 9, 20)), t = dev(be, rnd<T>(53, 9, 21));
    auto g = dev(be, rnd<T>(53, 9, 22));  // the loss ADDS into it
    MseLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, p.cref(), t.cref(), g.ref(), 0.7));
    o.add("gradient (added)", fetch(be, g));
    o.add("value only", loss.value_and_grad(ctx, p.cref(), t.cref()));
    return o;
  }
};

struct MmdCase {
  static constexpr const char* name = "MmdLoss (tiled; CPU fast path vs generic kernel)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 70, n2 = 50, d = 5;
    const auto z1 = dev(be, rnd<T>(n1, d, 23)), z2 = dev(be, rnd<T>(n2, d, 24, -0.7, 1.3));
    Matrix<B, T> g1(n1, d), g2(n2, d);
    fill(be, g1.data(), g1.size(), T(0));
    fill(be, g2.data(), g2.size(), T(0));
    MmdLoss<B, T> loss(16, 32);  // several row and column tiles
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, z1.cref(), z2.cref(), g1.ref(), g2.ref(), 0.1));
    o.add("bandwidth", loss.bandwidth());
    o.add("dz1", fetch(be, g1));
    o.add("dz2", fetch(be, g2));
    MmdLoss<B, T> one_tile;  // default tiles: the whole problem in one tile row
    one_tile.set_bandwidth(0.8);
    o.add("value (one tile, fixed bandwidth)",
          one_tile.value_and_grad(ctx, z1.cref(), z2.cref(), g1.ref(), MatRef<T>{}, 1.0));
    o.add("dz1 (accumulated)", fetch(be, g1));
    // all points identical: 0 with no gradient
    const auto c1 = dev(be, RowMatrix<T>(RowMatrix<T>::Constant(4, d, T(0.5))));
    const auto c2 = dev(be, RowMatrix<T>(RowMatrix<T>::Constant(3, d, T(0.5))));
    o.add("identical points", loss.value_and_grad(ctx, c1.cref(), c2.cref()), true);
    return o;
  }
};

struct CosineCase {
  static constexpr const char* name = "CosineConsistencyLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 30, c = 9;
    RowMatrix<T> hb = rnd<T>(n, c, 26);
    hb.row(4).setZero();  // a zero row: finite value and gradient
    const auto a = dev(be, rnd<T>(n, c, 25)), b = dev(be, hb);
    Matrix<B, T> da(n, c), db(n, c);
    fill(be, da.data(), da.size(), T(0));
    fill(be, db.data(), db.size(), T(0));
    CosineConsistencyLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, a.cref(), b.cref(), da.ref(), db.ref(), 1.5));
    o.add("da", fetch(be, da));
    o.add("db", fetch(be, db));
    return o;
  }
};

struct PearsonCase {
  static constexpr const char* name = "PearsonLoss";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 25, g = 6;
    RowMatrix<T> hx = rnd<T>(n, g, 27), hy = rnd<T>(n, g, 28);
    hx.col(2).setConstant(T(0.25));                 // constant column: r = 0, finite gradient
    hy.col(4) = (hx.col(4) * T(2)).eval();          // perfectly correlated column
    const auto x = dev(be, hx), y = dev(be, hy);
    Matrix<B, T> dx(n, g);
    fill(be, dx.data(), dx.size(), T(0));
    PearsonLoss<B, T> loss;
    Outputs o;
    o.add("value", loss.value_and_grad(ctx, x.cref(), y.cref(), dx.ref(), 0.9));
    o.add("per-gene r", fetch(be, loss.per_gene_r(), g));
    o.add("dx", fetch(be, dx));
    return o;
  }
};

struct CrossEntropyCase {
  static constexpr const char* name = "CrossEntropyLoss / softmax_rows";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 40, C = 5;
    RowMatrix<T> hl = rnd<T>(n, C, 29, -3.0, 3.0);
    hl(7, 2) = T(60);  // a saturated row
    std::vector<index_t> lab(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) lab[static_cast<std::size_t>(i)] = i % 6 == 5 ? -1 : (i * 3) % C;
    const std::vector<double> wd = class_weights(lab, C, 2.0);
    const std::vector<T> w(wd.begin(), wd.end());
    const auto logits = dev(be, hl);
    const auto labels = dev_vec(be, lab);
    const auto cw = dev_vec(be, w);
    Matrix<B, T> g(n, C), p(n, C);
    fill(be, g.data(), g.size(), T(0));
    CrossEntropyLoss<B, T> loss;
    Outputs o;
    o.add("weighted value",
          loss.value_and_grad(ctx, logits.cref(), labels.data(), cw.data(), g.ref(), 10.0));
    o.add("weighted gradient", fetch(be, g));
    fill(be, g.data(), g.size(), T(0));
    o.add("unweighted value",
          loss.value_and_grad(ctx, logits.cref(), labels.data(), nullptr, g.ref(), 1.0));
    o.add("unweighted gradient", fetch(be, g));
    softmax_rows(ctx, logits.cref(), p.ref());
    o.add("softmax", fetch(be, p));
    return o;
  }
};

struct GeneConsistencyCase {
  static constexpr const char* name = "GeneConsistencyLoss / gene_correlation";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n = 30, p = 6, c = 4, m = 40;
    const auto s = dev(be, rnd<T>(n, p, 30)), x = dev(be, rnd<T>(n, c, 31));
    const auto rs = dev(be, rnd<T>(m, p, 32)), rx = dev(be, rnd<T>(m, c, 33));
    Matrix<B, T> A2(p, c), g(n, c);
    gene_correlation(ctx, rs.cref(), rx.cref(), A2.ref());
    Outputs o;
    o.add("A2 = gene_correlation", fetch(be, A2));
    for (GeneLoss kind : {GeneLoss::Cosine, GeneLoss::Frobenius}) {
      const std::string k = kind == GeneLoss::Cosine ? "cosine " : "Frobenius ";
      GeneConsistencyLoss<B, T> loss(kind);
      fill(be, g.data(), g.size(), T(0));
      o.add(k + "value", loss.value_and_grad(ctx, s.cref(), x.cref(), A2.cref(), g.ref(), 0.5));
      o.add(k + "A1", fetch(be, loss.a1()));
      o.add(k + "gradient", fetch(be, g));
    }
    return o;
  }
};

// ---------------------------------------------------------------- heads ----

struct TopKCase {
  static constexpr const char* name = "TopKAttention (k < n2 and all cells)";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 45, n2 = 60, d = 6, g = 4;
    // Seeds chosen so that, in every row, consecutive squared distances among
    // the 8 nearest reference cells differ by >= 3e-3: float rounding of the
    // GEMM form (~1e-6 here) cannot change the selection or its order.
    const auto z1 = dev(be, rnd<T>(n1, d, 55)), z2 = dev(be, rnd<T>(n2, d, 35));
    const auto v = dev(be, rnd<T>(n2, g, 36)), dy = dev(be, rnd<T>(n1, g, 34));
    Outputs o;
    for (index_t k : {index_t(7), TopKAttention<B, T>::kAllCells}) {
      const std::string s = k == 7 ? "k=7 " : "all cells ";
      TopKAttention<B, T> head(k, 16);  // several distance tiles
      Matrix<B, T> y(n1, g), dz1(n1, d);
      auto dz2 = dev(be, rnd<T>(n2, d, 38));
      head.forward(ctx, z1.cref(), z2.cref(), v.cref(), y.ref());
      if (k == 7) o.add(s + "indices", fetch(be, head.indices()), true);
      o.add(s + "weights", fetch(be, head.weights()));
      o.add(s + "distances", fetch(be, head.distances()));
      o.add(s + "y", fetch(be, y));
      head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), MatRef<T>{}, dz2.ref(),
                    Grad::Accumulate);
      o.add(s + "dz2 (accumulated)", fetch(be, dz2));
      head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), dz1.ref(), dz2.ref());
      o.add(s + "dz1", fetch(be, dz1));
      o.add(s + "dz2", fetch(be, dz2));
    }
    return o;
  }
};

struct LearnableCase {
  static constexpr const char* name = "LearnableAttention";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Context<B> ctx{be};
    const index_t n1 = 35, n2 = 50, d = 6, g = 4;
    ParamArena<B, T> a;
    LearnableAttention<B, T> head(d, true, 1.0, 16);
    setup(be, a, head, "attn", 39);
    const auto z1 = dev(be, rnd<T>(n1, d, 40)), z2 = dev(be, rnd<T>(n2, d, 41));
    const auto v = dev(be, rnd<T>(n2, g, 42)), dy = dev(be, rnd<T>(n1, g, 43));
    Matrix<B, T> y(n1, g), dz1(n1, d), dz2(n2, d);
    head.forward(ctx, z1.cref(), z2.cref(), v.cref(), y.ref());
    a.zero_grad(be);
    head.backward(ctx, z1.cref(), z2.cref(), v.cref(), dy.cref(), dz1.ref(), dz2.ref());
    Outputs o;
    o.add("attention", fetch(be, head.attention()));
    o.add("y", fetch(be, y));
    o.add("dz1", fetch(be, dz1));
    o.add("dz2", fetch(be, dz2));
    o.add("parameter gradients", as_double(a.grads_to_host(be)));
    return o;
  }
};

struct AdamCase {
  static constexpr const char* name = "Adam";
  static constexpr double tol_float = kTolFloat, tol_double = kTolDouble;
  template <class B, class T>
  static Outputs run(B& be) {
    Outputs o;
    for (double wd : {0.0, 0.01}) {
      ParamArena<B, T> a;
      a.add("w", 20, 7, Init::Normal01, 7, 20);
      a.add("b", 1, 20, Init::TorchLinear, 7, 20);
      a.allocate(be);
      Rng r(44);
      a.initialize(be, r);
      Adam<B, T> adam(AdamOptions{0.01, 0.9, 0.999, 1e-8, wd});
      for (int s = 0; s < 3; ++s) {
        const RowMatrix<T> g = rnd<T>(1, a.size(), 45 + static_cast<std::uint64_t>(s));
        copy_from_host(be, a.grads(), g.data(), a.size());
        adam.step(be, a);
      }
      const std::string k = wd > 0 ? "weight decay " : "";
      o.add(k + "params", as_double(a.params_to_host(be)));
      o.add(k + "m", fetch(be, a.adam_m(), a.size()));
      o.add(k + "v", fetch(be, a.adam_v(), a.size()));
    }
    return o;
  }
};

// ------------------------------------------------------- whole model ------

/// A few Submodel training steps (annotation config: all six losses, class
/// weights, dropout), then inference. Variant 0: top-k head, MLP classifier,
/// cosine gene loss, a step with halo cells; variant 1: learnable attention,
/// linear classifier, Frobenius gene loss.
}  // namespace cuda_test
