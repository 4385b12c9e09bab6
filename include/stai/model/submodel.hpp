// stai — one stAI submodel: the networks, the six-term loss, one training
// step, and inference (codes, imputation, class probabilities).
//
// Composition (docs/model.md "Modules"), all members named, composed at
// compile time from the core layers:
//   spatial encoder   st_pre  = Linear(d_in,h) -> ReLU -> Dropout -> Linear(h,d)  (PyTorch init)
//                     st_gat  = z + Dropout(LeakyReLU_0.01(GAT(z)))              (Glorot init)
//                     st_post = Linear(d,d)                                       (PyTorch init)
//   reference encoder sc_enc  = Linear(d_in,h) -> ReLU -> Dropout -> Linear(h,d)  (N(0, 0.1^2))
//   decoders          dec_st, dec_sc = Linear(d,h) -> ReLU -> Linear(h,d_in)      (N(0, 0.1^2))
//   classifier        Linear(d,h) -> LeakyReLU_0.01 -> Linear(h,C), or Linear(d,C) (PyTorch init)
//   imputation head   Euclidean top-k softmax, or learnable Q/K attention
// Parameters are declared in the reference's module order, so the random
// initialisation is drawn in a fixed order from the seed.
//
// The training step interleaves each decoder application's forward, loss and
// backward (dec_st on z1, dec_sc on z1 crosswise, dec_sc on z2, dec_st on z2
// crosswise): mathematically the same gradient as one big forward and
// backward, but each decoder keeps only one set of activations.
#pragma once
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "../context.hpp"
#include "../graph/gat_graph.hpp"
#include "../heads/learnable_attention.hpp"
#include "../heads/topk_attention.hpp"
#include "../layers/gat.hpp"
#include "../layers/linear.hpp"
#include "../layers/sequential.hpp"
#include "../losses/cosine.hpp"
#include "../losses/cross_entropy.hpp"
#include "../losses/gene_consistency.hpp"
#include "../losses/mmd.hpp"
#include "../losses/mse.hpp"
#include "../losses/pearson.hpp"
#include "../optim/adam.hpp"
#include "config.hpp"

