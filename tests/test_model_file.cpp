// Tests for model files: save / load round trips (bit-identical), restored
// ensembles predicting as the original, the byte layout, the checksums,
// files of the previous format version, damaged files, invalid bundles,
// atomic writes, and the sparse reference values of a bundle.
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

using namespace stai;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) {
  static const fs::path dir = [] {
    auto p = fs::temp_directory_path() / ("stai_test_model_file_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return (dir / name).string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// Files in the directory of `path` whose name starts with its file name
/// followed by ".tmp" (left-over temporaries).
int leftover_temps(const std::string& path) {
  const fs::path p(path);
  int n = 0;
  if (!fs::exists(p.parent_path())) return 0;
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".tmp", 0) == 0) ++n;
  return n;
}

template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(*a.data())) == 0);
}
template <class T>
bool same_bits(const RowMatrix<T>& a, const RowMatrix<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0);
}
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::uint64_t le64(const std::string& s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
std::string le_bytes(std::uint64_t v, int n) {
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
Parts take_apart(const std::string& bytes) {
  Parts p;
  p.version = le32(bytes, 8);
  const std::uint64_t h = le64(bytes, 12);
  p.header = nlohmann::json::parse(bytes.substr(20, static_cast<std::size_t>(h)));
  p.data = bytes.substr(20 + static_cast<std::size_t>(h), bytes.size() - 28 - static_cast<std::size_t>(h));
  return p;
}
/// FNV-1a 64 as published (http://www.isthe.com/chongo/tech/comp/fnv/), written
/// here independently of stai's: the checksum of format version 1.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}
/// The checksum a model file of format version `version` ends with.
std::uint64_t file_checksum(std::uint32_t version, const std::string& s) {
  return version == 1 ? fnv1a(s) : XXH3_64bits(s.data(), s.size());
}
/// Assembles a file with a CORRECT checksum for its version (so that the later checks are reached).
std::string assemble(std::uint32_t version, const std::string& header_text, const std::string& data) {
  std::string s = std::string("STAIMODL") + le_bytes(version, 4) + le_bytes(header_text.size(), 8) + header_text + data;
  return s + le_bytes(file_checksum(version, s), 8);
}
std::string assemble(const Parts& p) { return assemble(p.version, p.header.dump(), p.data); }
/// The same model as a file of format version 1 (FNV-1a 64): what stai wrote before XXH3.
std::string as_version_1(const std::string& bytes) {
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

Fixture make_fixture() {
  Fixture f;
  const index_t n1 = 40, n2 = 30, G = 6, Gr = 10;
  std::mt19937 gen(7);
  std::normal_distribution<double> nd(2.0, 1.0);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  std::vector<std::string> genes;
  for (index_t g = 0; g < G; ++g) genes.push_back("G" + std::to_string(g));
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
  for (index_t g = G; g < Gr; ++g) ref_genes.push_back("X" + std::to_string(g));
  f.bundle = make_model_bundle(f.ens, st_stats, sc_stats, ref_genes, f.ref_dense,
                               {{"tissue", "test"}, {"replicate", 3}, {"note", "Zellen \xc3\xa4"}});
  return f;
}
Fixture& fixture() {
  static Fixture f = make_fixture();
  return f;
}

void check_same(const ModelBundle& a, const ModelBundle& b) {
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

}  // namespace

TEST_CASE("model file: FNV-1a 64 matches the published test vectors") {
  auto fnv = [](const std::string& s) {
    Fnv1a64 h;
    h.update(s.data(), s.size());
    return h.digest();
  };
  CHECK(fnv("") == 0xcbf29ce484222325ULL);
  CHECK(fnv("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv("foobar") == 0x85944171f73967e8ULL);
  // Feeding pieces equals hashing the concatenation.
  Fnv1a64 h;
  h.update("foo", 3);
  h.update("bar", 3);
  CHECK(h.digest() == fnv("foobar"));
}

TEST_CASE("model file: XXH3-64 matches the published test vector and xxHash's one-shot hash") {
  CHECK(Xxh3_64().digest() == 0x2D06800538D394C2ULL);  // the empty input, seed 0 (xxHash's sanity checks)
  // Fed in uneven pieces across xxHash's internal block sizes, the streaming
  // checksum equals libxxhash's one-shot XXH3_64bits of the whole.
  std::string s(5000, '\0');
  std::mt19937 gen(11);
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  for (std::size_t piece : {std::size_t(1), std::size_t(7), std::size_t(64), std::size_t(250), std::size_t(1024),
                            std::size_t(4999), std::size_t(5000)}) {
    Xxh3_64 h;
    for (std::size_t a = 0; a < s.size(); a += piece) h.update(s.data() + a, std::min(piece, s.size() - a));
    CHECK(h.digest() == XXH3_64bits(s.data(), s.size()));
  }
  Xxh3_64 a, b;
  a.update(s.data(), 100);
  b.update(s.data(), 101);
  CHECK(a.digest() != b.digest());
}

TEST_CASE("model file: save -> load round trip is bit-identical") {
  Fixture& fx = fixture();
  const std::string p = tmp("round.stai");

  SUBCASE("trained ensemble with classifier, scaling statistics and sparse reference") {
    save_model(p, fx.bundle);
    CHECK(leftover_temps(p) == 0);
    const ModelBundle b = load_model(p);
    check_same(fx.bundle, b);
    CHECK(b.library_version == std::string(version()));
    CHECK(b.created.size() == 20);  // YYYY-MM-DDTHH:MM:SSZ
    CHECK(b.num_reference_cells() == 30);
    CHECK(b.submodels.size() == 2);
    // Saving the loaded bundle again gives the same bytes (apart from the creation time).
    const std::string q = tmp("round2.stai");
    ModelBundle b2 = b;
    save_model(q, b2);
    Parts x = take_apart(slurp(p)), y = take_apart(slurp(q));
    x.header.erase("created");
    y.header.erase("created");
    CHECK(x.header == y.header);
    CHECK(x.data == y.data);
  }
  SUBCASE("no classifier, no scaling statistics, no imputable genes, non-finite values") {
    ModelBundle b;
    b.config = fx.bundle.config;
    b.config.linear_clf = true;
    b.config.attn_type = AttentionType::Learnable;
    b.config.topk = 0;
    b.genes = {"a", "b", "c"};
    const index_t n2 = 7;
    std::mt19937 gen(3);
    std::normal_distribution<float> nd;
    SubmodelState s;
    s.fit = {0, 2};
    s.calibration = {1};
    s.params.resize(static_cast<std::size_t>(detail::layout_size(detail::parameter_layout(b.config, 2, 0))));
    for (auto& v : s.params) v = nd(gen);
    s.ref_codes.resize(n2, b.config.d_latent);
    for (index_t e = 0; e < s.ref_codes.size(); ++e) s.ref_codes.data()[e] = nd(gen);
    s.final_loss.total = std::numeric_limits<double>::quiet_NaN();
    s.final_loss.mmd = std::numeric_limits<double>::infinity();
    s.final_loss.gene = -std::numeric_limits<double>::infinity();
    s.final_loss.recon = 0.1;  // not exactly representable: must round-trip to the same bits
    b.submodels.push_back(s);
    b.st_scaling.clip = std::numeric_limits<double>::infinity();  // empty statistics, clipping disabled
    b.set_reference_values(RowMatrix<float>(n2, 0));
    save_model(p, b);
    const ModelBundle c = load_model(p);
    check_same(b, c);
    CHECK(std::isinf(c.st_scaling.clip));
    CHECK(std::isnan(c.submodels[0].final_loss.total));
    CHECK(c.metadata.is_object());
    CHECK(c.metadata.empty());
    CHECK(c.config.attn_type == AttentionType::Learnable);
    CHECK(c.config.linear_clf);
    CHECK(c.ref_pattern.n == n2);
    CHECK(c.reference_values().rows() == n2);
    CHECK(c.reference_values().cols() == 0);
  }
}

TEST_CASE("model file: a restored ensemble predicts exactly as the original") {
  Fixture& fx = fixture();
  const std::string p = tmp("restore.stai");
  save_model(p, fx.bundle);
  const ModelBundle b = load_model(p);
  Ensemble<Cpu, float> e2;
  restore_ensemble(e2, b);
  CHECK(e2.genes() == fx.ens.genes());
  CHECK(e2.num_reference_cells() == fx.ens.num_reference_cells());

  // Imputation of reference genes, by name from the loaded bundle vs the dense original.
  const RowMatrix<float> vals = b.reference_values({"X7", "G2", "X9"});
  RowMatrix<float> orig(fx.ref_dense.rows(), 3);
  orig.col(0) = fx.ref_dense.col(7);
  orig.col(1) = fx.ref_dense.col(2);
  orig.col(2) = fx.ref_dense.col(9);
  CHECK(same_bits(vals, orig));
  const Imputation a = fx.ens.impute(fx.be, fx.in.st, fx.in.graph, orig);
  const Imputation r = e2.impute(fx.be, fx.in.st, fx.in.graph, vals);
  CHECK(same_bits(a.mean, r.mean));
  CHECK(same_bits(a.sd, r.sd));
  CHECK(a.mean.cwiseAbs().maxCoeff() > 0);  // not a trivially empty comparison
  CHECK(a.sd.cwiseAbs().maxCoeff() > 0);

  const RowMatrix<float> pa = fx.ens.annotate(fx.be, fx.in.st, fx.in.graph);
  const RowMatrix<float> pr = e2.annotate(fx.be, fx.in.st, fx.in.graph);
  CHECK(pa.cols() == 3);
  CHECK(same_bits(pa, pr));

  // The stored scaling statistics reproduce the scaled spatial input from raw-named data.
  CHECK(b.st_scaling.genes == fx.in.genes);

  SUBCASE("missing reference genes are named") {
    CHECK_THROWS_WITH_AS(b.reference_values({"G1", "nope", "zzz"}),
                         doctest::Contains("2 of the 3 requested genes: 'nope', 'zzz'"), Error);
  }
}

TEST_CASE("model file: files of format version 1 (FNV-1a 64) still load and predict the same") {
  Fixture& fx = fixture();
  const std::string cur = tmp("v2.stai"), old = tmp("v1.stai");
  save_model(cur, fx.bundle);
  const std::string v2 = slurp(cur), v1 = as_version_1(v2);
  REQUIRE(le32(v1, 8) == 1);
  REQUIRE(le64(v1, v1.size() - 8) == fnv1a(v1.substr(0, v1.size() - 8)));
  spit(old, v1);
  const ModelBundle b = load_model(old);
  check_same(fx.bundle, b);

  Ensemble<Cpu, float> e1;
  restore_ensemble(e1, b);
  const RowMatrix<float> vals = b.reference_values({"X7", "G2", "X9"});
  const Imputation a = fx.ens.impute(fx.be, fx.in.st, fx.in.graph, vals);
  const Imputation r = e1.impute(fx.be, fx.in.st, fx.in.graph, vals);
  CHECK(same_bits(a.mean, r.mean));
  CHECK(same_bits(a.sd, r.sd));
  CHECK(a.mean.cwiseAbs().maxCoeff() > 0);
  CHECK(same_bits(fx.ens.annotate(fx.be, fx.in.st, fx.in.graph), e1.annotate(fx.be, fx.in.st, fx.in.graph)));

  SUBCASE("saving it again writes the current format version") {
    const std::string again = tmp("v1_again.stai");
    save_model(again, b);
    const std::string s = slurp(again);
    CHECK(le32(s, 8) == model_file_format_version);
    CHECK(le64(s, s.size() - 8) == XXH3_64bits(s.data(), s.size() - 8));
    check_same(fx.bundle, load_model(again));
  }
  SUBCASE("its FNV-1a checksum is verified") {
    std::string d = v1;
    d[d.size() - 20] ^= 0x04;  // a byte in the data area
    spit(old, d);
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains("checksum mismatch"), Error);
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains("FNV-1a 64, format version 1"), Error);
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains((old + ": the file is corrupt or truncated").c_str()),
                         Error);
  }
  SUBCASE("the checksum must be the one of the file's version") {
    const std::string body1 = v1.substr(0, v1.size() - 8), body2 = v2.substr(0, v2.size() - 8);
    spit(old, body1 + le_bytes(XXH3_64bits(body1.data(), body1.size()), 8));  // version 1, XXH3
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains("checksum mismatch"), Error);
    spit(old, body2 + le_bytes(fnv1a(body2), 8));  // version 2, FNV-1a
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains("checksum mismatch"), Error);
  }
  SUBCASE("truncated") {
    spit(old, v1.substr(0, v1.size() - 3));
    CHECK_THROWS_WITH_AS(load_model(old), doctest::Contains("the file is corrupt or truncated"), Error);
    CHECK_THROWS_WITH_AS(load_model(old),
                         doctest::Contains(("but the file has " + std::to_string(v1.size() - 3)).c_str()), Error);
  }
}

