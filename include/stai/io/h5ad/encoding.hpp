// stai — the element encodings of the AnnData .h5ad format, as stai reads them.
//
// anndata >= 0.8 marks every element with the attributes encoding-type and
// encoding-version ("anndata", "dataframe", "categorical", "csr_matrix",
// "csc_matrix", "array", "string-array", "dict", ...); anndata 0.7 and older
// files carry none, and the readers recognise their layouts by shape
// (see frame.hpp and matrix.hpp). The writers set them with
// h5::write_encoding (io/hdf5/write.hpp).
#pragma once
#include <string>

#include "../hdf5/object.hpp"

namespace stai::h5ad_detail {

/// The element's encoding-type, or "" when it has none (older files).
inline std::string encoding_of(const h5::Object& o) {
  return o.attr_string_or("encoding-type", "");
}

}  // namespace stai::h5ad_detail
