// stai — atomic file output.
//
// Every writer in stai writes to "<path>.tmp-<pid>" in the same directory,
// flushes it to disk and then rename()s it over <path>. rename() within one
// directory is atomic on POSIX file systems, so readers see either the old
// file or the complete new one, never a half-written output. If anything
// throws before commit(), the temporary file is removed.
//
// A program can abort writes from a signal handler: request_write_abort(sig)
// makes every later commit() (and write_file_bytes between chunks) throw
// WriteAborted instead of replacing the target.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"

namespace stai {

/// The signal that asked for writes to stop (0 = none); async-signal-safe to set.
inline std::atomic<int>& write_abort_signal() {
  static std::atomic<int> sig{0};
  return sig;
}
/// For signal handlers: every later commit() refuses to replace its target.
inline void request_write_abort(int sig) noexcept { write_abort_signal().store(sig); }

/// Thrown instead of committing an output after request_write_abort().
class WriteAborted : public Error {
 public:
  WriteAborted(const std::string& target, int sig)
      : Error(target + ": not written (interrupted); an existing file is left as it was"), signal(sig) {}
  int signal;
};

/// RAII guard for one atomic write: write to temp_path(), then commit().
class AtomicFile {
 public:
  explicit AtomicFile(std::string target) : target_(std::move(target)) {
    STAI_CHECK(!target_.empty(), "output path is empty; give a file name to write to");
    namespace fs = std::filesystem;
    const fs::path p(target_);
    STAI_CHECK(!p.filename().empty(), target_, ": output path names a directory, not a file");
    const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    std::error_code ec;
    STAI_CHECK(fs::is_directory(dir, ec), target_, ": the output directory '", dir.string(),
               "' does not exist; create it first");
    STAI_CHECK(!fs::is_directory(p, ec), target_, ": is a directory; choose a file name");
    temp_ = target_ + ".tmp-" + std::to_string(static_cast<long>(::getpid()));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (!committed_) std::remove(temp_.c_str());
  }

  const std::string& temp_path() const { return temp_; }
  const std::string& target_path() const { return target_; }

  /// fsyncs the finished temporary file and renames it over the target.
  /// The caller must have closed every handle on temp_path() first.
  void commit() {
    STAI_CHECK(!committed_, target_, ": AtomicFile::commit called twice");
    if (const int sig = write_abort_signal().load()) throw WriteAborted(target_, sig);
    int fd = ::open(temp_.c_str(), O_RDONLY);
    STAI_CHECK(fd >= 0, temp_, ": the temporary output file vanished before it could be renamed (",
               std::strerror(errno), ")");
    const int sync_rc = ::fsync(fd);
    const int sync_errno = errno;
    ::close(fd);
    STAI_CHECK(sync_rc == 0, temp_, ": flushing to disk failed (", std::strerror(sync_errno),
               "); is the disk full?");
    if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
      const int e = errno;
      STAI_CHECK(false, target_, ": cannot move the finished output into place (",
                 std::strerror(e), "); check write permission on the directory");
    }
    committed_ = true;
  }

 private:
  std::string target_, temp_;
  bool committed_ = false;
};

/// Writes `bytes` to a new file `path` and fsyncs it; an error (e.g. a full
/// disk) names `label` (the file the user asked for) and its cause.
inline void write_file_bytes(const std::string& path, const std::vector<unsigned char>& bytes,
                             const std::string& label) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) {
    const int e = errno;
    throw Error(label + ": cannot create the file (" + std::strerror(e) + "); is the folder writable?");
  }
  std::size_t done = 0;
  constexpr std::size_t kChunk = std::size_t(8) << 20;
  while (done < bytes.size()) {
    if (const int sig = write_abort_signal().load()) {
      ::close(fd);
      throw WriteAborted(label, sig);
    }
    const ssize_t w = ::write(fd, bytes.data() + done, std::min(kChunk, bytes.size() - done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = w < 0 ? errno : ENOSPC;
      ::close(fd);
      throw Error(label + ": writing failed after " + std::to_string(done) + " of " + std::to_string(bytes.size()) +
                  " bytes (" + std::strerror(e) + ")" +
                  (e == ENOSPC || e == EDQUOT ? "; free some space or write elsewhere" : ""));
    }
    done += static_cast<std::size_t>(w);
  }
  const int sync_rc = ::fsync(fd);
  const int sync_errno = errno;
  const int close_rc = ::close(fd);
  const int close_errno = errno;
  STAI_CHECK(sync_rc == 0 && close_rc == 0, label, ": flushing to disk failed (",
             std::strerror(sync_rc != 0 ? sync_errno : close_errno), "); is the disk full?");
}

/// Calls write(temp_path) and then commits atomically; on any exception the
/// temporary file is removed and the exception propagates (target untouched).
/// Errors of the writer that name the temporary file name the target instead.
template <class WriteFn>
void write_atomically(const std::string& path, WriteFn&& write) {
  AtomicFile f(path);
  try {
    std::forward<WriteFn>(write)(f.temp_path());
  } catch (const WriteAborted&) {
    throw;
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind("stai: ", 0) == 0) m.erase(0, 6);
    for (auto p = m.find(f.temp_path()); p != std::string::npos; p = m.find(f.temp_path(), p + path.size()))
      m.replace(p, f.temp_path().size(), path);
    throw Error(m);
  }
  f.commit();
}

}  // namespace stai
