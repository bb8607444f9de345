// Structured-grid finite-element kernels on raw pointers: node numbering, CSR
// sparsity pattern, value filling, consistent load and stress recovery for the
// pixel elements of fea_element.hpp (numbering documented there).
//
// "Active" elements get stiffness: the material pixels only (a compact
// system), or every pixel with an ersatz stiffness for the voids (one pattern
// per grid size). A node is kept when an active element touches it; two kept
// nodes couple when an active element holds both. Every routine that writes a
// row works on one node's two rows alone, so rows run in parallel with no
// atomics and the 2 x 2 nodal blocks stay contiguous.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "latentmine/fea_element.hpp"

namespace latentmine {
namespace fea {

struct Grid {
  int64_t rows, cols;  // pixels H, W
  int64_t node_cols() const { return cols + 1; }
  int64_t nodes() const { return (rows + 1) * (cols + 1); }
  bool pixel_inside(int64_t r, int64_t c) const { return r >= 0 && r < rows && c >= 0 && c < cols; }
};

// Grids below this many pixels run single-threaded: on the shared 2-core
// machines a 256^2 fill took 6 ms on one thread and 20 ms on two (docs/fea.md).
constexpr int64_t kParallelPixels = int64_t{512} * 512;

// Gives each node touched by an active element the next id (in grid order), -1
// to the others; returns the number of kept nodes.
inline int64_t number_nodes(const Grid& g, const uint8_t* active, int32_t* node_id) {
  int64_t kept = 0;
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      bool touched = false;
      for (int64_t r = i - 1; r <= i; ++r)
        for (int64_t c = j - 1; c <= j; ++c) touched |= g.pixel_inside(r, c) && active[r * g.cols + c];
      node_id[i * g.node_cols() + j] = touched ? static_cast<int32_t>(kept++) : -1;
    }
  }
  return kept;
}

// Checks a caller's numbering: every node touched by an active element has an
// id in [0, kept), where kept is the number of non-negative ids; returns kept,
// or -1 when the numbering does not fit.
inline int64_t check_numbering(const Grid& g, const uint8_t* active, const int32_t* node_id) {
  int64_t kept = 0;
  for (int64_t n = 0; n < g.nodes(); ++n) kept += node_id[n] >= 0;
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      bool touched = false;
      for (int64_t r = i - 1; r <= i; ++r)
        for (int64_t c = j - 1; c <= j; ++c) touched |= g.pixel_inside(r, c) && active[r * g.cols + c];
      const int32_t k = node_id[i * g.node_cols() + j];
      if ((touched && k < 0) || k >= kept) return -1;
    }
  }
  return kept;
}

// Bit (di + 1) * 3 + (dj + 1) is set when node (i + di, j + dj) shares an
// active element with node (i, j). Bits in increasing order are the node's
// neighbours in increasing node id, i.e. the column order of its CSR rows.
inline int neighbour_bits(const Grid& g, const uint8_t* active, int64_t i, int64_t j) {
  int bits = 0;
  for (int64_t r = i - 1; r <= i; ++r) {
    for (int64_t c = j - 1; c <= j; ++c) {
      if (!g.pixel_inside(r, c) || !active[r * g.cols + c]) continue;
      for (int a = 0; a < kElementNodes; ++a) {
        const int64_t di = r + kCornerRow[a] - i, dj = c + kCornerCol[a] - j;
        bits |= 1 << ((di + 1) * 3 + (dj + 1));
      }
    }
  }
  return bits;
}

// Row pointers of the kept-node system: indptr has 2 * kept + 1 entries. Any
// numbering works; with one other than grid order, the columns of a row are
// unsorted (they follow the neighbours' grid order).
inline void pattern_indptr(const Grid& g, const uint8_t* active, const int32_t* node_id, int64_t kept,
                           int32_t* indptr) {
  std::vector<int32_t> width(kept, 0);
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      const int32_t k = node_id[i * g.node_cols() + j];
      if (k >= 0) width[k] = 2 * __builtin_popcount(neighbour_bits(g, active, i, j));
    }
  }
  indptr[0] = 0;
  for (int64_t k = 0; k < kept; ++k) {
    indptr[2 * k + 1] = indptr[2 * k] + width[k];
    indptr[2 * k + 2] = indptr[2 * k + 1] + width[k];
  }
}