TEST_CASE("model file: byte layout") {
  Fixture& fx = fixture();
  const std::string p = tmp("layout.stai");
  save_model(p, fx.bundle);
  const std::string s = slurp(p);
  REQUIRE(s.size() > 28);
  CHECK(s.substr(0, 8) == "STAIMODL");
  CHECK(le32(s, 8) == model_file_format_version);
  const std::uint64_t h = le64(s, 12);
  CHECK((20 + h) % 8 == 0);
  const Parts parts = take_apart(s);
  const auto& j = parts.header;
  CHECK(j.at("format") == "stai-model");
  CHECK(j.at("format_version") == model_file_format_version);
  CHECK(j.at("stai_version") == version());
  CHECK(j.at("seed") == 1234);
  CHECK(j.at("config").at("d_hidden") == 8);
  CHECK(j.at("genes").size() == 6);
  CHECK(j.at("class_names") == nlohmann::json({"A", "B", "C"}));
  CHECK(j.at("reference_cells") == 30);
  CHECK(j.at("reference_genes").size() == 10);
  CHECK(j.at("metadata").at("tissue") == "test");
  CHECK(j.at("submodels").size() == 2);
  CHECK(j.at("submodels")[0].at("parameter_layout")[0][0] == "ST_encoder.pre_fc.0.weight");
  CHECK(j.at("data_bytes") == parts.data.size());
  CHECK(le32(s, 8) == 2);
  CHECK(j.at("format_version") == 2);
  CHECK(le64(s, s.size() - 8) == XXH3_64bits(s.data(), s.size() - 8));  // the checksum of format version 2
  // Every section lies in the data area, 8-byte aligned, and holds what the bundle holds.
  const auto& V = fx.bundle.ref_values;
  const auto& P = fx.bundle.ref_pattern;
  for (const auto& sec : j.at("sections")) {
    const std::uint64_t off = sec.at("offset"), cnt = sec.at("count");
    const std::uint64_t es = sec.at("dtype") == "i64" ? 8 : 4;
    CHECK(off % 8 == 0);
    CHECK(off + cnt * es <= parts.data.size());
    if (sec.at("name") == "reference.values") {
      REQUIRE(cnt == V.size());
      CHECK(std::memcmp(parts.data.data() + off, V.data(), cnt * 4) == 0);  // little-endian host
    }
    if (sec.at("name") == "reference.indices") {  // stored as 32-bit indices
      REQUIRE(cnt == P.indices.size());
      for (std::size_t e = 0; e < cnt; ++e)
        CHECK(static_cast<index_t>(le32(parts.data, off + 4 * e)) == P.indices[e]);
    }
    if (sec.at("name") == "reference.indptr") {
      REQUIRE(cnt == P.indptr.size());
      for (std::size_t e = 0; e < cnt; ++e) CHECK(static_cast<index_t>(le64(parts.data, off + 8 * e)) == P.indptr[e]);
    }
    if (sec.at("name") == "submodel.1.ref_codes")
      CHECK(sec.at("shape") == nlohmann::json({30, 4}));
  }
  CHECK(j.at("reference_values").at("nnz") == V.size());
  CHECK(j.at("reference_values").at("rows") == 30);
  CHECK(j.at("reference_values").at("cols") == 10);

  SUBCASE("the data area starts 8-byte aligned whatever the header length") {
    for (int extra = 0; extra < 8; ++extra) {
      ModelBundle b = fx.bundle;
      b.metadata["pad"] = std::string(static_cast<std::size_t>(extra), 'p');
      save_model(p, b);
      const std::string t = slurp(p);
      CHECK((20 + le64(t, 12)) % 8 == 0);
      CHECK(load_model(p).metadata.at("pad") == b.metadata.at("pad"));
    }
  }
}

