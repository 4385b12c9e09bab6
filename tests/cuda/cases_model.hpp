// The comparison cases of whole models: Submodel training runs, the Ensemble
// (full batch and spatial minibatches) and the Pipeline (see comparison.hpp).
#pragma once

#include "comparison.hpp"

namespace cuda_test {

template <int V>
struct TrainCase {
  static constexpr const char* name = V == 0 ? "Submodel training (top-k head)"
                                             : "Submodel training (learnable head)";
  // Five Adam steps: an update is ~ lr sign(g), so rounding differences of
  // near-zero gradient components are amplified; measured float-vs-double
  // differences on the CPU stay below tol_float / 4 (host calibration).
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n1 = 40, n2 = 30, nfit = 8, ncal = 3, C = 3, halo = 6;
    Config cfg = Config::annotation();
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.dropout = 0.1;
    cfg.lr = 0.01;
    if (V == 0) {
      cfg.topk = 5;
    } else {
      cfg.attn_type = AttentionType::Learnable;
      cfg.linear_clf = true;
      cfg.gene_loss = GeneLossVariant::Frobenius;
    }
    const GatGraph<B> graph(be, knn_graph(rnd<double>(n1, 2, 50, 0.0, 10.0), 5));
    const auto st_fit = dev(be, rnd<T>(n1, nfit, 51)), st_cal = dev(be, rnd<T>(n1, ncal, 52));
    const auto sc_fit = dev(be, rnd<T>(n2, nfit, 53)), sc_cal = dev(be, rnd<T>(n2, ncal, 54));
    std::vector<index_t> lab(static_cast<std::size_t>(n2));
    for (index_t i = 0; i < n2; ++i) lab[static_cast<std::size_t>(i)] = (i * 7) % C;
    const std::vector<double> wd = class_weights(lab, C, 2.0);
    const auto labels = dev_vec(be, lab);
    const auto cw = dev_vec(be, std::vector<T>(wd.begin(), wd.end()));
    Context<B> ctx{be, true, 1234, 0};
    Matrix<B, T> A2(nfit, ncal);
    gene_correlation(ctx, sc_fit.cref(), sc_cal.cref(), A2.ref());

    Submodel<B, T> model(cfg, nfit, C);
    model.initialize(be, 99);
    StepBatch<B, T> batch{st_fit.cref(), st_cal.cref(), &graph, n1, sc_fit.cref(), sc_cal.cref(),
                          labels.data(), cw.data(), A2.cref()};
    std::vector<double> losses;
    for (int s = 0; s < 5; ++s) {
      if (V == 0 && s == 3) {  // a step whose last `halo` spatial rows only feed the GAT
        batch.n_owned = n1 - halo;
        batch.st_cal = CMatRef<T>{st_cal.data(), n1 - halo, ncal};
      } else {
        batch.n_owned = n1;
        batch.st_cal = st_cal.cref();
      }
      const LossTerms L = model.train_step(ctx, batch);
      ++ctx.step;
      for (double v : {L.total, L.recon, L.mmd, L.cos, L.clf, L.impute, L.gene}) losses.push_back(v);
    }
    Outputs o;
    o.add("loss terms of each step", losses);
    // The key bias of the learnable head is left out: Q . b_k is the same for
    // every reference cell of a softmax row, so its exact gradient is 0 and
    // the computed one is rounding noise, which Adam turns into +-lr steps
    // (float noise >> eps = 1e-8; it changes no output).
    std::vector<double> params;
    const auto all = model.parameters(be);
    for (const auto& p : model.arena().info())
      if (p.name != "attn.key.bias")
        params.insert(params.end(), all.begin() + p.offset, all.begin() + p.offset + p.size());
    o.add("parameters after 5 steps", params);

    Context<B> ectx{be, false, 1234, 0};
    const index_t d = cfg.d_latent;
    Matrix<B, T> z1(n1, d), z2(n2, d), y(n1, ncal), p(n1, C);
    model.encode_spatial(ectx, st_fit.cref(), graph, z1.ref());
    model.encode_reference(ectx, sc_fit.cref(), z2.ref());
    model.attend(ectx, z1.cref(), z2.cref());
    model.apply_attention(ectx, sc_cal.cref(), y.ref());
    model.class_probabilities(ectx, z1.cref(), p.ref());
    o.add("spatial codes", fetch(be, z1));
    o.add("reference codes", fetch(be, z2));
    o.add("imputed calibration genes", fetch(be, y));
    o.add("class probabilities", fetch(be, p));
    return o;
  }
};

