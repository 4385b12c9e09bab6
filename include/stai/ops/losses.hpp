// stai — per-element, per-row and per-column bodies of the losses
// (MSE, RBF-mixture MMD, cosine consistency, Pearson, cross-entropy, gene
// consistency), shared by all backends.
//
// Each functor is a plain struct of raw pointers and sizes with a
// STAI_HOST_DEVICE call operator over one index (element, row or column), so
// the CPU backend loops over it and a CUDA backend launches it unchanged.
// Gradient pointers may be null (value only). Per-row / per-column partial
// values are written as double into a workspace and summed afterwards with
// reduce_sum (fixed order: bitwise reproducible).
#pragma once
#include <cmath>

#include "../config.hpp"

namespace stai::ops {

/// out[i] (as double) — turns a per-row value workspace into a reduce_sum body.
template <class T>
struct ReadAsDouble {
  const T* v;
  STAI_HOST_DEVICE double operator()(index_t i) const { return static_cast<double>(v[i]); }
};

// ---------------------------------------------------------------- MSE ------

/// One row of MSE: rowval[i] = sum_j (p - t)^2 (double); g += scale * (p - t)
/// with scale = 2 * weight / N.
template <class T>
struct MseRow {
  const T* p;
  const T* t;
  T* g;  ///< nullable
  double* rowval;
  index_t cols;
  T scale;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    double s = 0;
    const index_t o = i * cols;
    for (index_t j = 0; j < cols; ++j) {
      const T d = p[o + j] - t[o + j];
      s += static_cast<double>(d) * static_cast<double>(d);
      if (g) g[o + j] += scale * d;
    }
    rowval[i] = s;
  }
};

// --------------------------------------------------------------- cosine ----

/// One row of the cosine consistency loss 1 - <a/max(|a|,eps), b/max(|b|,eps)>
/// (torch.nn.functional.normalize semantics). rowval[i] = 1 - cos_i.
/// ga/gb (nullable) get += scale * d(1 - cos_i)/d(a_i), d/d(b_i), scale =
/// weight / n. With na = |a|, ma = max(na, eps) (likewise b), cos = <a,b>/(ma mb):
///   d cos / d b = a / (ma mb) - [nb > eps] <a,b> b / (ma mb nb^2)
/// (below eps the norm is clamped and has no gradient; zero rows give a finite
/// value 1 and no NaN).
template <class T>
struct CosineRow {
  const T* a;
  const T* b;
  T* ga;  ///< nullable
  T* gb;  ///< nullable
  double* rowval;
  index_t cols;
  T scale;
  T eps;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    using std::sqrt;
    const index_t o = i * cols;
    T saa = 0, sbb = 0, sab = 0;
    for (index_t j = 0; j < cols; ++j) {
      saa += a[o + j] * a[o + j];
      sbb += b[o + j] * b[o + j];
      sab += a[o + j] * b[o + j];
    }
    const T na = sqrt(saa), nb = sqrt(sbb);
    const T ma = na > eps ? na : eps, mb = nb > eps ? nb : eps;
    const T inv = T(1) / (ma * mb);
    rowval[i] = 1.0 - static_cast<double>(sab * inv);
    // d(1 - cos)/db = -inv * (a - [nb > eps] sab / nb^2 * b), symmetric for a.
    if (gb) {
      const T kb = nb > eps ? sab / sbb : T(0);
      for (index_t j = 0; j < cols; ++j) gb[o + j] -= scale * inv * (a[o + j] - kb * b[o + j]);
    }
    if (ga) {
      const T ka = na > eps ? sab / saa : T(0);
      for (index_t j = 0; j < cols; ++j) ga[o + j] -= scale * inv * (b[o + j] - ka * a[o + j]);
    }
  }
};

// -------------------------------------------------------------- Pearson ----

