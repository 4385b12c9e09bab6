// libFuzzer target for the CSV/TSV table readers.
//
// The first byte picks the options (delimiter, header, row-name mode,
// transpose); the rest is parsed as a table, converted to an AnnData and
// joined as coordinates and labels into a small AnnData. stai::Error is the
// accepted outcome for bad input; crashes, sanitizer reports and other
// exceptions are findings.
#include <cstdint>
#include <stai/io/text.hpp>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t opt = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  stai::TableReadOptions o;
  const stai::Delimiter delims[] = {stai::Delimiter::Auto, stai::Delimiter::Comma, stai::Delimiter::Tab,
                                    stai::Delimiter::Semicolon, stai::Delimiter::Whitespace};
  o.delimiter = delims[opt % 5];
  o.header = (opt & 8) == 0;
  o.row_names = static_cast<stai::RowNames>((opt >> 4) % 3);
  const bool transpose = opt & 64;
  const char* name = (opt & 128) ? "fuzz.csv" : "fuzz.txt";
  try {
    stai::TextTable t = stai::parse_text_table(text, name, o);
    try {
      (void)stai::table_to_anndata(t, transpose);
    } catch (const stai::Error&) {
    }
    stai::AnnData a;
    a.X.setZero(t.rows(), 1);
    a.var_names = {"g"};
    for (stai::index_t i = 0; i < t.rows(); ++i) a.obs_names.push_back("c" + std::to_string(i));
    try {
      stai::CoordinateOptions c;
      if (t.cols() >= 2) {
        c.x = t.col_names[0];
        c.y = t.col_names[1];
      }
      stai::add_coordinates(a, t, c);
    } catch (const stai::Error&) {
    }
    try {
      stai::LabelOptions l;
      if (t.cols() >= 1) l.column = t.col_names[0];
      stai::add_labels(a, t, l);
    } catch (const stai::Error&) {
    }
  } catch (const stai::Error&) {
  }
  return 0;
}
