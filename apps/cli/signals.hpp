// stai command-line program — Ctrl-C (SIGINT) and SIGTERM while training or
// writing: the signal is recorded, training stops at the next epoch and no
// output is committed (stai::request_write_abort); the program then exits
// with 128 + the signal number (130, 143). Outside these phases the signals
// keep their default effect.
#pragma once
#include <atomic>
#include <csignal>
#include <string>

#include <stai/io/atomic_file.hpp>

namespace stai::cli {

/// The signal that interrupted the run (0 = none); the progress callback
/// then cancels training.
inline std::atomic<int>& interrupted() {
  static std::atomic<int> sig{0};
  return sig;
}
inline void on_interrupt(int sig) {
  interrupted().store(sig);
  request_write_abort(sig);
}

/// The exit code and name of the signal that interrupted the run.
inline int interrupt_exit_code() { return 128 + (interrupted().load() ? interrupted().load() : SIGINT); }
inline std::string interrupt_name(int sig) { return sig == SIGTERM ? "SIGTERM" : "Ctrl-C"; }

/// Records SIGINT and SIGTERM while alive (training and writing can then stop cleanly).
struct InterruptGuard {
  void (*old_int_)(int);
  void (*old_term_)(int);
  InterruptGuard() : old_int_(std::signal(SIGINT, on_interrupt)), old_term_(std::signal(SIGTERM, on_interrupt)) {}
  ~InterruptGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

}  // namespace stai::cli
