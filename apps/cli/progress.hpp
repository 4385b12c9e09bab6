// stai command-line program — training progress on stderr (a redrawn bar on a terminal,
// plain lines otherwise) and training with it.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <stai/model/pipeline.hpp>

#include "signals.hpp"
#include "strings.hpp"

namespace stai::cli {

/// Training progress on stderr: a redrawn bar on a terminal, plain lines
/// every eval_step epochs otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(bool quiet, int eval_step, std::string prefix = "")
      : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1), eval_step_(std::max(1, eval_step)),
        prefix_(std::move(prefix)) {}
  ~ProgressPrinter() { finish(); }

  void set_prefix(std::string p) { prefix_ = std::move(p); }

  bool operator()(const Progress& p) {
    if (interrupted().load()) return false;
    if (quiet_) return true;
    const double total = double(p.n_submodels) * double(p.n_epochs);
    const double done = double(p.submodel) * double(p.n_epochs) + double(p.epoch);
    const double eta = done > 0 ? p.seconds / done * (total - done) : NAN;
    const bool last = p.epoch == p.n_epochs;
    if (tty_) {
      const auto now = std::chrono::steady_clock::now();
      if (drawn_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return true;
      last_draw_ = now;
      const int width = 24;
      const int fill = total > 0 ? static_cast<int>(width * done / total) : width;
      std::string bar(static_cast<std::size_t>(fill), '#');
      bar += std::string(static_cast<std::size_t>(width - fill), '-');
      std::fprintf(stderr, "\r\033[K%s[%s] submodel %d/%d  epoch %d/%d  loss %.4f  elapsed %s  ETA %s",
                   prefix_.c_str(), bar.c_str(), p.submodel + 1, p.n_submodels, p.epoch, p.n_epochs,
                   p.loss.total, duration(p.seconds).c_str(), duration(eta).c_str());
      std::fflush(stderr);
      drawn_ = true;
    } else if (p.epoch % eval_step_ == 0 || last) {
      std::fprintf(stderr,
                   "stai: %ssubmodel %d/%d, epoch %d/%d: loss %.4f (recon %.4f, mmd %.4f, cos %.4f, impute "
                   "%.4f, clf %.4f, gene %.4f), %s elapsed, about %s left\n",
                   prefix_.c_str(), p.submodel + 1, p.n_submodels, p.epoch, p.n_epochs, p.loss.total,
                   p.loss.recon, p.loss.mmd, p.loss.cos, p.loss.impute, p.loss.clf, p.loss.gene,
                   duration(p.seconds).c_str(), duration(eta).c_str());
      std::fflush(stderr);
    }
    return true;
  }
  void finish() {
    if (tty_ && drawn_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      drawn_ = false;
    }
  }

 private:
  bool quiet_, tty_;
  int eval_step_;
  std::string prefix_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

/// Trains with progress. The callback runs every epoch (eval_step 1 inside)
/// so that the bar moves and Ctrl-C is noticed; the plain lines keep the
/// user's eval_step.
template <class B>
FitReport fit_with_progress(Pipeline<B, float>& model, B& be, AnnData spatial, AnnData reference, const Config& cfg,
                                   const FitOptions& fo, bool quiet, const std::string& prefix = "") {
  Config inner = cfg;
  inner.eval_step = 1;
  ProgressPrinter pp(quiet, cfg.eval_step, prefix);
  InterruptGuard guard;
  FitReport rep = model.fit(be, std::move(spatial), std::move(reference), inner, fo,
                            [&pp](const Progress& p) { return pp(p); });
  pp.finish();
  return rep;
}

}  // namespace stai::cli