TEST_CASE("model file: damaged or foreign files are rejected with clear errors") {
  Fixture& fx = fixture();
  const std::string good = tmp("good.stai");
  save_model(good, fx.bundle);
  const std::string bytes = slurp(good);
  const std::string p = tmp("bad.stai");
  const std::uint64_t h = le64(bytes, 12);
  const Parts parts = take_apart(bytes);

  SUBCASE("a corrupt byte in the data area") {
    std::string b = bytes;
    b[20 + h + parts.data.size() / 2] ^= 0x10;
    spit(p, b);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("checksum mismatch"), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("the file is corrupt or truncated"), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains((p + ": ").c_str()), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("XXH3-64, format version 2"), Error);
  }
  SUBCASE("a corrupt byte in the header") {
    std::string b = bytes;
    b[40] ^= 0x01;
    spit(p, b);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("checksum mismatch"), Error);
  }
  SUBCASE("a corrupt checksum") {
    std::string b = bytes;
    b[b.size() - 1] ^= 0x80;
    spit(p, b);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("checksum mismatch"), Error);
  }
  SUBCASE("truncated by one byte, to half, and into the prefix") {
    for (std::size_t n : {bytes.size() - 1, bytes.size() / 2}) {
      spit(p, bytes.substr(0, n));
      CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("the file is corrupt or truncated"), Error);
      CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains(("but the file has " + std::to_string(n)).c_str()), Error);
    }
    spit(p, bytes.substr(0, 100));  // inside the header
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("header length field says"), Error);
    spit(p, bytes.substr(0, 24));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("only 24 bytes"), Error);
    spit(p, bytes.substr(0, 5));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("corrupt or truncated"), Error);
  }
  SUBCASE("not a stai model file") {
    std::string b = bytes;
    b[0] = 'X';
    spit(p, b);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("not a stai model file"), Error);
    spit(p, "\x89HDF\r\n\x1a\n and then some bytes of another format");
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("not a stai model file"), Error);
    spit(p, "");
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("it is empty"), Error);
    CHECK_THROWS_WITH_AS(load_model(tmp("does_not_exist.stai")), doctest::Contains("model file not found"), Error);
    CHECK_THROWS_WITH_AS(load_model(fs::path(p).parent_path().string()), doctest::Contains("is a directory"),
                         Error);
  }
  SUBCASE("unsupported format versions (checksum valid)") {
    Parts q = parts;
    q.version = model_file_max_read_version + 1;
    q.header["format_version"] = q.version;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p),
                         doctest::Contains((p + ": model file format version 3 is not supported").c_str()), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("reads format versions 1 to 2"), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("newer stai: upgrade stai to load it"), Error);
    q.version = 1000;  // the checksum is not even looked at
    std::string far = assemble(q);
    far[far.size() - 1] ^= 0x01;
    spit(p, far);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("format version 1000 is not supported"), Error);
    q.version = 0;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("older stai"), Error);
  }
  SUBCASE("the rebuilt file loads (the helpers used below are sound)") {
    spit(p, assemble(parts));
    CHECK_NOTHROW(load_model(p));
  }
  SUBCASE("header JSON invalid or incomplete (checksum valid)") {
    spit(p, assemble(2, "{\"genes\": [", parts.data));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("header is not valid JSON"), Error);
    Parts q = parts;
    q.header.erase("genes");
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("field 'genes' is missing"), Error);
    q = parts;
    q.header["submodels"][1]["final_loss"].erase("mmd");
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("'submodels[1].final_loss.mmd' is missing"), Error);
    q = parts;
    q.header["class_names"] = 3;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("'class_names' must be an array"), Error);
    q = parts;
    q.header["config"]["k_folds"] = 1;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("'config' is not a valid configuration"), Error);
    q = parts;
    q.header["format_version"] = 7;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("binary prefix says 2"), Error);
    q = parts;
    q.header["seed"] = 5;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("config.seed is 1234"), Error);
    spit(p, assemble(2, "[1, 2]", parts.data));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("must be a JSON object"), Error);
  }
  SUBCASE("sections inconsistent with the header (checksum valid)") {
    Parts q = parts;
    auto& secs = q.header["sections"];
    secs[0]["count"] = secs[0]["count"].get<std::uint64_t>() - 1;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("section sizes are inconsistent"), Error);
    q = parts;
    q.header["sections"][2]["offset"] = parts.data.size();
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("extends past the end of the data area"), Error);
    q = parts;
    q.header["sections"][1]["dtype"] = "i32";
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("has dtype i32, expected f32"), Error);
    q = parts;
    q.header["sections"][1]["dtype"] = "f16";
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("must be \"f32\", \"i32\" or \"i64\""), Error);
    q = parts;
    q.header["sections"].erase(q.header["sections"].size() - 1);
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("no section 'reference.values'"), Error);
    q = parts;
    q.header["data_bytes"] = parts.data.size() + 8;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("'data_bytes'"), Error);
    q = parts;
    q.header["reference_values"]["nnz"] = 3;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("section sizes are inconsistent"), Error);
  }
  SUBCASE("a parameter layout this build does not use (checksum valid)") {
    Parts q = parts;
    q.header["config"]["d_hidden"] = 9;
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("parameter layout this build of stai"), Error);
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("(8 x 3) in the file but 'ST_encoder.pre_fc.0.weight' (9 x 3) in this build"), Error);
  }
  SUBCASE("section contents that break the bundle (checksum valid)") {
    Parts q = parts;
    std::uint64_t off = 0;
    for (const auto& s : q.header["sections"])
      if (s["name"] == "reference.indices") off = s["offset"];
    const std::int32_t bad = 99;
    std::memcpy(q.data.data() + off, &bad, 4);  // little-endian host
    spit(p, assemble(q));
    CHECK_THROWS_WITH_AS(load_model(p), doctest::Contains("column index 99 outside [0, 10)"), Error);
  }
}

