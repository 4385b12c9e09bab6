// stai — reading model files: load_model turns a file of any format version
// this build reads (io/model_file_format.hpp) back into a ModelBundle,
// checking everything and naming the file and the fix in every error.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../config.hpp"
#include "../error.hpp"
#include "../model/model_bundle.hpp"
#include "byte_reader.hpp"
#include "little_endian.hpp"
#include "model_file_format.hpp"
#include "model_file_json.hpp"

namespace stai {
namespace detail::model_file {

inline Error damaged(const std::string& path, const std::string& why) {
  return Error(detail::concat(path, ": the file is corrupt or truncated (", why, "); copy or save the model again"));
}

/// The fixed-size start of a model file.
struct Prefix {
  std::uint32_t version = 0;
  std::uint64_t header_bytes = 0;
};

/// Reads and checks the magic, the format version and the header length.
inline Prefix read_prefix(ByteReader& in) {
  const std::string& path = in.path();
  const std::uint64_t size = in.size();
  unsigned char prefix[prefix_bytes] = {};
  const std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(size, prefix_bytes));
  in.read(0, prefix, head, "the start");
  if (head == 0 || std::memcmp(prefix, model_file_magic, std::min<std::size_t>(head, 8)) != 0)
    throw Error(detail::concat(path, ": not a stai model file (it does not start with \"STAIMODL\"",
                               head == 0 ? "; it is empty" : "",
                               "); pass a model file written by stai (save_model / --save-model)"));
  if (size < prefix_bytes + checksum_bytes)
    throw damaged(path, detail::concat("only ", size, " bytes, a model file has at least ",
                                       prefix_bytes + checksum_bytes));
  Prefix p;
  p.version = read_le<std::uint32_t>(prefix + 8);
  if (p.version < model_file_min_read_version || p.version > model_file_max_read_version)
    throw Error(detail::concat(
        path, ": model file format version ", p.version, " is not supported; this build of stai (", version(),
        ") reads format versions ", model_file_min_read_version, " to ", model_file_max_read_version,
        p.version > model_file_max_read_version
            ? "; the file was written by a newer stai: upgrade stai to load it"
            : "; the file was written by an older stai: load it with that version and save it again, or retrain"));
  p.header_bytes = read_le<std::uint64_t>(prefix + 12);
  if (p.header_bytes > size - prefix_bytes - checksum_bytes)
    throw damaged(path, detail::concat("its header length field says ", p.header_bytes,
                                       " bytes but the file has only ", size, " bytes"));
  return p;
}

/// Checks the stored checksum (the algorithm of the file's format version)
/// against every byte before it. On a mismatch, tells a short file from a
/// damaged one when the header still says how long the file should be.
inline void verify_checksum(ByteReader& in, const Prefix& p) {
  const std::uint64_t size = in.size(), end = size - checksum_bytes;
  const std::uint64_t computed = with_checksum(p.version, [&](auto hash) {
    in.checksum(0, end, hash);
    return hash.digest();
  });
  unsigned char tail[checksum_bytes];
  in.read(end, tail, checksum_bytes, "the checksum");
  const std::uint64_t stored = read_le<std::uint64_t>(tail);
  if (stored == computed) return;
  std::string why;
  try {
    const auto j = nlohmann::json::parse(in.read_string(prefix_bytes, p.header_bytes, "the header"));
    const std::uint64_t want = prefix_bytes + p.header_bytes + j.at("data_bytes").get<std::uint64_t>() + checksum_bytes;
    if (want != size) why = detail::concat("its header describes ", want, " bytes but the file has ", size);
  } catch (...) {
  }
  if (why.empty()) {
    char hex[64];
    std::snprintf(hex, sizeof hex, "stored 0x%016llx, computed 0x%016llx", static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(computed));
    why = detail::concat("checksum mismatch: ", hex, "; ", checksum_name(p.version), ", format version ", p.version);
  }
  throw damaged(in.path(), why);
}

/// The header JSON (an object whose format fields agree with the prefix).
inline nlohmann::json read_header(ByteReader& in, const Prefix& p, const HeaderReader& r) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in.read_string(prefix_bytes, p.header_bytes, "the header"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(in.path(), ": the model header is not valid JSON (", e.what(),
                               "); the file was not written by stai or is damaged: save the model again"));
  }
  if (!j.is_object()) r.fail("(top level)", "must be a JSON object");
  if (r.str(j, "format") != "stai-model") r.fail("format", "must be \"stai-model\"");
  if (r.uint(j, "format_version") != p.version)
    r.fail("format_version", detail::concat("is ", r.uint(j, "format_version"),
                                            " but the file's binary prefix says ", p.version));
  return j;
}

