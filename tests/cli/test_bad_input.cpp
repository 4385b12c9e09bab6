// End-to-end tests of the bad inputs that must never lose data, crash or
// fail with an internal error (docs/bad-input.md lists each with its
// message): outputs that are inputs, unwritable outputs, a full disk,
// absurd settings, duplicate cell names in every reader, names that are not
// UTF-8, interrupts and stale temporary files.
#include <doctest/doctest.h>
#include <sys/mount.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>
#include <stai/io/text.hpp>

#include "cli_harness.hpp"

using namespace cli_test;

namespace {

/// Runs `stai ARGS` that must be refused before any work: `code`, the message,
/// and every input byte for byte as before.
void check_refused(const std::string& args, int code, const std::string& must_mention,
                   const std::vector<std::string>& inputs_kept) {
  std::vector<std::string> before;
  for (const auto& f : inputs_kept) before.push_back(slurp(f));
  check_failure(run_stai(args), code, must_mention, "");
  for (std::size_t i = 0; i < inputs_kept.size(); ++i) {
    INFO("input " << inputs_kept[i]);
    CHECK(slurp(inputs_kept[i]) == before[i]);
  }
}

/// A small tmpfs mounted at `dir` while alive (skipped, with the reason, where mounting is not allowed).
struct SmallFs {
  std::string dir;
  bool mounted = false;
  SmallFs(const std::string& d, const std::string& opts) : dir(d) {
    fs::create_directories(dir);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted) MESSAGE("skipped: cannot mount a tmpfs at " << dir << " (needs root, as on CI): " << std::strerror(errno));
  }
  ~SmallFs() {
    if (mounted) ::umount(dir.c_str());
  }
};

/// A copy of the spatial input with its names changed by `edit`.
std::string edited_spatial(const std::string& name, void (*edit)(stai::AnnData&)) {
  stai::AnnData a = stai::read_h5ad(inputs().spatial);
  edit(a);
  a.source.clear();
  const std::string p = path(name);
  stai::write_h5ad(p, a);
  return p;
}

/// Writes the spatial input as a .loom file (genes x cells) with the given cell names.
std::string spatial_loom(const std::string& name, const std::vector<std::string>& cells) {
  const stai::AnnData a = stai::read_h5ad(inputs().spatial);
  const std::string p = path(name);
  stai::h5::File f = stai::h5::File::create(p);
  stai::RowMatrix<float> t = a.X.transpose();
  stai::h5::write(f, "matrix", t.data(), {static_cast<std::uint64_t>(t.rows()), static_cast<std::uint64_t>(t.cols())},
                  H5T_IEEE_F32LE);
  stai::h5::write_strings(stai::h5::create_group(f, "row_attrs"), "Gene", a.var_names);
  auto cols = stai::h5::create_group(f, "col_attrs");
  stai::h5::write_strings(cols, "CellID", cells);
  const auto& xy = a.obsm.at("spatial");
  std::vector<double> x(static_cast<std::size_t>(xy.rows())), y(x.size());
  for (stai::index_t i = 0; i < xy.rows(); ++i) {
    x[static_cast<std::size_t>(i)] = xy(i, 0);
    y[static_cast<std::size_t>(i)] = xy(i, 1);
  }
  stai::h5::write(cols, "X", x.data(), {x.size()}, H5T_IEEE_F64LE);
  stai::h5::write(cols, "Y", y.data(), {y.size()}, H5T_IEEE_F64LE);
  f.close();
  return p;
}

const std::string kBadByte = "\xE9";  // Latin-1 e-acute: not UTF-8 on its own

}  // namespace