TEST_CASE("model file: invalid bundles are refused before anything is written") {
  Fixture& fx = fixture();
  const std::string p = tmp("invalid.stai");
  auto refused = [&](const ModelBundle& b, const std::string& what) {
    CHECK_THROWS_WITH_AS(save_model(p, b), doctest::Contains(what.c_str()), Error);
    CHECK(!fs::exists(p));
    CHECK(leftover_temps(p) == 0);
  };
  ModelBundle b = fx.bundle;
  SUBCASE("parameter count") {
    b.submodels[1].params.pop_back();
    refused(b, "submodel 1 has");
  }
  SUBCASE("reference code shape") {
    b.submodels[0].ref_codes.conservativeResize(30, 3);
    refused(b, "reference codes are 30 x 3, expected 30 x 4");
  }
  SUBCASE("gene index") {
    b.submodels[0].calibration.push_back(6);
    refused(b, "gene index 6 outside [0, 6)");
    b = fx.bundle;
    b.submodels[0].calibration.push_back(b.submodels[0].fit[0]);
    refused(b, "appears twice");
  }
  SUBCASE("names") {
    b.genes[1] = "G0";
    refused(b, "contains 'G0' more than once");
  }
  SUBCASE("scaling statistics for other genes") {
    b.sc_scaling.genes[0] = "other";
    refused(b, "reference scaling statistics cover 6 genes that are not the 6 model genes");
  }
  SUBCASE("reference values") {
    b.ref_genes.pop_back();
    refused(b, "reference values (one column per reference gene, 9): row ");
    refused(b, "has column index 9 outside [0, 9)");
    b = fx.bundle;
    b.set_reference_values(fx.ref_dense.topRows(29));
    refused(b, "the reference values have 29 rows but there are 30 reference cells");
    b = fx.bundle;
    b.ref_values.pop_back();
    refused(b, "column indices but");
    b = fx.bundle;
    b.ref_values[0] = std::numeric_limits<float>::quiet_NaN();
    refused(b, "values must be finite");
  }
  SUBCASE("metadata") {
    b.metadata = nlohmann::json::array({1, 2});
    refused(b, "metadata must be a JSON object");
  }
  SUBCASE("nothing fitted") {
    b.submodels.clear();
    refused(b, "no submodels");
  }
}