/// One column k of the reference's Pearson loss (PcorrLoss):
///   r = mean_i(xc_i yc_i) / (std1(x) std1(y) + 1e-6),
/// std1 with the n-1 denominator, the numerator with n. r_out[k] = r.
/// gx (nullable) gets += gscale * dr/dx with gscale = -weight / n_genes:
///   dr/dx_i = yc_i / (n D) - cov sy / (D^2 (n-1) sx) xc_i,  D = sx sy + 1e-6,
/// where the second term is 0 for a constant column (its limit; no NaN).
template <class T>
struct PearsonColumn {
  const T* x;
  const T* y;
  T* gx;  ///< nullable
  double* r_out;
  index_t n, cols;
  T gscale;
  STAI_HOST_DEVICE void operator()(index_t k) const {
    using std::sqrt;
    double mx = 0, my = 0;
    for (index_t i = 0; i < n; ++i) {
      mx += static_cast<double>(x[i * cols + k]);
      my += static_cast<double>(y[i * cols + k]);
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    double sxx = 0, syy = 0, sxy = 0;
    for (index_t i = 0; i < n; ++i) {
      const double xc = static_cast<double>(x[i * cols + k]) - mx;
      const double yc = static_cast<double>(y[i * cols + k]) - my;
      sxx += xc * xc;
      syy += yc * yc;
      sxy += xc * yc;
    }
    const double nm1 = static_cast<double>(n - 1);
    const double sx = sqrt(sxx / nm1), sy = sqrt(syy / nm1);
    const double cov = sxy / static_cast<double>(n);
    const double D = sx * sy + 1e-6;
    r_out[k] = cov / D;
    if (!gx) return;
    const double ca = 1.0 / (static_cast<double>(n) * D);
    const double cb = sx > 0 ? cov * sy / (D * D * nm1 * sx) : 0.0;
    for (index_t i = 0; i < n; ++i) {
      const double xc = static_cast<double>(x[i * cols + k]) - mx;
      const double yc = static_cast<double>(y[i * cols + k]) - my;
      gx[i * cols + k] += gscale * static_cast<T>(ca * yc - cb * xc);
    }
  }
};

// -------------------------------------------------------- cross-entropy ----

/// Class weight of row i's label (1 without class weights; 0 for an ignored
/// row, label < 0; 0 for an out-of-range label, which InvalidLabel counts).
template <class T>
struct LabelWeight {
  const index_t* labels;
  const T* cw;  ///< nullable: unweighted
  index_t classes;
  STAI_HOST_DEVICE double operator()(index_t i) const {
    const index_t y = labels[i];
    if (y < 0 || y >= classes) return 0.0;
    return cw ? static_cast<double>(cw[y]) : 1.0;
  }
};
/// 1 for a label >= classes (an error), else 0.
struct InvalidLabel {
  const index_t* labels;
  index_t classes;
  STAI_HOST_DEVICE double operator()(index_t i) const { return labels[i] >= classes ? 1.0 : 0.0; }
};

/// One row of the (class-weighted) cross-entropy with a stable log-softmax:
/// nll = (m - l_y) + log sum_c exp(l_c - m), m = max_c l_c;
/// rowval[i] = w_y nll (0 for ignored rows, label < 0);
/// g (nullable) += scale * w_y (softmax - onehot(y)), scale = weight / sum_i w_yi.
template <class T>
struct CrossEntropyRow {
  const T* logits;
  const index_t* labels;
  const T* cw;  ///< nullable
  T* g;         ///< nullable
  double* rowval;
  index_t classes;
  T scale;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    using std::exp;
    using std::log;
    const index_t y = labels[i];
    if (y < 0 || y >= classes) {
      rowval[i] = 0.0;
      return;
    }
    const T* l = logits + i * classes;
    T m = l[0];
    for (index_t c = 1; c < classes; ++c) m = l[c] > m ? l[c] : m;
    T s = 0;
    for (index_t c = 0; c < classes; ++c) s += exp(l[c] - m);
    const T wy = cw ? cw[y] : T(1);
    const T nll = (m - l[y]) + log(s);
    rowval[i] = static_cast<double>(wy) * static_cast<double>(nll);
    if (!g) return;
    T* gi = g + i * classes;
    const T f = scale * wy, inv_s = T(1) / s;
    for (index_t c = 0; c < classes; ++c) gi[c] += f * (exp(l[c] - m) * inv_s - (c == y ? T(1) : T(0)));
  }
};

/// Row-wise softmax probabilities (stable): p[i, c] = exp(l_c - m) / sum.
template <class T>
struct SoftmaxRow {
  const T* logits;
  T* probs;
  index_t classes;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    using std::exp;
    const T* l = logits + i * classes;
    T* p = probs + i * classes;
    T m = l[0];
    for (index_t c = 1; c < classes; ++c) m = l[c] > m ? l[c] : m;
    T s = 0;
    for (index_t c = 0; c < classes; ++c) {
      p[c] = exp(l[c] - m);
      s += p[c];
    }
    const T inv = T(1) / s;
    for (index_t c = 0; c < classes; ++c) p[c] *= inv;
  }
};

// ---------------------------------------------------------------- MMD ------

/// Per column k of the stacked Z = [z1; z2] (n1 + n2 rows, d columns):
/// mean[k] = column mean (accumulated in double).
template <class T>
struct StackedColumnMean {
  const T* z1;
  const T* z2;
  index_t n1, n2, d;
  T* mean;
  STAI_HOST_DEVICE void operator()(index_t k) const {
    double s = 0;
    for (index_t i = 0; i < n1; ++i) s += static_cast<double>(z1[i * d + k]);
    for (index_t i = 0; i < n2; ++i) s += static_cast<double>(z2[i * d + k]);
    mean[k] = static_cast<T>(s / static_cast<double>(n1 + n2));
  }
};

