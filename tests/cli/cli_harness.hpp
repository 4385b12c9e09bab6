// The harness of the end-to-end tests of the `stai` program: a scratch
// folder, running the program with its output captured, the tiny simulated
// inputs, and the check of a failed run.
//
// The path of the program is passed as the compile definition STAI_CLI_PATH
// (the environment variable STAI_CLI overrides it).
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef STAI_CLI_PATH
#error "compile with -DSTAI_CLI_PATH=\"/path/to/stai\""
#endif

namespace cli_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace fs = std::filesystem;
using json = nlohmann::json;

/// A scratch folder for this test process, removed at exit.
struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("stai_cli_test_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

inline const fs::path& scratch() {
  static Scratch s;
  return s.dir;
}

inline std::string path(const std::string& name) { return (scratch() / name).string(); }

inline std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream is(s);
  std::string l;
  while (std::getline(is, l))
    if (!l.empty()) v.push_back(l);
  return v;
}

struct Result {
  int code = -1;
  std::string out, err;
  json summary;  ///< the last stdout line parsed as JSON (null if it is not JSON)
};

/// The program under test: STAI_CLI_PATH, or the environment's STAI_CLI
/// (to run the suite against another build, e.g. an older one).
inline std::string stai_program() {
  const char* e = std::getenv("STAI_CLI");
  return e && *e ? std::string(e) : std::string(STAI_CLI_PATH);
}

/// Runs `stai ARGS` with stdout and stderr captured in files.
inline Result run_stai(const std::string& args) {
  static int n = 0;
  const std::string o = path("stdout" + std::to_string(n) + ".txt");
  const std::string e = path("stderr" + std::to_string(n++) + ".txt");
  const std::string cmd = "'" + stai_program() + "' " + args + " > '" + o + "' 2> '" + e + "' < /dev/null";
  const int st = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  const auto ls = lines(r.out);
  if (!ls.empty()) r.summary = json::parse(ls.back(), nullptr, false);
  if (r.summary.is_discarded()) r.summary = nullptr;
  return r;
}

/// Fast, deterministic training flags for the tests.
inline const std::string kFast = " --epochs 5 --threads 1 --quiet --json ";

/// Tiny simulated inputs (150 spatial cells x 16 panel genes, 120 reference
/// cells x 40 genes, 6 cell types), written once per test process.
struct Inputs {
  std::string spatial, reference, truth;
};
inline const Inputs& inputs() {
  static const Inputs in = [] {
    const std::string dir = path("in");
    const Result r = run_stai("demo --write-inputs '" + dir +
                          "' --n-spatial 150 --n-reference 120 --n-genes 40 --n-panel 16 --seed 5 --quiet --json");
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return Inputs{dir + "/spatial.h5ad", dir + "/reference.h5ad", dir + "/truth.h5ad"};
  }();
  return in;
}

inline std::string io_args() { return " --spatial '" + inputs().spatial + "' --reference '" + inputs().reference + "' "; }

/// A failed run: the exit code, ONE "stai: error:" line on stderr (besides
/// any "stai: warning:" lines), a JSON
/// error object as the last stdout line, and no output (or temp) file.
inline void check_failure(const Result& r, int code, const std::string& must_mention, const std::string& out_file) {
  INFO("stderr: " << r.err);
  CHECK(r.code == code);
  std::vector<std::string> ls;  // stderr without warnings
  for (const auto& l : lines(r.err))
    if (l.rfind("stai: warning: ", 0) != 0) ls.push_back(l);
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].rfind("stai: error: ", 0) == 0);
  CHECK(ls[0].find(must_mention) != std::string::npos);
  if (!out_file.empty()) {
    CHECK_FALSE(fs::exists(out_file));
    for (const auto& e : fs::directory_iterator(fs::path(out_file).parent_path()))
      CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
  REQUIRE(r.summary.is_object());
  CHECK(r.summary["status"] == "error");
  CHECK(r.summary["exit_code"] == code);
}

}  // namespace cli_test