TEST_CASE("an output that is also an input is refused by file identity, before training") {
  const auto& in = inputs();
  const std::string sp = in.spatial, ref = in.reference;
  const std::vector<std::string> kept{sp, ref};
  SUBCASE("another spelling of the spatial file") {
    const fs::path p(sp);
    const std::string spelled = (p.parent_path() / ".." / p.parent_path().filename() / "." / p.filename()).string();
    check_refused("impute" + io_args() + "--all-unmeasured --out '" + spelled + "'" + kFast, 2,
                  "--out names the same file as --spatial", kept);
  }
  SUBCASE("a symlink to the reference") {
    const std::string link = path("link_to_reference.h5ad");
    fs::create_symlink(ref, link);
    check_refused("annotate" + io_args() + "--label-key celltype --out '" + link + "'" + kFast, 2,
                  "--out names the same file as --reference", kept);
  }
  SUBCASE("a hard link to the spatial file") {
    const std::string link = path("hard_link_to_spatial.h5ad");
    fs::create_hard_link(sp, link);
    check_refused("impute" + io_args() + "--all-unmeasured --out '" + link + "'" + kFast, 2,
                  "--out names the same file as --spatial", kept);
  }
  SUBCASE("--save-model over the spatial file, and --save-model equal to --out") {
    check_refused("impute" + io_args() + "--all-unmeasured --out '" + path("x.h5ad") + "' --save-model '" + sp + "'" + kFast,
                  2, "--save-model names the same file as --spatial", kept);
    check_refused("impute" + io_args() + "--all-unmeasured --out '" + path("same.h5ad") + "' --save-model '" +
                      (scratch() / "." / "same.h5ad").string() + "'" + kFast,
                  2, "--save-model and --out name the same file", kept);
  }
  SUBCASE("--out over a --coords or --labels table, or over --model") {
    const auto a = stai::read_h5ad(sp);
    stai::write_csv(path("st_id.csv"), a);
    stai::write_csv(path("xy_id.csv"), a.obsm.at("spatial"), a.obs_names, {"x", "y"});
    check_refused("impute --spatial '" + path("st_id.csv") + "' --coords '" + path("xy_id.csv") + "' --reference '" + ref +
                      "' --genes Gene20 --out '" + path("xy_id.csv") + "'" + kFast,
                  2, "--out names the same file as --coords", {path("xy_id.csv")});
    std::ofstream(path("m.stai")) << "a model";
    check_refused("impute --spatial '" + sp + "' --model '" + path("m.stai") + "' --genes Gene20 --out '" +
                      path("m.stai") + "' --quiet --json",
                  1, "unsupported output type", {path("m.stai")});
    check_refused("impute --spatial '" + sp + "' --model '" + path("m.stai") + "' --genes Gene20 --out '" +
                      path("m.csv") + "' --plot '" + path("m.stai") + "' --quiet --json",
                  2, "--plot names the same file as --model", {path("m.stai")});
  }
}

TEST_CASE("unwritable outputs are refused before training, naming the user's path") {
  SUBCASE("the parent is a regular file, not a missing folder") {
    const std::string out = inputs().spatial + "/x.h5ad";
    const Result r = run_stai("impute" + io_args() + "--all-unmeasured --out '" + out + "'" + kFast);
    check_failure(r, 1, "is a file, not a folder", "");
    CHECK(r.err.find("does not exist") == std::string::npos);
    CHECK(r.err.find(".tmp-") == std::string::npos);
  }
  SUBCASE("a read-only folder") {
    const SmallFs ro(path("readonly"), "ro,size=64k");
    if (ro.mounted) {
      const Result r = run_stai("impute" + io_args() + "--all-unmeasured --out '" + ro.dir + "/x.h5ad'" + kFast);
      check_failure(r, 1, "is not writable", "");
      CHECK(r.err.find(ro.dir + "/x.h5ad") != std::string::npos);
      CHECK(r.err.find(".tmp-") == std::string::npos);
    }
  }
}

