// Closed-form eigen-decomposition of a real symmetric 3 x 3 matrix, for the CUDA
// kernel (csrc/cuda/sym3_kernels.cu) and its CPU twin (csrc/core/twin_bindings.cpp).
//
// Eigenvalues: the trigonometric solution of the characteristic cubic of the
// shifted, scaled matrix B = (A - q I) / p (Smith, "Eigenvalues of a symmetric
// 3 x 3 matrix", Comm. ACM 4(4), 1961). Eigenvectors: D. Eberly's robust
// construction ("A Robust Eigensolver for 3 x 3 Symmetric Matrices", Geometric
// Tools, 2014): the eigenvector of the best-separated eigenvalue is the largest
// cross product of two rows of A - w I; the second comes from the 2 x 2 problem
// on its orthogonal complement, the third is the cross product of the two. So the
// vectors are orthonormal by construction, also for repeated eigenvalues, with no
// iteration and no convergence to check; one Jacobi sweep then polishes the pair
// of a nearly repeated eigenvalue (jacobi_sweep). A fixed sequence of arithmetic: the same
// code gives the same result on the host and (up to fused multiply-adds) on the device.
#pragma once

#include <cmath>

#include "latentmine/fea_element.hpp"  // LM_HD

namespace latentmine {
namespace sym3 {

template <typename Real>
LM_HD inline void cross(const Real a[3], const Real b[3], Real out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

template <typename Real>
LM_HD inline Real dot(const Real a[3], const Real b[3]) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Unit eigenvector of eigenvalue w of the symmetric m (row-major 3 x 3): the
// longest cross product of two rows of m - w I (orthogonal to both, so in its null space).
template <typename Real>
LM_HD inline void eigenvector_from_rows(const Real m[9], Real w, Real out[3]) {
  const Real r0[3] = {m[0] - w, m[1], m[2]}, r1[3] = {m[3], m[4] - w, m[5]}, r2[3] = {m[6], m[7], m[8] - w};
  Real c01[3], c02[3], c12[3];
  cross(r0, r1, c01);
  cross(r0, r2, c02);
  cross(r1, r2, c12);
  const Real d01 = dot(c01, c01), d02 = dot(c02, c02), d12 = dot(c12, c12);
  const Real* best = c01;
  Real best_sq = d01;
  if (d02 > best_sq) best = c02, best_sq = d02;
  if (d12 > best_sq) best = c12, best_sq = d12;
  if (!(best_sq > 0)) {  // m - w I vanishes: every vector is an eigenvector
    out[0] = 1, out[1] = 0, out[2] = 0;
    return;
  }
  const Real inv = 1 / sqrt(best_sq);
  for (int k = 0; k < 3; ++k) out[k] = best[k] * inv;
}

// Orthonormal u, v completing the unit vector w to a right-handed basis.
template <typename Real>
LM_HD inline void complement(const Real w[3], Real u[3], Real v[3]) {
  if (fabs(w[0]) > fabs(w[1])) {
    const Real inv = 1 / sqrt(w[0] * w[0] + w[2] * w[2]);
    u[0] = -w[2] * inv, u[1] = 0, u[2] = w[0] * inv;
  } else {
    const Real inv = 1 / sqrt(w[1] * w[1] + w[2] * w[2]);
    u[0] = 0, u[1] = w[2] * inv, u[2] = -w[1] * inv;
  }
  cross(w, u, v);
}

// The unit vector (q, -p) / |(p, q)| orthogonal to the row (p, q), normalised by the
// larger entry so that nothing overflows; (p, q) is not zero.
template <typename Real>
LM_HD inline void orthogonal_to_row(Real p, Real q, Real& cu, Real& cv) {
  if (fabs(p) >= fabs(q)) {
    const Real t = q / p, s = 1 / sqrt(1 + t * t);
    cu = t * s, cv = -s;
  } else {
    const Real t = p / q, s = 1 / sqrt(1 + t * t);
    cu = s, cv = -t * s;
  }
}

// Unit eigenvector of eigenvalue w orthogonal to the known unit eigenvector first:
// the null vector of the 2 x 2 restriction of m - w I to first's complement, from
// its row with the larger diagonal entry.
template <typename Real>
LM_HD inline void eigenvector_in_complement(const Real m[9], const Real first[3], Real w, Real out[3]) {
  Real u[3], v[3], mu[3], mv[3];
  complement(first, u, v);
  for (int r = 0; r < 3; ++r) {
    mu[r] = m[3 * r] * u[0] + m[3 * r + 1] * u[1] + m[3 * r + 2] * u[2];
    mv[r] = m[3 * r] * v[0] + m[3 * r + 1] * v[1] + m[3 * r + 2] * v[2];
  }
  const Real m00 = dot(u, mu) - w, m01 = dot(u, mv), m11 = dot(v, mv) - w;
  Real cu = 1, cv = 0;  // the restriction vanishes: any vector of the plane will do
  if (fabs(m00) >= fabs(m11)) {
    if (fabs(m00) > 0 || fabs(m01) > 0) orthogonal_to_row(m00, m01, cu, cv);
  } else {
    orthogonal_to_row(m01, m11, cu, cv);
  }
  for (int k = 0; k < 3; ++k) out[k] = cu * u[k] + cv * v[k];
}

// One cyclic Jacobi sweep (Golub and Van Loan, Matrix Computations, 8.5) on the
// symmetric m (row-major 3 x 3), accumulated into the columns of v. The closed
// form leaves off-diagonals of order sqrt(eps) ||A|| in V^T A V near a repeated
// eigenvalue (acos is steep at +-1); Jacobi converges quadratically, so one sweep
// brings them to rounding level.
template <typename Real>
LM_HD inline void jacobi_sweep(Real m[9], Real v[9]) {
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (const auto& pair : pairs) {
    const int p = pair[0], q = pair[1];
    const Real apq = m[3 * p + q];
    if (apq == 0) continue;
    const Real theta = (m[3 * q + q] - m[3 * p + p]) / (2 * apq);
    const Real t = (theta >= 0 ? Real(1) : Real(-1)) / (fabs(theta) + sqrt(theta * theta + 1));
    const Real c = 1 / sqrt(t * t + 1), s = t * c;
    for (int k = 0; k < 3; ++k) {  // m <- m J (columns p, q)
      const Real mkp = m[3 * k + p], mkq = m[3 * k + q];
      m[3 * k + p] = c * mkp - s * mkq;
      m[3 * k + q] = s * mkp + c * mkq;
    }
    for (int k = 0; k < 3; ++k) {  // m <- J^T m (rows p, q)
      const Real mpk = m[3 * p + k], mqk = m[3 * q + k];
      m[3 * p + k] = c * mpk - s * mqk;
      m[3 * q + k] = s * mpk + c * mqk;
    }
    m[3 * p + q] = m[3 * q + p] = 0;
    for (int k = 0; k < 3; ++k) {
      const Real vkp = v[3 * k + p], vkq = v[3 * k + q];
      v[3 * k + p] = c * vkp - s * vkq;
      v[3 * k + q] = s * vkp + c * vkq;
    }
  }
}

// Eigenvalues w[0] <= w[1] <= w[2] of the symmetric a (row-major 3 x 3; only its
// upper triangle is read) and the eigenvectors as the columns of vectors
// (row-major: vectors[3 * r + k] is component r of eigenvector k), numpy.linalg.eigh's layout.
template <typename Real>
LM_HD inline void eigh(const Real a[9], Real w[3], Real vectors[9]) {
  const Real pi = Real(3.14159265358979323846);
  const Real upper[6] = {a[0], a[1], a[2], a[4], a[5], a[8]};
  Real scale = 0;
  for (int k = 0; k < 6; ++k) scale = fmax(scale, fabs(upper[k]));
  for (int k = 0; k < 9; ++k) vectors[k] = (k % 4 == 0) ? 1 : 0;
  if (!(scale > 0)) {  // zero (or NaN, which then propagates through w)
    w[0] = w[1] = w[2] = scale == 0 ? 0 : scale;
    return;
  }
  // Scaled copy, full storage from the upper triangle.
  const Real m[9] = {upper[0] / scale, upper[1] / scale, upper[2] / scale, upper[1] / scale, upper[3] / scale,
                     upper[4] / scale, upper[2] / scale, upper[4] / scale, upper[5] / scale};
  const Real q = (m[0] + m[4] + m[8]) / 3;
  const Real b00 = m[0] - q, b11 = m[4] - q, b22 = m[8] - q;
  const Real off = m[1] * m[1] + m[2] * m[2] + m[5] * m[5];
  const Real p = sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2 * off) / 6);
  if (!(p > 0)) {  // a multiple of the identity
    w[0] = w[1] = w[2] = q * scale;
    return;
  }
  // det(B / p) / 2 = cos(3 phi), clamped against rounding.
  const Real c00 = b11 * b22 - m[5] * m[5], c01 = m[1] * b22 - m[5] * m[2], c02 = m[1] * m[5] - b11 * m[2];
  Real half_det = (b00 * c00 - m[1] * c01 + m[2] * c02) / (2 * p * p * p);
  half_det = fmin(fmax(half_det, Real(-1)), Real(1));
  const Real phi = acos(half_det) / 3;
  const Real beta2 = 2 * cos(phi), beta0 = 2 * cos(phi + 2 * pi / 3), beta1 = -(beta0 + beta2);
  const Real values[3] = {q + p * beta0, q + p * beta1, q + p * beta2};
  // Start from the eigenvalue farthest from the middle one (the best separated).
  Real e0[3], e1[3], e2[3];
  if (half_det >= 0) {
    eigenvector_from_rows(m, values[2], e2);
    eigenvector_in_complement(m, e2, values[1], e1);
    cross(e1, e2, e0);
  } else {
    eigenvector_from_rows(m, values[0], e0);
    eigenvector_in_complement(m, e0, values[1], e1);
    cross(e0, e1, e2);
  }
  for (int r = 0; r < 3; ++r) {
    vectors[3 * r] = e0[r];
    vectors[3 * r + 1] = e1[r];
    vectors[3 * r + 2] = e2[r];
  }
  // Refine: diagonalise V^T M V by one Jacobi sweep, then read the eigenvalues off it.
  Real projected[9];
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      Real sum = 0;
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l) sum += vectors[3 * k + r] * m[3 * k + l] * vectors[3 * l + c];
      projected[3 * r + c] = sum;
    }
  }
  jacobi_sweep(projected, vectors);
  for (int k = 0; k < 3; ++k) w[k] = projected[4 * k];
  // Ascending order (three compare-and-swaps), eigenvectors along.
  const int order[3][2] = {{0, 1}, {1, 2}, {0, 1}};
  for (const auto& pair : order) {
    const int i = pair[0], j = pair[1];
    if (w[j] < w[i]) {
      const Real tw = w[i];
      w[i] = w[j], w[j] = tw;
      for (int r = 0; r < 3; ++r) {
        const Real tv = vectors[3 * r + i];
        vectors[3 * r + i] = vectors[3 * r + j], vectors[3 * r + j] = tv;
      }
    }
  }
  for (int k = 0; k < 3; ++k) w[k] *= scale;
}

}  // namespace sym3
}  // namespace latentmine