// Column indices of the rows laid out by pattern_indptr.
inline void pattern_indices(const Grid& g, const uint8_t* active, const int32_t* node_id, const int32_t* indptr,
                            int32_t* indices) {
#pragma omp parallel for schedule(static) if (g.rows * g.cols >= kParallelPixels)
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      const int32_t k = node_id[i * g.node_cols() + j];
      if (k < 0) continue;
      const int bits = neighbour_bits(g, active, i, j);
      int64_t at = indptr[2 * k];
      for (int bit = 0; bit < 9; ++bit) {
        if (!(bits >> bit & 1)) continue;
        const int32_t m = node_id[(i + bit / 3 - 1) * g.node_cols() + (j + bit % 3 - 1)];
        indices[at] = 2 * m;
        indices[at + 1] = 2 * m + 1;
        at += 2;
      }
      for (int64_t s = 0; s < at - indptr[2 * k]; ++s) indices[at + s] = indices[indptr[2 * k] + s];
    }
  }
}

// Calls visit(r, c, a, b, offset) for every active element (r, c) around node
// (i, j), every local node a that is (i, j) and every local node b, where
// offset is the position of node b's column pair within the rows of (i, j).
template <typename Visit>
inline void for_each_block(const Grid& g, const uint8_t* active, int64_t i, int64_t j, Visit&& visit) {
  const int bits = neighbour_bits(g, active, i, j);
  int offset_of[9];  // column offset of each neighbour, by bit
  for (int bit = 0, at = 0; bit < 9; ++bit) {
    offset_of[bit] = at;
    at += 2 * (bits >> bit & 1);
  }
  for (int a = 0; a < kElementNodes; ++a) {
    const int64_t r = i - kCornerRow[a], c = j - kCornerCol[a];
    if (!g.pixel_inside(r, c) || !active[r * g.cols + c]) continue;
    for (int b = 0; b < kElementNodes; ++b) {
      const int bit = (kCornerRow[b] - kCornerRow[a] + 1) * 3 + (kCornerCol[b] - kCornerCol[a] + 1);
      visit(r, c, a, b, offset_of[bit]);
    }
  }
}

// Fills the CSR values: element e contributes ke_table[label[e] * 64 ...] (the
// 8 x 8 stiffness of its label, row-major) when active[e].
template <typename Real>
void fill_values(const Grid& g, const uint8_t* active, const uint8_t* label, const Real* ke_table,
                 const int32_t* node_id, const int32_t* indptr, Real* data) {
#pragma omp parallel for schedule(static) if (g.rows * g.cols >= kParallelPixels)
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      const int32_t k = node_id[i * g.node_cols() + j];
      if (k < 0) continue;
      Real* row_x = data + indptr[2 * k];
      Real* row_y = data + indptr[2 * k + 1];
      const int64_t width = indptr[2 * k + 1] - indptr[2 * k];
      for (int64_t s = 0; s < width; ++s) row_x[s] = row_y[s] = 0;
      for_each_block(g, active, i, j, [&](int64_t r, int64_t c, int a, int b, int offset) {
        const Real* ke = ke_table + 64 * label[r * g.cols + c] + (2 * a) * 8 + 2 * b;
        row_x[offset] += ke[0];
        row_x[offset + 1] += ke[1];
        row_y[offset] += ke[8];
        row_y[offset + 1] += ke[9];
      });
    }
  }
}