/// 1 where element (i, k) of the stacked Z differs from row 0's, else 0
/// (all points identical <=> the sum is 0: the bandwidth is then 0).
template <class T>
struct DiffersFromFirstRow {
  const T* z1;
  const T* z2;
  index_t n1, d;
  STAI_HOST_DEVICE double operator()(index_t e) const {
    const index_t i = e / d, k = e % d;
    const T v = i < n1 ? z1[i * d + k] : z2[(i - n1) * d + k];
    const T v0 = n1 > 0 ? z1[k] : z2[k];
    return v != v0 ? 1.0 : 0.0;
  }
};

/// Packs zaug (n x (d+1)) = [Z - mean | 1] from the stacked Z.
template <class T>
struct MmdPack {
  const T* z1;
  const T* z2;
  const T* mean;
  T* zaug;
  index_t n1, d;
  STAI_HOST_DEVICE void operator()(index_t e) const {
    const index_t da = d + 1, i = e / da, k = e % da;
    if (k == d) {
      zaug[e] = T(1);
      return;
    }
    const T v = i < n1 ? z1[i * d + k] : z2[(i - n1) * d + k];
    zaug[e] = v - mean[k];
  }
};

/// nrm[i] = |zaug_i[0..d)|^2
template <class T>
struct RowSquaredNorm {
  const T* z;
  T* nrm;
  index_t ld, d;
  STAI_HOST_DEVICE void operator()(index_t i) const {
    T s = 0;
    for (index_t k = 0; k < d; ++k) s += z[i * ld + k] * z[i * ld + k];
    nrm[i] = s;
  }
};

/// The per-tile elementwise step of the MMD, one call per tile row r.
/// On entry tile[r, c] = -2 <Z_i, Z_j> (i = r0 + r, j = c0 + c); on exit
/// tile[r, c] = C_ij (E + 2E^2 + 4E^4 + 8E^8 + 16E^16) with
/// E = exp(-L_ij / (4b)), L_ij = max(|Z_i|^2 + |Z_j|^2 - 2<Z_i,Z_j>, 0) (0 on
/// the diagonal), so that dK/dL = -tile / (4b C) and the gradient is GEMM-shaped.
/// rowval[r] = sum_c mult_j C_ij (E + E^2 + E^4 + E^8 + E^16), mult_j = 1
/// for j < diag_end (pairs whose mirror is in the same row block) else 2.
/// C_ij = c11, c12 or c22 by the sets of i and j (i, j < n1: set 1).
template <class T>
struct MmdTileRow {
  T* tile;
  const T* nrm;
  double* rowval;
  index_t cols;  ///< tile width (= its row stride)
  index_t r0, c0, n1, diag_end;
  T neg_inv4b;  ///< -1 / (4b)
  T c11, c12, c22;
  STAI_HOST_DEVICE void operator()(index_t r) const {
    using std::exp;
    const index_t i = r0 + r;
    const bool in1 = i < n1;
    const T ni = nrm[i];
    T* row = tile + r * cols;
    double val = 0;
    for (index_t c = 0; c < cols; ++c) {
      const index_t j = c0 + c;
      T L = ni + nrm[j] + row[c];
      L = L > T(0) ? L : T(0);
      if (j == i) L = T(0);
      const T e1 = exp(neg_inv4b * L), e2 = e1 * e1, e4 = e2 * e2, e8 = e4 * e4, e16 = e8 * e8;
      const T coef = in1 ? (j < n1 ? c11 : c12) : (j < n1 ? c12 : c22);
      const T k = e1 + e2 + e4 + e8 + e16;
      val += (j < diag_end ? 1.0 : 2.0) * static_cast<double>(coef) * static_cast<double>(k);
      row[c] = coef * (e1 + T(2) * e2 + T(4) * e4 + T(8) * e8 + T(16) * e16);
    }
    rowval[r] = val;
  }
};

/// The parts of an MMD call (losses/mmd.hpp) that a backend's own kernels
/// take over, chosen per call by mmd_fast_kernels; all off on the generic
/// path (GEMMs and MmdTileRow).
template <class T>
struct MmdFastKernels {
  bool distance = false;  ///< distance tiles without a GEMM, from the packed Zc^T in zt
  int backward = 0;       ///< GEMM-free backward for code rows of this many packets; 0: GEMMs
  const T* zt = nullptr;  ///< the backend's packed transpose of Zc
};

/// dz[row0 + r, k] += P[r, d] * zaug[row0 + r, k] - P[r, k] for k < d, where
/// P = W Zaug (the last column of Zaug is 1, so P[:, d] is the row sum of W).
template <class T>
struct MmdCombine {
  const T* P;
  const T* zaug;
  T* dz;
  index_t row0, d;
  STAI_HOST_DEVICE void operator()(index_t e) const {
    const index_t r = e / d, k = e % d, da = d + 1, i = row0 + r;
    dz[i * d + k] += P[r * da + d] * zaug[i * da + k] - P[r * da + k];
  }
};

