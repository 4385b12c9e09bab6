// stai — random access to a binary file: raw bytes at an offset, checksums
// of byte ranges, and little-endian arrays converted to the caller's type.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "little_endian.hpp"

namespace stai {

/// Opens `path` for reading; every message names the file and calls it
/// `what` (e.g. "model file").
class ByteReader {
 public:
  ByteReader(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
    namespace fs = std::filesystem;
    std::error_code ec;
    STAI_CHECK(fs::exists(path_, ec), path_, ": ", what_, " not found; check the path");
    STAI_CHECK(!fs::is_directory(path_, ec), path_, ": is a directory, not a ", what_);
    in_.open(path_, std::ios::binary);
    STAI_CHECK(in_.is_open(), path_, ": cannot open the ", what_, " for reading; check its permissions");
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(in_.tellg());
    in_.seekg(0);
  }

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }

  /// n bytes at `offset` into dst; throws naming `part` when the file ends early.
  void read(std::uint64_t offset, void* dst, std::size_t n, const std::string& part) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    STAI_CHECK(in_.good(), path_, ": reading ", part, " of the ", what_, " failed");
  }
  /// n bytes at `offset` as a string.
  std::string read_string(std::uint64_t offset, std::size_t n, const std::string& part) {
    std::string s(n, '\0');
    read(offset, s.data(), n, part);
    return s;
  }

  /// Feeds bytes [from, to) to hash (update(data, n), io/checksum.hpp).
  template <class Hasher>
  void checksum(std::uint64_t from, std::uint64_t to, Hasher& hash) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(from));
    std::vector<char> buf(std::size_t(1) << 20);
    for (std::uint64_t at = from; at < to;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(to - at, buf.size()));
      in_.read(buf.data(), static_cast<std::streamsize>(n));
      STAI_CHECK(in_.good(), path_, ": reading the ", what_, " failed at byte ", at);
      hash.update(buf.data(), n);
      at += n;
    }
  }

  /// count values stored as little-endian Stored at `offset`, converted to T.
  template <class Stored, class T>
  void read_array(std::uint64_t offset, std::uint64_t count, T* dst, const std::string& part) {
    constexpr std::size_t chunk = std::size_t(1) << 18;  // values per block
    std::vector<char> buf;
    std::vector<Stored> conv;
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    for (std::uint64_t a = 0; a < count; a += chunk) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, count - a));
      buf.resize(n * sizeof(Stored));
      in_.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      STAI_CHECK(in_.good(), path_, ": reading ", part, " of the ", what_, " failed");
      if constexpr (std::is_same_v<Stored, T>) {
        detail::from_le(buf.data(), n, dst + a);
      } else {
        conv.resize(n);
        detail::from_le(buf.data(), n, conv.data());
        std::copy(conv.begin(), conv.end(), dst + a);
      }
    }
  }

 private:
  std::string path_, what_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

}  // namespace stai
