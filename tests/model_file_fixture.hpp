// Shared by the model-file tests (test_model_file*.cpp): temporary paths,
// byte helpers, an independent FNV-1a 64 and file assembly with a correct
// checksum, a tiny trained ensemble and its bundle (made once), and the
// bit-for-bit comparison of two bundles.
#pragma once

#include <stai/backend/cpu.hpp>

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <stai/data/preprocess.hpp>
#include <stai/graph/knn.hpp>
#include <stai/io/model_file_read.hpp>
#include <stai/io/model_file_write.hpp>

namespace model_file_test {

using namespace stai;
namespace fs = std::filesystem;


inline std::string tmp(const std::string& name) {
  static const fs::path dir = [] {
    auto p = fs::temp_directory_path() / ("stai_test_model_file_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return (dir / name).string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// Files in the directory of `path` whose name starts with its file name
/// followed by ".tmp" (left-over temporaries).
inline int leftover_temps(const std::string& path) {
  const fs::path p(path);
  int n = 0;
  if (!fs::exists(p.parent_path())) return 0;
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".tmp", 0) == 0) ++n;
  return n;
}

template <class V>
inline bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(*a.data())) == 0);
}
template <class T>
inline bool same_bits(const RowMatrix<T>& a, const RowMatrix<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0);
}
inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

