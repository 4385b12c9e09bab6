// stai — an open HDF5 object (file, group or dataset) and the reading of its
// attributes (strings, numbers, enums/bools, object references).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "handle.hpp"

namespace stai::h5 {

namespace detail {

/// Converts n fixed-length strings of width w (NUL- or space-padded) to std::string.
inline std::vector<std::string> split_fixed(const std::vector<char>& buf, std::size_t n,
                                            std::size_t w, bool space_pad) {
  std::vector<std::string> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * w;
    std::size_t len = 0;
    while (len < w && s[len] != '\0') ++len;
    if (space_pad)
      while (len > 0 && s[len - 1] == ' ') --len;
    out[i].assign(s, len);
  }
  return out;
}

/// Reads every element of a dataset/attribute of string type into std::strings.
/// `read(memtype, buffer)` performs the H5Dread/H5Aread; `space` is the file space.
template <class ReadFn>
std::vector<std::string> read_strings_impl(hid_t filetype, hid_t space, std::uint64_t n,
                                           ReadFn&& read, const std::string& file,
                                           const std::string& path) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(filetype) > 0) {
    check_alloc(file, path, n, sizeof(char*), "reading strings");
    Hid mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt.get(), H5T_VARIABLE);
    H5Tset_cset(mt.get(), H5Tget_cset(filetype));
    std::vector<char*> ptrs(n, nullptr);
    if (read(mt.get(), ptrs.data()) < 0) fail(file, path, "cannot read variable-length strings");
    out.resize(n);
    for (std::uint64_t i = 0; i < n; ++i)
      if (ptrs[i]) out[i] = ptrs[i];
    H5Dvlen_reclaim(mt.get(), space, H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t w = H5Tget_size(filetype);
    if (w == 0) fail(file, path, "fixed-length string type of width 0");
    check_alloc(file, path, n, w, "reading fixed-length strings");
    Hid mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt.get(), w);
    H5Tset_strpad(mt.get(), H5T_STR_NULLPAD);
    H5Tset_cset(mt.get(), H5Tget_cset(filetype));
    std::vector<char> buf(n * w, '\0');
    if (read(mt.get(), buf.data()) < 0) fail(file, path, "cannot read fixed-length strings");
    out = split_fixed(buf, n, w, H5Tget_strpad(filetype) == H5T_STR_SPACEPAD);
  }
  return out;
}

/// Reads an enum (e.g. h5py bool) or integer stored with `filetype` into int64 values.
template <class ReadFn>
std::vector<std::int64_t> read_enum_impl(hid_t filetype, std::uint64_t n, ReadFn&& read,
                                         const std::string& file, const std::string& path) {
  Hid base(H5Tget_super(filetype));
  if (!base.valid()) fail(file, path, "enum type without a base integer type");
  Hid native(H5Tget_native_type(filetype, H5T_DIR_ASCEND));
  const std::size_t w = H5Tget_size(native.get());
  const bool sgn = H5Tget_sign(base.get()) != H5T_SGN_NONE;
  if (w != 1 && w != 2 && w != 4 && w != 8) fail(file, path, "enum of unsupported width");
  check_alloc(file, path, n, w, "reading enum values");
  std::vector<unsigned char> buf(n * w);
  if (read(native.get(), buf.data()) < 0) fail(file, path, "cannot read enum values");
  std::vector<std::int64_t> out(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const unsigned char* p = buf.data() + i * w;
    std::int64_t v = 0;
    if (w == 1) v = sgn ? std::int64_t(std::int8_t(p[0])) : std::int64_t(p[0]);
    else if (w == 2) { std::int16_t s; std::uint16_t u; std::memcpy(&s, p, 2); std::memcpy(&u, p, 2); v = sgn ? s : u; }
    else if (w == 4) { std::int32_t s; std::uint32_t u; std::memcpy(&s, p, 4); std::memcpy(&u, p, 4); v = sgn ? std::int64_t(s) : std::int64_t(u); }
    else { std::memcpy(&v, p, 8); }
    out[i] = v;
  }
  return out;
}

}  // namespace detail

/// Common part of files, groups and datasets: an open id plus its file name
/// and HDF5 path (for error messages), and attribute reading (writing:
/// write.hpp).
class Object {
 public:
  Object() = default;
  Object(Hid id, std::string file, std::string path)
      : id_(std::move(id)), file_(std::move(file)), path_(std::move(path)) {}
  hid_t id() const { return id_.get(); }
  bool valid() const { return id_.valid(); }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const { h5::fail(file_, path_, what); }
  std::string child_path(const std::string& name) const {
    return (path_.empty() || path_ == "/") ? "/" + name : path_ + "/" + name;
  }

