// Model files: save / load round trips (bit-identical), restored ensembles
// predicting as the original, files of format version 1, and the sparse
// reference values of a bundle. The byte layout and checksums are in
// test_model_file_format.cpp, damaged files and atomic saves in
// test_model_file_errors.cpp.
#include "model_file_fixture.hpp"

using namespace model_file_test;

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