inline std::uint64_t le64(const std::string& s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
inline std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
inline std::string le_bytes(std::uint64_t v, int n) {
  std::string s(static_cast<std::size_t>(n), '\0');
  for (int i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// A model file taken apart: version, header JSON, data area.
struct Parts {
  std::uint32_t version = 0;
  nlohmann::json header;
  std::string data;
};
inline Parts take_apart(const std::string& bytes) {
  Parts p;
  p.version = le32(bytes, 8);
  const std::uint64_t h = le64(bytes, 12);
  p.header = nlohmann::json::parse(bytes.substr(20, static_cast<std::size_t>(h)));
  p.data = bytes.substr(20 + static_cast<std::size_t>(h), bytes.size() - 28 - static_cast<std::size_t>(h));
  return p;
}
/// FNV-1a 64 as published (http://www.isthe.com/chongo/tech/comp/fnv/), written
/// here independently of stai's: the checksum of format version 1.
inline std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}
/// The checksum a model file of format version `version` ends with.
inline std::uint64_t file_checksum(std::uint32_t version, const std::string& s) {
  return version == 1 ? fnv1a(s) : XXH3_64bits(s.data(), s.size());
}
/// Assembles a file with a CORRECT checksum for its version (so that the later checks are reached).
inline std::string assemble(std::uint32_t version, const std::string& header_text, const std::string& data) {
  std::string s = std::string("STAIMODL") + le_bytes(version, 4) + le_bytes(header_text.size(), 8) + header_text + data;
  return s + le_bytes(file_checksum(version, s), 8);
}
inline std::string assemble(const Parts& p) { return assemble(p.version, p.header.dump(), p.data); }
/// The same model as a file of format version 1 (FNV-1a 64): what stai wrote before XXH3.
inline std::string as_version_1(const std::string& bytes) {
  Parts p = take_apart(bytes);
  p.version = 1;
  p.header["format_version"] = 1;
  std::string text = p.header.dump();
  while ((20 + text.size()) % 8 != 0) text.push_back(' ');
  return assemble(1, text, p.data);
}

/// A tiny trained ensemble and its bundle, made once.
struct Fixture {
  Cpu be;
  ModelInputs in;
  Ensemble<Cpu, float> ens;
  RowMatrix<float> ref_dense;  ///< n2 x 10 "log-normalised" reference values
  ModelBundle bundle;
};

inline Fixture make_fixture() {
  Fixture f;
  const index_t n1 = 40, n2 = 30, G = 6, Gr = 10;
  std::mt19937 gen(7);
  std::normal_distribution<double> nd(2.0, 1.0);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  std::vector<std::string> genes;
  for (index_t g = 0; g < G; ++g) genes.push_back(std::string("G").append(std::to_string(g)));  // (not "G" + ...: a GCC 12 -Wrestrict false positive)
  RowMatrix<float> st_raw(n1, G), sc_raw(n2, G);
  for (index_t e = 0; e < st_raw.size(); ++e) st_raw.data()[e] = static_cast<float>(nd(gen));
  for (index_t e = 0; e < sc_raw.size(); ++e) sc_raw.data()[e] = static_cast<float>(nd(gen));
  ScalingStats st_stats, sc_stats;
  f.in.st = scale_genes(st_raw, genes, genes, 10.0, &st_stats);
  f.in.sc = scale_genes(sc_raw, genes, genes, 10.0, &sc_stats);
  f.in.genes = genes;
  RowMatrix<double> coords(n1, 2);
  for (index_t e = 0; e < coords.size(); ++e) coords.data()[e] = 10.0 * ud(gen);
  f.in.graph = knn_graph(coords, 5);
  f.in.coords = coords;
  f.in.class_names = {"A", "B", "C"};
  for (index_t i = 0; i < n2; ++i) f.in.labels.push_back(i % 3);

  Config cfg;
  cfg.num_epoch = 3;
  cfg.k_folds = 2;
  cfg.d_hidden = 8;
  cfg.d_latent = 4;
  cfg.topk = 10;
  cfg.eval_step = 1;
  cfg.seed = 1234;
  f.ens.fit(f.be, f.in, cfg);

  f.ref_dense = RowMatrix<float>::Zero(n2, Gr);
  for (index_t e = 0; e < f.ref_dense.size(); ++e)
    if (ud(gen) < 0.4) f.ref_dense.data()[e] = static_cast<float>(std::log1p(5.0 * ud(gen)));
  std::vector<std::string> ref_genes = genes;
  for (index_t g = G; g < Gr; ++g) ref_genes.push_back(std::string("X").append(std::to_string(g)));
  f.bundle = make_model_bundle(f.ens, st_stats, sc_stats, ref_genes, f.ref_dense,
                               {{"tissue", "test"}, {"replicate", 3}, {"note", "Zellen \xc3\xa4"}});
  return f;
}
inline Fixture& fixture() {
  static Fixture f = make_fixture();
  return f;
}

inline void check_same(const ModelBundle& a, const ModelBundle& b) {
  CHECK(a.config.to_json() == b.config.to_json());
  CHECK(a.genes == b.genes);
  CHECK(a.class_names == b.class_names);
  REQUIRE(a.submodels.size() == b.submodels.size());
  for (std::size_t f = 0; f < a.submodels.size(); ++f) {
    const auto &x = a.submodels[f], &y = b.submodels[f];
    CHECK(x.fit == y.fit);
    CHECK(x.calibration == y.calibration);
    CHECK(same_bits(x.params, y.params));
    CHECK(same_bits(x.ref_codes, y.ref_codes));
    for (auto m : {&LossTerms::total, &LossTerms::recon, &LossTerms::mmd, &LossTerms::cos, &LossTerms::clf,
                   &LossTerms::impute, &LossTerms::gene})
      CHECK(same_bits(x.final_loss.*m, y.final_loss.*m));
  }
  for (const auto& [s, t] : {std::pair{&a.st_scaling, &b.st_scaling}, {&a.sc_scaling, &b.sc_scaling}}) {
    CHECK(s->genes == t->genes);
    CHECK(same_bits(s->means, t->means));
    CHECK(same_bits(s->stds, t->stds));
    CHECK(same_bits(s->clip, t->clip));
  }
  CHECK(a.ref_genes == b.ref_genes);
  CHECK(a.ref_pattern.n == b.ref_pattern.n);
  CHECK(same_bits(a.ref_pattern.indptr, b.ref_pattern.indptr));
  CHECK(same_bits(a.ref_pattern.indices, b.ref_pattern.indices));
  CHECK(same_bits(a.ref_values, b.ref_values));
  CHECK(a.metadata == b.metadata);
}


}  // namespace model_file_test
