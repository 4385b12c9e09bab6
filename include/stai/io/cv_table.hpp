// stai — the per-gene table of held-out-gene cross-validation
// (eval::cross_validate_genes) as CSV text, e.g. to keep the results of a
// long run, resume it, or compare it with an earlier one:
//   gene,set,pcc,rmse_z,jsd,measured_mean,imputed_mean
// one row per scored gene, numbers with 17 significant digits (they read back
// exactly), undefined scores as "nan". Quoting follows io/csv.hpp.
#pragma once
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../eval/gene_score.hpp"
#include "csv.hpp"

namespace stai::eval {

namespace cv_detail {

inline const std::vector<std::string>& score_columns() {
  static const std::vector<std::string> c{"gene", "set", "pcc", "rmse_z", "jsd", "measured_mean", "imputed_mean"};
  return c;
}
inline std::string score_header() {
  std::string h;
  for (const auto& c : score_columns()) h += (h.empty() ? "" : ",") + c;
  return h;
}

/// 17 significant digits; "nan", "inf", "-inf".
inline std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace cv_detail

/// The per-gene table as CSV text: gene,set,pcc,rmse_z,jsd,measured_mean,imputed_mean
/// (full double precision; undefined scores as "nan").
inline std::string to_csv(const std::vector<GeneScore>& rows) {
  std::string s = cv_detail::score_header() + "\n";
  for (const auto& r : rows)
    s += csv_escape(r.gene, ',') + "," + std::to_string(r.set) + "," + cv_detail::csv_number(r.pcc) + "," +
         cv_detail::csv_number(r.rmse) + "," + cv_detail::csv_number(r.jsd) + "," +
         cv_detail::csv_number(r.measured_mean) + "," + cv_detail::csv_number(r.imputed_mean) + "\n";
  return s;
}

/// Parses a per-gene table written by to_csv (e.g. to resume a long run or to
/// compare with an earlier one). `source` names the text in error messages,
/// which give the line and the column of a bad value.
inline std::vector<GeneScore> scores_from_csv(const std::string& text, const std::string& source = "per-gene table") {
  CsvParser p(text, ',', source);
  std::vector<std::string> f;
  STAI_CHECK(p.next(f) && f == cv_detail::score_columns(), source, ": the first line must be the header '",
             cv_detail::score_header(), "' (a table written by stai::eval::to_csv)");
  std::vector<GeneScore> rows;
  while (p.next(f)) {
    STAI_CHECK(f.size() == cv_detail::score_columns().size(), source, ":", p.line(), ": expected ", cv_detail::score_columns().size(),
               " fields, found ", f.size());
    auto num = [&](const std::string& v, const char* col) {
      double x = 0;
      STAI_CHECK(parse_number(v, x), source, ":", p.line(), ": column ", col, " holds '", v,
                 "', which is not a number");
      return x;
    };
    GeneScore r;
    r.gene = f[0];
    r.set = static_cast<int>(num(f[1], "set"));
    r.pcc = num(f[2], "pcc");
    r.rmse = num(f[3], "rmse_z");
    r.jsd = num(f[4], "jsd");
    r.measured_mean = num(f[5], "measured_mean");
    r.imputed_mean = num(f[6], "imputed_mean");
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace stai::eval
