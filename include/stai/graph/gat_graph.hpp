// stai — the edge structure a graph-attention layer runs on.
//
// Built from a host CsrGraph of edges i -> j (row i lists i's neighbours, as
// the spatial kNN graph gives, i itself usually included). Following PyG's
// GATConv(add_self_loops=True): every self loop i -> i of the input is
// removed and exactly one self loop per node is added. Duplicate non-loop
// edges are kept (as PyG keeps them). Messages flow source -> target: node t
// aggregates over the SOURCES of its incoming edges, so with the kNN graph a
// cell gathers from the cells that list it as a neighbour (plus itself).
//
// Storage (all on the backend, deterministic order):
//   edges are numbered e = 0 .. E-1 grouped by target (incoming CSR):
//     in_ptr[t] .. in_ptr[t+1]-1 are the edges into t; in_src[e] = source,
//     edge_dst[e] = target; within a target, sources ascend (ties keep the
//     input order), the self loop sits at its sorted position;
//   the outgoing view: out_ptr[s] .. out_ptr[s+1]-1 index out_edge, the ids
//     e (ascending) of the edges leaving s — for race-free per-source gathers
//     in the backward pass.
#pragma once
#include <vector>

#include "../error.hpp"
#include "../tensor/matrix.hpp"
#include "csr.hpp"

namespace stai {

template <class B>
class GatGraph {
 public:
  GatGraph() = default;
  GatGraph(const B& be, const CsrGraph& g) { build(be, g); }

  /// (Re)builds from a host CSR graph of edges i -> indices[...] of row i.
  void build(const B& be, const CsrGraph& g) {
    g.validate();
    n_ = g.n;
    // Counting sort of (source, target) pairs by target; sources are visited
    // in ascending order, so every target's list ends up sorted by source.
    std::vector<index_t> cnt(static_cast<std::size_t>(n_ + 1), 0);
    for (index_t s = 0; s < n_; ++s) {
      ++cnt[static_cast<std::size_t>(s + 1)];  // the added self loop
      for (index_t k = g.indptr[s]; k < g.indptr[s + 1]; ++k) {
        const index_t t = g.indices[static_cast<std::size_t>(k)];
        if (t != s) ++cnt[static_cast<std::size_t>(t + 1)];
      }
    }
    for (index_t t = 0; t < n_; ++t) cnt[t + 1] += cnt[t];
    h_in_ptr_ = cnt;
    const index_t E = cnt[static_cast<std::size_t>(n_)];
    h_in_src_.assign(static_cast<std::size_t>(E), 0);
    h_edge_dst_.assign(static_cast<std::size_t>(E), 0);
    std::vector<index_t> pos(cnt.begin(), cnt.end() - 1);
    auto put = [&](index_t s, index_t t) {
      const index_t e = pos[static_cast<std::size_t>(t)]++;
      h_in_src_[static_cast<std::size_t>(e)] = s;
      h_edge_dst_[static_cast<std::size_t>(e)] = t;
    };
    for (index_t s = 0; s < n_; ++s) {
      // Sources are visited in ascending order, so each target's list is
      // sorted by source whatever the order of row s.
      put(s, s);
      for (index_t k = g.indptr[s]; k < g.indptr[s + 1]; ++k) {
        const index_t t = g.indices[static_cast<std::size_t>(k)];
        if (t != s) put(s, t);
      }
    }
    // Outgoing view: edge ids grouped by source, ascending.
    h_out_ptr_.assign(static_cast<std::size_t>(n_ + 1), 0);
    for (index_t e = 0; e < E; ++e) ++h_out_ptr_[static_cast<std::size_t>(h_in_src_[e] + 1)];
    for (index_t s = 0; s < n_; ++s) h_out_ptr_[s + 1] += h_out_ptr_[s];
    h_out_edge_.assign(static_cast<std::size_t>(E), 0);
    std::vector<index_t> opos(h_out_ptr_.begin(), h_out_ptr_.end() - 1);
    for (index_t e = 0; e < E; ++e)
      h_out_edge_[static_cast<std::size_t>(opos[static_cast<std::size_t>(h_in_src_[e])]++)] = e;

    upload(be, h_in_ptr_, in_ptr_);
    upload(be, h_in_src_, in_src_);
    upload(be, h_edge_dst_, edge_dst_);
    upload(be, h_out_ptr_, out_ptr_);
    upload(be, h_out_edge_, out_edge_);
  }

  index_t num_nodes() const { return n_; }
  index_t num_edges() const { return static_cast<index_t>(h_in_src_.size()); }
  index_t in_degree(index_t t) const { return h_in_ptr_[t + 1] - h_in_ptr_[t]; }

  // Backend arrays (device pointers on a GPU backend).
  const index_t* in_ptr() const { return in_ptr_.data(); }
  const index_t* in_src() const { return in_src_.data(); }
  const index_t* edge_dst() const { return edge_dst_.data(); }
  const index_t* out_ptr() const { return out_ptr_.data(); }
  const index_t* out_edge() const { return out_edge_.data(); }

  // Host copies of the same arrays (for inspection, tests and debugging).
  const std::vector<index_t>& host_in_ptr() const { return h_in_ptr_; }
  const std::vector<index_t>& host_in_src() const { return h_in_src_; }
  const std::vector<index_t>& host_edge_dst() const { return h_edge_dst_; }
  const std::vector<index_t>& host_out_ptr() const { return h_out_ptr_; }
  const std::vector<index_t>& host_out_edge() const { return h_out_edge_; }

 private:
  static void upload(const B& be, const std::vector<index_t>& h, Buffer<B, index_t>& d) {
    const auto n = static_cast<index_t>(h.size());
    d.reserve(n);
    copy_from_host(be, d.data(), h.data(), n);
  }
  index_t n_ = 0;
  std::vector<index_t> h_in_ptr_{0}, h_in_src_, h_edge_dst_, h_out_ptr_{0}, h_out_edge_;
  Buffer<B, index_t> in_ptr_, in_src_, edge_dst_, out_ptr_, out_edge_;
};

}  // namespace stai