namespace stai {

/// The loss terms of one step (unweighted values) and their weighted sum.
struct LossTerms {
  double total = 0, recon = 0, mmd = 0, cos = 0, clf = 0, impute = 0, gene = 0;
};

namespace ops {
/// counts non-finite entries
template <class T>
struct NonFinite {
  const T* x;
  STAI_HOST_DEVICE double operator()(index_t i) const {
    const T v = x[i];
    return (v - v == v - v) ? 0.0 : 1.0;  // NaN/Inf make v - v NaN
  }
};
}  // namespace ops

/// One training batch (backend memory). Spatial rows [0, n_owned) are the
/// cells whose losses count; rows after them are halo cells that only feed
/// the graph attention (minibatch mode). Full batch: n_owned == rows.
template <class B, class T>
struct StepBatch {
  CMatRef<T> st_fit;          ///< spatial cells x fitting genes (scaled)
  CMatRef<T> st_cal;          ///< owned spatial cells x calibration genes (scaled)
  const GatGraph<B>* graph = nullptr;  ///< spatial graph on st_fit's rows
  index_t n_owned = 0;
  CMatRef<T> sc_fit;          ///< reference cells x fitting genes (scaled)
  CMatRef<T> sc_cal;          ///< reference cells x calibration genes (scaled)
  const index_t* labels = nullptr;     ///< reference labels (backend memory) or null
  const T* class_weight = nullptr;     ///< C class weights (backend memory) or null
  CMatRef<T> gene_corr_ref;   ///< A2 = corr(sc_fit, sc_cal), fit x cal (gene loss only)
};

template <class B, class T>
class Submodel {
 public:
  /// d_in fitting genes, n_classes reference classes (0 = no classifier).
  Submodel(const Config& cfg, index_t d_in, index_t n_classes)
      : cfg_(cfg), d_in_(d_in), C_(n_classes) {
    cfg.validate();
    STAI_CHECK(d_in >= 1, "a submodel needs at least one fitting gene");
    const index_t h = cfg.d_hidden, d = cfg.d_latent;
    st_pre_ = make_encoder<B, T>(d_in, h, d, cfg.dropout, 0x5701, Init::TorchLinear);
    st_gat_ = GatResidual<B, T>(d, cfg.dropout, 0x5702);
    st_post_ = Linear<B, T>(d, d);
    dec_st_ = make_decoder<B, T>(d, h, d_in);
    sc_enc_ = make_encoder<B, T>(d_in, h, d, cfg.dropout, 0x5c01, Init::Normal01);
    dec_sc_ = make_decoder<B, T>(d, h, d_in);
    if (C_ > 0) {
      if (cfg.linear_clf) clf_lin_.emplace(d, C_);
      else clf_mlp_.emplace(Linear<B, T>(d, h), LeakyReLU<B, T>(0.01), Linear<B, T>(h, C_));
    }
    if (cfg.attn_type == AttentionType::Euclidean)
      topk_.emplace(cfg.topk > 0 ? index_t(cfg.topk) : TopKAttention<B, T>::kAllCells);
    else
      learn_.emplace(d);
    gene_loss_ = GeneConsistencyLoss<B, T>(cfg.gene_loss == GeneLossVariant::Cosine ? GeneLoss::Cosine
                                                                                      : GeneLoss::Frobenius);
    // Declaration order = the reference's module registration order.
    st_pre_.declare(arena_, "ST_encoder.pre_fc");
    st_gat_.declare(arena_, "ST_encoder.gat");
    st_post_.declare(arena_, "ST_encoder.post_fc");
    dec_st_.declare(arena_, "ST_decoder");
    sc_enc_.declare(arena_, "SC_encoder");
    dec_sc_.declare(arena_, "SC_decoder");
    if (clf_mlp_) clf_mlp_->declare(arena_, "classifier");
    if (clf_lin_) clf_lin_->declare(arena_, "classifier");
    if (learn_) learn_->declare(arena_, "attn");
  }
  Submodel(const Submodel&) = delete;
  Submodel& operator=(const Submodel&) = delete;
  Submodel(Submodel&&) = default;

  /// Allocates the parameter block and draws the initial weights.
  void initialize(const B& be, std::uint64_t seed) {
    if (!arena_.allocated()) {
      arena_.allocate(be);
      bind_all();
    }
    Rng rng(seed, 0x1417);
    arena_.initialize(be, rng);
    adam_ = Adam<B, T>(cfg_.lr);
    adam_.reset(be, arena_);
  }
  /// Allocates (if needed) and sets the parameters from a host vector.
  void set_parameters(const B& be, const std::vector<T>& p) {
    if (!arena_.allocated()) {
      arena_.allocate(be);
      bind_all();
    }
    arena_.params_from_host(be, p);
  }
  std::vector<T> parameters(const B& be) const { return arena_.params_to_host(be); }
  ParamArena<B, T>& arena() { return arena_; }
  const Config& config() const { return cfg_; }
  index_t d_in() const { return d_in_; }
  index_t num_classes() const { return C_; }
  index_t latent() const { return cfg_.d_latent; }

  /// One optimisation step on a batch: forward, the six losses, backward,
  /// a finiteness check, Adam. Returns the loss terms.
  LossTerms train_step(Context<B>& ctx, const StepBatch<B, T>& b) {
    LossTerms L = compute_gradients(ctx, b);
    adam_.step(ctx.be, arena_);
    return L;
  }

