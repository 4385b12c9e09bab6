// stai — the AnnData .h5ad writer: the current layout (anndata >= 0.8
// encodings), built in memory and written atomically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../data/anndata.hpp"
#include "../atomic_file.hpp"
#include "../hdf5/file.hpp"
#include "../hdf5/write.hpp"

namespace stai {

struct H5adWriteOptions {
  int gzip_level = 0;  ///< 0 = uncompressed; 1..9 = gzip-compressed X and obsm
};

namespace h5ad_detail {

/// A numeric array element (encoding "array").
template <class T>
void write_array(const h5::Group& g, const std::string& name, const T* data,
                 const std::vector<std::uint64_t>& dims, hid_t file_type,
                 const h5::DatasetWriteOptions& o = {}) {
  h5::write_encoding(h5::write(g, name, data, dims, file_type, o), "array", "0.2.0");
}

/// A string array element (encoding "string-array").
inline void write_string_array(const h5::Group& g, const std::string& name,
                               const std::vector<std::string>& v) {
  h5::write_encoding(h5::write_strings(g, name, v), "string-array", "0.2.0");
}

inline void write_dict(const h5::Group& parent, const std::string& name) {
  h5::write_encoding(h5::create_group(parent, name), "dict", "0.1.0");
}

inline void check_key(const std::string& what, const std::string& k) {
  STAI_CHECK(!k.empty() && k.find('/') == std::string::npos && k != "_index" && k != "__categories",
             "cannot write ", what, " key '", k,
             "': keys must be non-empty, contain no '/' and not be '_index' or '__categories'; rename it");
}

inline void write_column(const h5::Group& g, const std::string& name, const Column& c) {
  if (c.kind == Column::Kind::Numeric) {
    write_array(g, name, c.num.data(), {c.num.size()}, H5T_IEEE_F64LE);
    return;
  }
  if (!c.categorical) {
    write_string_array(g, name, c.str);
    return;
  }
  std::vector<std::string> cats = c.categories;
  std::unordered_map<std::string, std::int64_t> code;
  for (std::size_t i = 0; i < cats.size(); ++i)
    STAI_CHECK(code.emplace(cats[i], static_cast<std::int64_t>(i)).second, "cannot write column '",
               name, "': category '", cats[i], "' is listed twice");
  const bool fixed = !cats.empty();
  std::vector<std::int64_t> codes(c.str.size());
  for (std::size_t i = 0; i < c.str.size(); ++i) {
    auto it = code.find(c.str[i]);
    if (it == code.end()) {
      if (c.str[i].empty()) {
        codes[i] = -1;  // "" is pandas' missing value
        continue;
      }
      STAI_CHECK(!fixed, "cannot write column '", name, "': value '", c.str[i],
                 "' is not one of its categories; add it to Column::categories");
      it = code.emplace(c.str[i], static_cast<std::int64_t>(cats.size())).first;
      cats.push_back(c.str[i]);
    }
    codes[i] = it->second;
  }
  auto cg = h5::create_group(g, name);
  h5::write_encoding(cg, "categorical", "0.2.0");
  h5::write_attr_bool(cg, "ordered", false);
  write_string_array(cg, "categories", cats);
  if (cats.size() < 128) {
    std::vector<std::int8_t> v(codes.begin(), codes.end());
    write_array(cg, "codes", v.data(), {v.size()}, H5T_STD_I8LE);
  } else if (cats.size() < 32768) {
    std::vector<std::int16_t> v(codes.begin(), codes.end());
    write_array(cg, "codes", v.data(), {v.size()}, H5T_STD_I16LE);
  } else {
    std::vector<std::int32_t> v(codes.begin(), codes.end());
    write_array(cg, "codes", v.data(), {v.size()}, H5T_STD_I32LE);
  }
}

inline void write_frame(const h5::Group& parent, const std::string& name,
                        const std::vector<std::string>& index,
                        const std::map<std::string, Column>& cols) {
  auto g = h5::create_group(parent, name);
  h5::write_encoding(g, "dataframe", "0.2.0");
  h5::write_attr_string(g, "_index", "_index");
  std::vector<std::string> order;
  for (auto& [k, c] : cols) {
    check_key(name + " column", k);
    order.push_back(k);
  }
  if (order.empty()) h5::write_attr_empty_array(g, "column-order");
  else h5::write_attr_strings(g, "column-order", order);
  write_string_array(g, "_index", index);
  for (auto& [k, c] : cols) write_column(g, k, c);
}

}  // namespace h5ad_detail

/// Writes `a` into an open, empty HDF5 file in the anndata >= 0.8 layout.
inline void write_h5ad(const h5::File& f, const AnnData& a, const H5adWriteOptions& o = {}) {
  using namespace h5ad_detail;
  a.validate();
  h5::DatasetWriteOptions dw;
  dw.gzip_level = o.gzip_level;
  h5::write_encoding(f, "anndata", "0.1.0");
  write_array(f, "X", a.X.data(),
              {static_cast<std::uint64_t>(a.X.rows()), static_cast<std::uint64_t>(a.X.cols())},
              H5T_IEEE_F32LE, dw);
  write_frame(f, "obs", a.obs_names, a.obs);
  write_frame(f, "var", a.var_names, a.var);
  auto obsm = h5::create_group(f, "obsm");
  h5::write_encoding(obsm, "dict", "0.1.0");
  for (auto& [k, m] : a.obsm) {
    check_key("obsm", k);
    write_array(obsm, k, m.data(), {static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())},
                H5T_IEEE_F64LE, dw);
  }
  auto uns = h5::create_group(f, "uns");
  h5::write_encoding(uns, "dict", "0.1.0");
  for (auto& [k, v] : a.uns) {
    check_key("uns", k);
    h5::write_encoding(h5::write_string(uns, k, v), "string", "0.2.0");
  }
  for (const char* d : {"layers", "obsp", "varm", "varp"}) write_dict(f, d);
}

/// Writes `a` to `path` as .h5ad, atomically (temporary file + rename).
inline void write_h5ad(const std::string& path, const AnnData& a, const H5adWriteOptions& o = {}) {
  try {
    a.validate();
  } catch (const Error& e) {
    std::string w = e.what();
    if (w.rfind("stai: ", 0) == 0) w.erase(0, 6);
    throw Error("cannot write " + path + ": " + w);
  }
  write_atomically(path, [&](const std::string& tmp) {
    // Built in memory, then written out: see h5::File::create_in_memory.
    std::vector<unsigned char> image;
    {
      h5::File f = h5::File::create_in_memory(path);
      write_h5ad(f, a, o);
      image = f.close_to_image();
    }
    write_file_bytes(tmp, image, path);
  });
}

}  // namespace stai
