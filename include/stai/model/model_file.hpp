// stai — model files: a fitted ensemble in ONE versioned, checksummed file.
//
// Layout (all integers little-endian):
//
//   offset 0   "STAIMODL"                      8-byte magic
//   offset 8   u32  format version             (model_file_format_version)
//   offset 12  u64  H = header length in bytes
//   offset 20  header: H bytes of UTF-8 JSON, padded with spaces so that the
//              data area starts at a multiple of 8
//   20 + H     data area: D bytes ("data_bytes" in the header). Binary
//              sections, each listed in the header's "sections" array as
//              {name, offset, count, dtype[, shape]}; offsets are relative to
//              the start of the data area and 8-byte aligned (zero padding).
//   20 + H + D u64  FNV-1a 64 checksum of every preceding byte.
//
// The header holds the stai library version, the format version, the creation
// time (UTC), the configuration (Config::to_json), the seed, the model genes,
// the class names, per submodel its fitting / calibration gene indices, its
// final loss terms and its parameter layout, the scaling statistics of the
// spatial and the reference side, the reference genes available for
// imputation, the reference cell count and free user metadata (an object).
// dtype is one of "f32", "i32", "i64". Sections:
//   submodel.<f>.params     f32  the submodel's parameter block
//   submodel.<f>.ref_codes  f32  its reference codes, shape [n2, d_latent]
//   reference.indptr        i64  CSR row pointers of the reference values (n2 + 1)
//   reference.indices       i32  CSR column indices (ascending within a row)
//   reference.values        f32  CSR values (log-normalised expression)
// Doubles in the header are written in shortest round-trip form, so a saved
// and re-loaded bundle is bit-identical; non-finite ones as "nan"/"inf"/"-inf".
//
// save_model writes atomically (temporary file in the same directory, then
// rename; the temporary is removed on any error). load_model checks, in this
// order: the magic, the format version, the length, the checksum, then the
// header fields and every section against the header, so every failure names
// the file and what to do. The core library stays HDF5-free.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../backend/cpu.hpp"
#include "../config.hpp"
#include "../data/preprocess.hpp"
#include "../error.hpp"
#include "../io/atomic_file.hpp"
#include "config.hpp"
#include "ensemble.hpp"
#include "stai_model.hpp"

