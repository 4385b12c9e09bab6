// stai — the flat parameter arena.
//
// All trainable tensors of a model live in ONE backend block laid out as
// [ parameters | gradients | Adam m | Adam v ], each part `size()` long.
// Layers declare their tensors (declare phase), the arena allocates once,
// then layers bind raw pointers into it (pointers stay valid when the arena
// object is moved: the block itself never moves). Adam is one loop over the
// block, gradient checks and model files simply walk it.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../random.hpp"
#include "matrix.hpp"

namespace stai {

struct ParamInfo {
  std::string name;
  index_t offset = 0, rows = 0, cols = 0;
  Init init = Init::Zero;
  index_t fan_in = 0, fan_out = 0;
  index_t size() const { return rows * cols; }
};

template <class B, class T>
class ParamArena {
 public:
  /// Declares a rows x cols tensor; returns its id. Only before allocate().
  int add(std::string name, index_t rows, index_t cols, Init init, index_t fan_in, index_t fan_out) {
    STAI_CHECK(!allocated(), "ParamArena::add('", name, "') after allocate()");
    for (const auto& p : info_)
      STAI_CHECK(p.name != name, "duplicate parameter name '", name, "'");
    info_.push_back({std::move(name), total_, rows, cols, init, fan_in, fan_out});
    total_ += rows * cols;
    return static_cast<int>(info_.size() - 1);
  }
  /// Allocates the block and zeroes parameters, gradients and moments.
  void allocate(const B& be) {
    STAI_CHECK(!allocated(), "ParamArena::allocate() called twice");
    block_ = Buffer<B, T>(std::max<index_t>(4 * total_, 1));
    fill(be, block_.data(), 4 * total_, T(0));
    done_ = true;
  }
  /// Initialises every tensor by its declared Init, drawing from `rng` in
  /// declaration order (host-side, then uploaded).
  void initialize(const B& be, Rng& rng) {
    std::vector<T> host(static_cast<std::size_t>(total_));
    for (const auto& p : info_)
      init_values(host.data() + p.offset, p.size(), p.init, p.fan_in, p.fan_out, rng);
    copy_from_host(be, params(), host.data(), total_);
  }
  bool allocated() const { return done_; }
  index_t size() const { return total_; }
  const std::vector<ParamInfo>& info() const { return info_; }
  const ParamInfo& info(int id) const { return info_.at(static_cast<std::size_t>(id)); }
  int find(const std::string& name) const {
    for (std::size_t i = 0; i < info_.size(); ++i)
      if (info_[i].name == name) return static_cast<int>(i);
    return -1;
  }

  T* params() const { return need(), block_.data(); }
  T* grads() const { return need(), block_.data() + total_; }
  T* adam_m() const { return need(), block_.data() + 2 * total_; }
  T* adam_v() const { return need(), block_.data() + 3 * total_; }
  T* param(int id) const { return params() + info(id).offset; }
  T* grad(int id) const { return grads() + info(id).offset; }

  void zero_grad(const B& be) { fill(be, grads(), total_, T(0)); }
  std::vector<T> params_to_host(const B& be) const {
    std::vector<T> h(static_cast<std::size_t>(total_));
    copy_to_host(be, h.data(), params(), total_);
    return h;
  }
  std::vector<T> grads_to_host(const B& be) const {
    std::vector<T> h(static_cast<std::size_t>(total_));
    copy_to_host(be, h.data(), grads(), total_);
    return h;
  }
  void params_from_host(const B& be, const std::vector<T>& h) {
    STAI_CHECK(static_cast<index_t>(h.size()) == total_, "parameter vector has ", h.size(),
               " values, the model needs ", total_);
    copy_from_host(be, params(), h.data(), total_);
  }

 private:
  void need() const { STAI_CHECK(done_, "ParamArena used before allocate()"); }
  std::vector<ParamInfo> info_;
  index_t total_ = 0;
  Buffer<B, T> block_;
  bool done_ = false;
};

}  // namespace stai
