// stai — reading AnnData dataframes (obs, var) from .h5ad files, in every
// layout found in the wild:
//  * anndata >= 0.8: "dataframe" groups (attribute _index names the index
//    dataset, column-order lists the columns); categorical columns are
//    groups with "categories" and "codes"; nullable columns are groups with
//    "values" and "mask";
//  * anndata 0.7: dataframes without encodings whose categorical columns are
//    integer codes with a "categories" object-reference attribute (pointing
//    into __categories/);
//  * anndata <= 0.6: obs/var as compound (structured) datasets whose
//    categoricals keep their categories in /uns/<column>_categories.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../../data/anndata.hpp"
#include "../hdf5/group.hpp"
#include "encoding.hpp"

namespace stai::h5ad_detail {

/// A number as label text: integral values without a fraction, others with 17 digits.
inline std::string format_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// Strings of a dataset that may hold strings or numbers (e.g. categories, index).
inline std::vector<std::string> read_labels(const h5::Dataset& d) {
  auto t = d.type();
  if (t.cls == h5::TypeInfo::Class::String) return d.read_strings();
  if (t.numeric()) {
    auto v = d.read<double>();
    std::vector<std::string> s(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) s[i] = format_number(v[i]);
    return s;
  }
  d.fail(std::string("expected strings or numbers as labels but found ") + t.name());
}

/// codes (-1 = missing) + categories -> strings.
inline Column decode_categorical(const std::vector<std::int64_t>& codes,
                                 std::vector<std::string> categories, const std::string& file,
                                 const std::string& where) {
  std::set<std::string> seen;
  for (auto& c : categories)
    if (!seen.insert(c).second)
      h5::fail(file, where, "categories contain the duplicate '" + c + "'");
  std::vector<std::string> s(codes.size());
  const auto ncat = static_cast<std::int64_t>(categories.size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::int64_t c = codes[i];
    if (c == -1) continue;  // missing value -> ""
    if (c < 0 || c >= ncat)
      h5::fail(file, where,
               detail::concat("categorical code ", c, " at position ", i,
                              " is out of range (there are ", ncat, " categories)"));
    s[i] = categories[static_cast<std::size_t>(c)];
  }
  Column col = Column::strings(std::move(s), true);
  col.categories = std::move(categories);
  return col;
}

/// A dataframe as read from disk.
struct Frame {
  std::vector<std::string> index;
  bool has_index = false;  ///< false: no index stored (rows are named by position)
  std::map<std::string, Column> columns;
};

inline Column read_column_group(const h5::Group& g) {
  const std::string enc = encoding_of(g);
  if (enc == "categorical" || (enc.empty() && g.has_dataset("codes") && g.has_dataset("categories"))) {
    auto cats = read_labels(g.dataset("categories"));
    auto codes_ds = g.dataset("codes");
    if (!codes_ds.type().numeric())
      codes_ds.fail("categorical codes must be integers");
    auto codes = codes_ds.read<std::int64_t>();
    return decode_categorical(codes, std::move(cats), g.file(), g.path());
  }
  if (enc == "nullable-integer" || enc == "nullable-boolean" || enc == "nullable-float") {
    auto vals = g.dataset("values").read<double>();
    auto mask = g.dataset("mask").read<std::int64_t>();
    if (mask.size() != vals.size())
      g.fail(detail::concat("mask has ", mask.size(), " entries but values has ", vals.size()));
    for (std::size_t i = 0; i < vals.size(); ++i)
      if (mask[i]) vals[i] = std::nan("");
    return Column::numeric(std::move(vals));
  }
  g.fail("column has unsupported encoding '" + enc +
         "' (stai reads numeric, string, categorical and nullable columns); drop it or "
         "exclude it with the obs_columns option");
}

inline Column read_column_dataset(const h5::Dataset& d, const h5::Group* uns,
                                  const std::string& col_name) {
  auto t = d.type();
  if (d.rank() != 1)
    d.fail(detail::concat("column must be 1-D but has rank ", d.rank()));
  if (t.cls == h5::TypeInfo::Class::String) return Column::strings(d.read_strings(), false);
  if (!t.numeric())
    d.fail(std::string("column holds ") + t.name() + " values; expected numbers or strings");
  // anndata 0.7: integer codes with an object reference to the categories.
  if (d.has_attr("categories")) {
    std::vector<std::string> cats;
    if (d.attr_type("categories").cls == h5::TypeInfo::Class::Reference) {
      std::string p = d.attr_reference_path("categories");
      h5::Group root(h5::Hid(H5Oopen(d.id(), "/", H5P_DEFAULT)), d.file(), "/");
      cats = read_labels(root.dataset_at(p));
    } else {
      cats = d.attr_strings("categories");
    }
    return decode_categorical(d.read<std::int64_t>(), std::move(cats), d.file(), d.path());
  }
  // anndata <= 0.6: categories in /uns/<col>_categories.
  if (uns && t.cls == h5::TypeInfo::Class::Integer && uns->has_dataset(col_name + "_categories"))
    return decode_categorical(d.read<std::int64_t>(),
                              read_labels(uns->dataset(col_name + "_categories")), d.file(),
                              d.path());
  return Column::numeric(d.read<double>());
}

inline void check_wanted(const std::vector<std::string>& available,
                         const std::vector<std::string>& wanted, const std::string& file,
                         const std::string& where) {
  for (const auto& w : wanted)
    if (std::find(available.begin(), available.end(), w) == available.end()) {
      std::string list;
      for (std::size_t i = 0; i < available.size() && i < 30; ++i)
        list += (i ? ", " : "") + available[i];
      h5::fail(file, where, "has no column '" + w + "'; available: " + (list.empty() ? "(none)" : list));
    }
}

/// Reads a dataframe stored either as a group (anndata >= 0.7) or as a
/// compound dataset (anndata <= 0.6). `wanted` = nullopt reads all columns.
inline Frame read_frame(const h5::Group& parent, const std::string& name,
                        const std::optional<std::vector<std::string>>& wanted,
                        const h5::Group* uns) {
  Frame fr;
  const auto kind = parent.kind(name);
  if (kind == h5::Group::Kind::Missing)
    parent.fail("'" + name + "' is missing; this does not look like an AnnData file");
  if (kind == h5::Group::Kind::Dataset) {
    // Legacy structured array.
    auto d = parent.dataset(name);
    if (d.type().cls != h5::TypeInfo::Class::Compound)
      d.fail("expected a dataframe (group or compound dataset) but found a plain array");
    if (d.rank() != 1) d.fail("compound dataframe must be 1-D");
    auto members = d.member_names();
    std::string index_name;
    for (const char* cand : {"index", "_index"})
      if (std::find(members.begin(), members.end(), cand) != members.end()) {
        index_name = cand;
        break;
      }
    if (!index_name.empty()) {
      fr.has_index = true;
      if (d.member_type(index_name).cls == h5::TypeInfo::Class::String)
        fr.index = d.read_member_strings(index_name);
      else {
        auto v = d.read_member_numeric(index_name);
        for (double x : v) fr.index.push_back(format_number(x));
      }
    } else {
      h5::check_alloc(d.file(), d.path(), d.size(), 32, "the index");
      for (std::uint64_t i = 0; i < d.size(); ++i) fr.index.push_back(std::to_string(i));
      fr.has_index = true;
    }
    std::vector<std::string> cols;
    for (auto& m : members)
      if (m != index_name) cols.push_back(m);
    if (wanted) {
      check_wanted(cols, *wanted, d.file(), d.path());
      cols = *wanted;
    }
    for (auto& c : cols) {
      auto t = d.member_type(c);
      if (t.cls == h5::TypeInfo::Class::String) {
        fr.columns[c] = Column::strings(d.read_member_strings(c), false);
      } else if (t.numeric()) {
        auto v = d.read_member_numeric(c);
        if (uns && t.cls == h5::TypeInfo::Class::Integer && uns->has_dataset(c + "_categories")) {
          std::vector<std::int64_t> codes(v.begin(), v.end());
          fr.columns[c] = decode_categorical(codes, read_labels(uns->dataset(c + "_categories")),
                                             d.file(), d.path() + "." + c);
        } else {
          fr.columns[c] = Column::numeric(std::move(v));
        }
      } else {
        h5::fail(d.file(), d.path() + "." + c,
                 std::string("field holds ") + t.name() + " values; expected numbers or strings");
      }
    }
    return fr;
  }
  if (kind != h5::Group::Kind::Group) parent.fail("'" + name + "' is neither a group nor a dataset");
  auto g = parent.group(name);
  const std::string enc = encoding_of(g);
  if (!enc.empty() && enc != "dataframe")
    g.fail("expected a dataframe but the encoding-type is '" + enc + "'");

  std::string index_name = g.attr_string_or("_index", "");
  if (index_name.empty()) index_name = g.has("_index") ? "_index" : (g.has("index") ? "index" : "");
  if (!index_name.empty()) {
    if (!g.has_dataset(index_name))
      g.fail("the index dataset '" + index_name + "' named by the _index attribute is missing");
    fr.index = read_labels(g.dataset(index_name));
    fr.has_index = true;
  }

  std::vector<std::string> cols;
  bool have_order = false;
  if (g.has_attr("column-order") && g.attr_type("column-order").cls == h5::TypeInfo::Class::String) {
    cols = g.attr_strings("column-order");
    have_order = true;
  } else if (g.has_attr("column-order") && g.attr_size("column-order") == 0) {
    have_order = true;  // anndata writes an empty float array when there are no columns
  }
  if (!have_order)
    for (auto& c : g.children())
      if (c != index_name && c != "__categories") cols.push_back(c);
  for (auto& c : cols)
    if (!g.has(c)) g.fail("column '" + c + "' is listed in column-order but missing");
  if (wanted) {
    check_wanted(cols, *wanted, g.file(), g.path());
    cols = *wanted;
  }
  for (auto& c : cols) {
    auto k = g.kind(c);
    if (k == h5::Group::Kind::Group) fr.columns[c] = read_column_group(g.group(c));
    else if (k == h5::Group::Kind::Dataset) fr.columns[c] = read_column_dataset(g.dataset(c), uns, c);
    else g.fail("column '" + c + "' is neither a dataset nor a group");
  }
  return fr;
}

}  // namespace stai::h5ad_detail