TEST_CASE("a full disk gives one clear error, no temp file and the old output intact") {
  const SmallFs small(path("full"), "size=24k");
  if (!small.mounted) return;
  for (const std::string ext : {".h5ad", ".csv"}) {
    const std::string out = small.dir + "/out" + ext;
    std::ofstream(out) << "the previous result";
    INFO("output " << out);
    const Result r = run_stai("impute" + io_args() + "--all-unmeasured --out '" + out + "'" + kFast);
    CHECK(r.code == 1);  // not a crash (-1: killed by a signal)
    CHECK((r.err.find("No space left on device") != std::string::npos || r.err.find("disk full") != std::string::npos));
    CHECK(r.err.find("stai: error: " + out) != std::string::npos);
    CHECK(r.err.find(".tmp-") == std::string::npos);
    CHECK(slurp(out) == "the previous result");
    for (const auto& e : fs::directory_iterator(small.dir))
      CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
  const Result m = run_stai("impute" + io_args() + "--genes Gene20 --out '" + path("ok.csv") + "' --save-model '" +
                            small.dir + "/model.stai'" + kFast);
  CHECK(m.code == 1);
  CHECK(m.err.find("stai: error: " + small.dir + "/model.stai") != std::string::npos);
}

TEST_CASE("absurd settings: thread counts capped with a warning, epochs and seeds out of range refused") {
  const Result t = run_stai("impute" + io_args() + "--genes Gene20 --out '" + path("threads.csv") +
                            "' --epochs 2 --threads 100000 --quiet --json");
  REQUIRE_MESSAGE(t.code == 0, t.err);
  CHECK(t.err.find("--threads 100000 is more than the") != std::string::npos);
  const std::string out = path("never.csv");
  check_failure(run_stai("impute" + io_args() + "--genes Gene20 --out '" + out + "' --threads -1 --quiet --json"), 2,
                "--threads must be >= 0", out);
  for (const char* e : {"0", "-3"})
    check_failure(run_stai("impute" + io_args() + "--genes Gene20 --out '" + out + "' --epochs " + e + " --quiet --json"), 2,
                  "give 1 to 1000000 epochs", out);
  for (const char* s : {"-2", "4294967296"})
    check_failure(run_stai("impute" + io_args() + "--genes Gene20 --out '" + out + "' --epochs 2 --seed " + s +
                           " --quiet --json"),
                  2, "give 0 to 4294967295", out);
}

TEST_CASE("duplicate cell names are refused by every reader") {
  const std::string out = path("dup_out.csv");
  const auto sp = stai::read_h5ad(inputs().spatial);
  const auto ref = stai::read_h5ad(inputs().reference);
  SUBCASE("h5ad") {
    const std::string p = edited_spatial("dup.h5ad", [](stai::AnnData& a) { a.obs_names[7] = a.obs_names[3]; });
    check_failure(run_stai("impute --spatial '" + p + "' --reference '" + inputs().reference + "' --genes Gene20 --out '" +
                           out + "'" + kFast),
                  1, "appears more than once", out);
  }
  SUBCASE("loom") {
    std::vector<std::string> cells = sp.obs_names;
    cells[9] = cells[2];
    const std::string p = spatial_loom("dup.loom", cells);
    check_failure(run_stai("impute --spatial '" + p + "' --reference '" + inputs().reference + "' --genes Gene20 --out '" +
                           out + "'" + kFast),
                  1, "appears more than once", out);
  }
  SUBCASE("CSV expression table with --coords (the case that gave two cells one position)") {
    stai::AnnData d = sp;
    d.obs_names[5] = d.obs_names[1];
    stai::write_csv(path("dup_st.csv"), d);
    stai::write_csv(path("dup_xy.csv"), sp.obsm.at("spatial"), sp.obs_names, {"x", "y"});
    check_failure(run_stai("impute --spatial '" + path("dup_st.csv") + "' --coords '" + path("dup_xy.csv") +
                           "' --reference '" + inputs().reference + "' --genes Gene20 --out '" + out + "'" + kFast),
                  1, "appears more than once", out);
  }
  SUBCASE("--coords table") {
    stai::write_csv(path("st_ok.csv"), sp);
    std::vector<std::string> names = sp.obs_names;
    names.back() = names.front();
    stai::write_csv(path("dup_xy2.csv"), sp.obsm.at("spatial"), names, {"x", "y"});
    check_failure(run_stai("impute --spatial '" + path("st_ok.csv") + "' --coords '" + path("dup_xy2.csv") +
                           "' --reference '" + inputs().reference + "' --genes Gene20 --out '" + out + "'" + kFast),
                  1, "appears more than once", out);
  }
  SUBCASE("--labels table") {
    stai::write_csv(path("sc_ok.csv"), ref);
    {
      std::ofstream f(path("dup_types.csv"));
      f << "cell,type\n";
      for (std::size_t i = 0; i < ref.obs_names.size(); ++i)
        f << ref.obs_names[i == 4 ? 0 : i] << "," << ref.obs.at("celltype").str[i] << "\n";
    }
    check_failure(run_stai("annotate --spatial '" + inputs().spatial + "' --reference '" + path("sc_ok.csv") +
                           "' --labels '" + path("dup_types.csv") + "' --out '" + out + "'" + kFast),
                  1, "appears more than once", out);
  }
}

TEST_CASE("names that are not UTF-8 are refused when read, naming the file and the field") {
  const std::string out = path("utf8_out.h5ad");
  auto check_utf8 = [&](const Result& r, const std::string& file, const std::string& field) {
    check_failure(r, 1, "is not valid UTF-8", out);
    CHECK(r.err.find(file) != std::string::npos);
    CHECK(r.err.find(field) != std::string::npos);
    CHECK(r.err.find("json.exception") == std::string::npos);
    CHECK(r.err.find("unexpected") == std::string::npos);
  };
  SUBCASE("a gene name in an .h5ad file") {
    const std::string p = edited_spatial("latin1_gene.h5ad", [](stai::AnnData& a) { a.var_names[0] = "Gen" + kBadByte; });
    check_utf8(run_stai("impute --spatial '" + p + "' --reference '" + inputs().reference + "' --all-unmeasured --out '" +
                        out + "'" + kFast),
               p, "var_names");
  }
  SUBCASE("a cell-type label in an .h5ad file") {
    const std::string p = edited_spatial("latin1_label.h5ad", [](stai::AnnData& a) {
      auto& c = a.obs.at("celltype");
      c.str[0] = "Neur" + kBadByte;
      c.categories.clear();
    });
    check_utf8(run_stai("annotate --spatial '" + p + "' --reference '" + inputs().reference +
                        "' --label-key celltype --out '" + out + "'" + kFast),
               p, "obs['celltype']");
  }
  SUBCASE("a gene name in a CSV table and a label in a --labels table") {
    const auto ref = stai::read_h5ad(inputs().reference);
    stai::AnnData d = ref;
    d.var_names[2] = "Gen" + kBadByte;
    stai::write_csv(path("latin1_sc.csv"), d);
    check_utf8(run_stai("impute --spatial '" + inputs().spatial + "' --reference '" + path("latin1_sc.csv") +
                        "' --all-unmeasured --out '" + out + "'" + kFast),
               path("latin1_sc.csv"), "var_names");
    stai::write_csv(path("sc_utf8.csv"), ref);
    {
      std::ofstream f(path("latin1_types.csv"));
      f << "cell,type\n";
      for (std::size_t i = 0; i < ref.obs_names.size(); ++i)
        f << ref.obs_names[i] << "," << ref.obs.at("celltype").str[i] << (i == 3 ? kBadByte : "") << "\n";
    }
    check_utf8(run_stai("annotate --spatial '" + inputs().spatial + "' --reference '" + path("sc_utf8.csv") + "' --labels '" +
                        path("latin1_types.csv") + "' --out '" + out + "'" + kFast),
               path("latin1_types.csv"), "column 'type'");
  }
  SUBCASE("a requested gene that is not UTF-8 gives a stai error and valid JSON") {
    const Result r = run_stai("impute" + io_args() + "--genes 'Gene" + kBadByte + "' --out '" + out + "'" + kFast);
    check_failure(r, 1, "not in the reference", out);
    CHECK(r.err.find("json.exception") == std::string::npos);
  }
}

TEST_CASE("a temporary file left by a killed run is removed by the next run, with a warning") {
  const std::string out = path("stale.csv");
  const std::string stale = out + ".tmp-4194303";  // above any live pid (pid_max <= 4194304)
  std::ofstream(stale) << "half a table";
  const Result r = run_stai("impute" + io_args() + "--genes Gene20 --out '" + out + "' --epochs 2 --threads 1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK_FALSE(fs::exists(stale));
  CHECK(r.err.find("removed '" + stale + "'") != std::string::npos);
}

TEST_CASE("SIGTERM while training: exit 143, no output and no temp file") {
  const std::string out = path("term.h5ad");
  const std::string cmd = "'" + stai_program() + "' impute" + io_args() + "--all-unmeasured --out '" + out +
                          "' --epochs 100000 --threads 1 --quiet > /dev/null 2> '" + path("term.err") +
                          "' & p=$!; sleep 1; kill -TERM $p; wait $p";
  const int st = std::system(cmd.c_str());  // run by sh
  CHECK(WEXITSTATUS(st) == 143);
  CHECK(slurp(path("term.err")).find("interrupted (SIGTERM)") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("genes that match only by case are reported on the console") {
  const std::string p = edited_spatial("upper_genes.h5ad", [](stai::AnnData& a) { a.var_names[0] = "GENE1"; });
  const Result r = run_stai("impute --spatial '" + p + "' --reference '" + inputs().reference + "' --genes Gene20 --out '" +
                            path("case.csv") + "' --epochs 2 --threads 1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("match only when case is ignored (spatial ~ reference): GENE1 ~ Gene1") != std::string::npos);
}
