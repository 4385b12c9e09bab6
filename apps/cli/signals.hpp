// stai command-line program — Ctrl-C during training: a flag that the progress
// callback reads to cancel training cleanly.
#pragma once
#include <atomic>
#include <csignal>

namespace stai::cli {

/// Set by SIGINT; the progress callback then cancels training.
inline std::atomic<bool>& interrupted() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline void on_sigint(int) { interrupted().store(true); }

/// Installs the Ctrl-C handler while alive (training can then stop cleanly).
struct SigintGuard {
  void (*old_)(int);
  SigintGuard() : old_(std::signal(SIGINT, on_sigint)) {}
  ~SigintGuard() { std::signal(SIGINT, old_); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
};

}  // namespace stai::cli
