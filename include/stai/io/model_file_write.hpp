// stai — writing model files: save_model puts one ModelBundle into one file
// of the current format version (io/model_file_format.hpp), atomically.
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../config.hpp"
#include "../error.hpp"
#include "../model/model_bundle.hpp"
#include "atomic_file.hpp"
#include "byte_writer.hpp"
#include "checksum.hpp"
#include "model_file_format.hpp"
#include "model_file_json.hpp"

namespace stai {
namespace detail::model_file {

/// Where every section goes in the data area, in writing order.
struct SectionPlan {
  std::vector<Section> sections;
  std::uint64_t data_bytes = 0;

  void add(std::string name, const char* dtype, std::uint64_t count, std::vector<index_t> shape = {}) {
    data_bytes = (data_bytes + 7) / 8 * 8;
    sections.push_back({std::move(name), dtype, data_bytes, count, std::move(shape)});
    data_bytes += count * dtype_size(dtype);
  }
};

inline SectionPlan plan_sections(const ModelBundle& b) {
  SectionPlan plan;
  for (std::size_t f = 0; f < b.submodels.size(); ++f) {
    const SubmodelState& s = b.submodels[f];
    const std::string pre = "submodel." + std::to_string(f);
    plan.add(pre + ".params", Dtype<float>::name, s.params.size());
    plan.add(pre + ".ref_codes", Dtype<float>::name, static_cast<std::uint64_t>(s.ref_codes.size()),
             {s.ref_codes.rows(), s.ref_codes.cols()});
  }
  plan.add("reference.indptr", Dtype<std::int64_t>::name, b.ref_pattern.indptr.size());
  plan.add("reference.indices", Dtype<std::int32_t>::name, b.ref_pattern.indices.size());
  plan.add("reference.values", Dtype<float>::name, b.ref_values.size());
  return plan;
}

inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The header JSON of a bundle whose sections are laid out by `plan`.
inline nlohmann::json make_header(const ModelBundle& b, const SectionPlan& plan) {
  const index_t C = static_cast<index_t>(b.class_names.size());
  nlohmann::json subs = nlohmann::json::array();
  for (const SubmodelState& s : b.submodels) {
    nlohmann::json layout = nlohmann::json::array();
    for (const auto& p : detail::parameter_layout(b.config, static_cast<index_t>(s.fit.size()), C))
      layout.push_back({p.name, p.rows, p.cols});
    subs.push_back({{"fit", s.fit},
                    {"calibration", s.calibration},
                    {"final_loss", loss_to_json(s.final_loss)},
                    {"parameter_layout", std::move(layout)}});
  }
  nlohmann::json secj = nlohmann::json::array();
  for (const auto& s : plan.sections) {
    nlohmann::json e = {{"name", s.name}, {"offset", s.offset}, {"count", s.count}, {"dtype", s.dtype}};
    if (!s.shape.empty()) e["shape"] = s.shape;
    secj.push_back(std::move(e));
  }
  const CsrGraph& R = b.ref_pattern;
  return {
      {"format", "stai-model"},
      {"format_version", model_file_format_version},
      {"stai_version", version()},
      {"created", utc_now()},
      {"config", b.config.to_json()},
      {"seed", b.config.seed},
      {"genes", b.genes},
      {"class_names", b.class_names},
      {"reference_cells", b.num_reference_cells()},
      {"submodels", std::move(subs)},
      {"scaling", {{"spatial", scaling_to_json(b.st_scaling)}, {"reference", scaling_to_json(b.sc_scaling)}}},
      {"reference_genes", b.ref_genes},
      {"reference_values", {{"layout", "csr"}, {"rows", R.n}, {"cols", b.ref_genes.size()},
                            {"nnz", R.num_edges()}, {"indptr", "reference.indptr"},
                            {"indices", "reference.indices"}, {"values", "reference.values"}}},
      {"metadata", b.metadata},
      {"data_bytes", plan.data_bytes},
      {"sections", std::move(secj)},
  };
}

/// The header's text, padded with spaces so that the data area after it
/// starts at a multiple of 8.
inline std::string header_text(const nlohmann::json& header, const std::string& path) {
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(path, ": cannot write the model header: a gene name, class name or ",
                               "metadata string is not valid UTF-8 (", e.what(), "); fix the names"));
  }
  while ((prefix_bytes + text.size()) % 8 != 0) text.push_back(' ');
  return text;
}

/// Writes prefix, header, sections (in plan order) and checksum to `temp`.
inline void write_model_file(const std::string& temp, const std::string& path, const ModelBundle& b,
                             const SectionPlan& plan, const nlohmann::json& header) {
  ByteWriter<Xxh3_64> w(temp, path, "model file");
  const std::string text = header_text(header, path);
  w.write(model_file_magic, 8);
  w.write(le_bytes(model_file_format_version));
  w.write(le_bytes(static_cast<std::uint64_t>(text.size())));
  w.write(text);
  const std::uint64_t base = w.bytes();
  std::size_t q = 0;
  auto next = [&] { w.pad_to(base + plan.sections[q++].offset); };
  for (const SubmodelState& s : b.submodels) {
    next();
    w.write_array<float>(s.params.data(), s.params.size());
    next();
    w.write_array<float>(s.ref_codes.data(), static_cast<std::size_t>(s.ref_codes.size()));
  }
  next();
  w.write_array<std::int64_t>(b.ref_pattern.indptr.data(), b.ref_pattern.indptr.size());
  next();
  w.write_array<std::int32_t>(b.ref_pattern.indices.data(), b.ref_pattern.indices.size());  // fit: checked
  next();
  w.write_array<float>(b.ref_values.data(), b.ref_values.size());
  w.pad_to(base + plan.data_bytes);
  w.finish();
}

}  // namespace detail::model_file

/// Writes the bundle to `path` as one model file, atomically: a temporary
/// file in the same directory is written, flushed and renamed over `path`;
/// on any error it is removed and `path` is left as it was.
inline void save_model(const std::string& path, const ModelBundle& b) {
  namespace mf = detail::model_file;
  b.check(path);
  const mf::SectionPlan plan = mf::plan_sections(b);
  const nlohmann::json header = mf::make_header(b, plan);
  write_atomically(path, [&](const std::string& temp) {
    mf::write_model_file(temp, path, b, plan, header);
  });
}

}  // namespace stai