// ------------------------------------------------- gene consistency --------

/// Per column j of src (n x cols): mean, dst = src - mean, var[j] = sum dst^2 / (n-1).
template <class T>
struct CentreColumn {
  const T* src;
  T* dst;
  T* var;
  index_t n, cols;
  STAI_HOST_DEVICE void operator()(index_t j) const {
    double m = 0;
    for (index_t i = 0; i < n; ++i) m += static_cast<double>(src[i * cols + j]);
    m /= static_cast<double>(n);
    double s = 0;
    for (index_t i = 0; i < n; ++i) {
      const T c = static_cast<T>(static_cast<double>(src[i * cols + j]) - m);
      dst[i * cols + j] = c;
      s += static_cast<double>(c) * static_cast<double>(c);
    }
    var[j] = static_cast<T>(s / static_cast<double>(n - 1));
  }
};

/// A[j, k] = cov[j, k] / sqrt(var1[j] var2[k] + 1e-6)  (element e = j * c + k).
template <class T>
struct CorrFromCov {
  const T* cov;
  const T* var1;
  const T* var2;
  T* A;
  index_t c;
  STAI_HOST_DEVICE void operator()(index_t e) const {
    using std::sqrt;
    const index_t j = e / c, k = e % c;
    A[e] = cov[e] / sqrt(var1[j] * var2[k] + T(1e-6));
  }
};

/// Reference gene-consistency, one column k of A1, A2 (p x c):
/// r_k = <a, b> / sqrt(|a|^2 |b|^2 + 1e-6); r_out[k] = r_k;
/// G[:, k] (nullable) = gscale * dr_k/da = gscale * (b / q - <a,b> |b|^2 a / q^3),
/// gscale = -weight / c (written, not added).
template <class T>
struct ColumnCosine {
  const T* A1;
  const T* A2;
  T* G;
  double* r_out;
  index_t p, c;
  T gscale;
  STAI_HOST_DEVICE void operator()(index_t k) const {
    using std::sqrt;
    double dot = 0, aa = 0, bb = 0;
    for (index_t j = 0; j < p; ++j) {
      const double a = static_cast<double>(A1[j * c + k]), b = static_cast<double>(A2[j * c + k]);
      dot += a * b;
      aa += a * a;
      bb += b * b;
    }
    const double q = sqrt(aa * bb + 1e-6);
    r_out[k] = dot / q;
    if (!G) return;
    const double ca = dot * bb / (q * q * q);
    for (index_t j = 0; j < p; ++j) {
      const double a = static_cast<double>(A1[j * c + k]), b = static_cast<double>(A2[j * c + k]);
      G[j * c + k] = gscale * static_cast<T>(b / q - ca * a);
    }
  }
};

/// (A1 - A2)^2 per element (for the Frobenius norm).
template <class T>
struct SquaredDiff {
  const T* a;
  const T* b;
  STAI_HOST_DEVICE double operator()(index_t e) const {
    const double d = static_cast<double>(a[e]) - static_cast<double>(b[e]);
    return d * d;
  }
};

/// G = s * (A1 - A2)   (written)
template <class T>
struct ScaledDiff {
  const T* a;
  const T* b;
  T* G;
  T s;
  STAI_HOST_DEVICE void operator()(index_t e) const { G[e] = s * (a[e] - b[e]); }
};

/// Back through A = cov / sqrt(var1 var2 + 1e-6), per column k of G (p x c):
/// Gg[j, k] = G[j, k] g_jk and h[k] = sum_j G[j, k] cov[j, k] g_jk^3 var1[j],
/// g_jk = (var1[j] var2[k] + 1e-6)^(-1/2). Then
/// dX = (Sc Gg - Xc diag(h)) / (n-1).
template <class T>
struct CorrBackwardColumn {
  const T* G;
  const T* cov;
  const T* var1;
  const T* var2;
  T* Gg;
  T* h;
  index_t p, c;
  STAI_HOST_DEVICE void operator()(index_t k) const {
    using std::sqrt;
    T s = 0;
    for (index_t j = 0; j < p; ++j) {
      const index_t e = j * c + k;
      const T g = T(1) / sqrt(var1[j] * var2[k] + T(1e-6));
      Gg[e] = G[e] * g;
      s += G[e] * cov[e] * g * g * g * var1[j];
    }
    h[k] = s;
  }
};

/// dX[i, k] -= s * Xc[i, k] * h[k]
template <class T>
struct SubScaledColumn {
  const T* Xc;
  const T* h;
  T* dX;
  index_t c;
  T s;
  STAI_HOST_DEVICE void operator()(index_t e) const { dX[e] -= s * Xc[e] * h[e % c]; }
};

}  // namespace stai::ops
