// stai — atomic file output.
//
// Every writer in stai writes to "<path>.tmp-<pid>" in the same directory,
// flushes it to disk and then rename()s it over <path>. rename() within one
// directory is atomic on POSIX file systems, so readers see either the old
// file or the complete new one, never a half-written output. If anything
// throws before commit(), the temporary file is removed.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "../error.hpp"

namespace stai {

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

/// Calls write(temp_path) and then commits atomically; on any exception the
/// temporary file is removed and the exception propagates (target untouched).
template <class WriteFn>
void write_atomically(const std::string& path, WriteFn&& write) {
  AtomicFile f(path);
  std::forward<WriteFn>(write)(f.temp_path());
  f.commit();
}

}  // namespace stai
