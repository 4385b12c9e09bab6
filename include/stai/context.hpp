// stai — the per-call context passed to every layer, loss and head.
#pragma once
#include <cstdint>

#include "config.hpp"

namespace stai {

/// Whether a GEMM operand is used as stored or transposed (every backend).
enum class Op { N, T };

/// What a forward/backward call needs besides its tensors: the backend
/// instance, train/eval mode, and the counters that make dropout masks a pure
/// function of (seed, step, layer, element) — the same bits on every backend
/// and thread count, and recomputable in backward without storing the mask.
template <class B>
struct Context {
  B& be;
  bool training = false;
  std::uint64_t seed = 0;  ///< run seed
  std::uint64_t step = 0;  ///< optimisation step (advance once per step)
};

/// How a backward pass stores an input gradient: overwrite (=) or add (+=).
/// Parameter gradients ALWAYS accumulate (+=); input (activation) gradients
/// are written unless the caller asks to accumulate. Losses always ADD
/// weight * gradient into the gradient buffers they are given.
enum class Grad { Write, Accumulate };

}  // namespace stai
