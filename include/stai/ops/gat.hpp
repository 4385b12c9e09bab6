// stai — per-node and per-edge bodies of the graph-attention layer
// (one head, PyG GATConv semantics; see layers/gat.hpp for the math).
//
// Every functor works on one node and touches only that node's rows / edges,
// so no two iterations write the same memory (no atomics, no races) and the
// summation order is fixed: results do not depend on the thread count.
// Edge arrays follow GatGraph's layout: edges grouped by target (in_ptr /
// in_src / edge_dst) and, for gathers by source, out_ptr / out_edge.
#pragma once
#include <cmath>

#include "../config.hpp"

namespace stai::ops {

template <class T>
STAI_HOST_DEVICE inline T leaky(T x, T slope) {
  return x > T(0) ? x : slope * x;
}

/// a . b over d entries with four interleaved partial sums combined as
/// (s0 + s1) + (s2 + s3): a fixed order (same bits on every backend) that
/// still leaves the compiler independent chains to pipeline / vectorise.
template <class T>
STAI_HOST_DEVICE inline T dot4(const T* a, const T* b, index_t d) {
  T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += a[j] * b[j];
    s1 += a[j + 1] * b[j + 1];
    s2 += a[j + 2] * b[j + 2];
    s3 += a[j + 3] * b[j + 3];
  }
  for (; j < d; ++j) s0 += a[j] * b[j];
  return (s0 + s1) + (s2 + s3);
}

/// Per node v: s_src[v] = a_src . u_v, s_dst[v] = a_dst . u_v.
template <class T>
struct GatNodeScores {
  const T* u;  // n x d
  const T* a_src;
  const T* a_dst;
  T* s_src;
  T* s_dst;
  index_t d;
  STAI_HOST_DEVICE void operator()(index_t v) const {
    const T* uv = u + v * d;
    s_src[v] = dot4(a_src, uv, d);
    s_dst[v] = dot4(a_dst, uv, d);
  }
};

/// Per target t: pre_e = s_src[src(e)] + s_dst[t] for its incoming edges,
/// alpha_e = softmax over them of LeakyReLU(pre_e) (max subtracted), and
/// out_t = sum_e alpha_e u_src(e) + bias. Stores pre and alpha per edge.
/// Every node has at least one incoming edge (its self loop).
template <class T>
struct GatAggregate {
  const index_t* in_ptr;
  const index_t* in_src;
  const T* s_src;
  const T* s_dst;
  const T* u;     // n x d
  const T* bias;  // d
  T* pre;         // E
  T* alpha;       // E
  T* out;         // n x d
  index_t d;
  T slope;
  STAI_HOST_DEVICE void operator()(index_t t) const {
    using std::exp;
    const index_t lo = in_ptr[t], hi = in_ptr[t + 1];
    const T sd = s_dst[t];
    T m = leaky(s_src[in_src[lo]] + sd, slope);
    for (index_t e = lo; e < hi; ++e) {
      const T p = s_src[in_src[e]] + sd;
      pre[e] = p;
      const T l = leaky(p, slope);
      if (l > m) m = l;
    }
    T sum = T(0);
    for (index_t e = lo; e < hi; ++e) {
      const T w = exp(leaky(pre[e], slope) - m);
      alpha[e] = w;
      sum += w;
    }
    for (index_t e = lo; e < hi; ++e) alpha[e] = alpha[e] / sum;
    T* o = out + t * d;
    for (index_t j = 0; j < d; ++j) o[j] = T(0);
    for (index_t e = lo; e < hi; ++e) {
      const T a = alpha[e];
      const T* us = u + in_src[e] * d;
      for (index_t j = 0; j < d; ++j) o[j] += a * us[j];
    }
    for (index_t j = 0; j < d; ++j) o[j] += bias[j];
  }
};

/// Backward, per target t (after GatAggregate): for its incoming edges
///   dalpha_e = dy_t . u_src(e)
///   dl_e     = alpha_e (dalpha_e - sum_e' alpha_e' dalpha_e')   (softmax)
///   dpre_e   = dl_e * (pre_e > 0 ? 1 : slope)                   (LeakyReLU)
/// and ds_dst[t] = sum_e dpre_e.
template <class T>
struct GatBackwardTarget {
  const index_t* in_ptr;
  const index_t* in_src;
  const T* u;      // n x d
  const T* dy;     // n x d
  const T* alpha;  // E
  const T* pre;    // E
  T* dpre;         // E
  T* ds_dst;       // n
  index_t d;
  T slope;
  STAI_HOST_DEVICE void operator()(index_t t) const {
    const index_t lo = in_ptr[t], hi = in_ptr[t + 1];
    const T* g = dy + t * d;
    T sum = T(0);
    for (index_t e = lo; e < hi; ++e) {
      const T da = dot4(g, u + in_src[e] * d, d);
      dpre[e] = da;
      sum += alpha[e] * da;
    }
    T ds = T(0);
    for (index_t e = lo; e < hi; ++e) {
      T v = alpha[e] * (dpre[e] - sum);
      v = pre[e] > T(0) ? v : slope * v;
      dpre[e] = v;
      ds += v;
    }
    ds_dst[t] = ds;
  }
};

/// Backward, per source s (after GatBackwardTarget): over the edges leaving s
///   ds_src[s] = sum_e dpre_e
///   du_s      = sum_e alpha_e dy_dst(e) + ds_src[s] a_src + ds_dst[s] a_dst.
template <class T>
struct GatBackwardSource {
  const index_t* out_ptr;
  const index_t* out_edge;
  const index_t* edge_dst;
  const T* alpha;   // E
  const T* dpre;    // E
  const T* dy;      // n x d
  const T* ds_dst;  // n
  const T* a_src;
  const T* a_dst;
  T* ds_src;  // n
  T* du;      // n x d
  index_t d;
  STAI_HOST_DEVICE void operator()(index_t s) const {
    T* o = du + s * d;
    for (index_t j = 0; j < d; ++j) o[j] = T(0);
    T ds = T(0);
    for (index_t k = out_ptr[s]; k < out_ptr[s + 1]; ++k) {
      const index_t e = out_edge[k];
      ds += dpre[e];
      const T a = alpha[e];
      const T* g = dy + edge_dst[e] * d;
      for (index_t j = 0; j < d; ++j) o[j] += a * g[j];
    }
    ds_src[s] = ds;
    const T dd = ds_dst[s];
    for (index_t j = 0; j < d; ++j) o[j] += ds * a_src[j] + dd * a_dst[j];
  }
};

}  // namespace stai::ops
