// CUDA kernels of the batched pixel finite-element solver (python/latentmine/fea/gpu).
// Every kernel works on a batch of `count` masks of one (rows x cols) grid, takes
// raw device pointers and runs asynchronously on `stream`. The grid is the full
// node grid: node (i, j) has index i * (cols + 1) + j and DOFs 2n, 2n + 1, the
// numbering of latentmine/fea_grid.hpp with every pixel active; label lookups
// (material, lumen, lam, mu, stiffness) are 256-entry tables indexed by label code.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace latentmine {
namespace fea_cuda {

// values[s, k] = sum over the (element e, local entry l) contributions of slot k of
// ke_table[masks[s, e] * 64 + l]; contributions of slot k are contrib[slot_ptr[k]:slot_ptr[k + 1]]
// as e * 64 + l (the inverse of fea_element_slots).
void fill_values(const uint8_t* masks, int64_t pixels, const double* ke_table, const int32_t* slot_ptr,
                 const int32_t* contrib, int64_t nnz, int64_t count, double* values, cudaStream_t stream);

// f[s, :] = consistent nodal load of pressure p on every side of a material pixel that faces
// a lumen pixel (fea::edge_load), gathered node by node (deterministic, no atomics).
void pressure_load(const uint8_t* masks, int64_t rows, int64_t cols, const uint8_t* is_material,
                   const uint8_t* is_lumen, double pressure, double h, int64_t count, double* f,
                   cudaStream_t stream);

// y[s, :] = K_s u[s, :] without assembling K_s: every node gathers the 8 x 8 element
// stiffnesses (ke_table by label) of its up to four pixels. A node that no stiff pixel
// touches gets void_diagonal * u, as the assembled system's decoupled rows do.
void apply_stiffness(const uint8_t* masks, int64_t rows, int64_t cols, const double* ke_table,
                     double void_diagonal, const double* u, int64_t count, double* y, cudaStream_t stream);

// out[s, q, r, c]: the six stress planes of fea::recover_stress (s_xx, s_yy, s_xy, s_zz, von
// Mises, in-plane maximum principal), NaN off material, from displacements u[s, :].
void recover_stress(const uint8_t* masks, int64_t rows, int64_t cols, const uint8_t* is_material,
                    const double* lam, const double* mu, const double* u, double h, int64_t count, float* out,
                    cudaStream_t stream);

// w[s, :] ascending eigenvalues and vectors[s] (columns) eigenvectors of the
// symmetric 3 x 3 a[s] (row-major, upper triangle read): sym3::eigh, closed form.
void sym3_eigh(const double* a, int64_t count, double* w, double* vectors, cudaStream_t stream);

}  // namespace fea_cuda
}  // namespace latentmine
