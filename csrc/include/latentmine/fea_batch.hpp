// One work item of each batched full-grid FE kernel, shared by the CUDA kernels
// (csrc/cuda/fea_kernels.cu, one thread per item) and their CPU twins
// (csrc/core/twin_bindings.cpp, one loop iteration per item). Both sides run the
// same function on the same item, so the CUDA code is a transliteration of the
// CPU-tested one: only the loop around the item differs.
//
// Layout (see fea_element.hpp for the element frame): a batch of `count` masks of
// one rows x cols grid; every node of the (rows + 1) x (cols + 1) grid is kept,
// node (i, j) = i * (cols + 1) + j with DOFs 2n, 2n + 1. Label lookups
// (is_material, is_lumen, lam, mu, ke_table) are 256-entry tables by label code.
// Every item writes only its own outputs: no atomics, deterministic order.
#pragma once

#include <cmath>
#include <cstdint>

#include "latentmine/fea_element.hpp"

namespace latentmine {
namespace fea_batch {

// Corner offsets of local nodes 0..3 (fea::kCornerRow/Col) as function-local
// arrays: namespace-scope constexpr arrays cannot be indexed at run time in device code.
#define LM_CORNERS                            \
  const int corner_row[4] = {0, 0, 1, 1};     \
  const int corner_col[4] = {0, 1, 1, 0}

// CSR value of slot k of one mask: the sum of the element entries that land in the
// slot, contrib[slot_ptr[k]:slot_ptr[k + 1]] as element * 64 + local entry.
template <typename Real>
LM_HD inline Real slot_value(const uint8_t* mask, const Real* ke_table, const int32_t* slot_ptr,
                             const int32_t* contrib, int64_t k) {
  Real sum = 0;
  for (int32_t q = slot_ptr[k]; q < slot_ptr[k + 1]; ++q) {
    const int32_t code = contrib[q];
    sum += ke_table[mask[code / 64] * 64 + code % 64];
  }
  return sum;
}

// Luminal pressure load on one node: gathers fea::edge_load of every material side
// facing lumen of the (up to four) pixels around the node.
template <typename Real>
LM_HD inline void node_pressure_load(const uint8_t* mask, int64_t rows, int64_t cols, const uint8_t* is_material,
                                     const uint8_t* is_lumen, Real pressure, Real h, int64_t node, Real out[2]) {
  LM_CORNERS;
  const int side_row[4] = {-1, 0, 1, 0};  // neighbour across kTop, kRight, kBottom, kLeft
  const int side_col[4] = {0, 1, 0, -1};
  const int64_t i = node / (cols + 1), j = node % (cols + 1);
  Real fx = 0, fy = 0;
  for (int64_t r = i - 1; r <= i; ++r) {
    for (int64_t c = j - 1; c <= j; ++c) {
      if (r < 0 || r >= rows || c < 0 || c >= cols || !is_material[mask[r * cols + c]]) continue;
      for (int side = 0; side < 4; ++side) {
        const int64_t rn = r + side_row[side], cn = c + side_col[side];
        if (rn < 0 || rn >= rows || cn < 0 || cn >= cols || !is_lumen[mask[rn * cols + cn]]) continue;
        int local[2];
        Real force[2];
        fea::edge_load<Real>(side, pressure, h, local, force);
        for (int a : local) {
          if (r + corner_row[a] == i && c + corner_col[a] == j) {
            fx += force[0];
            fy += force[1];
          }
        }
      }
    }
  }
  out[0] = fx;
  out[1] = fy;
}

// Row pair of node `node` of y = K u, matrix-free: the 8 x 8 stiffnesses of the
// node's pixels, looked up by label. A node that no stiff pixel touches gets
// void_diagonal * u (the decoupled rows of the assembled batch). u is one system.
template <typename Real>
LM_HD inline void node_stiffness_product(const uint8_t* mask, int64_t rows, int64_t cols, const Real* ke_table,
                                         Real void_diagonal, const Real* u, int64_t node, Real out[2]) {
  LM_CORNERS;
  const int64_t node_cols = cols + 1, i = node / node_cols, j = node % node_cols;
  Real yx = 0, yy = 0;
  bool stiff = false;
  for (int a = 0; a < 4; ++a) {  // this node is local node a of pixel (r, c)
    const int64_t r = i - corner_row[a], c = j - corner_col[a];
    if (r < 0 || r >= rows || c < 0 || c >= cols) continue;
    const Real* ke = ke_table + 64 * mask[r * cols + c];
    if (ke[0] == 0) continue;  // a label without stiffness (void in the compact formulation)
    stiff = true;
    for (int b = 0; b < 4; ++b) {
      const int64_t other = (r + corner_row[b]) * node_cols + c + corner_col[b];
      const Real ux = u[2 * other], uy = u[2 * other + 1];
      yx += ke[(2 * a) * 8 + 2 * b] * ux + ke[(2 * a) * 8 + 2 * b + 1] * uy;
      yy += ke[(2 * a + 1) * 8 + 2 * b] * ux + ke[(2 * a + 1) * 8 + 2 * b + 1] * uy;
    }
  }
  out[0] = stiff ? yx : void_diagonal * u[2 * node];
  out[1] = stiff ? yy : void_diagonal * u[2 * node + 1];
}

// The six stress planes (fea::stress_planes) of pixel e of one mask into
// planes[q * plane_stride], NaN off material; u is that mask's displacements.
template <typename Real>
LM_HD inline void pixel_stress(const uint8_t* mask, int64_t cols, const uint8_t* is_material, const Real* lam,
                               const Real* mu, const Real* u, Real h, int64_t e, float* planes,
                               int64_t plane_stride) {
  LM_CORNERS;
  const uint8_t label = mask[e];
  if (!is_material[label]) {
    for (int q = 0; q < 6; ++q) planes[q * plane_stride] = nanf("");
    return;
  }
  const int64_t r = e / cols, c = e % cols, node_cols = cols + 1;
  Real ue[8], st[4], derived[6];
  for (int a = 0; a < fea::kElementNodes; ++a) {
    const int64_t node = (r + corner_row[a]) * node_cols + c + corner_col[a];
    ue[2 * a] = u[2 * node];
    ue[2 * a + 1] = u[2 * node + 1];
  }
  fea::element_stress<Real>(ue, lam[label], mu[label], h, st);
  fea::stress_planes<Real>(st, derived);
  for (int q = 0; q < 6; ++q) planes[q * plane_stride] = static_cast<float>(derived[q]);
}

#undef LM_CORNERS

}  // namespace fea_batch
}  // namespace latentmine