// slots[e * 64 + A * 8 + B] = CSR position of K[dof A, dof B] of element e
// (local DOFs), -1 for inactive elements: lets an element-wise (e.g. GPU)
// assembly scatter into the same pattern.
inline void element_slots(const Grid& g, const uint8_t* active, const int32_t* node_id, const int32_t* indptr,
                          int32_t* slots) {
#pragma omp parallel for schedule(static) if (g.rows * g.cols >= kParallelPixels)
  for (int64_t e = 0; e < g.rows * g.cols; ++e)
    for (int s = 0; s < 64; ++s) slots[e * 64 + s] = -1;
#pragma omp parallel for schedule(static) if (g.rows * g.cols >= kParallelPixels)
  for (int64_t i = 0; i <= g.rows; ++i) {
    for (int64_t j = 0; j <= g.cols; ++j) {
      const int32_t k = node_id[i * g.node_cols() + j];
      if (k < 0) continue;
      // Each (element, a) pair is visited from node a only: no write conflicts.
      for_each_block(g, active, i, j, [&](int64_t r, int64_t c, int a, int b, int offset) {
        int32_t* out = slots + (r * g.cols + c) * 64;
        for (int p = 0; p < 2; ++p)
          for (int q = 0; q < 2; ++q)
            out[(2 * a + p) * 8 + 2 * b + q] = static_cast<int32_t>(indptr[2 * k + p] + offset + q);
      });
    }
  }
}

// Consistent load of pressure p on every side of a material pixel that faces a
// lumen pixel; f has 2 * kept entries and is overwritten.
template <typename Real>
void pressure_load(const Grid& g, const uint8_t* material, const uint8_t* lumen, const int32_t* node_id,
                   int64_t kept, Real p, Real h, Real* f) {
  for (int64_t d = 0; d < 2 * kept; ++d) f[d] = 0;
  const int64_t dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};  // neighbour across kTop, kRight, ...
  for (int64_t r = 0; r < g.rows; ++r) {
    for (int64_t c = 0; c < g.cols; ++c) {
      if (!material[r * g.cols + c]) continue;
      for (int side = 0; side < 4; ++side) {
        const int64_t rn = r + dr[side], cn = c + dc[side];
        if (!g.pixel_inside(rn, cn) || !lumen[rn * g.cols + cn]) continue;
        int nodes[2];
        Real force[2];
        edge_load<Real>(side, p, h, nodes, force);
        for (int n : nodes) {
          const int32_t k = node_id[(r + kCornerRow[n]) * g.node_cols() + c + kCornerCol[n]];
          f[2 * k] += force[0];
          f[2 * k + 1] += force[1];
        }
      }
    }
  }
}

// Centre stresses of the material pixels: out holds 6 planes of H * W floats,
// s_xx, s_yy, s_xy, s_zz, von Mises and the in-plane maximum principal
// stress, NaN where there is no material. lam, mu are indexed by label.
template <typename Real>
void recover_stress(const Grid& g, const uint8_t* material, const uint8_t* label, const Real* lam,
                    const Real* mu, const int32_t* node_id, const Real* u, Real h, float* out) {
  const int64_t plane = g.rows * g.cols;
#pragma omp parallel for schedule(static) if (plane >= kParallelPixels)
  for (int64_t e = 0; e < plane; ++e) {
    if (!material[e]) {
      for (int q = 0; q < 6; ++q) out[q * plane + e] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const int64_t r = e / g.cols, c = e % g.cols;
    Real ue[8], s[4];
    for (int a = 0; a < kElementNodes; ++a) {
      const int32_t k = node_id[(r + kCornerRow[a]) * g.node_cols() + c + kCornerCol[a]];
      ue[2 * a] = u[2 * k];
      ue[2 * a + 1] = u[2 * k + 1];
    }
    element_stress<Real>(ue, lam[label[e]], mu[label[e]], h, s);
    Real derived[6];
    stress_planes<Real>(s, derived);
    for (int q = 0; q < 6; ++q) out[q * plane + e] = static_cast<float>(derived[q]);
  }
}

}  // namespace fea
}  // namespace latentmine