  /// Forward, losses and backward: leaves the gradient of the total loss in
  /// the arena (zeroed first). Throws on a non-finite loss or gradient,
  /// naming the term.
  LossTerms compute_gradients(Context<B>& ctx, const StepBatch<B, T>& b) {
    STAI_CHECK(b.graph != nullptr, "train step without a spatial graph");
    STAI_CHECK(b.st_fit.cols == d_in_ && b.sc_fit.cols == d_in_, "train step: the model has ", d_in_,
               " fitting genes but the batch has ", b.st_fit.cols, " (spatial) and ", b.sc_fit.cols,
               " (reference)");
    const index_t n1 = b.st_fit.rows, m = b.n_owned, n2 = b.sc_fit.rows, d = cfg_.d_latent;
    STAI_CHECK(m >= 2 && m <= n1, "train step: owned cells must be in [2, ", n1, "], got ", m);
    STAI_CHECK(b.st_cal.rows == m && b.sc_cal.rows == n2 && b.st_cal.cols == b.sc_cal.cols,
               "train step: calibration matrices do not match the batch");
    auto& be = ctx.be;
    arena_.zero_grad(be);
    resize_work(n1, m, n2, b.st_cal.cols);

    // Encoders.
    encode_spatial_into(ctx, b.st_fit, *b.graph);
    sc_enc_.forward(ctx, b.sc_fit, z2_.ref());
    fill(be, dz1_.data(), dz1_.size(), T(0));
    fill(be, dz2_.data(), dz2_.size(), T(0));
    const CMatRef<T> z1o{z1_.data(), m, d};
    const MatRef<T> dz1o{dz1_.data(), m, d};
    const CMatRef<T> x1o{b.st_fit.data, m, d_in_};
    LossTerms L;

    // Reconstruction and crosswise cosine consistency, one decoder use at a time.
    L.recon += decode_loss(ctx, dec_st_, z1o, x1o, dz1o, /*mse=*/true);
    L.cos += decode_loss(ctx, dec_sc_, z1o, x1o, dz1o, /*mse=*/false);
    L.recon += decode_loss(ctx, dec_sc_, z2_.cref(), b.sc_fit, dz2_.ref(), true);
    L.cos += decode_loss(ctx, dec_st_, z2_.cref(), b.sc_fit, dz2_.ref(), false);

    // Classifier on the reference codes.
    if (C_ > 0 && b.labels && cfg_.lam_clf > 0) {
      logits_.resize(n2, C_);
      dlogits_.resize(n2, C_);
      classifier_forward(ctx, z2_.cref(), logits_.ref());
      fill(be, dlogits_.data(), dlogits_.size(), T(0));
      L.clf = ce_.value_and_grad(ctx, logits_.cref(), b.labels, b.class_weight, dlogits_.ref(), cfg_.lam_clf);
      classifier_backward(ctx, z2_.cref(), logits_.cref(), dlogits_.cref(), dz2_.ref());
    }

    // Imputation of the calibration genes and its two losses.
    if (cfg_.lam_impute > 0 || cfg_.lam_genegraph > 0) {
      head_forward(ctx, z1o, z2_.cref(), b.sc_cal, imp_.ref());
      fill(be, dimp_.data(), dimp_.size(), T(0));
      L.impute = pearson_.value_and_grad(ctx, imp_.cref(), b.st_cal, dimp_.ref(), cfg_.lam_impute);
      if (cfg_.lam_genegraph > 0)
        L.gene = gene_loss_.value_and_grad(ctx, x1o, imp_.cref(), b.gene_corr_ref, dimp_.ref(),
                                           cfg_.lam_genegraph);
      head_backward(ctx, z1o, z2_.cref(), b.sc_cal, dimp_.cref(), dz1o, dz2_.ref());
    }

    // Alignment of the two code distributions.
    if (cfg_.lam_mmd > 0) L.mmd = mmd_.value_and_grad(ctx, z1o, z2_.cref(), dz1o, dz2_.ref(), cfg_.lam_mmd);

    // Backward through the encoders.
    st_post_.backward(ctx, zg_.cref(), z1_.cref(), dz1_.cref(), dzg_.ref());
    st_gat_.backward(ctx, *b.graph, zp_.cref(), zg_.cref(), dzg_.cref(), dzp_.ref());
    st_pre_.backward(ctx, b.st_fit, zp_.cref(), dzp_.cref(), MatRef<T>{});
    sc_enc_.backward(ctx, b.sc_fit, z2_.cref(), dz2_.cref(), MatRef<T>{});

    L.total = cfg_.lam_recon * L.recon + cfg_.lam_mmd * L.mmd + cfg_.lam_cos * L.cos +
              cfg_.lam_clf * L.clf + cfg_.lam_impute * L.impute + cfg_.lam_genegraph * L.gene;
    check_finite(ctx, L);
    return L;
  }

