// Model files: damaged or foreign files and invalid bundles are refused with
// clear errors, and saving is atomic.
#include "model_file_fixture.hpp"

using namespace model_file_test;

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
