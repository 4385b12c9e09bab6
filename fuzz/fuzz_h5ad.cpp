// libFuzzer target for the .h5ad reader.
//
// Default (structured) mode: the input bytes drive a small generator that
// writes an AnnData-like HDF5 file in memory (core driver, no disk I/O) with
// the stai::h5 wrappers — random dense/sparse layouts, dtypes, shape
// attributes, indptr/indices contents, dataframe layouts (0.8 groups, 0.7
// reference categoricals, legacy h5sparse), categorical codes, column
// lengths — and then calls read_h5ad on it. This exercises stai's own
// validation of everything it reads, which is what stai controls.
//
// Raw mode (environment STAI_FUZZ_RAW_HDF5=1): the bytes are opened as an
// HDF5 file image directly. This mostly fuzzes libhdf5 1.10.8 itself, whose
// metadata parsing is known to crash on hostile files (many CVEs); see
// scripts/fuzz.sh.
//
// Every stai::Error is an accepted outcome; anything else (crash, sanitizer
// report, other exception) is a finding.
#include <cstdint>
#include <cstdlib>
#include <stai/io/h5ad/read.hpp>
#include <stai/io/hdf5/write.hpp>
#include <string>
#include <vector>

namespace {

struct Bytes {
  const std::uint8_t* p;
  std::size_t n, i = 0;
  std::uint8_t u8() { return i < n ? p[i++] : 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | u8();
    return v;
  }
  int small(int mod) { return mod <= 0 ? 0 : static_cast<int>(u8() % mod); }
  /// Mostly-valid integer: small range, occasionally extreme.
  std::int64_t wild(std::int64_t valid_max) {
    switch (u8() % 16) {
      case 0: return -1;
      case 1: return valid_max + 1;
      case 2: return std::int64_t(1) << 40;
      case 3: return -(std::int64_t(1) << 40);
      default: return valid_max <= 0 ? 0 : static_cast<std::int64_t>(u32() % std::uint64_t(valid_max + 1));
    }
  }
};

using stai::h5::File;
using stai::h5::Group;
namespace h5 = stai::h5;

void write_strings_maybe_fixed(Bytes& b, const Group& g, const std::string& name,
                               const std::vector<std::string>& v) {
  if (b.u8() & 1) h5::write_fixed_strings(g, name, v);
  else h5::write_strings(g, name, v);
}

std::vector<std::string> names(int n, const char* prefix) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

void write_frame(Bytes& b, const Group& parent, const std::string& name, int n, int ncols) {
  const int layout = b.small(4);
  auto g = h5::create_group(parent, name);
  if (layout == 3) return;  // empty group: no index at all
  if (layout == 0) h5::write_encoding(g, "dataframe", b.u8() & 1 ? "0.2.0" : "0.1.0");
  const int nidx = (b.u8() % 8 == 0) ? static_cast<int>(b.wild(n)) : n;
  h5::write_attr_string(g, "_index", "_index");
  write_strings_maybe_fixed(b, g, "_index", names(std::max(0, std::min(nidx, 64)), "r"));
  std::vector<std::string> order;
  for (int c = 0; c < ncols; ++c) {
    const std::string cn = "col" + std::to_string(c);
    order.push_back(cn);
    int len = (b.u8() % 8 == 0) ? std::max<int>(0, std::min<int>(64, static_cast<int>(b.wild(n)))) : n;
    switch (b.small(5)) {
      case 0: {
        std::vector<double> v(static_cast<std::size_t>(len));
        for (auto& x : v) x = b.u8() - 100.0;
        h5::write(g, cn, v.data(), {v.size()}, H5T_IEEE_F64LE);
        break;
      }
      case 1:
        write_strings_maybe_fixed(b, g, cn, names(len, "s"));
        break;
      case 2: {  // 0.8 categorical
        auto cg = h5::create_group(g, cn);
        if (b.u8() & 1) h5::write_encoding(cg, "categorical", "0.2.0");
        const int ncat = b.small(5);
        std::vector<std::string> cats = names(ncat, "cat");
        if (ncat > 1 && b.u8() % 8 == 0) cats[1] = cats[0];  // duplicate category
        write_strings_maybe_fixed(b, cg, "categories", cats);
        std::vector<std::int8_t> codes(static_cast<std::size_t>(len));
        for (auto& c : codes) c = static_cast<std::int8_t>(b.u8() % 8 == 0 ? b.u8() : b.small(ncat + 1) - 1);
        h5::write(cg, "codes", codes.data(), {codes.size()}, H5T_STD_I8LE);
        break;
      }
      case 3: {  // 0.7 categorical via object reference
        const int ncat = b.small(4);
        auto cats_group = g.has("__categories") ? g.group("__categories") : h5::create_group(g, "__categories");
        h5::write_strings(cats_group, cn, names(ncat, "k"));
        std::vector<std::int16_t> codes(static_cast<std::size_t>(len));
        for (auto& c : codes) c = static_cast<std::int16_t>(b.small(ncat + 2) - 1);
        auto ds = h5::write(g, cn, codes.data(), {codes.size()}, H5T_STD_I16LE);
        hobj_ref_t ref{};
        const std::string target = cats_group.child_path(cn);
        if (H5Rcreate(&ref, parent.id(), target.c_str(), H5R_OBJECT, -1) >= 0) {
          stai::h5::Hid s(H5Screate(H5S_SCALAR));
          stai::h5::Hid a(H5Acreate2(ds.id(), "categories", H5T_STD_REF_OBJ, s.get(), H5P_DEFAULT, H5P_DEFAULT));
          if (a.valid()) H5Awrite(a.get(), H5T_STD_REF_OBJ, &ref);
        }
        break;
      }
      default: {  // nullable
        auto ng = h5::create_group(g, cn);
        h5::write_encoding(ng, "nullable-integer", "0.1.0");
        std::vector<std::int32_t> v(static_cast<std::size_t>(len));
        for (auto& x : v) x = b.u8();
        h5::write(ng, "values", v.data(), {v.size()}, H5T_STD_I32LE);
        std::vector<std::int8_t> m(std::size_t(b.u8() % 8 == 0 ? b.small(64) : len));
        for (auto& x : m) x = static_cast<std::int8_t>(b.u8() & 1);
        h5::write_bools(ng, "mask", m);
      }
    }
  }
  if (b.u8() % 4) h5::write_attr_strings(g, "column-order", order);
}

void write_matrix(Bytes& b, const Group& parent, const std::string& name, int n, int m) {
  const int kind = b.small(4);
  if (kind == 0) {  // dense
    const hid_t types[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I32LE, H5T_STD_I64BE, H5T_STD_U8LE};
    const int rank = b.u8() % 8 == 0 ? 1 : 2;
    std::vector<double> v(static_cast<std::size_t>(n * m));
    for (auto& x : v) x = b.u8();
    if (rank == 2) h5::write(parent, name, v.data(), {std::uint64_t(n), std::uint64_t(m)}, types[b.small(5)]);
    else h5::write(parent, name, v.data(), {v.size()}, types[b.small(5)]);
    return;
  }
  if (kind == 3 && (b.u8() & 1)) {  // wrong dtype
    h5::write_strings(parent, name, names(n * m, "x"));
    return;
  }
  const bool csr = b.u8() & 1;
  const bool legacy = b.u8() % 4 == 0;
  auto g = h5::create_group(parent, name);
  std::vector<std::int64_t> shape{n, m};
  if (b.u8() % 8 == 0) shape[b.small(2)] = b.wild(n);
  if (b.u8() % 16 == 0) shape.push_back(1);
  if (legacy) {
    h5::write_attr_string(g, "h5sparse_format", b.u8() % 8 ? (csr ? "csr" : "csc") : "coo");
    h5::write_attr_int64s(g, "h5sparse_shape", shape);
  } else {
    h5::write_encoding(g, b.u8() % 8 ? (csr ? "csr_matrix" : "csc_matrix") : "coo_matrix", "0.1.0");
    h5::write_attr_int64s(g, "shape", shape);
  }
  const int major = csr ? n : m, minor = csr ? m : n;
  std::vector<std::int64_t> indptr{0}, indices;
  std::vector<float> data;
  for (int r = 0; r < major; ++r) {
    const int k = b.small(minor + 1);
    for (int q = 0; q < k; ++q) {
      indices.push_back(b.u8() % 16 == 0 ? b.wild(minor) : b.small(minor));
      data.push_back(static_cast<float>(b.u8()));
    }
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
  if (b.u8() % 8 == 0 && !indptr.empty()) indptr[std::size_t(b.small(int(indptr.size())))] = b.wild(std::int64_t(indices.size()));
  if (b.u8() % 8 == 0 && !indptr.empty()) indptr.pop_back();
  if (b.u8() % 8 == 0) indices.push_back(0);
  h5::write(g, "data", data.data(), {data.size()}, b.u8() & 1 ? H5T_IEEE_F32LE : H5T_STD_I16LE);
  if (b.u8() & 1) {
    h5::write(g, "indices", indices.data(), {indices.size()}, H5T_STD_I64LE);
    h5::write(g, "indptr", indptr.data(), {indptr.size()}, H5T_STD_I64LE);
  } else {
    std::vector<std::int32_t> i32(indices.begin(), indices.end()), p32(indptr.begin(), indptr.end());
    h5::write(g, "indices", i32.data(), {i32.size()}, H5T_STD_I32LE);
    h5::write(g, "indptr", p32.data(), {p32.size()}, H5T_STD_U32LE);
  }
}

/// Builds an in-memory HDF5 image from the fuzz bytes; returns false when
/// the generator produced nothing readable. `o` receives the read options.
bool build_image(const std::uint8_t* data, std::size_t size, std::vector<char>& img,
                 stai::H5adReadOptions& o) {
  Bytes b{data, size};
  stai::h5::silence_errors();
  stai::h5::Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
  stai::h5::Hid fid(H5Fcreate("fuzz-structured.h5ad", H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!fid.valid()) return false;
  // Wrap the root group; File has no public constructor from an id, so use a Group.
  Group root(stai::h5::Hid(H5Gopen2(fid.get(), "/", H5P_DEFAULT)), "fuzz", "/");
  const int n = b.small(9), m = b.small(7);
  try {
    if (b.u8() & 1) h5::write_encoding(root, "anndata", "0.1.0");
    write_matrix(b, root, "X", n, m);
    if (b.u8() % 8) write_frame(b, root, "obs", n, b.small(4));
    if (b.u8() % 8) write_frame(b, root, "var", m, b.small(3));
    if (b.u8() & 1) {
      auto om = h5::create_group(root, "obsm");
      const int rows = b.u8() % 8 == 0 ? b.small(9) : n;
      std::vector<double> v(std::size_t(rows * 2), 1.0);
      h5::write(om, "spatial", v.data(), {std::uint64_t(rows), 2}, H5T_IEEE_F64LE);
      if (b.u8() % 4 == 0) write_frame(b, om, "df", n, 1);
    }
    if (b.u8() & 1) {
      auto lay = h5::create_group(root, "layers");
      write_matrix(b, lay, "counts", n, m);
    }
    if (b.u8() % 4 == 0) {
      auto raw = h5::create_group(root, "raw");
      write_matrix(b, raw, "X", n, m + 1);
      write_frame(b, raw, "var", m + 1, 0);
    }
    if (b.u8() & 1) {
      auto u = h5::create_group(root, "uns");
      h5::write_string(u, "title", "t");
      h5::write_fixed_strings(u, "col0_categories", names(b.small(3), "u"));
    }
  } catch (const stai::Error&) {
    return false;  // generator produced something HDF5 refused; nothing to read
  }
  const int opt = b.small(8);
  if (opt == 1) o.layer = "counts";
  if (opt == 2) o.use_raw = true;
  if (opt == 3) o.genes = {"r0", "r1"};
  if (opt == 4) o.obs_columns = std::vector<std::string>{"col0"};
  if (opt == 5) o.obsm_keys = std::vector<std::string>{"spatial"};
  o.allow_empty = b.u8() & 1;
  // The reader gets the finished file as an image, as it would a file on disk.
  H5Fflush(fid.get(), H5F_SCOPE_GLOBAL);
  ssize_t len = H5Fget_file_image(fid.get(), nullptr, 0);
  if (len <= 0) return false;
  img.resize(static_cast<std::size_t>(len));
  return H5Fget_file_image(fid.get(), img.data(), img.size()) >= 0;
}

[[maybe_unused]] void structured(const std::uint8_t* data, std::size_t size) {
  std::vector<char> img;
  stai::H5adReadOptions o;
  if (!build_image(data, size, img, o)) return;
  try {
    auto f = File::open_image(img.data(), img.size(), "fuzz.h5ad");
    (void)stai::read_h5ad(f, o);
  } catch (const stai::Error&) {
  }
}

[[maybe_unused]] void raw(const std::uint8_t* data, std::size_t size) {
  try {
    auto f = File::open_image(data, size, "fuzz-raw.h5ad");
    (void)stai::read_h5ad(f);
  } catch (const stai::Error&) {
  }
}

}  // namespace

#ifdef STAI_FUZZ_MAKE_SEEDS
// Seed generator (built without libFuzzer by scripts/fuzz.sh):
//   fuzz_h5ad_seeds <structured-corpus-dir> <raw-corpus-dir> [count]
// writes `count` byte strings for the structured mode and the .h5ad images
// they generate (valid and broken layouts) for the raw mode.
#include <fstream>
int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int count = argc > 3 ? std::atoi(argv[3]) : 32;
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int k = 0; k < count; ++k) {
    std::vector<std::uint8_t> bytes(64 + 8 * std::size_t(k));
    for (auto& x : bytes) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      x = static_cast<std::uint8_t>(state >> 56);
    }
    std::ofstream(std::string(argv[1]) + "/seed" + std::to_string(k), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    std::vector<char> img;
    stai::H5adReadOptions o;
    if (build_image(bytes.data(), bytes.size(), img, o))
      std::ofstream(std::string(argv[2]) + "/seed" + std::to_string(k) + ".h5ad", std::ios::binary)
          .write(img.data(), std::streamsize(img.size()));
  }
  return 0;
}
#else
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool raw_mode = [] {
    stai::h5::max_read_bytes() = std::uint64_t(64) << 20;  // stay far below libFuzzer's malloc limit
    const char* e = std::getenv("STAI_FUZZ_RAW_HDF5");
    return e && *e == '1';
  }();
  if (raw_mode) raw(data, size);
  else structured(data, size);
  return 0;
}
#endif