TEST_CASE("model file: saving is atomic") {
  Fixture& fx = fixture();
  SUBCASE("a path in a directory that does not exist") {
    const std::string dir = tmp("no_such_dir");
    const std::string p = dir + "/m.stai";
    CHECK_THROWS_WITH_AS(save_model(p, fx.bundle), doctest::Contains("does not exist"), Error);
    CHECK(!fs::exists(dir));
    CHECK(leftover_temps(tmp("no_such_dir")) == 0);
  }
  SUBCASE("an error after the temporary file exists leaves the old file and no temporary") {
    const std::string p = tmp("atomic.stai");
    save_model(p, fx.bundle);
    const std::string before = slurp(p);
    ModelBundle b = fx.bundle;
    b.metadata["bad"] = std::string("\xff\xfe");
    CHECK_THROWS_WITH_AS(save_model(p, b), doctest::Contains("not valid UTF-8"), Error);
    CHECK(slurp(p) == before);
    CHECK(leftover_temps(p) == 0);
  }
  SUBCASE("a write that fails part way (file size limit, as a full disk) leaves the old file") {
    const std::string p = tmp("full.stai");
    save_model(p, fx.bundle);
    const std::string before = slurp(p);
    ModelBundle big = fx.bundle;
    RowMatrix<float> dense = RowMatrix<float>::Constant(30, 4000, 1.5f);
    std::vector<std::string> names;
    for (int g = 0; g < 4000; ++g) names.push_back(std::string("B").append(std::to_string(g)));  // not "B" + string: GCC 12 -Wrestrict false positive
    big.ref_genes = names;
    big.set_reference_values(dense);  // ~1 MB of sections
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit lim = old;
    lim.rlim_cur = 256 * 1024;
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < lim.rlim_cur) lim.rlim_cur = old.rlim_max;
    auto prev = ::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    std::string msg;
    try {
      save_model(p, big);
    } catch (const Error& e) {
      msg = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, prev);
    CHECK(msg.find("writing the model file failed") != std::string::npos);
    CHECK(slurp(p) == before);
    CHECK(leftover_temps(p) == 0);
    // Without the limit the same bundle saves and loads.
    save_model(p, big);
    CHECK(load_model(p).ref_values.size() == 30 * 4000);
  }
  SUBCASE("saving over an existing file replaces it whole") {
    const std::string p = tmp("over.stai");
    ModelBundle big = fx.bundle;
    big.metadata["padding"] = std::string(20000, 'x');
    save_model(p, big);
    const auto big_size = fs::file_size(p);
    ModelBundle small = fx.bundle;
    small.ref_genes = {"G0", "G1"};
    small.set_reference_values(RowMatrix<float>(fx.ref_dense.leftCols(2)));
    small.metadata = nlohmann::json::object();
    save_model(p, small);
    const auto small_size = fs::file_size(p);
    CHECK(small_size < big_size);
    const std::string s = slurp(p);
    CHECK(s.size() == 20 + le64(s, 12) + take_apart(s).header.at("data_bytes").get<std::uint64_t>() + 8);
    const ModelBundle c = load_model(p);
    check_same(small, c);
    CHECK(leftover_temps(p) == 0);
  }
}

