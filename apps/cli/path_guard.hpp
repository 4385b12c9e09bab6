// stai command-line program — the one check of every file a command will
// write, made before any work is done:
//   * no output is also an input, nor another output: files are compared by
//     identity (device and inode where the file exists, the canonical path
//     otherwise), so another spelling (../d/./x.h5ad), a symlink or a hard
//     link is caught;
//   * each output's folder exists, is a folder, and can be written (probed
//     by creating the temporary file the write will use);
//   * a temporary file left next to an output by a killed stai run is
//     removed (with a warning).
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <stai/error.hpp>

#include "console.hpp"
#include "options.hpp"
#include "strings.hpp"

namespace stai::cli {

/// A file named on the command line, with the option that named it.
struct NamedPath {
  std::string flag, path;
  bool folder = false;  ///< an output folder (--plot), not a file
};

/// What identifies a file: device and inode when it exists, else its canonical path.
struct FileIdentity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string canonical;

  explicit FileIdentity(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      exists = true;
      dev = st.st_dev;
      ino = st.st_ino;
    }
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(fs::absolute(path, ec), ec);
    canonical = ec ? path : c.lexically_normal().string();
  }
  bool same_as(const FileIdentity& o) const {
    if (exists && o.exists) return dev == o.dev && ino == o.ino;
    return exists == o.exists && canonical == o.canonical;
  }
};

namespace path_guard_detail {

inline std::string quoted(const NamedPath& p) { return p.flag + " '" + p.path + "'"; }

/// Removes "<name>.tmp-<pid>" files next to `target` whose process is gone.
inline void remove_stale_temps(const NamedPath& out, Console& con) {
  const fs::path p(out.path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".tmp-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9)
      continue;
    const long pid = std::stol(pid_text);
    if (pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) {
      con.warn(quoted(out) + ": '" + e.path().string() + "' is being written by another process (pid " + pid_text +
               "); if that is a stai run writing the same file, one of the two results will be lost");
      continue;
    }
    std::error_code rm;
    fs::remove(e.path(), rm);
    con.warn("removed '" + e.path().string() + "', a partial output left by an interrupted run (pid " + pid_text + ")");
  }
}

/// Throws unless the folder that will hold `out` exists and accepts a new file.
inline void check_writable(const NamedPath& out) {
  const fs::path p(out.path);
  if (out.folder) {
    std::error_code ec;
    if (fs::exists(p, ec) && !fs::is_directory(p, ec))
      throw Error(out.flag + ": '" + out.path + "' is a file; give a folder for the figures");
    if (fs::is_directory(p, ec)) {
      if (::access(out.path.c_str(), W_OK) != 0)
        throw Error(out.flag + ": cannot write into the folder '" + out.path + "' (" + std::strerror(errno) + ")");
      return;
    }
  }
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  const std::string what = out.folder ? "cannot create '" + out.path + "'" : "cannot write '" + out.path + "'";
  if (st.type() == fs::file_type::not_found) {
    // The closest existing ancestor tells "missing" from "under a file".
    for (fs::path a = dir.parent_path(); !a.empty(); a = a.parent_path()) {
      const auto t = fs::status(a, ec).type();
      if (t == fs::file_type::not_found) {
        if (a == a.parent_path()) break;
        continue;
      }
      if (t != fs::file_type::directory)
        throw Error(out.flag + ": " + what + ": '" + a.string() + "' is a file, not a folder");
      break;
    }
    throw Error(out.flag + ": " + what + ": the folder '" + dir.string() + "' does not exist; create it first");
  }
  if (st.type() != fs::file_type::directory)
    throw Error(out.flag + ": " + what + ": '" + dir.string() + "' is a file, not a folder");
  if (!out.folder && fs::is_directory(p, ec))
    throw Error(out.flag + ": '" + out.path + "' is a folder; give a file name");
  // Probe with the temporary name the write will use (removed at once).
  const std::string probe =
      (out.folder ? (dir / (p.filename().string() + ".tmp-")) : fs::path(out.path + ".tmp-")).string() +
      std::to_string(static_cast<long>(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) return;  // a file of this very process: writable
    throw Error(out.flag + ": " + what + ": the folder '" + dir.string() + "' is not writable (" + std::strerror(e) +
                ")");
  }
  ::close(fd);
  std::remove(probe.c_str());
}

}  // namespace path_guard_detail

/// Refuses, before any work, outputs that are inputs or each other, or that
/// cannot be written; removes stale temporary files of the outputs.
inline void guard_paths(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs, Console& con) {
  using path_guard_detail::quoted;
  std::vector<std::pair<NamedPath, FileIdentity>> ins, outs;
  for (const auto& i : inputs)
    if (!i.path.empty()) ins.emplace_back(i, FileIdentity(i.path));
  for (const auto& o : outputs) {
    if (o.path.empty()) continue;
    const FileIdentity id(o.path);
    for (const auto& [i, iid] : ins)
      if (id.same_as(iid))
        throw UsageError(o.flag + " names the same file as " + quoted(i) + " (" + quoted(o) +
                         "); stai never writes over its inputs: choose another output file");
    for (const auto& [p, pid] : outs)
      if (id.same_as(pid))
        throw UsageError(o.flag + " and " + p.flag + " name the same file (" + quoted(o) + ", " + quoted(p) +
                         "); give each output its own file");
    outs.emplace_back(o, id);
  }
  for (const auto& [o, id] : outs) {
    path_guard_detail::check_writable(o);
    if (!o.folder) path_guard_detail::remove_stale_temps(o, con);
  }
}

/// The inputs and outputs every command shares (extra ones appended).
inline void guard_paths(const CommonOptions& o, Console& con, std::vector<NamedPath> extra_inputs = {},
                        std::vector<NamedPath> extra_outputs = {}) {
  std::vector<NamedPath> in{{"--spatial", o.spatial}, {"--reference", o.reference}, {"--coords", o.coords},
                            {"--labels", o.labels},   {"--model", o.model},         {"--config", o.config_path}};
  in.insert(in.end(), extra_inputs.begin(), extra_inputs.end());
  std::vector<NamedPath> out{{"--out", o.out}, {"--save-model", o.save_model}, {"--plot", o.plot_dir, true}};
  out.insert(out.end(), extra_outputs.begin(), extra_outputs.end());
  guard_paths(in, out, con);
}

}  // namespace stai::cli
