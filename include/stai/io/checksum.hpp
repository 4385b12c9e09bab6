// stai — 64-bit checksums of byte streams, fed in pieces.
//
// Xxh3_64 is xxHash's XXH3 (64 bit, seed 0; libxxhash, linked through
// stai::io): what stai's binary files are checked with. Fnv1a64 (FNV-1a,
// 64 bit, one byte at a time) is kept only to verify model files of format
// version 1, which were checked with it. Both have the same interface:
// update(data, n) any number of times, then digest().
#pragma once
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "../error.hpp"

namespace stai {

/// XXH3-64 (seed 0) of everything passed to update().
class Xxh3_64 {
 public:
  Xxh3_64() : state_(XXH3_createState()) {
    STAI_CHECK(state_ != nullptr && XXH3_64bits_reset(state_.get()) == XXH_OK,
               "cannot set up an XXH3 checksum (out of memory)");
  }
  void update(const void* data, std::size_t n) {
    if (n == 0) return;
    STAI_CHECK(XXH3_64bits_update(state_.get(), data, n) == XXH_OK, "updating an XXH3 checksum failed");
  }
  std::uint64_t digest() const { return XXH3_64bits_digest(state_.get()); }

 private:
  struct Free {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, Free> state_;
};

/// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of
/// everything passed to update().
class Fnv1a64 {
 public:
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ULL;
    }
  }
  std::uint64_t digest() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace stai