/// The bundle's header-only fields: everything but submodels and reference values.
inline ModelBundle read_bundle_fields(const nlohmann::json& j, const HeaderReader& r) {
  ModelBundle b;
  b.library_version = r.str(j, "stai_version");
  b.created = r.str(j, "created");
  try {
    b.config = Config{};
    b.config.apply(r.at(j, "config", ""));
  } catch (const Error& e) {
    r.fail("config", std::string("is not a valid configuration (") + e.what() + ")");
  }
  if (r.uint(j, "seed") != b.config.seed)
    r.fail("seed", detail::concat("is ", r.uint(j, "seed"), " but config.seed is ", b.config.seed));
  b.genes = r.strings(j, "genes");
  b.class_names = r.strings(j, "class_names");
  const auto& scaling = r.at(j, "scaling", "");
  b.st_scaling = r.scaling(r.at(scaling, "spatial", "scaling"), "scaling.spatial");
  b.sc_scaling = r.scaling(r.at(scaling, "reference", "scaling"), "scaling.reference");
  b.ref_genes = r.strings(j, "reference_genes");
  b.metadata = r.at(j, "metadata", "");
  if (!b.metadata.is_object()) r.fail("metadata", "must be an object");
  return b;
}

/// The sections listed in the header, each checked to lie in the data area.
class SectionTable {
 public:
  SectionTable(const nlohmann::json& j, const Prefix& p, std::uint64_t file_size, const HeaderReader& r,
               std::string path)
      : path_(std::move(path)) {
    data_bytes_ = r.uint(j, "data_bytes");
    base_ = prefix_bytes + p.header_bytes;
    if (base_ + data_bytes_ + checksum_bytes != file_size)
      r.fail("data_bytes", detail::concat("is ", data_bytes_, " but the file holds ",
                                          file_size - base_ - checksum_bytes, " bytes of sections"));
    const auto& arr = r.array(j, "sections");
    for (std::size_t q = 0; q < arr.size(); ++q) {
      const std::string f = "sections[" + std::to_string(q) + "]";
      Section s;
      s.name = r.str(arr[q], "name", f);
      s.dtype = r.str(arr[q], "dtype", f);
      s.offset = r.uint(arr[q], "offset", f);
      s.count = r.uint(arr[q], "count", f);
      const std::uint64_t es = dtype_size(s.dtype);
      if (es == 0) r.fail(f + ".dtype", "must be \"f32\", \"i32\" or \"i64\", got \"" + s.dtype + "\"");
      if (s.offset > data_bytes_ || s.count > (data_bytes_ - s.offset) / es)
        throw Error(detail::concat(path_, ": section '", s.name, "' (", s.count, " x ", s.dtype, " at offset ",
                                   s.offset, ") extends past the end of the data area (", data_bytes_,
                                   " bytes); the section sizes are inconsistent with the header: save the model again"));
      if (!secs_.emplace(s.name, s).second) r.fail(f + ".name", "repeats the section name '" + s.name + "'");
    }
  }

  /// Reads section `name`, stored as Stored, which must hold `count` values, into dst.
  template <class Stored, class T>
  void read(ByteReader& in, const std::string& name, std::uint64_t count, std::vector<T>& dst) const {
    dst.resize(static_cast<std::size_t>(check(name, Dtype<Stored>::name, count)));
    read_into<Stored>(in, name, dst.data());
  }
  template <class Stored, class T>
  void read_into(ByteReader& in, const std::string& name, T* dst) const {
    const Section& s = secs_.at(name);
    in.read_array<Stored>(base_ + s.offset, s.count, dst, "section '" + name + "'");
  }
  /// Throws unless section `name` exists with this dtype and count; returns the count.
  std::uint64_t check(const std::string& name, const char* dtype, std::uint64_t count) const {
    const auto it = secs_.find(name);
    STAI_CHECK(it != secs_.end(), path_, ": the model file has no section '", name,
               "'; the section list is inconsistent with the header: save the model again");
    const Section& s = it->second;
    STAI_CHECK(s.dtype == dtype, path_, ": section '", name, "' has dtype ", s.dtype, ", expected ", dtype,
               "; the section list is inconsistent with the header: save the model again");
    STAI_CHECK(s.count == count, path_, ": section '", name, "' holds ", s.count, " values but the header implies ",
               count, "; the section sizes are inconsistent with the header: save the model again");
    return s.count;
  }

 private:
  std::string path_;
  std::uint64_t base_ = 0, data_bytes_ = 0;
  std::map<std::string, Section> secs_;
};

/// The stored parameter layout of submodel f (field `field`), which must be
/// the one this build uses (`ours`).
inline void check_parameter_layout(const nlohmann::json& sub, const std::string& field, std::size_t f,
                                   const std::vector<ParamShape>& ours, const ModelBundle& b,
                                   const HeaderReader& r, const std::string& path) {
  std::vector<ParamShape> stored;
  for (const auto& e : r.array(sub, "parameter_layout", field)) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_number_integer() ||
        !e[2].is_number_integer())
      r.fail(field + ".parameter_layout", "must hold [name, rows, cols] entries, found " + e.dump());
    stored.push_back({e[0].get<std::string>(), e[1].get<index_t>(), e[2].get<index_t>()});
  }
  if (stored == ours) return;
  std::string diff = detail::concat("the file has ", stored.size(), " tensors, this build ", ours.size());
  for (std::size_t q = 0; q < std::min(stored.size(), ours.size()); ++q)
    if (!(stored[q] == ours[q])) {
      diff = detail::concat("tensor ", q, " is '", stored[q].name, "' (", stored[q].rows, " x ", stored[q].cols,
                            ") in the file but '", ours[q].name, "' (", ours[q].rows, " x ", ours[q].cols,
                            ") in this build");
      break;
    }
  throw Error(detail::concat(path, ": submodel ", f, " was saved with a parameter layout this build of stai (",
                             version(), ") does not use (", diff, "); the file was written by stai ",
                             b.library_version, ": load it with that version, or retrain the model"));
}

