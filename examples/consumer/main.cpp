// A complete small stai program: write a simulated spatial slice and a
// reference to .h5ad files, read them back as a user would read their own,
// train the stAI ensemble, impute genes the panel does not measure, annotate
// cell types, write the results to an .h5ad file scanpy can open, and save
// the fitted model to a model file and load it back.
//
//   stai_example [output-directory] [epochs]
#include <cstdio>
#include <filesystem>
#include <string>

#include <stai/io/h5ad/read.hpp>
#include <stai/io/h5ad/write.hpp>
#include <stai/io/model_file_read.hpp>
#include <stai/io/model_file_write.hpp>
#include <stai/stai.hpp>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "stai_example";
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 100;
  try {
    fs::create_directories(dir);
    // 1. Inputs (here simulated; normally your own files).
    stai::SimulationOptions so;
    so.n_spatial = 600;
    so.n_reference = 500;
    so.n_genes = 40;
    so.n_panel = 20;
    const stai::Simulation sim = stai::simulate(so);
    stai::write_h5ad((dir / "spatial.h5ad").string(), sim.spatial);
    stai::write_h5ad((dir / "reference.h5ad").string(), sim.reference);

    // 2. Read, fit, impute, annotate.
    stai::AnnData spatial = stai::read_h5ad((dir / "spatial.h5ad").string());
    stai::AnnData reference = stai::read_h5ad((dir / "reference.h5ad").string());
    stai::Cpu cpu;
    stai::Config cfg = stai::Config::annotation();
    cfg.num_epoch = epochs;
    stai::FitOptions opt;
    opt.label_key = "celltype";
    stai::Pipeline<> model;
    const stai::FitReport rep = model.fit(cpu, spatial, reference, cfg, opt);
    const auto genes = model.unmeasured_genes();
    const stai::Imputation imp = model.impute(cpu, genes);
    const stai::Annotation ann = model.annotate(cpu);

    // 3. Compare with the simulation's truth.
    std::vector<double> pcc;
    for (std::size_t g = 0; g < genes.size(); ++g) {
      const auto col = std::stoi(genes[g].substr(4)) - 1;  // "GeneN" -> N - 1
      std::vector<double> a(imp.mean.rows()), b(imp.mean.rows());
      for (stai::index_t i = 0; i < imp.mean.rows(); ++i) {
        a[i] = imp.mean(i, static_cast<stai::index_t>(g));
        b[i] = sim.spatial_truth(i, col);
      }
      pcc.push_back(stai::eval::pearson(a, b));
    }
    std::size_t correct = 0;
    for (std::size_t i = 0; i < ann.labels.size(); ++i)
      correct += ann.labels[i] == sim.type_names[sim.spatial_type[i]];

    // 4. Write the imputed matrix with the predicted types.
    stai::AnnData out;
    out.X = imp.mean;
    out.obs_names = spatial.obs_names;
    out.var_names = genes;
    out.obs["predicted_celltype"] = stai::Column::strings(ann.labels);
    out.obsm["spatial"] = spatial.obsm.at("spatial");
    stai::write_h5ad((dir / "imputed.h5ad").string(), out);

    std::printf("stai %s: %zu model genes, imputed %zu genes: median PCC %.3f; annotation accuracy %.3f\n",
                stai::version(), rep.model_genes.size(), genes.size(), stai::eval::median(pcc),
                double(correct) / double(ann.labels.size()));
    std::printf("wrote %s\n", (dir / "imputed.h5ad").string().c_str());

    // 5. Save the fitted model, load it back and check it imputes the same.
    const std::string model_path = (dir / "model.stai").string();
    stai::save_model(model_path, stai::make_model_bundle(model.ensemble(), model.spatial_scaling(),
                                                         model.reference_scaling(), model.reference_genes(),
                                                         model.reference_lognorm()));
    const stai::ModelBundle loaded = stai::load_model(model_path);
    stai::Ensemble<stai::Cpu, float> restored;
    stai::restore_ensemble(restored, loaded);
    const stai::RowMatrix<float> values = loaded.reference_values(genes);
    const stai::Imputation before = model.ensemble().impute(cpu, model.spatial_scaled(), model.spatial_graph(), values);
    const stai::Imputation after = restored.impute(cpu, model.spatial_scaled(), model.spatial_graph(), values);
    if (before.mean != after.mean) {
      std::fprintf(stderr, "the model loaded from %s imputes differently\n", model_path.c_str());
      return 1;
    }
    std::printf("saved and reloaded %s\n", model_path.c_str());
    std::printf("stai consumer ok\n");
  } catch (const stai::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
