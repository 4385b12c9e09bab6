// stai — an open HDF5 group: looking up, opening and listing its members.
#pragma once
#include <string>
#include <vector>

#include "dataset.hpp"

namespace stai::h5 {

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
};

}  // namespace stai::h5