/// Every submodel: gene indices, final losses and layout from the header,
/// parameters and reference codes (n2 x d_latent) from their sections.
inline void read_submodels(ModelBundle& b, const nlohmann::json& j, index_t n2, ByteReader& in,
                           const SectionTable& secs, const HeaderReader& r) {
  const index_t d = b.config.d_latent;
  const index_t C = static_cast<index_t>(b.class_names.size());
  const auto& subs = r.array(j, "submodels");
  for (std::size_t f = 0; f < subs.size(); ++f) {
    const std::string field = "submodels[" + std::to_string(f) + "]";
    SubmodelState s;
    s.fit = r.indices(subs[f], "fit", field);
    s.calibration = r.indices(subs[f], "calibration", field);
    s.final_loss = r.loss(r.at(subs[f], "final_loss", field), field + ".final_loss");
    if (s.fit.empty()) r.fail(field + ".fit", "is empty (a submodel needs at least one fitting gene)");
    for (index_t g : s.fit)
      if (g < 0 || g >= static_cast<index_t>(b.genes.size()))
        r.fail(field + ".fit", detail::concat("has gene index ", g, " outside [0, ", b.genes.size(), ")"));
    const auto ours = detail::parameter_layout(b.config, static_cast<index_t>(s.fit.size()), C);
    check_parameter_layout(subs[f], field, f, ours, b, r, in.path());
    const std::string pre = "submodel." + std::to_string(f);
    secs.read<float>(in, pre + ".params", static_cast<std::uint64_t>(detail::layout_size(ours)), s.params);
    secs.check(pre + ".ref_codes", Dtype<float>::name, static_cast<std::uint64_t>(n2) * static_cast<std::uint64_t>(d));
    s.ref_codes.resize(n2, d);
    secs.read_into<float>(in, pre + ".ref_codes", s.ref_codes.data());
    b.submodels.push_back(std::move(s));
  }
}

/// The reference values (CSR, n2 rows, one column per reference gene).
inline void read_reference_values(ModelBundle& b, const nlohmann::json& j, std::uint64_t n2, ByteReader& in,
                                  const SectionTable& secs, const HeaderReader& r) {
  const auto& rv = r.at(j, "reference_values", "");
  if (r.str(rv, "layout", "reference_values") != "csr") r.fail("reference_values.layout", "must be \"csr\"");
  const std::uint64_t nnz = r.uint(rv, "nnz", "reference_values");
  if (r.uint(rv, "rows", "reference_values") != n2)
    r.fail("reference_values.rows", detail::concat("must equal reference_cells (", n2, ")"));
  if (r.uint(rv, "cols", "reference_values") != b.ref_genes.size())
    r.fail("reference_values.cols",
           detail::concat("must equal the number of reference genes (", b.ref_genes.size(), ")"));
  CsrGraph& P = b.ref_pattern;
  P.n = static_cast<index_t>(n2);
  secs.read<std::int64_t>(in, "reference.indptr", n2 + 1, P.indptr);
  secs.read<std::int32_t>(in, "reference.indices", nnz, P.indices);
  secs.read<float>(in, "reference.values", nnz, b.ref_values);
}

}  // namespace detail::model_file

/// Reads a model file written by save_model (any format version from
/// model_file_min_read_version to model_file_max_read_version). Throws
/// stai::Error naming the file and the fix for: a missing file, a file that
/// is not a stai model, an unsupported format version, a truncated or
/// corrupt file (checksum), an invalid or incomplete header, sections
/// inconsistent with the header, and a parameter layout this build does not use.
inline ModelBundle load_model(const std::string& path) {
  namespace mf = detail::model_file;
  ByteReader in(path, "model file");
  const mf::Prefix p = mf::read_prefix(in);
  mf::verify_checksum(in, p);
  const mf::HeaderReader r(path);
  const nlohmann::json j = mf::read_header(in, p, r);
  ModelBundle b = mf::read_bundle_fields(j, r);
  const std::uint64_t n2 = r.uint(j, "reference_cells");
  STAI_CHECK(n2 <= in.size(), path, ": the model header says ", n2, " reference cells, more than the file can hold; ",
             "the file is damaged: save the model again");
  const mf::SectionTable secs(j, p, in.size(), r, path);
  mf::read_submodels(b, j, static_cast<index_t>(n2), in, secs, r);
  mf::read_reference_values(b, j, n2, in, secs, r);
  b.check(path);
  return b;
}

}  // namespace stai
