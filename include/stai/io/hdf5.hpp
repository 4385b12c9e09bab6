// stai — small RAII wrappers over the HDF5 C API (hid_t), used by the .h5ad
// and .loom readers/writers.
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

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"

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

/// A variable-length UTF-8 string datatype (what h5py/anndata write).
inline Hid vlen_utf8_type() {
  Hid t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

/// Enum {FALSE=0, TRUE=1} over int8, as h5py stores numpy bools.
inline Hid bool_enum_type() {
  Hid t(H5Tenum_create(H5T_NATIVE_INT8));
  std::int8_t v = 0;
  H5Tenum_insert(t.get(), "FALSE", &v);
  v = 1;
  H5Tenum_insert(t.get(), "TRUE", &v);
  return t;
}

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

class Group;

/// Common part of files, groups and datasets: an open id plus its file name
/// and HDF5 path (for error messages), and attribute access.
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

  // ---- attribute writing ----------------------------------------------------
  void write_attr_string(const std::string& name, const std::string& value) const {
    Hid t = detail::vlen_utf8_type();
    Hid s(H5Screate(H5S_SCALAR));
    Hid a = create_attr(name, t.get(), s.get());
    const char* p = value.c_str();
    if (H5Awrite(a.get(), t.get(), &p) < 0) fail("cannot write attribute '" + name + "'");
  }
  void write_attr_strings(const std::string& name, const std::vector<std::string>& values) const {
    Hid t = detail::vlen_utf8_type();
    hsize_t n = values.size();
    Hid s(H5Screate_simple(1, &n, nullptr));
    Hid a = create_attr(name, t.get(), s.get());
    std::vector<const char*> p(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i].c_str();
    if (!p.empty() && H5Awrite(a.get(), t.get(), p.data()) < 0)
      fail("cannot write attribute '" + name + "'");
  }
  /// An empty float64 1-D attribute (what anndata writes for an empty column-order).
  void write_attr_empty_array(const std::string& name) const {
    hsize_t n = 0;
    Hid s(H5Screate_simple(1, &n, nullptr));
    create_attr(name, H5T_IEEE_F64LE, s.get());
  }
  void write_attr_int64s(const std::string& name, const std::vector<std::int64_t>& values) const {
    hsize_t n = values.size();
    Hid s(H5Screate_simple(1, &n, nullptr));
    Hid a = create_attr(name, H5T_STD_I64LE, s.get());
    if (!values.empty() && H5Awrite(a.get(), H5T_NATIVE_INT64, values.data()) < 0)
      fail("cannot write attribute '" + name + "'");
  }
  void write_attr_bool(const std::string& name, bool value) const {
    Hid t = detail::bool_enum_type();
    Hid s(H5Screate(H5S_SCALAR));
    Hid a = create_attr(name, t.get(), s.get());
    std::int8_t v = value ? 1 : 0;
    if (H5Awrite(a.get(), t.get(), &v) < 0) fail("cannot write attribute '" + name + "'");
  }
  /// encoding-type / encoding-version pair of the anndata format.
  void write_encoding(const std::string& type, const std::string& version) const {
    write_attr_string("encoding-type", type);
    write_attr_string("encoding-version", version);
  }

 protected:
  Hid open_attr(const std::string& name) const {
    if (!has_attr(name)) fail("attribute '" + name + "' is missing");
    Hid a(H5Aopen(id(), name.c_str(), H5P_DEFAULT));
    if (!a.valid()) fail("cannot open attribute '" + name + "'");
    return a;
  }
  Hid create_attr(const std::string& name, hid_t type, hid_t space) const {
    if (has_attr(name) && H5Adelete(id(), name.c_str()) < 0)
      fail("cannot replace attribute '" + name + "'");
    Hid a(H5Acreate2(id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
    if (!a.valid()) fail("cannot create attribute '" + name + "'");
    return a;
  }

  Hid id_;
  std::string file_, path_;
};

/// An open HDF5 dataset.
class Dataset : public Object {
 public:
  using Object::Object;

  TypeInfo type() const {
    Hid t(H5Dget_type(id()));
    if (!t.valid()) fail("cannot get the datatype");
    return type_info(t.get());
  }
  std::vector<std::uint64_t> dims() const {
    Hid s(H5Dget_space(id()));
    int nd = H5Sget_simple_extent_ndims(s.get());
    if (nd < 0) fail("cannot get the dataspace");
    std::vector<hsize_t> d(static_cast<std::size_t>(nd));
    if (nd > 0) H5Sget_simple_extent_dims(s.get(), d.data(), nullptr);
    return std::vector<std::uint64_t>(d.begin(), d.end());
  }
  int rank() const { return static_cast<int>(dims().size()); }
  std::uint64_t size() const {
    std::uint64_t n = 1;
    for (auto d : dims()) {
      if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d)
        fail("dataset size overflows");
      n *= d;
    }
    return n;
  }

  /// Reads the whole dataset converted to T (numeric types and enums/bools).
  template <class T>
  std::vector<T> read() const {
    const std::uint64_t n = size();
    check_alloc(file_, path_, n, sizeof(T), "reading the dataset");
    std::vector<T> v(static_cast<std::size_t>(n));
    read_into(v.data(), n);
    return v;
  }
  /// Reads the whole dataset converted to T into out[0 .. size()).
  template <class T>
  void read_into(T* out, std::uint64_t expected) const {
    const std::uint64_t n = size();
    if (n != expected)
      fail(::stai::detail::concat("expected ", expected, " elements but the dataset holds ", n));
    if (n == 0) return;
    Hid ft(H5Dget_type(id()));
    TypeInfo ti = type_info(ft.get());
    if (ti.cls == TypeInfo::Class::Enum) {
      auto v = detail::read_enum_impl(
          ft.get(), n, [&](hid_t mt, void* buf) { return H5Dread(id(), mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); },
          file_, path_);
      for (std::uint64_t i = 0; i < n; ++i) out[i] = static_cast<T>(v[i]);
      return;
    }
    require_numeric(ti);
    if (H5Dread(id(), detail::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
      fail("cannot read the data (corrupt file or unsupported conversion)");
  }
  /// Reads elements [offset, offset + count) of a 1-D dataset converted to T.
  template <class T>
  void read_slice(std::uint64_t offset, std::uint64_t count, T* out) const {
    auto d = dims();
    if (d.size() != 1) fail("expected a 1-D dataset");
    if (offset > d[0] || count > d[0] - offset)
      fail(::stai::detail::concat("slice [", offset, ", ", offset + count, ") is outside the dataset of length ", d[0]));
    if (count == 0) return;
    require_numeric(type());
    hsize_t off = offset, cnt = count;
    Hid fs(H5Dget_space(id()));
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &off, nullptr, &cnt, nullptr);
    Hid ms(H5Screate_simple(1, &cnt, nullptr));
    if (H5Dread(id(), detail::native_type<T>(), ms.get(), fs.get(), H5P_DEFAULT, out) < 0)
      fail(::stai::detail::concat("cannot read elements [", offset, ", ", offset + count, ")"));
  }
  /// Reads rows [r0, r0 + n) of a 2-D dataset (row-major) converted to T.
  template <class T>
  void read_rows(std::uint64_t r0, std::uint64_t n, T* out) const {
    auto d = dims();
    if (d.size() != 2) fail("expected a 2-D dataset");
    if (r0 > d[0] || n > d[0] - r0) fail("row block outside the dataset");
    if (n == 0 || d[1] == 0) return;
    require_numeric(type());
    hsize_t off[2] = {r0, 0}, cnt[2] = {n, d[1]};
    Hid fs(H5Dget_space(id()));
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr);
    Hid ms(H5Screate_simple(2, cnt, nullptr));
    if (H5Dread(id(), detail::native_type<T>(), ms.get(), fs.get(), H5P_DEFAULT, out) < 0)
      fail(::stai::detail::concat("cannot read rows [", r0, ", ", r0 + n, ")"));
  }
  /// Reads a string dataset (variable- or fixed-length) of any rank, flattened.
  std::vector<std::string> read_strings() const {
    Hid ft(H5Dget_type(id()));
    TypeInfo ti = type_info(ft.get());
    if (ti.cls != TypeInfo::Class::String)
      fail(std::string("expected strings but the dataset holds ") + ti.name() + " values");
    Hid s(H5Dget_space(id()));
    return detail::read_strings_impl(
        ft.get(), s.get(), size(),
        [&](hid_t mt, void* buf) { return H5Dread(id(), mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); },
        file_, path_);
  }

  // ---- compound (structured) datasets: old anndata obs/var ------------------
  std::vector<std::string> member_names() const {
    Hid ft(H5Dget_type(id()));
    if (H5Tget_class(ft.get()) != H5T_COMPOUND) fail("not a compound dataset");
    int n = H5Tget_nmembers(ft.get());
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) {
      char* nm = H5Tget_member_name(ft.get(), static_cast<unsigned>(i));
      if (!nm) fail("compound member without a name");
      names.emplace_back(nm);
      H5free_memory(nm);
    }
    return names;
  }
  TypeInfo member_type(const std::string& member) const {
    Hid ft(H5Dget_type(id()));
    Hid mt = member_file_type(ft.get(), member);
    return type_info(mt.get());
  }
  /// Reads one numeric member of a 1-D compound dataset as double.
  std::vector<double> read_member_numeric(const std::string& member) const {
    Hid ft(H5Dget_type(id()));
    Hid mft = member_file_type(ft.get(), member);
    TypeInfo ti = type_info(mft.get());
    const std::uint64_t n = size();
    const std::string where = path_ + "." + member;
    if (ti.cls == TypeInfo::Class::Enum) {
      auto v = detail::read_enum_impl(
          mft.get(), n,
          [&](hid_t mt, void* buf) {
            Hid ct(H5Tcreate(H5T_COMPOUND, H5Tget_size(mt)));
            H5Tinsert(ct.get(), member.c_str(), 0, mt);
            return H5Dread(id(), ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
          },
          file_, where);
      return std::vector<double>(v.begin(), v.end());
    }
    if (ti.cls != TypeInfo::Class::Integer && ti.cls != TypeInfo::Class::Float)
      h5::fail(file_, where, std::string("expected a numeric field but found ") + ti.name());
    check_alloc(file_, where, n, sizeof(double), "reading a field");
    std::vector<double> v(static_cast<std::size_t>(n));
    Hid ct(H5Tcreate(H5T_COMPOUND, sizeof(double)));
    H5Tinsert(ct.get(), member.c_str(), 0, H5T_NATIVE_DOUBLE);
    if (n > 0 && H5Dread(id(), ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
      h5::fail(file_, where, "cannot read field");
    return v;
  }
  /// Reads one string member of a 1-D compound dataset.
  std::vector<std::string> read_member_strings(const std::string& member) const {
    Hid ft(H5Dget_type(id()));
    Hid mft = member_file_type(ft.get(), member);
    const std::string where = path_ + "." + member;
    if (H5Tget_class(mft.get()) != H5T_STRING)
      h5::fail(file_, where, "expected a string field");
    Hid s(H5Dget_space(id()));
    return detail::read_strings_impl(
        mft.get(), s.get(), size(),
        [&](hid_t mt, void* buf) {
          Hid ct(H5Tcreate(H5T_COMPOUND, H5Tget_size(mt)));
          H5Tinsert(ct.get(), member.c_str(), 0, mt);
          return H5Dread(id(), ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        },
        file_, where);
  }

 private:
  void require_numeric(const TypeInfo& ti) const {
    if (ti.cls != TypeInfo::Class::Integer && ti.cls != TypeInfo::Class::Float)
      fail(std::string("expected numbers but the dataset holds ") + ti.name() + " values");
  }
  Hid member_file_type(hid_t ft, const std::string& member) const {
    if (H5Tget_class(ft) != H5T_COMPOUND) fail("not a compound dataset");
    int idx = H5Tget_member_index(ft, member.c_str());
    if (idx < 0) fail("compound dataset has no field '" + member + "'");
    Hid mt(H5Tget_member_type(ft, static_cast<unsigned>(idx)));
    if (!mt.valid()) fail("cannot get the type of field '" + member + "'");
    return mt;
  }
};

/// Options for writing a numeric dataset.
struct DatasetWriteOptions {
  int gzip_level = 0;            ///< 0 = no compression (contiguous layout)
  std::uint64_t chunk_rows = 0;  ///< chunk rows when compressing (0 = automatic)
};

/// An open HDF5 group (or a file's root group).
class Group : public Object {
 public:
  using Object::Object;

  /// True when `name` (one path component) exists in this group.
  bool has(const std::string& name) const {
    if (name.empty() || name.find('/') != std::string::npos) return false;
    htri_t r = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
    if (r < 0) fail("cannot look up '" + name + "'");
    if (r == 0) return false;
    htri_t o = H5Oexists_by_name(id(), name.c_str(), H5P_DEFAULT);
    return o > 0;
  }
  enum class Kind { Missing, Group, Dataset, Other };
  Kind kind(const std::string& name) const {
    if (!has(name)) return Kind::Missing;
    Hid o(H5Oopen(id(), name.c_str(), H5P_DEFAULT));
    if (!o.valid()) fail("cannot open '" + name + "'");
    switch (H5Iget_type(o.get())) {
      case H5I_GROUP: return Kind::Group;
      case H5I_DATASET: return Kind::Dataset;
      default: return Kind::Other;
    }
  }
  bool has_group(const std::string& name) const { return kind(name) == Kind::Group; }
  bool has_dataset(const std::string& name) const { return kind(name) == Kind::Dataset; }

  Group group(const std::string& name) const {
    Kind k = kind(name);
    if (k == Kind::Missing) fail("group '" + name + "' is missing");
    if (k != Kind::Group) fail("'" + name + "' is not a group");
    Hid g(H5Gopen2(id(), name.c_str(), H5P_DEFAULT));
    if (!g.valid()) fail("cannot open group '" + name + "'");
    return Group(std::move(g), file_, child_path(name));
  }
  Dataset dataset(const std::string& name) const {
    Kind k = kind(name);
    if (k == Kind::Missing) fail("dataset '" + name + "' is missing");
    if (k != Kind::Dataset) fail("'" + name + "' is not a dataset");
    Hid d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT));
    if (!d.valid()) fail("cannot open dataset '" + name + "'");
    return Dataset(std::move(d), file_, child_path(name));
  }
  /// Opens an object by absolute path (e.g. from an object reference).
  Dataset dataset_at(const std::string& abs_path) const {
    Hid d(H5Dopen2(id(), abs_path.c_str(), H5P_DEFAULT));
    if (!d.valid()) h5::fail(file_, abs_path, "cannot open dataset");
    return Dataset(std::move(d), file_, abs_path);
  }
  /// Names of the members of this group, in name order.
  std::vector<std::string> children() const {
    H5G_info_t info{};
    if (H5Gget_info(id(), &info) < 0) fail("cannot list the group");
    check_alloc(file_, path_, info.nlinks, 64, "listing the group");
    std::vector<std::string> out;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      ssize_t len = H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) fail("cannot read a member name");
      std::string nm(static_cast<std::size_t>(len) + 1, '\0');
      H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nm.data(), nm.size(), H5P_DEFAULT);
      nm.resize(static_cast<std::size_t>(len));
      out.push_back(std::move(nm));
    }
    return out;
  }

  // ---- writing --------------------------------------------------------------
  Group create_group(const std::string& name) const {
    Hid g(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) fail("cannot create group '" + name + "'");
    return Group(std::move(g), file_, child_path(name));
  }
  /// Writes a numeric dataset of the given shape from host memory (row-major).
  /// `file_type` is the on-disk type (e.g. H5T_IEEE_F32LE).
  template <class T>
  Dataset write(const std::string& name, const T* data, const std::vector<std::uint64_t>& dims,
                hid_t file_type, const DatasetWriteOptions& o = {}) const {
    std::vector<hsize_t> d(dims.begin(), dims.end());
    Hid s(d.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr));
    Hid dcpl(H5Pcreate(H5P_DATASET_CREATE));
    std::uint64_t total = 1;
    for (auto x : dims) total *= x;
    if (o.gzip_level > 0 && !d.empty() && total > 0) {
      std::vector<hsize_t> ch(d);
      const std::uint64_t row = total / std::max<std::uint64_t>(d[0], 1);
      std::uint64_t rows = o.chunk_rows ? o.chunk_rows : std::max<std::uint64_t>(1, (1u << 16) / std::max<std::uint64_t>(row, 1));
      ch[0] = std::max<hsize_t>(1, std::min<hsize_t>(d[0], rows));
      H5Pset_chunk(dcpl.get(), static_cast<int>(ch.size()), ch.data());
      H5Pset_deflate(dcpl.get(), static_cast<unsigned>(o.gzip_level));
    }
    Hid ds(H5Dcreate2(id(), name.c_str(), file_type, s.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
    if (total > 0 && H5Dwrite(ds.get(), detail::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      fail("cannot write dataset '" + name + "'");
    return Dataset(std::move(ds), file_, child_path(name));
  }
  /// Writes a 1-D array of variable-length UTF-8 strings.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& v) const {
    Hid t = detail::vlen_utf8_type();
    hsize_t n = v.size();
    Hid s(H5Screate_simple(1, &n, nullptr));
    Hid ds(H5Dcreate2(id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
    std::vector<const char*> p(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = v[i].c_str();
    if (!p.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
      fail("cannot write dataset '" + name + "'");
    return Dataset(std::move(ds), file_, child_path(name));
  }
  /// Writes a scalar variable-length UTF-8 string.
  Dataset write_string(const std::string& name, const std::string& value) const {
    Hid t = detail::vlen_utf8_type();
    Hid s(H5Screate(H5S_SCALAR));
    Hid ds(H5Dcreate2(id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
    const char* p = value.c_str();
    if (H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0)
      fail("cannot write dataset '" + name + "'");
    return Dataset(std::move(ds), file_, child_path(name));
  }
  /// Writes a 1-D array of fixed-length ASCII strings (width = longest + 1 unless given).
  Dataset write_fixed_strings(const std::string& name, const std::vector<std::string>& v,
                              std::size_t width = 0) const {
    std::size_t w = width;
    if (w == 0) {
      for (auto& s : v) w = std::max(w, s.size());
      w = std::max<std::size_t>(w, 1);
    }
    Hid t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), w);
    H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
    hsize_t n = v.size();
    Hid s(H5Screate_simple(1, &n, nullptr));
    Hid ds(H5Dcreate2(id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
    std::vector<char> buf(v.size() * w, '\0');
    for (std::size_t i = 0; i < v.size(); ++i)
      std::memcpy(buf.data() + i * w, v[i].data(), std::min(w, v[i].size()));
    if (!v.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      fail("cannot write dataset '" + name + "'");
    return Dataset(std::move(ds), file_, child_path(name));
  }
  /// Writes a 1-D h5py-style bool (enum int8 FALSE/TRUE) array.
  Dataset write_bools(const std::string& name, const std::vector<std::int8_t>& v) const {
    Hid t = detail::bool_enum_type();
    hsize_t n = v.size();
    Hid s(H5Screate_simple(1, &n, nullptr));
    Hid ds(H5Dcreate2(id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
    if (!v.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
      fail("cannot write dataset '" + name + "'");
    return Dataset(std::move(ds), file_, child_path(name));
  }
};

/// An open HDF5 file; behaves as its root group.
class File : public Group {
 public:
  File() = default;

  /// Opens an existing file read-only (or read-write).
  static File open(const std::string& path, bool read_write = false) {
    silence_errors();
    htri_t is = H5Fis_hdf5(path.c_str());
    if (is < 0) {
      H5Eclear2(H5E_DEFAULT);  // the reason is reported below in plain words
      FILE* f = std::fopen(path.c_str(), "rb");
      if (!f) h5::fail(path, "/", "cannot open the file: it does not exist or is not readable");
      std::fclose(f);
      h5::fail(path, "/", "cannot open the file as HDF5");
    }
    if (is == 0)
      h5::fail(path, "/",
               "not an HDF5 file (no HDF5 signature found; is it truncated, or a CSV/loom/zarr "
               "file with the wrong extension?)");
    Hid f(H5Fopen(path.c_str(), read_write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!f.valid())
      h5::fail(path, "/", "cannot open the HDF5 file (truncated or corrupt?)");
    return File(std::move(f), path);
  }
  /// Opens an in-memory file image read-only (the bytes are copied by HDF5).
  static File open_image(const void* data, std::size_t size, const std::string& name = "<memory>") {
    silence_errors();
    if (size < 8 || !data) h5::fail(name, "/", "not an HDF5 file image (too short)");
    Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
    if (H5Pset_file_image(fapl.get(), const_cast<void*>(data), size) < 0)
      h5::fail(name, "/", "cannot use the file image");
    Hid f(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!f.valid()) h5::fail(name, "/", "not a readable HDF5 file image");
    return File(std::move(f), name);
  }
  /// Creates (truncates) a file for writing.
  static File create(const std::string& path) {
    silence_errors();
    Hid f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!f.valid())
      h5::fail(path, "/", "cannot create the file (does the directory exist and is it writable?)");
    return File(std::move(f), path);
  }
  /// Flushes and closes; throws if HDF5 reports a failure (e.g. disk full).
  void close() {
    if (!valid()) return;
    H5Fflush(id(), H5F_SCOPE_GLOBAL);
    if (!id_.reset()) h5::fail(file_, "/", "closing the file failed (disk full?)");
  }
  /// Creates an empty file in memory (HDF5's core driver, nothing on disk);
  /// `name` labels it in errors. Finish it with close_to_image().
  ///
  /// Outputs are built this way because HDF5 (1.10) cannot recover from a
  /// write error on disk: after a failed flush (e.g. a full disk) the file
  /// can neither be closed nor released, and the library crashes when it
  /// shuts down at exit. In memory HDF5 never meets such an error; the
  /// finished image is written by write_file_bytes, which reports it.
  static File create_in_memory(const std::string& name) {
    silence_errors();
    Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), std::size_t(1) << 24, 0) < 0)
      h5::fail(name, "/", "cannot set up an in-memory HDF5 file");
    Hid f(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
    if (!f.valid()) h5::fail(name, "/", "cannot create an in-memory HDF5 file");
    return File(std::move(f), name);
  }
  /// Flushes a file made by create_in_memory, closes it and returns its bytes.
  std::vector<unsigned char> close_to_image() {
    if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) h5::fail(file_, "/", "cannot finish the in-memory file");
    const ssize_t n = H5Fget_file_image(id(), nullptr, 0);
    if (n < 0) h5::fail(file_, "/", "cannot take the in-memory file's image");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
    if (n > 0 && H5Fget_file_image(id(), bytes.data(), bytes.size()) != n)
      h5::fail(file_, "/", "cannot copy the in-memory file's image");
    if (!id_.reset()) h5::fail(file_, "/", "closing the in-memory file failed");
    return bytes;
  }

 private:
  File(Hid f, const std::string& path) : Group(std::move(f), path, "/") {}
};

}  // namespace stai::h5