  // ---- inference (call with ctx.training == false) -------------------------

  /// Spatial codes z1 (n1 x d) of all cells of a graph.
  void encode_spatial(Context<B>& ctx, CMatRef<T> st_fit, const GatGraph<B>& g, MatRef<T> z1) {
    STAI_CHECK(st_fit.cols == d_in_, "encode: the model has ", d_in_, " fitting genes, the data ",
               st_fit.cols);
    zp_.resize(st_fit.rows, cfg_.d_latent);
    zg_.resize(st_fit.rows, cfg_.d_latent);
    st_pre_.forward(ctx, st_fit, zp_.ref());
    st_gat_.forward(ctx, g, zp_.cref(), zg_.ref());
    st_post_.forward(ctx, zg_.cref(), z1);
  }
  /// Reference codes z2 (n2 x d).
  void encode_reference(Context<B>& ctx, CMatRef<T> sc_fit, MatRef<T> z2) {
    STAI_CHECK(sc_fit.cols == d_in_, "encode: the model has ", d_in_, " fitting genes, the data ",
               sc_fit.cols);
    sc_enc_.forward(ctx, sc_fit, z2);
  }
  /// Attention of spatial codes over reference codes, kept for apply_attention.
  void attend(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2) {
    if (topk_) topk_->attend(ctx, z1, z2);
    else learn_->attend(ctx, z1, z2);
  }
  /// y (n1 x g) = attention-weighted reference values v (n2 x g).
  void apply_attention(Context<B>& ctx, CMatRef<T> v, MatRef<T> y) {
    if (topk_) topk_->apply(ctx, v, y);
    else learn_->apply(ctx, v, y);
  }
  /// Class probabilities (n x C) of codes z (softmax of the classifier).
  void class_probabilities(Context<B>& ctx, CMatRef<T> z, MatRef<T> probs) {
    STAI_CHECK(C_ > 0, "this model has no classifier (the reference had no labels)");
    classifier_forward(ctx, z, probs);
    softmax_rows(ctx, CMatRef<T>(probs), probs);
  }