namespace stai {

/// The model-file format this build writes, and the range it reads.
inline constexpr std::uint32_t model_file_format_version = 1;
inline constexpr std::uint32_t model_file_min_read_version = 1;
inline constexpr std::uint32_t model_file_max_read_version = 1;
/// The 8 bytes every stai model file starts with.
inline constexpr char model_file_magic[9] = "STAIMODL";

/// FNV-1a, 64 bit, over n bytes, continuing from hash h (the offset basis
/// 0xcbf29ce484222325 starts a new hash).
inline std::uint64_t fnv1a64(const void* data, std::size_t n,
                             std::uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// ---------------------------------------------------------------------------
// Sparse reference values
// ---------------------------------------------------------------------------

/// A rows x cols float matrix in compressed sparse row form: the stored
/// values of row i are values[indptr[i] .. indptr[i+1]), in the columns
/// indices[...] (strictly ascending within a row). Absent entries are 0.
struct CsrMatrix {
  index_t rows = 0, cols = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<float> values;

  index_t nnz() const { return static_cast<index_t>(indices.size()); }

  /// Throws unless the structure is well formed: indptr has rows + 1
  /// non-decreasing entries from 0 to nnz, indices are in [0, cols) and
  /// strictly ascending within each row, values are finite.
  void check(const std::string& where = "sparse matrix") const {
    STAI_CHECK(rows >= 0 && cols >= 0 && cols <= std::numeric_limits<std::int32_t>::max(), where,
               ": invalid shape ", rows, " x ", cols, " (columns must fit a 32-bit index)");
    STAI_CHECK(static_cast<index_t>(indptr.size()) == rows + 1, where, ": indptr has ", indptr.size(),
               " entries for ", rows, " rows (needs rows + 1)");
    STAI_CHECK(values.size() == indices.size(), where, ": ", indices.size(), " column indices but ",
               values.size(), " values");
    STAI_CHECK(indptr.front() == 0 && indptr.back() == nnz(), where, ": indptr must run from 0 to the ",
               "number of stored values (", nnz(), "), it runs from ", indptr.front(), " to ", indptr.back());
    for (index_t i = 0; i < rows; ++i)
      STAI_CHECK(indptr[static_cast<std::size_t>(i)] <= indptr[static_cast<std::size_t>(i) + 1], where,
                 ": indptr decreases at row ", i);
    for (index_t i = 0; i < rows; ++i) {
      const std::int64_t a = indptr[static_cast<std::size_t>(i)], b = indptr[static_cast<std::size_t>(i) + 1];
      for (std::int64_t e = a; e < b; ++e) {
        const std::int32_t c = indices[static_cast<std::size_t>(e)];
        STAI_CHECK(c >= 0 && c < cols, where, ": row ", i, " has column index ", c, " outside [0, ", cols, ")");
        STAI_CHECK(e == a || indices[static_cast<std::size_t>(e) - 1] < c, where, ": row ", i,
                   " has column indices that are not strictly ascending (", indices[static_cast<std::size_t>(e) - 1],
                   " then ", c, ")");
        STAI_CHECK(std::isfinite(values[static_cast<std::size_t>(e)]), where, ": value at (row ", i,
                   ", column ", c, ") is ", values[static_cast<std::size_t>(e)], "; values must be finite");
      }
    }
  }
};

/// CSR of a dense matrix, keeping every entry that is not 0 (-0.0 counts as 0).
inline CsrMatrix csr_from_dense(const RowMatrix<float>& X) {
  STAI_CHECK(X.cols() <= std::numeric_limits<std::int32_t>::max(),
             "csr_from_dense: ", X.cols(), " columns do not fit a 32-bit column index");
  CsrMatrix m;
  m.rows = X.rows();
  m.cols = X.cols();
  m.indptr.assign(static_cast<std::size_t>(m.rows) + 1, 0);
  for (index_t i = 0; i < X.rows(); ++i) {
    for (index_t j = 0; j < X.cols(); ++j) {
      const float v = X(i, j);
      if (v != 0.0f) {
        m.indices.push_back(static_cast<std::int32_t>(j));
        m.values.push_back(v);
      }
    }
    m.indptr[static_cast<std::size_t>(i) + 1] = static_cast<std::int64_t>(m.indices.size());
  }
  return m;
}

/// The dense rows x cols matrix of a CSR matrix (absent entries 0).
inline RowMatrix<float> csr_to_dense(const CsrMatrix& m) {
  m.check("csr_to_dense");
  RowMatrix<float> X = RowMatrix<float>::Zero(m.rows, m.cols);
  for (index_t i = 0; i < m.rows; ++i)
    for (std::int64_t e = m.indptr[static_cast<std::size_t>(i)]; e < m.indptr[static_cast<std::size_t>(i) + 1]; ++e)
      X(i, m.indices[static_cast<std::size_t>(e)]) = m.values[static_cast<std::size_t>(e)];
  return X;
}

/// Dense columns `cols` of a CSR matrix, in the order given (repeats allowed):
/// out(i, q) = m(i, cols[q]).
inline RowMatrix<float> csr_columns(const CsrMatrix& m, const std::vector<index_t>& cols) {
  const index_t nq = static_cast<index_t>(cols.size());
  // first[c]: first output column taking source column c; next[q]: the next one after q.
  std::vector<index_t> first(static_cast<std::size_t>(m.cols), -1), next(cols.size(), -1);
  for (index_t q = nq - 1; q >= 0; --q) {
    const index_t c = cols[static_cast<std::size_t>(q)];
    STAI_CHECK(c >= 0 && c < m.cols, "csr_columns: column ", c, " outside [0, ", m.cols, ")");
    next[static_cast<std::size_t>(q)] = first[static_cast<std::size_t>(c)];
    first[static_cast<std::size_t>(c)] = q;
  }
  RowMatrix<float> out = RowMatrix<float>::Zero(m.rows, nq);
  for (index_t i = 0; i < m.rows; ++i)
    for (std::int64_t e = m.indptr[static_cast<std::size_t>(i)]; e < m.indptr[static_cast<std::size_t>(i) + 1]; ++e)
      for (index_t q = first[static_cast<std::size_t>(m.indices[static_cast<std::size_t>(e)])]; q >= 0;
           q = next[static_cast<std::size_t>(q)])
        out(i, q) = m.values[static_cast<std::size_t>(e)];
  return out;
}

// ---------------------------------------------------------------------------
// The bundle
// ---------------------------------------------------------------------------

namespace detail {
/// One parameter tensor of a submodel: name and shape.
struct ParamShape {
  std::string name;
  index_t rows = 0, cols = 0;
  bool operator==(const ParamShape&) const = default;
};
/// The parameter layout this build uses for a submodel with d_in fitting
/// genes and C classes (declaration order = order in the parameter block).
inline std::vector<ParamShape> parameter_layout(const Config& cfg, index_t d_in, index_t C) {
  StaiModel<Cpu, float> m(cfg, d_in, C);
  std::vector<ParamShape> out;
  for (const auto& p : m.arena().info()) out.push_back({p.name, p.rows, p.cols});
  return out;
}
inline index_t layout_size(const std::vector<ParamShape>& l) {
  index_t n = 0;
  for (const auto& p : l) n += p.rows * p.cols;
  return n;
}
inline void check_unique_names(const std::vector<std::string>& names, const std::string& where,
                               const char* what) {
  std::unordered_set<std::string> seen;
  for (const auto& n : names)
    STAI_CHECK(seen.insert(n).second, where, ": the ", what, " list contains '", n,
               "' more than once; names must be unique");
}
}  // namespace detail

/// Everything a model file holds: a fitted ensemble (configuration, genes,
/// classes, submodels) plus what is needed to apply it to new data (scaling
/// statistics) and to impute (the reference's log-normalised values of the
/// imputable genes, sparse).
struct ModelBundle {
  Config config;
  std::vector<std::string> genes;        ///< model genes, in column order
  std::vector<std::string> class_names;  ///< empty: no classifier
  std::vector<SubmodelState> submodels;
  /// Scaling statistics of the spatial and the reference data. Either empty
  /// (not recorded) or covering exactly the model genes, in order.
  ScalingStats st_scaling, sc_scaling;
  std::vector<std::string> ref_genes;  ///< genes available for imputation
  CsrMatrix ref_values;                ///< reference cells x ref_genes, log-normalised
  nlohmann::json metadata = nlohmann::json::object();  ///< free user metadata (an object)
  std::string library_version = version();  ///< set by load_model: the stai that wrote the file
  std::string created;                      ///< set by load_model: creation time, ISO 8601 UTC

  /// Reference cells (rows of every submodel's codes and of ref_values).
  index_t num_reference_cells() const { return submodels.empty() ? 0 : submodels.front().ref_codes.rows(); }

  /// Dense reference values (reference cells x genes) of the named genes, in
  /// the order given, for Ensemble::impute. Throws naming the missing genes.
  RowMatrix<float> reference_values(const std::vector<std::string>& wanted) const {
    std::vector<std::string> missing;
    const std::vector<index_t> cols = detail::lookup_columns(ref_genes, wanted, missing);
    if (!missing.empty())
      throw Error(detail::concat("the model's reference has no values for ", missing.size(), " of the ",
                                 wanted.size(), " requested genes: ", detail::quoted_list(missing),
                                 "; the model can impute only the ", ref_genes.size(),
                                 " reference genes stored in it (ModelBundle::ref_genes); "
                                 "save the model again with a reference that contains these genes"));
    return csr_columns(ref_values, cols);
  }

  /// Throws unless the pieces fit together (sizes, indices, names, parameter
  /// layout of this build). `where` (e.g. the file name) prefixes messages.
  void check(const std::string& where = "model") const {
    config.validate();
    const index_t G = static_cast<index_t>(genes.size());
    const index_t C = static_cast<index_t>(class_names.size());
    STAI_CHECK(G >= 1, where, ": the model has no genes");
    detail::check_unique_names(genes, where, "model gene");
    detail::check_unique_names(class_names, where, "class name");
    detail::check_unique_names(ref_genes, where, "reference gene");
    STAI_CHECK(!submodels.empty(), where, ": the model has no submodels (fit the ensemble before saving)");
    const index_t n2 = num_reference_cells();
    STAI_CHECK(n2 >= 1, where, ": submodel 0 has no reference codes");
    for (std::size_t f = 0; f < submodels.size(); ++f) {
      const SubmodelState& s = submodels[f];
      const std::string sw = detail::concat(where, ": submodel ", f);
      STAI_CHECK(!s.fit.empty(), sw, " has no fitting genes");
      std::vector<char> used(static_cast<std::size_t>(G), 0);
      for (const auto* list : {&s.fit, &s.calibration})
        for (index_t g : *list) {
          STAI_CHECK(g >= 0 && g < G, sw, ": gene index ", g, " outside [0, ", G, ")");
          STAI_CHECK(!used[static_cast<std::size_t>(g)], sw, ": gene index ", g,
                     " appears twice in its fitting / calibration genes");
          used[static_cast<std::size_t>(g)] = 1;
        }
      const index_t want = detail::layout_size(
          detail::parameter_layout(config, static_cast<index_t>(s.fit.size()), C));
      STAI_CHECK(static_cast<index_t>(s.params.size()) == want, sw, " has ", s.params.size(),
                 " parameters but a model with this configuration, ", s.fit.size(), " fitting genes and ", C,
                 " classes has ", want);
      STAI_CHECK(s.ref_codes.rows() == n2 && s.ref_codes.cols() == config.d_latent, sw,
                 ": reference codes are ", s.ref_codes.rows(), " x ", s.ref_codes.cols(), ", expected ", n2,
                 " x ", config.d_latent, " (reference cells x d_latent)");
    }
    for (const auto& [st, side] : {std::pair{&st_scaling, "spatial"}, {&sc_scaling, "reference"}}) {
      st->check(detail::concat(where, ": ", side, " scaling statistics"));
      STAI_CHECK(st->genes.empty() || st->genes == genes, where, ": the ", side,
                 " scaling statistics cover ", st->genes.size(), " genes that are not the ", G,
                 " model genes in order; give statistics fitted on exactly the model genes (or none)");
    }
    ref_values.check(detail::concat(where, ": reference values"));
    STAI_CHECK(ref_values.rows == n2 && ref_values.cols == static_cast<index_t>(ref_genes.size()), where,
               ": the reference values are ", ref_values.rows, " x ", ref_values.cols, " but there are ", n2,
               " reference cells and ", ref_genes.size(), " reference genes (with no imputable genes, "
               "pass csr_from_dense of a reference-cells x 0 matrix)");
    STAI_CHECK(metadata.is_object(), where, ": metadata must be a JSON object, got ", metadata.type_name());
  }
};

/// A bundle of a fitted ensemble plus its preprocessing and reference values.
template <class B, class T>
ModelBundle make_model_bundle(const Ensemble<B, T>& e, ScalingStats st_scaling, ScalingStats sc_scaling,
                              std::vector<std::string> ref_genes, CsrMatrix ref_values,
                              nlohmann::json metadata = nlohmann::json::object()) {
  ModelBundle b;
  b.config = e.config();
  b.genes = e.genes();
  b.class_names = e.class_names();
  b.submodels = e.submodels();
  b.st_scaling = std::move(st_scaling);
  b.sc_scaling = std::move(sc_scaling);
  b.ref_genes = std::move(ref_genes);
  b.ref_values = std::move(ref_values);
  b.metadata = std::move(metadata);
  return b;
}

/// Restores `e` from a (loaded) bundle: Ensemble::restore with copies of its pieces.
template <class B, class T>
void restore_ensemble(Ensemble<B, T>& e, const ModelBundle& b) {
  b.check();
  e.restore(b.config, b.genes, b.class_names, b.submodels);
}

// ---------------------------------------------------------------------------
// Writing and reading
// ---------------------------------------------------------------------------

namespace detail::model_file {

inline constexpr std::size_t prefix_bytes = 20;  // magic + version + header length

template <class T>
struct Dtype;
template <>
struct Dtype<float> {
  static constexpr const char* name = "f32";
};
template <>
struct Dtype<std::int32_t> {
  static constexpr const char* name = "i32";
};
template <>
struct Dtype<std::int64_t> {
  static constexpr const char* name = "i64";
};
inline std::uint64_t dtype_size(const std::string& d) {
  if (d == "f32" || d == "i32") return 4;
  if (d == "i64") return 8;
  return 0;
}

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
  if (n) std::memcpy(dst, src, n * sizeof(T));
  if constexpr (std::endian::native != std::endian::little)
    for (std::size_t i = 0; i < n; ++i) dst[i] = std::bit_cast<T>(byteswap(std::bit_cast<Bits<T>>(dst[i])));
}

/// A stream that hashes what it writes.
class HashingWriter {
 public:
  HashingWriter(const std::string& temp, const std::string& target) : target_(target) {
    out_.open(temp, std::ios::binary | std::ios::trunc);
    STAI_CHECK(out_.is_open(), target_, ": cannot create the temporary file '", temp,
               "'; check write permission on the directory");
  }
  void write(const void* p, std::size_t n) {
    if (n == 0) return;
    hash_ = fnv1a64(p, n, hash_);
    out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    bytes_ += n;
    STAI_CHECK(out_.good(), target_, ": writing the model file failed after ", bytes_,
               " bytes; is the disk full or the file too large for this file system?");
  }
  template <class T>
  void write_array(const T* p, std::size_t n) {
    constexpr std::size_t chunk = std::size_t(1) << 18;  // values per block
    std::vector<char> buf;
    for (std::size_t a = 0; a < n; a += chunk) {
      buf.clear();
      to_le(p + a, std::min(chunk, n - a), buf);
      write(buf.data(), buf.size());
    }
  }
  void pad_to(std::uint64_t pos) {
    static const char zeros[8] = {};
    while (bytes_ < pos) write(zeros, static_cast<std::size_t>(std::min<std::uint64_t>(8, pos - bytes_)));
  }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t hash() const { return hash_; }
  void finish() {
    std::vector<char> b;
    const std::uint64_t h = hash_;
    to_le(&h, 1, b);
    out_.write(b.data(), 8);
    out_.close();
    STAI_CHECK(!out_.fail(), target_, ": writing the model file failed at the end (", bytes_ + 8,
               " bytes); is the disk full?");
  }

 private:
  std::ofstream out_;
  std::string target_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t bytes_ = 0;
};

inline nlohmann::json real_to_json(double v) {
  if (std::isfinite(v)) return v;
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline nlohmann::json scaling_to_json(const ScalingStats& s) {
  nlohmann::json m = nlohmann::json::array(), d = nlohmann::json::array();
  for (double v : s.means) m.push_back(v);
  for (double v : s.stds) d.push_back(v);
  return {{"genes", s.genes}, {"means", m}, {"stds", d}, {"clip", real_to_json(s.clip)}};
}

inline nlohmann::json loss_to_json(const LossTerms& l) {
  return {{"total", real_to_json(l.total)}, {"recon", real_to_json(l.recon)}, {"mmd", real_to_json(l.mmd)},
          {"cos", real_to_json(l.cos)},     {"clf", real_to_json(l.clf)},     {"impute", real_to_json(l.impute)},
          {"gene", real_to_json(l.gene)}};
}

/// One section of the data area.
struct Section {
  std::string name, dtype;
  std::uint64_t offset = 0, count = 0;
  std::vector<index_t> shape;  // empty: 1-D
};

inline std::string u32_bytes(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
inline std::string u64_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
inline std::uint64_t read_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint32_t read_u32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace detail::model_file

/// Writes the bundle to `path` as one model file, atomically: a temporary
/// file in the same directory is written, flushed and renamed over `path`;
/// on any error it is removed and `path` is left as it was.
inline void save_model(const std::string& path, const ModelBundle& b) {
  namespace mf = detail::model_file;
  b.check(path);
  const index_t C = static_cast<index_t>(b.class_names.size());
  const index_t n2 = b.num_reference_cells();

  // Layout of the data area.
  std::vector<mf::Section> sections;
  std::uint64_t at = 0;
  auto add = [&](std::string name, const char* dtype, std::uint64_t count, std::vector<index_t> shape = {}) {
    at = (at + 7) / 8 * 8;
    sections.push_back({std::move(name), dtype, at, count, std::move(shape)});
    at += count * mf::dtype_size(dtype);
  };
  nlohmann::json subs = nlohmann::json::array();
  for (std::size_t f = 0; f < b.submodels.size(); ++f) {
    const SubmodelState& s = b.submodels[f];
    const std::string pre = "submodel." + std::to_string(f);
    add(pre + ".params", mf::Dtype<float>::name, s.params.size());
    add(pre + ".ref_codes", mf::Dtype<float>::name, static_cast<std::uint64_t>(s.ref_codes.size()),
        {s.ref_codes.rows(), s.ref_codes.cols()});
    nlohmann::json layout = nlohmann::json::array();
    for (const auto& p : detail::parameter_layout(b.config, static_cast<index_t>(s.fit.size()), C))
      layout.push_back({p.name, p.rows, p.cols});
    subs.push_back({{"fit", s.fit},
                    {"calibration", s.calibration},
                    {"final_loss", mf::loss_to_json(s.final_loss)},
                    {"parameter_layout", std::move(layout)}});
  }
  const CsrMatrix& R = b.ref_values;
  add("reference.indptr", mf::Dtype<std::int64_t>::name, R.indptr.size());
  add("reference.indices", mf::Dtype<std::int32_t>::name, R.indices.size());
  add("reference.values", mf::Dtype<float>::name, R.values.size());
  const std::uint64_t data_bytes = at;

  nlohmann::json secj = nlohmann::json::array();
  for (const auto& s : sections) {
    nlohmann::json e = {{"name", s.name}, {"offset", s.offset}, {"count", s.count}, {"dtype", s.dtype}};
    if (!s.shape.empty()) e["shape"] = s.shape;
    secj.push_back(std::move(e));
  }
  const nlohmann::json header = {
      {"format", "stai-model"},
      {"format_version", model_file_format_version},
      {"stai_version", version()},
      {"created", mf::utc_now()},
      {"config", b.config.to_json()},
      {"seed", b.config.seed},
      {"genes", b.genes},
      {"class_names", b.class_names},
      {"reference_cells", n2},
      {"submodels", std::move(subs)},
      {"scaling", {{"spatial", mf::scaling_to_json(b.st_scaling)},
                   {"reference", mf::scaling_to_json(b.sc_scaling)}}},
      {"reference_genes", b.ref_genes},
      {"reference_values", {{"layout", "csr"}, {"rows", R.rows}, {"cols", R.cols}, {"nnz", R.nnz()},
                            {"indptr", "reference.indptr"}, {"indices", "reference.indices"},
                            {"values", "reference.values"}}},
      {"metadata", b.metadata},
      {"data_bytes", data_bytes},
      {"sections", std::move(secj)},
  };

  write_atomically(path, [&](const std::string& temp) {
    mf::HashingWriter w(temp, path);
    std::string text;
    try {
      text = header.dump();
    } catch (const nlohmann::json::exception& e) {
      throw Error(detail::concat(path, ": cannot write the model header: a gene name, class name or ",
                                 "metadata string is not valid UTF-8 (", e.what(), "); fix the names"));
    }
    while ((mf::prefix_bytes + text.size()) % 8 != 0) text.push_back(' ');
    w.write(model_file_magic, 8);
    w.write(mf::u32_bytes(model_file_format_version).data(), 4);
    w.write(mf::u64_bytes(text.size()).data(), 8);
    w.write(text.data(), text.size());
    const std::uint64_t base = w.bytes();
    std::size_t q = 0;
    auto next = [&]() -> const mf::Section& {
      const mf::Section& s = sections[q++];
      w.pad_to(base + s.offset);
      return s;
    };
    for (const SubmodelState& s : b.submodels) {
      next();
      w.write_array(s.params.data(), s.params.size());
      next();
      w.write_array(s.ref_codes.data(), static_cast<std::size_t>(s.ref_codes.size()));
    }
    next();
    w.write_array(R.indptr.data(), R.indptr.size());
    next();
    w.write_array(R.indices.data(), R.indices.size());
    next();
    w.write_array(R.values.data(), R.values.size());
    w.pad_to(base + data_bytes);
    w.finish();
  });
}

namespace detail::model_file {

/// Typed access to header fields; every failure names the file and the field.
class HeaderReader {
 public:
  explicit HeaderReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(detail::concat(file_, ": the model header field '", field, "' ", what,
                               "; the file is damaged or was not written by stai (save the model again)"));
  }
  const nlohmann::json& at(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object()) fail(field, "is not an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(field.empty() ? key : field + "." + key, "is missing");
    return *it;
  }
  static std::string path(const std::string& field, const std::string& key) {
    return field.empty() ? key : field + "." + key;
  }
  std::string str(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_string()) fail(path(field, key), "must be a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::uint64_t uint(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
      fail(path(field, key), "must be a non-negative integer, got " + v.dump());
    return v.get<std::uint64_t>();
  }
  double real(const nlohmann::json& v, const std::string& field) const {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
    }
    fail(field, "must be a number (or \"nan\", \"inf\", \"-inf\"), got " + v.dump());
  }
  double real(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    return real(at(obj, key, field), path(field, key));
  }
  const nlohmann::json& array(const nlohmann::json& obj, const std::string& key, const std::string& field = {}) const {
    const auto& v = at(obj, key, field);
    if (!v.is_array()) fail(path(field, key), "must be an array, got " + std::string(v.type_name()));
    return v;
  }
  std::vector<std::string> strings(const nlohmann::json& obj, const std::string& key,
                                   const std::string& field = {}) const {
    std::vector<std::string> out;
    for (const auto& v : array(obj, key, field)) {
      if (!v.is_string()) fail(path(field, key), "must be an array of strings, found " + v.dump());
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  std::vector<index_t> indices(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    std::vector<index_t> out;
    for (const auto& v : array(obj, key, field)) {
      if (!v.is_number_integer()) fail(path(field, key), "must be an array of integers, found " + v.dump());
      out.push_back(v.get<index_t>());
    }
    return out;
  }
  std::vector<double> reals(const nlohmann::json& obj, const std::string& key, const std::string& field) const {
    std::vector<double> out;
    for (const auto& v : array(obj, key, field)) out.push_back(real(v, path(field, key)));
    return out;
  }
  ScalingStats scaling(const nlohmann::json& obj, const std::string& field) const {
    ScalingStats s;
    s.genes = strings(obj, "genes", field);
    s.means = reals(obj, "means", field);
    s.stds = reals(obj, "stds", field);
    s.clip = real(obj, "clip", field);
    return s;
  }
  LossTerms loss(const nlohmann::json& obj, const std::string& field) const {
    LossTerms l;
    l.total = real(obj, "total", field);
    l.recon = real(obj, "recon", field);
    l.mmd = real(obj, "mmd", field);
    l.cos = real(obj, "cos", field);
    l.clf = real(obj, "clf", field);
    l.impute = real(obj, "impute", field);
    l.gene = real(obj, "gene", field);
    return l;
  }

 private:
  std::string file_;
};

}  // namespace detail::model_file

/// Reads a model file written by save_model. Throws stai::Error naming the
/// file and the fix for: a missing file, a file that is not a stai model, an
/// unsupported format version, a truncated or corrupt file (checksum), an
/// invalid or incomplete header, sections inconsistent with the header, and
/// a parameter layout this build does not use.
inline ModelBundle load_model(const std::string& path) {
  namespace mf = detail::model_file;
  namespace fs = std::filesystem;
  std::error_code ec;
  STAI_CHECK(fs::exists(path, ec), path, ": model file not found; check the path");
  STAI_CHECK(!fs::is_directory(path, ec), path, ": is a directory, not a model file");
  std::ifstream in(path, std::ios::binary);
  STAI_CHECK(in.is_open(), path, ": cannot open the model file for reading; check its permissions");
  in.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  const std::string redo = "copy or save the model again";
  auto truncated = [&](const std::string& why) {
    return Error(detail::concat(path, ": the file is corrupt or truncated (", why, "); ", redo));
  };

  // Magic, version, header length.
  unsigned char prefix[mf::prefix_bytes] = {};
  const std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(size, mf::prefix_bytes));
  in.read(reinterpret_cast<char*>(prefix), static_cast<std::streamsize>(head));
  STAI_CHECK(in.good() || head < mf::prefix_bytes, path, ": reading the model file failed");
  const bool magic_ok = std::memcmp(prefix, model_file_magic, std::min<std::size_t>(head, 8)) == 0;
  if (!magic_ok || (head == 0))
    throw Error(detail::concat(path, ": not a stai model file (it does not start with \"STAIMODL\"",
                               head == 0 ? "; it is empty" : "",
                               "); pass a model file written by stai (save_model / --save-model)"));
  if (size < mf::prefix_bytes + 8)
    throw truncated(detail::concat("only ", size, " bytes, a model file has at least ", mf::prefix_bytes + 8));
  const std::uint32_t fver = mf::read_u32(prefix + 8);
  if (fver < model_file_min_read_version || fver > model_file_max_read_version)
    throw Error(detail::concat(
        path, ": model file format version ", fver, " is not supported; this build of stai (", version(),
        ") reads format versions ", model_file_min_read_version, " to ", model_file_max_read_version,
        fver > model_file_max_read_version
            ? "; the file was written by a newer stai: upgrade stai to load it"
            : "; the file was written by an older stai: load it with that version and save it again, or retrain"));
  const std::uint64_t hlen = mf::read_u64(prefix + 12);
  if (hlen > size - mf::prefix_bytes - 8)
    throw truncated(detail::concat("its header length field says ", hlen, " bytes but the file has only ", size,
                                   " bytes"));

  // Checksum over everything but the last 8 bytes.
  {
    std::uint64_t h = fnv1a64(prefix, mf::prefix_bytes);
    std::vector<char> buf(std::size_t(1) << 20);
    std::uint64_t left = size - 8 - mf::prefix_bytes;
    while (left > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
      in.read(buf.data(), static_cast<std::streamsize>(n));
      STAI_CHECK(in.good(), path, ": reading the model file failed at byte ", size - 8 - left);
      h = fnv1a64(buf.data(), n, h);
      left -= n;
    }
    unsigned char tail[8];
    in.read(reinterpret_cast<char*>(tail), 8);
    STAI_CHECK(in.good(), path, ": reading the model file's checksum failed");
    const std::uint64_t stored = mf::read_u64(tail);
    if (stored != h) {
      // Tell a short file from a damaged one when the header still says how long it should be.
      std::string why;
      try {
        in.clear();
        in.seekg(static_cast<std::streamoff>(mf::prefix_bytes));
        std::string text(static_cast<std::size_t>(hlen), '\0');
        in.read(text.data(), static_cast<std::streamsize>(hlen));
        const auto j = nlohmann::json::parse(text);
        const std::uint64_t want = mf::prefix_bytes + hlen + j.at("data_bytes").get<std::uint64_t>() + 8;
        if (want != size)
          why = detail::concat("its header describes ", want, " bytes but the file has ", size);
      } catch (...) {
      }
      if (why.empty()) {
        char hex[64];
        std::snprintf(hex, sizeof hex, "stored 0x%016llx, computed 0x%016llx", static_cast<unsigned long long>(stored),
                      static_cast<unsigned long long>(h));
        why = std::string("checksum mismatch: ") + hex;
      }
      throw truncated(why);
    }
  }

  // Header.
  in.clear();
  in.seekg(static_cast<std::streamoff>(mf::prefix_bytes));
  std::string text(static_cast<std::size_t>(hlen), '\0');
  in.read(text.data(), static_cast<std::streamsize>(hlen));
  STAI_CHECK(in.good(), path, ": reading the model header failed");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(path, ": the model header is not valid JSON (", e.what(),
                               "); the file was not written by stai or is damaged: save the model again"));
  }
  const mf::HeaderReader r(path);
  if (!j.is_object()) r.fail("(top level)", "must be a JSON object");
  if (r.str(j, "format") != "stai-model") r.fail("format", "must be \"stai-model\"");
  if (r.uint(j, "format_version") != fver)
    r.fail("format_version", detail::concat("is ", r.uint(j, "format_version"),
                                            " but the file's binary prefix says ", fver));
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
  const std::uint64_t n2u = r.uint(j, "reference_cells");
  STAI_CHECK(n2u <= size, path, ": the model header says ", n2u, " reference cells, more than the file can hold; ",
             "the file is damaged: save the model again");
  const index_t n2 = static_cast<index_t>(n2u);
  const index_t d = b.config.d_latent;
  const index_t C = static_cast<index_t>(b.class_names.size());
  const auto& scaling = r.at(j, "scaling", "");
  b.st_scaling = r.scaling(r.at(scaling, "spatial", "scaling"), "scaling.spatial");
  b.sc_scaling = r.scaling(r.at(scaling, "reference", "scaling"), "scaling.reference");
  b.ref_genes = r.strings(j, "reference_genes");
  b.metadata = r.at(j, "metadata", "");
  if (!b.metadata.is_object()) r.fail("metadata", "must be an object");
  const auto& rv = r.at(j, "reference_values", "");
  if (r.str(rv, "layout", "reference_values") != "csr") r.fail("reference_values.layout", "must be \"csr\"");
  const std::uint64_t nnz = r.uint(rv, "nnz", "reference_values");
  if (r.uint(rv, "rows", "reference_values") != n2u)
    r.fail("reference_values.rows", detail::concat("must equal reference_cells (", n2u, ")"));
  if (r.uint(rv, "cols", "reference_values") != b.ref_genes.size())
    r.fail("reference_values.cols", detail::concat("must equal the number of reference genes (", b.ref_genes.size(), ")"));

  // Sections.
  const std::uint64_t data_bytes = r.uint(j, "data_bytes");
  const std::uint64_t base = mf::prefix_bytes + hlen;
  if (base + data_bytes + 8 != size)
    r.fail("data_bytes", detail::concat("is ", data_bytes, " but the file holds ", size - base - 8,
                                        " bytes of sections"));
  std::map<std::string, mf::Section> secs;
  {
    const auto& arr = r.array(j, "sections");
    for (std::size_t q = 0; q < arr.size(); ++q) {
      const std::string f = "sections[" + std::to_string(q) + "]";
      mf::Section s;
      s.name = r.str(arr[q], "name", f);
      s.dtype = r.str(arr[q], "dtype", f);
      s.offset = r.uint(arr[q], "offset", f);
      s.count = r.uint(arr[q], "count", f);
      const std::uint64_t es = mf::dtype_size(s.dtype);
      if (es == 0) r.fail(f + ".dtype", "must be \"f32\", \"i32\" or \"i64\", got \"" + s.dtype + "\"");
      if (s.offset > data_bytes || s.count > (data_bytes - s.offset) / es)
        throw Error(detail::concat(path, ": section '", s.name, "' (", s.count, " x ", s.dtype, " at offset ",
                                   s.offset, ") extends past the end of the data area (", data_bytes,
                                   " bytes); the section sizes are inconsistent with the header: save the model again"));
      if (!secs.emplace(s.name, s).second) r.fail(f + ".name", "repeats the section name '" + s.name + "'");
    }
  }
  auto section = [&](const std::string& name, const char* dtype, std::uint64_t count) -> const mf::Section& {
    const auto it = secs.find(name);
    STAI_CHECK(it != secs.end(), path, ": the model file has no section '", name,
               "'; the section list is inconsistent with the header: save the model again");
    const mf::Section& s = it->second;
    STAI_CHECK(s.dtype == dtype, path, ": section '", name, "' has dtype ", s.dtype, ", expected ", dtype,
               "; the section list is inconsistent with the header: save the model again");
    STAI_CHECK(s.count == count, path, ": section '", name, "' holds ", s.count, " values but the header implies ",
               count, "; the section sizes are inconsistent with the header: save the model again");
    return s;
  };
  auto read_section = [&](const mf::Section& s, auto* dst) {
    using V = std::remove_pointer_t<decltype(dst)>;
    in.clear();
    in.seekg(static_cast<std::streamoff>(base + s.offset));
    constexpr std::size_t chunk = std::size_t(1) << 18;
    std::vector<char> buf;
    for (std::uint64_t a = 0; a < s.count; a += chunk) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, s.count - a));
      buf.resize(n * sizeof(V));
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      STAI_CHECK(in.good(), path, ": reading section '", s.name, "' failed");
      mf::from_le(buf.data(), n, dst + a);
    }
  };

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
    // The stored parameter layout must be the one this build uses.
    std::vector<detail::ParamShape> stored;
    for (const auto& e : r.array(subs[f], "parameter_layout", field)) {
      if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_number_integer() ||
          !e[2].is_number_integer())
        r.fail(field + ".parameter_layout", "must hold [name, rows, cols] entries, found " + e.dump());
      stored.push_back({e[0].get<std::string>(), e[1].get<index_t>(), e[2].get<index_t>()});
    }
    const auto ours = detail::parameter_layout(b.config, static_cast<index_t>(s.fit.size()), C);
    if (stored != ours) {
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
    const std::string pre = "submodel." + std::to_string(f);
    const auto& ps = section(pre + ".params", "f32", static_cast<std::uint64_t>(detail::layout_size(ours)));
    s.params.resize(ps.count);
    read_section(ps, s.params.data());
    const auto& cs = section(pre + ".ref_codes", "f32", static_cast<std::uint64_t>(n2) * static_cast<std::uint64_t>(d));
    s.ref_codes.resize(n2, d);
    read_section(cs, s.ref_codes.data());
    b.submodels.push_back(std::move(s));
  }

  CsrMatrix& R = b.ref_values;
  R.rows = n2;
  R.cols = static_cast<index_t>(b.ref_genes.size());
  const auto& si = section("reference.indptr", "i64", n2u + 1);
  R.indptr.resize(si.count);
  read_section(si, R.indptr.data());
  const auto& sj = section("reference.indices", "i32", nnz);
  R.indices.resize(sj.count);
  read_section(sj, R.indices.data());
  const auto& sv = section("reference.values", "f32", nnz);
  R.values.resize(sv.count);
  read_section(sv, R.values.data());

  b.check(path);
  return b;
}

}  // namespace stai
