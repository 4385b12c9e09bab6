// stai command-line program — the cell-type outputs: annotation columns in obs, and the
// agreement of predicted with known labels.
#pragma once
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <stai/data/anndata.hpp>
#include <stai/eval/cross_validation.hpp>
#include <stai/model/pipeline.hpp>

namespace stai::cli {

/// Annotation columns added to obs: predicted label, confidence, one
/// probability column per class (names made safe for h5ad keys).
inline void put_annotation(AnnData& out, const Annotation& ann, const std::string& label_key) {
  const std::string base = "stai_" + (label_key.empty() ? std::string("celltype") : label_key);
  out.obs[base] = Column::strings(ann.labels, true);
  out.obs[base].categories = ann.class_names;
  out.obs["stai_confidence"] =
      Column::numeric(std::vector<double>(ann.confidence.begin(), ann.confidence.end()));
  std::set<std::string> used;
  for (std::size_t c = 0; c < ann.class_names.size(); ++c) {
    std::string k = "stai_prob_" + ann.class_names[c];
    for (char& ch : k)
      if (ch == '/') ch = '_';
    while (!used.insert(k).second) k += "_";
    std::vector<double> p(static_cast<std::size_t>(ann.probabilities.rows()));
    for (index_t i = 0; i < ann.probabilities.rows(); ++i)
      p[static_cast<std::size_t>(i)] = ann.probabilities(i, static_cast<index_t>(c));
    out.obs[k] = Column::numeric(std::move(p));
  }
}

/// Accuracy / macro F1 of predicted labels against true labels (cells whose
/// true label is not one of the classes are left out; `available` is false
/// when no cell's label is a class).
struct LabelAgreement {
  bool available = false;
  eval::AnnotationReport report;
  index_t n_unknown = 0;
};

inline LabelAgreement compare_labels(const std::vector<std::string>& truth, const Annotation& ann) {
  LabelAgreement a;
  const std::set<std::string> classes(ann.class_names.begin(), ann.class_names.end());
  if (std::none_of(truth.begin(), truth.end(), [&](const std::string& t) { return classes.count(t) > 0; })) {
    a.n_unknown = static_cast<index_t>(truth.size());
    return a;
  }
  const eval::AnnotationEvaluation ev = eval::evaluate_annotation(ann, truth);
  a.report = ev.report;
  a.n_unknown = ev.n_cells - ev.n_evaluated;
  a.available = true;
  return a;
}

}  // namespace stai::cli
