// stai — an open HDF5 dataset and the reading of its values: numeric
// (whole, 1-D slices, 2-D row blocks), strings, enums/bools and the fields
// of compound (structured) datasets.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "object.hpp"

namespace stai::h5 {

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

}  // namespace stai::h5
