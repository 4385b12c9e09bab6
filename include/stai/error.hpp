// stai — the one exception type of the library.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace stai {

/// Every error stai reports is a stai::Error whose message says what is wrong
/// and, where it can, which file/field is concerned and how to fix it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error("stai: " + what) {}
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace stai

/// Throws stai::Error with the streamed message when `cond` is false.
#define STAI_CHECK(cond, ...)                                     \
  do {                                                            \
    if (!(cond)) throw ::stai::Error(::stai::detail::concat(__VA_ARGS__)); \
  } while (0)