 private:
  void bind_all() {
    st_pre_.bind(arena_);
    st_gat_.bind(arena_);
    st_post_.bind(arena_);
    dec_st_.bind(arena_);
    sc_enc_.bind(arena_);
    dec_sc_.bind(arena_);
    if (clf_mlp_) clf_mlp_->bind(arena_);
    if (clf_lin_) clf_lin_->bind(arena_);
    if (learn_) learn_->bind(arena_);
  }
  /// n1 spatial rows (owned + halo), m owned rows (the imputation head and
  /// its losses see only those), n2 reference rows, ncal calibration genes.
  void resize_work(index_t n1, index_t m, index_t n2, index_t ncal) {
    const index_t d = cfg_.d_latent;
    z1_.resize(n1, d);
    dz1_.resize(n1, d);
    zp_.resize(n1, d);
    zg_.resize(n1, d);
    dzp_.resize(n1, d);
    dzg_.resize(n1, d);
    z2_.resize(n2, d);
    dz2_.resize(n2, d);
    imp_.resize(m, ncal);
    dimp_.resize(m, ncal);
  }
  void encode_spatial_into(Context<B>& ctx, CMatRef<T> st_fit, const GatGraph<B>& g) {
    st_pre_.forward(ctx, st_fit, zp_.ref());
    st_gat_.forward(ctx, g, zp_.cref(), zg_.ref());
    st_post_.forward(ctx, zg_.cref(), z1_.ref());
  }
  /// dec(z) against x: MSE (recon) or cosine consistency; backward into dz.
  template <class Dec>
  double decode_loss(Context<B>& ctx, Dec& dec, CMatRef<T> z, CMatRef<T> x, MatRef<T> dz, bool mse) {
    const double lam = mse ? cfg_.lam_recon : cfg_.lam_cos;
    if (lam <= 0) return 0;
    out_.resize(z.rows, d_in_);
    dout_.resize(z.rows, d_in_);
    dec.forward(ctx, z, out_.ref());
    fill(ctx.be, dout_.data(), dout_.size(), T(0));
    const double v = mse ? mse_.value_and_grad(ctx, out_.cref(), x, dout_.ref(), lam)
                         : cos_.value_and_grad(ctx, x, out_.cref(), MatRef<T>{}, dout_.ref(), lam);
    dec.backward(ctx, z, out_.cref(), dout_.cref(), dz, Grad::Accumulate);
    return v;
  }
  void classifier_forward(Context<B>& ctx, CMatRef<T> z, MatRef<T> y) {
    if (clf_mlp_) clf_mlp_->forward(ctx, z, y);
    else clf_lin_->forward(ctx, z, y);
  }
  void classifier_backward(Context<B>& ctx, CMatRef<T> z, CMatRef<T> y, CMatRef<T> dy, MatRef<T> dz) {
    if (clf_mlp_) clf_mlp_->backward(ctx, z, y, dy, dz, Grad::Accumulate);
    else clf_lin_->backward(ctx, z, y, dy, dz, Grad::Accumulate);
  }
  void head_forward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, MatRef<T> y) {
    if (topk_) topk_->forward(ctx, z1, z2, v, y);
    else learn_->forward(ctx, z1, z2, v, y);
  }
  void head_backward(Context<B>& ctx, CMatRef<T> z1, CMatRef<T> z2, CMatRef<T> v, CMatRef<T> dy,
                     MatRef<T> dz1, MatRef<T> dz2) {
    if (topk_) topk_->backward(ctx, z1, z2, v, dy, dz1, dz2, Grad::Accumulate);
    else learn_->backward(ctx, z1, z2, v, dy, dz1, dz2, Grad::Accumulate);
  }
  void check_finite(Context<B>& ctx, const LossTerms& L) {
    const std::pair<double, const char*> terms[] = {{L.recon, "recon"}, {L.mmd, "mmd"}, {L.cos, "cos"},
                                                    {L.clf, "clf"},     {L.impute, "impute"},
                                                    {L.gene, "gene"}};
    for (const auto& [v, name] : terms)
      STAI_CHECK(std::isfinite(v), "the '", name, "' loss became ", v,
                 " (training diverged or the input holds extreme values); lower lr or check the "
                 "input scaling");
    const double bad = reduce_sum(ctx.be, arena_.size(), ops::NonFinite<T>{arena_.grads()});
    if (bad > 0) {
      const auto g = arena_.grads_to_host(ctx.be);
      for (const auto& p : arena_.info())
        for (index_t i = 0; i < p.size(); ++i)
          STAI_CHECK(std::isfinite(static_cast<double>(g[static_cast<std::size_t>(p.offset + i)])),
                     "the gradient of parameter '", p.name, "' is not finite; lower lr or check the input");
    }
  }

  Config cfg_;
  index_t d_in_, C_;
  ParamArena<B, T> arena_;
  EncoderMLP<B, T> st_pre_;
  GatResidual<B, T> st_gat_;
  Linear<B, T> st_post_;
  DecoderMLP<B, T> dec_st_;
  EncoderMLP<B, T> sc_enc_;
  DecoderMLP<B, T> dec_sc_;
  std::optional<ClassifierMLP<B, T>> clf_mlp_;
  std::optional<Linear<B, T>> clf_lin_;
  std::optional<TopKAttention<B, T>> topk_;
  std::optional<LearnableAttention<B, T>> learn_;
  MseLoss<B, T> mse_;
  CosineConsistencyLoss<B, T> cos_;
  CrossEntropyLoss<B, T> ce_;
  PearsonLoss<B, T> pearson_;
  GeneConsistencyLoss<B, T> gene_loss_;
  MmdLoss<B, T> mmd_;
  Adam<B, T> adam_;
  Matrix<B, T> z1_, dz1_, zp_, zg_, dzp_, dzg_, z2_, dz2_, imp_, dimp_, out_, dout_, logits_, dlogits_;
};

}  // namespace stai