  // ---- attributes ---------------------------------------------------------
  bool has_attr(const std::string& name) const {
    htri_t r = H5Aexists(id(), name.c_str());
    if (r < 0) fail("cannot query attribute '" + name + "'");
    return r > 0;
  }
  /// Type of attribute `name` (throws if absent).
  TypeInfo attr_type(const std::string& name) const {
    Hid a = open_attr(name);
    Hid t(H5Aget_type(a.get()));
    return type_info(t.get());
  }
  /// Number of elements of attribute `name` (1 for scalars).
  std::uint64_t attr_size(const std::string& name) const {
    Hid a = open_attr(name);
    Hid s(H5Aget_space(a.get()));
    hssize_t n = H5Sget_simple_extent_npoints(s.get());
    if (n < 0) fail("cannot get the size of attribute '" + name + "'");
    return static_cast<std::uint64_t>(n);
  }
  /// All values of a string attribute (scalar or 1-D).
  std::vector<std::string> attr_strings(const std::string& name) const {
    Hid a = open_attr(name);
    Hid t(H5Aget_type(a.get()));
    Hid s(H5Aget_space(a.get()));
    const std::string where = path_ + "@" + name;
    if (H5Tget_class(t.get()) != H5T_STRING)
      h5::fail(file_, where,
               std::string("attribute must hold strings but holds ") + type_info(t.get()).name());
    hssize_t n = H5Sget_simple_extent_npoints(s.get());
    if (n < 0) h5::fail(file_, where, "cannot get attribute size");
    return detail::read_strings_impl(
        t.get(), s.get(), static_cast<std::uint64_t>(n),
        [&](hid_t mt, void* buf) { return H5Aread(a.get(), mt, buf); }, file_, where);
  }
  /// A scalar (or one-element) string attribute.
  std::string attr_string(const std::string& name) const {
    auto v = attr_strings(name);
    if (v.size() != 1)
      h5::fail(file_, path_ + "@" + name,
               ::stai::detail::concat("expected one string, found ", v.size()));
    return v[0];
  }
  /// String attribute or `fallback` when absent or not a string.
  std::string attr_string_or(const std::string& name, const std::string& fallback) const {
    if (!has_attr(name)) return fallback;
    Hid a = open_attr(name);
    Hid t(H5Aget_type(a.get()));
    if (H5Tget_class(t.get()) != H5T_STRING) return fallback;
    auto v = attr_strings(name);
    return v.size() == 1 ? v[0] : fallback;
  }
  /// Numeric (integer, float or enum/bool) attribute values as int64.
  std::vector<std::int64_t> attr_int64s(const std::string& name) const {
    Hid a = open_attr(name);
    Hid t(H5Aget_type(a.get()));
    Hid s(H5Aget_space(a.get()));
    const std::string where = path_ + "@" + name;
    TypeInfo ti = type_info(t.get());
    hssize_t n = H5Sget_simple_extent_npoints(s.get());
    if (n < 0) h5::fail(file_, where, "cannot get attribute size");
    auto read = [&](hid_t mt, void* buf) { return H5Aread(a.get(), mt, buf); };
    if (ti.cls == TypeInfo::Class::Enum)
      return detail::read_enum_impl(t.get(), static_cast<std::uint64_t>(n), read, file_, where);
    if (ti.cls != TypeInfo::Class::Integer && ti.cls != TypeInfo::Class::Float)
      h5::fail(file_, where, std::string("attribute must be numeric but holds ") + ti.name());
    check_alloc(file_, where, static_cast<std::uint64_t>(n), 8, "reading an attribute");
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    if (n > 0 && read(H5T_NATIVE_INT64, v.data()) < 0)
      h5::fail(file_, where, "cannot read integer attribute");
    return v;
  }
  /// Follows an object-reference attribute (anndata 0.7 categoricals) and
  /// returns the HDF5 path it points to.
  std::string attr_reference_path(const std::string& name) const {
    Hid a = open_attr(name);
    Hid t(H5Aget_type(a.get()));
    const std::string where = path_ + "@" + name;
    if (H5Tget_class(t.get()) != H5T_REFERENCE || H5Tequal(t.get(), H5T_STD_REF_OBJ) <= 0)
      h5::fail(file_, where, "attribute is not an object reference");
    Hid s(H5Aget_space(a.get()));
    if (H5Sget_simple_extent_npoints(s.get()) != 1)
      h5::fail(file_, where, "expected a single object reference");
    hobj_ref_t ref{};
    if (H5Aread(a.get(), H5T_STD_REF_OBJ, &ref) < 0) h5::fail(file_, where, "cannot read reference");
    Hid obj(H5Rdereference2(id(), H5P_DEFAULT, H5R_OBJECT, &ref));
    if (!obj.valid()) h5::fail(file_, where, "dangling object reference");
    ssize_t len = H5Iget_name(obj.get(), nullptr, 0);
    if (len <= 0) h5::fail(file_, where, "referenced object has no name");
    std::string p(static_cast<std::size_t>(len) + 1, '\0');
    H5Iget_name(obj.get(), p.data(), p.size());
    p.resize(static_cast<std::size_t>(len));
    return p;
  }

 protected:
  Hid open_attr(const std::string& name) const {
    if (!has_attr(name)) fail("attribute '" + name + "' is missing");
    Hid a(H5Aopen(id(), name.c_str(), H5P_DEFAULT));
    if (!a.valid()) fail("cannot open attribute '" + name + "'");
    return a;
  }

  Hid id_;
  std::string file_, path_;
};

}  // namespace stai::h5
