// stai — writing HDF5: groups, numeric / string / bool datasets in a group,
// and attributes on any object, in the types h5py and anndata write
// (variable-length UTF-8 strings, bools as the int8 enum {FALSE, TRUE}).
//
// Each writer names the object in its error (see handle.hpp) and returns
// what it created, so that attributes can be added to it, e.g.
//   h5::write_encoding(h5::write_strings(g, "_index", names), "string-array", "0.2.0");
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "group.hpp"

namespace stai::h5 {

/// Options for writing a numeric dataset.
struct DatasetWriteOptions {
  int gzip_level = 0;            ///< 0 = no compression (contiguous layout)
  std::uint64_t chunk_rows = 0;  ///< chunk rows when compressing (0 = automatic)
};

namespace detail {

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

/// Creates attribute `name` on `o`, replacing one that exists.
inline Hid create_attr(const Object& o, const std::string& name, hid_t type, hid_t space) {
  if (o.has_attr(name) && H5Adelete(o.id(), name.c_str()) < 0)
    o.fail("cannot replace attribute '" + name + "'");
  Hid a(H5Acreate2(o.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) o.fail("cannot create attribute '" + name + "'");
  return a;
}

}  // namespace detail

// ---- attributes -------------------------------------------------------------

/// A scalar variable-length UTF-8 string attribute.
inline void write_attr_string(const Object& o, const std::string& name, const std::string& value) {
  Hid t = detail::vlen_utf8_type();
  Hid s(H5Screate(H5S_SCALAR));
  Hid a = detail::create_attr(o, name, t.get(), s.get());
  const char* p = value.c_str();
  if (H5Awrite(a.get(), t.get(), &p) < 0) o.fail("cannot write attribute '" + name + "'");
}
/// A 1-D variable-length UTF-8 string attribute.
inline void write_attr_strings(const Object& o, const std::string& name, const std::vector<std::string>& values) {
  Hid t = detail::vlen_utf8_type();
  hsize_t n = values.size();
  Hid s(H5Screate_simple(1, &n, nullptr));
  Hid a = detail::create_attr(o, name, t.get(), s.get());
  std::vector<const char*> p(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i].c_str();
  if (!p.empty() && H5Awrite(a.get(), t.get(), p.data()) < 0)
    o.fail("cannot write attribute '" + name + "'");
}
/// An empty float64 1-D attribute (what anndata writes for an empty column-order).
inline void write_attr_empty_array(const Object& o, const std::string& name) {
  hsize_t n = 0;
  Hid s(H5Screate_simple(1, &n, nullptr));
  detail::create_attr(o, name, H5T_IEEE_F64LE, s.get());
}
/// A 1-D int64 attribute.
inline void write_attr_int64s(const Object& o, const std::string& name, const std::vector<std::int64_t>& values) {
  hsize_t n = values.size();
  Hid s(H5Screate_simple(1, &n, nullptr));
  Hid a = detail::create_attr(o, name, H5T_STD_I64LE, s.get());
  if (!values.empty() && H5Awrite(a.get(), H5T_NATIVE_INT64, values.data()) < 0)
    o.fail("cannot write attribute '" + name + "'");
}
/// A scalar h5py-style bool attribute.
inline void write_attr_bool(const Object& o, const std::string& name, bool value) {
  Hid t = detail::bool_enum_type();
  Hid s(H5Screate(H5S_SCALAR));
  Hid a = detail::create_attr(o, name, t.get(), s.get());
  std::int8_t v = value ? 1 : 0;
  if (H5Awrite(a.get(), t.get(), &v) < 0) o.fail("cannot write attribute '" + name + "'");
}
/// encoding-type / encoding-version pair of the anndata format.
inline void write_encoding(const Object& o, const std::string& type, const std::string& version) {
  write_attr_string(o, "encoding-type", type);
  write_attr_string(o, "encoding-version", version);
}

// ---- groups and datasets ----------------------------------------------------

/// Creates the group `name` in `g`.
inline Group create_group(const Group& g, const std::string& name) {
  Hid c(H5Gcreate2(g.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!c.valid()) g.fail("cannot create group '" + name + "'");
  return Group(std::move(c), g.file(), g.child_path(name));
}
/// Writes a numeric dataset of the given shape from host memory (row-major).
/// `file_type` is the on-disk type (e.g. H5T_IEEE_F32LE).
template <class T>
Dataset write(const Group& g, const std::string& name, const T* data, const std::vector<std::uint64_t>& dims,
              hid_t file_type, const DatasetWriteOptions& o = {}) {
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
  Hid ds(H5Dcreate2(g.id(), name.c_str(), file_type, s.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!ds.valid()) g.fail("cannot create dataset '" + name + "'");
  if (total > 0 && H5Dwrite(ds.get(), detail::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    g.fail("cannot write dataset '" + name + "'");
  return Dataset(std::move(ds), g.file(), g.child_path(name));
}
/// Writes a 1-D array of variable-length UTF-8 strings.
inline Dataset write_strings(const Group& g, const std::string& name, const std::vector<std::string>& v) {
  Hid t = detail::vlen_utf8_type();
  hsize_t n = v.size();
  Hid s(H5Screate_simple(1, &n, nullptr));
  Hid ds(H5Dcreate2(g.id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) g.fail("cannot create dataset '" + name + "'");
  std::vector<const char*> p(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) p[i] = v[i].c_str();
  if (!p.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
    g.fail("cannot write dataset '" + name + "'");
  return Dataset(std::move(ds), g.file(), g.child_path(name));
}
/// Writes a scalar variable-length UTF-8 string.
inline Dataset write_string(const Group& g, const std::string& name, const std::string& value) {
  Hid t = detail::vlen_utf8_type();
  Hid s(H5Screate(H5S_SCALAR));
  Hid ds(H5Dcreate2(g.id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) g.fail("cannot create dataset '" + name + "'");
  const char* p = value.c_str();
  if (H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0)
    g.fail("cannot write dataset '" + name + "'");
  return Dataset(std::move(ds), g.file(), g.child_path(name));
}
/// Writes a 1-D array of fixed-length ASCII strings (width = longest + 1 unless given).
inline Dataset write_fixed_strings(const Group& g, const std::string& name, const std::vector<std::string>& v,
                                   std::size_t width = 0) {
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
  Hid ds(H5Dcreate2(g.id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) g.fail("cannot create dataset '" + name + "'");
  std::vector<char> buf(v.size() * w, '\0');
  for (std::size_t i = 0; i < v.size(); ++i)
    std::memcpy(buf.data() + i * w, v[i].data(), std::min(w, v[i].size()));
  if (!v.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    g.fail("cannot write dataset '" + name + "'");
  return Dataset(std::move(ds), g.file(), g.child_path(name));
}
/// Writes a 1-D h5py-style bool (enum int8 FALSE/TRUE) array.
inline Dataset write_bools(const Group& g, const std::string& name, const std::vector<std::int8_t>& v) {
  Hid t = detail::bool_enum_type();
  hsize_t n = v.size();
  Hid s(H5Screate_simple(1, &n, nullptr));
  Hid ds(H5Dcreate2(g.id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) g.fail("cannot create dataset '" + name + "'");
  if (!v.empty() && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    g.fail("cannot write dataset '" + name + "'");
  return Dataset(std::move(ds), g.file(), g.child_path(name));
}

}  // namespace stai::h5
