// stai — the model file format: a fitted ensemble (a ModelBundle,
// model/model_bundle.hpp) in ONE versioned, checksummed file.
//
// Layout (all integers little-endian):
//
//   offset 0   "STAIMODL"                      8-byte magic
//   offset 8   u32  format version             (model_file_format_version)
//   offset 12  u64  H = header length in bytes
//   offset 20  header: H bytes of UTF-8 JSON, padded with spaces so that the
//              data area starts at a multiple of 8
//   20 + H     data area: D bytes ("data_bytes" in the header). Binary
//              sections, each listed in the header's "sections" array as
//              {name, offset, count, dtype[, shape]}; offsets are relative to
//              the start of the data area and 8-byte aligned (zero padding).
//   20 + H + D u64  checksum of every preceding byte: XXH3-64 (seed 0) from
//              format version 2 on, FNV-1a 64 in format version 1. The two
//              versions differ in nothing else.
//
// The header holds the stai library version, the format version, the creation
// time (UTC), the configuration (Config::to_json), the seed, the model genes,
// the class names, per submodel its fitting / calibration gene indices, its
// final loss terms and its parameter layout, the scaling statistics of the
// spatial and the reference side, the reference genes available for
// imputation, the reference cell count and free user metadata (an object).
// dtype is one of "f32", "i32", "i64". Sections:
//   submodel.<f>.params     f32  the submodel's parameter block
//   submodel.<f>.ref_codes  f32  its reference codes, shape [n2, d_latent]
//   reference.indptr        i64  CSR row pointers of the reference values (n2 + 1)
//   reference.indices       i32  CSR column indices (ascending within a row)
//   reference.values        f32  CSR values (log-normalised expression)
// Doubles in the header are written in shortest round-trip form, so a saved
// and re-loaded bundle is bit-identical; non-finite ones as "nan"/"inf"/"-inf".
//
// save_model (io/model_file_write.hpp) writes atomically; load_model
// (io/model_file_read.hpp) checks, in this order: the magic, the format
// version, the length, the checksum, then the header fields and every
// section against the header, so every failure names the file and what to do.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "checksum.hpp"

namespace stai {

/// The model-file format this build writes, and the range it reads.
inline constexpr std::uint32_t model_file_format_version = 2;
inline constexpr std::uint32_t model_file_min_read_version = 1;
inline constexpr std::uint32_t model_file_max_read_version = 2;
/// The 8 bytes every stai model file starts with.
inline constexpr char model_file_magic[9] = "STAIMODL";

namespace detail::model_file {

inline constexpr std::size_t prefix_bytes = 20;  // magic + version + header length
inline constexpr std::size_t checksum_bytes = 8;

/// Calls f with a fresh checksum object of the algorithm of format version
/// `version` (one this build reads) and returns what f returns.
template <class F>
decltype(auto) with_checksum(std::uint32_t version, F&& f) {
  if (version == 1) return std::forward<F>(f)(Fnv1a64{});
  return std::forward<F>(f)(Xxh3_64{});
}
/// The name of that algorithm, for messages.
inline const char* checksum_name(std::uint32_t version) { return version == 1 ? "FNV-1a 64" : "XXH3-64"; }

template <class T>
struct Dtype;
template <>
struct Dtype<float> {
  static constexpr const char* name = "f32";
};
template <>
struct Dtype<std::int32_t> {
  static constexpr const char* name = "i32";
};
template <>
struct Dtype<std::int64_t> {
  static constexpr const char* name = "i64";
};
/// Bytes per value of a dtype; 0 for an unknown one.
inline std::uint64_t dtype_size(const std::string& d) {
  if (d == "f32" || d == "i32") return 4;
  if (d == "i64") return 8;
  return 0;
}

/// One section of the data area.
struct Section {
  std::string name, dtype;
  std::uint64_t offset = 0, count = 0;
  std::vector<index_t> shape;  // empty: 1-D
};

}  // namespace detail::model_file
}  // namespace stai
