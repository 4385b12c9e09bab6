// stai — an open HDF5 file (it behaves as its root group): opening a file on
// disk or an in-memory image read-only, creating one on disk, and building
// one in memory to be written out as bytes (create_in_memory /
// close_to_image, what stai's writers use).
#pragma once
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "group.hpp"

namespace stai::h5 {

/// An open HDF5 file; behaves as its root group.
class File : public Group {
 public:
  File() = default;

  /// Opens an existing file read-only (or read-write).
  static File open(const std::string& path, bool read_write = false) {
    silence_errors();
    htri_t is = H5Fis_hdf5(path.c_str());
    if (is < 0) {
      H5Eclear2(H5E_DEFAULT);  // the reason is reported below in plain words
      FILE* f = std::fopen(path.c_str(), "rb");
      if (!f) h5::fail(path, "/", "cannot open the file: it does not exist or is not readable");
      std::fclose(f);
      h5::fail(path, "/", "cannot open the file as HDF5");
    }
    if (is == 0)
      h5::fail(path, "/",
               "not an HDF5 file (no HDF5 signature found; is it truncated, or a CSV/loom/zarr "
               "file with the wrong extension?)");
    Hid f(H5Fopen(path.c_str(), read_write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!f.valid())
      h5::fail(path, "/", "cannot open the HDF5 file (truncated or corrupt?)");
    return File(std::move(f), path);
  }
  /// Opens an in-memory file image read-only (the bytes are copied by HDF5).
  static File open_image(const void* data, std::size_t size, const std::string& name = "<memory>") {
    silence_errors();
    if (size < 8 || !data) h5::fail(name, "/", "not an HDF5 file image (too short)");
    Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
    if (H5Pset_file_image(fapl.get(), const_cast<void*>(data), size) < 0)
      h5::fail(name, "/", "cannot use the file image");
    Hid f(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!f.valid()) h5::fail(name, "/", "not a readable HDF5 file image");
    return File(std::move(f), name);
  }
  /// Creates (truncates) a file for writing.
  static File create(const std::string& path) {
    silence_errors();
    Hid f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!f.valid())
      h5::fail(path, "/", "cannot create the file (does the directory exist and is it writable?)");
    return File(std::move(f), path);
  }
  /// Flushes and closes; throws if HDF5 reports a failure (e.g. disk full).
  void close() {
    if (!valid()) return;
    H5Fflush(id(), H5F_SCOPE_GLOBAL);
    if (!id_.reset()) h5::fail(file_, "/", "closing the file failed (disk full?)");
  }
  /// Creates an empty file in memory (HDF5's core driver, nothing on disk);
  /// `name` labels it in errors. Finish it with close_to_image().
  ///
  /// Outputs are built this way because HDF5 (1.10) cannot recover from a
  /// write error on disk: after a failed flush (e.g. a full disk) the file
  /// can neither be closed nor released, and the library crashes when it
  /// shuts down at exit. In memory HDF5 never meets such an error; the
  /// finished image is written by write_file_bytes, which reports it.
  static File create_in_memory(const std::string& name) {
    silence_errors();
    Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), std::size_t(1) << 24, 0) < 0)
      h5::fail(name, "/", "cannot set up an in-memory HDF5 file");
    Hid f(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
    if (!f.valid()) h5::fail(name, "/", "cannot create an in-memory HDF5 file");
    return File(std::move(f), name);
  }
  /// Flushes a file made by create_in_memory, closes it and returns its bytes.
  std::vector<unsigned char> close_to_image() {
    if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) h5::fail(file_, "/", "cannot finish the in-memory file");
    const ssize_t n = H5Fget_file_image(id(), nullptr, 0);
    if (n < 0) h5::fail(file_, "/", "cannot take the in-memory file's image");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
    if (n > 0 && H5Fget_file_image(id(), bytes.data(), bytes.size()) != n)
      h5::fail(file_, "/", "cannot copy the in-memory file's image");
    if (!id_.reset()) h5::fail(file_, "/", "closing the in-memory file failed");
    return bytes;
  }

 private:
  File(Hid f, const std::string& path) : Group(std::move(f), path, "/") {}
};

}  // namespace stai::h5
