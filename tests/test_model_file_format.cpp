// Model files: the checksums (published test vectors) and the byte layout.
#include "model_file_fixture.hpp"

using namespace model_file_test;

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
