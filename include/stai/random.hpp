// stai — seeded, platform-independent random numbers.
//
// Everything is derived from a counter-based hash (SplitMix64 finaliser over
// (seed, stream, counter)), so the same seed gives the same bits on every
// platform, compiler and thread count, and a device kernel can compute the
// i-th number of a stream without sequential state (dropout masks).
// The standard library's distributions are NOT used: their output differs
// between library implementations.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "config.hpp"

namespace stai {

/// SplitMix64 finaliser: a bijective 64-bit mixer.
STAI_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
/// Hash of (seed, stream, counter): the counter-th number of stream `stream`.
STAI_HOST_DEVICE inline std::uint64_t hash3(std::uint64_t seed, std::uint64_t stream,
                                            std::uint64_t counter) {
  return mix64(mix64(mix64(seed) ^ stream) + counter);
}
/// Uniform in [0, 1) with 53 random bits.
STAI_HOST_DEVICE inline double u64_to_unit(std::uint64_t h) {
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

/// Sequential generator over one (seed, stream). Copyable; cheap.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  std::uint64_t next_u64() { return hash3(seed_, stream_, counter_++); }
  /// Uniform in [0, 1).
  double uniform() { return u64_to_unit(next_u64()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal by Box-Muller (one pair per two draws, no cached state).
  double normal() {
    double u1 = uniform();
    const double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  /// Uniform integer in [0, n) (n > 0), by rejection (no modulo bias).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
    std::uint64_t x;
    do x = next_u64(); while (x >= limit);
    return x % n;
  }
  /// A new generator for a sub-task, independent of this one.
  Rng split(std::uint64_t sub) const { return Rng(hash3(seed_, stream_, ~counter_), sub); }
  std::uint64_t seed() const { return seed_; }

 private:
  std::uint64_t seed_, stream_, counter_ = 0;
};

/// Fisher-Yates shuffle of 0..n-1 (deterministic for a given generator state).
inline std::vector<index_t> permutation(index_t n, Rng& rng) {
  std::vector<index_t> p(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  for (index_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

/// Parameter initialisations used by stAI.
enum class Init {
  Zero,
  Normal01,        ///< N(0, 0.1^2): the reference's SC encoder and decoders (weights and biases)
  GlorotUniform,   ///< U(-a, a), a = sqrt(6 / (fan_in + fan_out)): GAT weights and attention vectors
  TorchLinear,     ///< PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
};

/// Fills `out` (n values) with an initialisation; fan_in/fan_out as PyTorch
/// computes them for the tensor the values belong to.
template <class T>
void init_values(T* out, index_t n, Init kind, index_t fan_in, index_t fan_out, Rng& rng) {
  switch (kind) {
    case Init::Zero:
      for (index_t i = 0; i < n; ++i) out[i] = T(0);
      break;
    case Init::Normal01:
      for (index_t i = 0; i < n; ++i) out[i] = static_cast<T>(rng.normal(0.0, 0.1));
      break;
    case Init::GlorotUniform: {
      const double a = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
      for (index_t i = 0; i < n; ++i) out[i] = static_cast<T>(rng.uniform(-a, a));
      break;
    }
    case Init::TorchLinear: {
      // kaiming_uniform_(a = sqrt(5)) gives bound = 1/sqrt(fan_in) for the
      // weight; the bias uses the same bound.
      const double a = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
      for (index_t i = 0; i < n; ++i) out[i] = static_cast<T>(rng.uniform(-a, a));
      break;
    }
  }
}

}  // namespace stai
