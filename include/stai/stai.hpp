// stai — umbrella header: the whole header-only library on the CPU backend.
// (.cu translation units also get the CUDA backend.) The HDF5 readers and
// writers (io/h5ad/read.hpp, io/h5ad/write.hpp, io/loom.hpp), model files
// (io/model_file_write.hpp, io/model_file_read.hpp), YAML configs
// (io/config_yaml.hpp) and figures (plot/plot.hpp) need extra libraries and
// are included separately.
#pragma once
#include "config.hpp"
#include "error.hpp"
#include "random.hpp"
#include "context.hpp"
#include "backend/cpu.hpp"
#if defined(__CUDACC__)
#include "backend/cuda.hpp"
#endif
#include "tensor/matrix.hpp"
#include "tensor/param_arena.hpp"
#include "ops/elementwise.hpp"
#include "layers/linear.hpp"
#include "layers/activations.hpp"
#include "layers/dropout.hpp"
#include "layers/sequential.hpp"
#include "layers/gat.hpp"
#include "graph/csr.hpp"
#include "graph/gat_graph.hpp"
#include "graph/knn.hpp"
#include "graph/minibatch.hpp"
#include "losses/mse.hpp"
#include "losses/mmd.hpp"
#include "losses/cosine.hpp"
#include "losses/pearson.hpp"
#include "losses/cross_entropy.hpp"
#include "losses/gene_consistency.hpp"
#include "heads/topk_attention.hpp"
#include "heads/learnable_attention.hpp"
#include "optim/adam.hpp"
#include "data/anndata.hpp"
#include "data/genes.hpp"
#include "data/contract.hpp"
#include "data/preprocess.hpp"
#include "data/simulate.hpp"
#include "model/config.hpp"
#include "model/folds.hpp"
#include "model/submodel.hpp"
#include "model/ensemble.hpp"
#include "model/pipeline.hpp"
#include "model/model_bundle.hpp"
#include "eval/metrics.hpp"
#include "eval/cross_validation.hpp"
