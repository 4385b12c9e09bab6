// stai — dropout masks as a pure function of (seed, step, salt, element).
//
// The keep decision for element i is
//     keep(i) = u64_to_unit(hash3(seed, dropout_stream(salt, step), i)) >= p
// so forward and backward recompute the same mask without storing it, and
// every backend and thread count gives the same bits. Kept elements are
// scaled by 1 / (1 - p) (PyTorch's inverted dropout).
#pragma once
#include <cstdint>

#include "../config.hpp"
#include "../random.hpp"

namespace stai::ops {

/// The hash stream of one dropout layer (salt) at one optimisation step.
/// The step is spread over the high bits by an odd constant, so small salts
/// and small step counts never collide.
STAI_HOST_DEVICE inline std::uint64_t dropout_stream(std::uint64_t salt, std::uint64_t step) {
  return salt ^ (step * 0xD1B54A32D192ED03ULL);
}

/// Whether element i is kept (p in [0, 1)).
STAI_HOST_DEVICE inline bool dropout_keep(std::uint64_t seed, std::uint64_t stream, index_t i,
                                          double p) {
  return u64_to_unit(hash3(seed, stream, static_cast<std::uint64_t>(i))) >= p;
}
/// The per-launch part of hash3(seed, stream, i) = mix64(key + i): computed
/// once on the host so that each element costs one mix64 (same bits).
STAI_HOST_DEVICE inline std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t stream) {
  return mix64(mix64(seed) ^ stream);
}
/// dropout_keep(seed, stream, i, p) from key = dropout_key(seed, stream).
STAI_HOST_DEVICE inline bool dropout_keep_key(std::uint64_t key, index_t i, double p) {
  return u64_to_unit(mix64(key + static_cast<std::uint64_t>(i))) >= p;
}

/// y[i] = (add ? add[i] : 0) + (keep(i) ? x[i] * scale : 0); when !active
/// the mask is all ones and scale is ignored (y = add + x).
/// x and y may alias; `add` may alias y.
template <class T>
struct DropoutFwd {
  const T* x;
  T* y;
  const T* add;  ///< optional residual added to the output (nullptr: none)
  std::uint64_t key;  ///< dropout_key(seed, stream)
  double p;
  T scale;  ///< 1 / (1 - p)
  bool active;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T v = !active ? x[i] : dropout_keep_key(key, i, p) ? x[i] * scale : T(0);
    y[i] = add ? add[i] + v : v;
  }
};

/// dx[i] = keep(i) ? dy[i] * scale : 0, written or added. dy and dx may alias
/// (when not accumulating).
template <class T>
struct DropoutBwd {
  const T* dy;
  T* dx;
  std::uint64_t key;  ///< dropout_key(seed, stream)
  double p;
  T scale;
  bool accumulate;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    const T g = dropout_keep_key(key, i, p) ? dy[i] * scale : T(0);
    dx[i] = accumulate ? dx[i] + g : g;
  }
};

}  // namespace stai::ops
