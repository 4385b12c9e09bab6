// stai command-line program — human-readable output on stdout (silenced by --quiet),
// warnings on stderr, and a stopwatch for the timings.
#pragma once
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "strings.hpp"

namespace stai::cli {

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  void reset() { t0_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

/// Human-readable output on stdout (silenced by --quiet) and warnings on stderr.
struct Console {
  bool quiet = false;
  std::vector<std::string> warnings;
  template <class... A>
  void say(const A&... a) const {
    if (quiet) return;
    std::ostringstream os;
    (os << ... << a);
    std::cout << os.str() << '\n' << std::flush;
  }
  void warn(const std::string& w) {
    const std::string m = one_line(w);
    warnings.push_back(m);
    std::cerr << "stai: warning: " << m << '\n' << std::flush;
  }
};

}  // namespace stai::cli