TEST_CASE("model file: sparse reference values of a bundle") {
  RowMatrix<float> X(3, 4);
  X << 0, 1.5f, 0, -2,  //
      0, 0, 0, 0,       //
      3, 0, -0.0f, 0;
  ModelBundle m;
  m.ref_genes = {"a", "b", "c", "d"};
  m.set_reference_values(X);
  CHECK(m.ref_pattern.n == 3);
  CHECK(m.ref_pattern.indptr == std::vector<index_t>{0, 2, 2, 3});
  CHECK(m.ref_pattern.indices == std::vector<index_t>{1, 3, 0});
  CHECK(m.ref_values == std::vector<float>{1.5f, -2.0f, 3.0f});
  CHECK(m.reference_values() == X);
  RowMatrix<float> want(3, 3);
  want << -2, 0, -2,  //
      0, 0, 0,        //
      0, 3, 0;
  CHECK(m.reference_values({"d", "a", "d"}) == want);
  CHECK(m.reference_values(std::vector<std::string>{}).cols() == 0);
  CHECK_THROWS_WITH_AS(m.reference_values({"e"}), doctest::Contains("1 of the 1 requested genes: 'e'"), Error);

  SUBCASE("empty shapes") {
    ModelBundle e;
    e.set_reference_values(RowMatrix<float>(5, 0));
    CHECK(e.ref_pattern.indptr == std::vector<index_t>(6, 0));
    CHECK(e.reference_values().rows() == 5);
    CHECK_NOTHROW(e.ref_pattern.validate_columns(0, "x"));
    CHECK_NOTHROW(CsrGraph{}.validate_columns(0, "x"));
  }
  SUBCASE("malformed structures are named") {
    CsrGraph b = m.ref_pattern;
    b.indices = {3, 1, 0};
    CHECK_THROWS_WITH_AS(b.validate_columns(4, "ref"),
                         doctest::Contains("ref: row 0 has column indices that are not strictly ascending (3 then 1)"),
                         Error);
    b = m.ref_pattern;
    b.indices[2] = 4;
    CHECK_THROWS_WITH_AS(b.validate_columns(4, "ref"), doctest::Contains("column index 4 outside [0, 4)"), Error);
    b = m.ref_pattern;
    b.indptr = {0, 3, 2, 3};
    CHECK_THROWS_WITH_AS(b.validate_columns(4, "ref"), doctest::Contains("indptr decreases at row 1"), Error);
    b = m.ref_pattern;
    b.indptr.pop_back();
    CHECK_THROWS_WITH_AS(b.validate_columns(4, "ref"), doctest::Contains("indptr has 3 entries for 3 rows"), Error);
    b = m.ref_pattern;
    b.indptr.back() = 2;
    CHECK_THROWS_WITH_AS(b.validate_columns(4, "ref"),
                         doctest::Contains("indptr must run from 0 to the number of stored values (3)"), Error);
    ModelBundle c = m;
    c.ref_values.pop_back();
    CHECK_THROWS_WITH_AS(c.reference_values(), doctest::Contains("3 column indices but 2 values"), Error);
    c = m;
    c.ref_values[1] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH_AS(c.reference_values(), doctest::Contains("values must be finite"), Error);
    c = m;
    c.ref_genes.pop_back();
    CHECK_THROWS_WITH_AS(c.reference_values(), doctest::Contains("column index 3 outside [0, 3)"), Error);
  }
}
