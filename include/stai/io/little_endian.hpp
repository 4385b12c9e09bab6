// stai — little-endian encoding of integers and floats, the byte order of
// stai's binary files (model files), on any host.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace stai::detail {

template <class U>
U byteswap(U v) {
  static_assert(std::is_integral_v<U> && std::is_unsigned_v<U>);
  U r = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) r = static_cast<U>((r << 8) | ((v >> (8 * i)) & 0xff));
  return r;
}
template <class T>
using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;

/// Little-endian bytes of n values, appended to `out`.
template <class T>
void to_le(const T* src, std::size_t n, std::vector<char>& out) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  const std::size_t at = out.size();
  out.resize(at + n * sizeof(T));
  if constexpr (std::endian::native == std::endian::little) {
    if (n) std::memcpy(out.data() + at, src, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const Bits<T> b = byteswap(std::bit_cast<Bits<T>>(src[i]));
      std::memcpy(out.data() + at + i * sizeof(T), &b, sizeof(T));
    }
  }
}

/// n values from little-endian bytes.
template <class T>
void from_le(const char* src, std::size_t n, T* dst) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  if (n) std::memcpy(dst, src, n * sizeof(T));
  if constexpr (std::endian::native != std::endian::little)
    for (std::size_t i = 0; i < n; ++i) dst[i] = std::bit_cast<T>(byteswap(std::bit_cast<Bits<T>>(dst[i])));
}

/// The little-endian bytes of an unsigned integer.
template <class U>
std::string le_bytes(U v) {
  static_assert(std::is_integral_v<U> && std::is_unsigned_v<U>);
  std::string s(sizeof(U), '\0');
  for (std::size_t i = 0; i < sizeof(U); ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// An unsigned integer from its little-endian bytes.
template <class U>
U read_le(const unsigned char* p) {
  static_assert(std::is_integral_v<U> && std::is_unsigned_v<U>);
  U v = 0;
  for (std::size_t i = sizeof(U); i-- > 0;) v = static_cast<U>((v << 8) | p[i]);
  return v;
}

}  // namespace stai::detail