/// Ensemble fit (2 folds, 3 epochs), impute, annotate, embed. Variant 0: full
/// batch, top-k head; variant 1: spatial minibatches with halos + sampled
/// reference batches, attention over all reference cells.
template <int V>
struct EnsembleCase {
  static constexpr const char* name = V == 0 ? "Ensemble (full batch)" : "Ensemble (minibatches)";
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    const index_t n1 = 48, n2 = 36, G = 10, C = 3, Gv = 3;
    ModelInputs in;
    in.st = rnd<float>(n1, G, 60);
    in.sc = rnd<float>(n2, G, 61);
    for (index_t g = 0; g < G; ++g) in.genes.push_back(std::string(1, 'g').append(std::to_string(g)));
    in.coords = rnd<double>(n1, 2, 62, 0.0, 10.0);
    in.graph = knn_graph(in.coords, 5);
    for (index_t i = 0; i < n2; ++i) in.labels.push_back((i * 5) % C);
    in.class_names = {"a", "b", "c"};
    Config cfg = Config::annotation();
    cfg.num_epoch = 3;
    cfg.k_folds = 2;
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.topk = 6;
    cfg.dropout = 0.1;
    cfg.eval_step = 1;
    cfg.seed = 777;
    if (V == 1) {
      cfg.spatial_batchsize = 16;
      cfg.rna_batchsize = 12;
      cfg.topk = 0;  // all reference cells: the dense attention path
    }
    Ensemble<B, T> ens;
    ens.fit(be, in, cfg);
    Outputs o;
    std::vector<double> params, codes;
    for (const auto& s : ens.submodels()) {
      params.insert(params.end(), s.params.begin(), s.params.end());
      codes.insert(codes.end(), s.ref_codes.data(), s.ref_codes.data() + s.ref_codes.size());
    }
    o.add("submodel parameters", params);
    o.add("reference codes", codes);
    const Imputation imp = ens.impute(be, in.st, in.graph, rnd<float>(n2, Gv, 63, 0.0, 3.0));
    o.add("imputed mean", as_double(imp.mean));
    o.add("imputed sd", as_double(imp.sd));
    o.add("class probabilities", as_double(ens.annotate(be, in.st, in.graph)));
    std::vector<double> emb;
    for (const auto& z : ens.embed(be, in.st, in.graph)) {
      const auto e = as_double(z);
      emb.insert(emb.end(), e.begin(), e.end());
    }
    o.add("embeddings", emb);
    return o;
  }
};

/// The end-to-end API the `stai` program uses: Pipeline<B, T>::fit on simulated
/// raw-count AnnData (contract, normalisation, gene matching, scaling, kNN
/// graph, k-fold ensemble), then imputation of panel and unmeasured genes and
/// annotation.
struct PipelineCase {
  static constexpr const char* name = "Pipeline (fit, impute, annotate)";
  static constexpr double tol_float = 2e-3, tol_double = 1e-8;
  template <class B, class T>
  static Outputs run(B& be) {
    SimulationOptions so;
    so.n_spatial = 60;
    so.n_reference = 50;
    so.n_types = 3;
    so.n_genes = 16;
    so.n_panel = 10;
    so.markers_per_type = 2;
    so.seed = 5;
    const Simulation sim = simulate(so);
    Config cfg = Config::annotation();
    cfg.num_epoch = 3;
    cfg.k_folds = 2;
    cfg.d_hidden = 8;
    cfg.d_latent = 4;
    cfg.topk = 8;
    cfg.spatial_knn = 5;
    cfg.seed = 31;
    FitOptions fo;
    fo.label_key = "celltype";
    Pipeline<B, T> model;
    model.fit(be, sim.spatial, sim.reference, cfg, fo);
    Outputs o;
    const std::vector<std::string> genes = {sim.all_genes[1], sim.all_genes[12], sim.all_genes[15]};
    const Imputation imp = model.impute(be, genes);
    o.add("imputed mean", as_double(imp.mean));
    o.add("imputed sd", as_double(imp.sd));
    const Annotation ann = model.annotate(be);
    o.add("class probabilities", as_double(ann.probabilities));
    return o;
  }
};

}  // namespace cuda_test
