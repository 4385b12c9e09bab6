// stai — the base of the HDF5 wrappers used by the .h5ad and .loom readers
// and writers: error reporting, the read-size limit, the owning handle (Hid)
// and datatype classification.
//
// Every failure throws stai::Error naming the file and the HDF5 path of the
// object concerned, plus the innermost message of HDF5's own error stack.
// HDF5's automatic error printing is switched off (silence_errors()) the
// first time any file is opened or created through these wrappers.
//
// Sizes read from a file are never trusted blindly: every allocation driven
// by file content goes through check_alloc(), which refuses anything above
// max_read_bytes() (default 64 GiB; fuzzers lower it).
#pragma once
#include <hdf5.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "../../config.hpp"
#include "../../error.hpp"

namespace stai::h5 {

/// Turns off HDF5's printing of its error stack to stderr (stai reports errors itself).
inline void silence_errors() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

/// The innermost (most specific) description on HDF5's current error stack, or "".
inline std::string last_hdf5_message() {
  struct Acc {
    std::string text;
  } acc;
  auto walk = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    auto* a = static_cast<Acc*>(data);
    if (n == 0 && e && e->desc && e->desc[0]) a->text = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &acc);
  H5Eclear2(H5E_DEFAULT);
  return acc.text;
}

/// Upper bound on any single allocation whose size comes from file content.
inline std::atomic<std::uint64_t>& max_read_bytes() {
  static std::atomic<std::uint64_t> limit{std::uint64_t(64) << 30};
  return limit;
}

[[noreturn]] inline void fail(const std::string& file, const std::string& path,
                              const std::string& what) {
  std::string hdf = last_hdf5_message();
  std::string msg = file + ": " + (path.empty() ? std::string("/") : path) + ": " + what;
  if (!hdf.empty()) msg += " (HDF5: " + hdf + ")";
  throw Error(msg);
}

/// Throws unless count elements of elem_size bytes fit under max_read_bytes().
inline void check_alloc(const std::string& file, const std::string& path, std::uint64_t count,
                        std::uint64_t elem_size, const char* what) {
  const std::uint64_t limit = max_read_bytes().load();
  if (elem_size != 0 && count > limit / elem_size)
    fail(file, path,
         ::stai::detail::concat(what, " would need ", count, " x ", elem_size,
                        " bytes, more than the read limit of ", limit,
                        " bytes; the file is corrupt or too large (raise "
                        "stai::h5::max_read_bytes() if it is genuine)"));
}

/// Owns one hid_t of any kind and closes it with the matching H5*close.
class Hid {
 public:
  Hid() = default;
  explicit Hid(hid_t id) : id_(id) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Hid() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; returns false when HDF5 reports an error (e.g. a failed flush).
  bool reset() noexcept {
    if (id_ < 0) return true;
    herr_t r = 0;
    switch (H5Iget_type(id_)) {
      case H5I_FILE: r = H5Fclose(id_); break;
      case H5I_GROUP: r = H5Gclose(id_); break;
      case H5I_DATASET: r = H5Dclose(id_); break;
      case H5I_DATASPACE: r = H5Sclose(id_); break;
      case H5I_DATATYPE: r = H5Tclose(id_); break;
      case H5I_ATTR: r = H5Aclose(id_); break;
      case H5I_GENPROP_LST: r = H5Pclose(id_); break;
      default: r = H5Idec_ref(id_) < 0 ? -1 : 0; break;
    }
    id_ = H5I_INVALID_HID;
    return r >= 0;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// What a datatype holds, in the terms the readers need.
struct TypeInfo {
  enum class Class { Integer, Float, String, Enum, Compound, Reference, Other };
  Class cls = Class::Other;
  std::size_t size = 0;
  bool is_signed = true;
  bool vlen_string = false;
  bool numeric() const { return cls == Class::Integer || cls == Class::Float || cls == Class::Enum; }
  const char* name() const {
    switch (cls) {
      case Class::Integer: return "integer";
      case Class::Float: return "floating point";
      case Class::String: return "string";
      case Class::Enum: return "enum/bool";
      case Class::Compound: return "compound (structured)";
      case Class::Reference: return "object reference";
      default: return "unsupported";
    }
  }
};

inline TypeInfo type_info(hid_t type) {
  TypeInfo t;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: t.cls = TypeInfo::Class::Integer; break;
    case H5T_FLOAT: t.cls = TypeInfo::Class::Float; break;
    case H5T_STRING: t.cls = TypeInfo::Class::String; break;
    case H5T_ENUM: t.cls = TypeInfo::Class::Enum; break;
    case H5T_COMPOUND: t.cls = TypeInfo::Class::Compound; break;
    case H5T_REFERENCE: t.cls = TypeInfo::Class::Reference; break;
    default: t.cls = TypeInfo::Class::Other; break;
  }
  t.size = H5Tget_size(type);
  if (t.cls == TypeInfo::Class::Integer) t.is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
  if (t.cls == TypeInfo::Class::String) t.vlen_string = H5Tis_variable_str(type) > 0;
  return t;
}

namespace detail {

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return H5T_NATIVE_INT16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}

}  // namespace detail

}  // namespace stai::h5
