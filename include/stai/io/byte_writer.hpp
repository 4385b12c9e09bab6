// stai — a binary file writer that counts and checksums what it writes:
// raw bytes, little-endian arrays, zero padding to an offset, and the
// checksum itself (u64, little-endian) at the end.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "little_endian.hpp"

namespace stai {

/// Writes `temp` (the temporary file of an atomic write to `target`); every
/// message names `target` and calls it `what` (e.g. "model file"). Hasher
/// is a checksum with update(data, n) and digest() (io/checksum.hpp).
template <class Hasher>
class ByteWriter {
 public:
  ByteWriter(const std::string& temp, std::string target, std::string what)
      : target_(std::move(target)), what_(std::move(what)) {
    out_.open(temp, std::ios::binary | std::ios::trunc);
    STAI_CHECK(out_.is_open(), target_, ": cannot create the temporary file '", temp,
               "'; check write permission on the directory");
  }

  void write(const void* p, std::size_t n) {
    if (n == 0) return;
    hash_.update(p, n);
    out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    bytes_ += n;
    STAI_CHECK(out_.good(), target_, ": writing the ", what_, " failed after ", bytes_,
               " bytes; is the disk full or the file too large for this file system?");
  }
  void write(const std::string& s) { write(s.data(), s.size()); }

  /// n values, each stored as Stored (e.g. 32-bit indices from 64-bit ones;
  /// the caller makes sure they fit), little-endian.
  template <class Stored, class T>
  void write_array(const T* p, std::size_t n) {
    constexpr std::size_t chunk = std::size_t(1) << 18;  // values per block
    std::vector<char> buf;
    std::vector<Stored> conv;
    for (std::size_t a = 0; a < n; a += chunk) {
      const std::size_t m = std::min(chunk, n - a);
      buf.clear();
      if constexpr (std::is_same_v<Stored, T>) {
        detail::to_le(p + a, m, buf);
      } else {
        conv.assign(p + a, p + a + m);
        detail::to_le(conv.data(), m, buf);
      }
      write(buf.data(), buf.size());
    }
  }

  /// Zero bytes up to offset `pos` from the start of the file.
  void pad_to(std::uint64_t pos) {
    static const char zeros[8] = {};
    while (bytes_ < pos) write(zeros, static_cast<std::size_t>(std::min<std::uint64_t>(8, pos - bytes_)));
  }

  std::uint64_t bytes() const { return bytes_; }

  /// Appends the checksum of everything written (u64, little-endian; not
  /// itself checksummed) and closes the file.
  void finish() {
    const std::string h = detail::le_bytes(hash_.digest());
    out_.write(h.data(), static_cast<std::streamsize>(h.size()));
    out_.close();
    STAI_CHECK(!out_.fail(), target_, ": writing the ", what_, " failed at the end (", bytes_ + h.size(),
               " bytes); is the disk full?");
  }

 private:
  std::ofstream out_;
  std::string target_, what_;
  Hasher hash_;
  std::uint64_t bytes_ = 0;
};

}  // namespace stai
