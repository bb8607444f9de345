// Batched element-value fill, luminal load and stress recovery on the GPU. The
// element maths (stiffness, edge load, centre stress) is latentmine/fea_element.hpp,
// shared with the CPU solver; these kernels only gather and scatter.
#include <cmath>
#include <stdexcept>
#include <string>

#include "fea_kernels.cuh"
#include "latentmine/fea_element.hpp"

namespace latentmine {
namespace fea_cuda {
namespace {

constexpr int kThreads = 256;

// Grid of a flat index range [0, total): grid-stride loops cover any remainder.
dim3 blocks_for(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16));
}

void check_launch(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

__global__ void fill_values_kernel(const uint8_t* __restrict__ masks, int64_t pixels,
                                   const double* __restrict__ ke_table, const int32_t* __restrict__ slot_ptr,
                                   const int32_t* __restrict__ contrib, int64_t nnz, int64_t count,
                                   double* __restrict__ values) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nnz;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / nnz, k = t % nnz;
    const uint8_t* mask = masks + s * pixels;
    double sum = 0.0;
    for (int32_t q = slot_ptr[k]; q < slot_ptr[k + 1]; ++q) {
      const int32_t code = contrib[q];
      sum += ke_table[mask[code / 64] * 64 + code % 64];
    }
    values[t] = sum;
  }
}

// fea::kCornerRow/Col in device memory (namespace-scope constexpr arrays cannot be
// indexed at run time from device code).
__constant__ int kCornerRow[4] = {fea::kCornerRow[0], fea::kCornerRow[1], fea::kCornerRow[2], fea::kCornerRow[3]};
__constant__ int kCornerCol[4] = {fea::kCornerCol[0], fea::kCornerCol[1], fea::kCornerCol[2], fea::kCornerCol[3]};

// Neighbour across side kTop, kRight, kBottom, kLeft (fea::Side) of a pixel.
__device__ const int kSideRow[4] = {-1, 0, 1, 0};
__device__ const int kSideCol[4] = {0, 1, 0, -1};

__global__ void pressure_load_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                     const uint8_t* __restrict__ is_material, const uint8_t* __restrict__ is_lumen,
                                     double pressure, double h, int64_t count, double* __restrict__ f) {
  const int64_t node_cols = cols + 1, nodes = (rows + 1) * node_cols;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nodes;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / nodes, node = t % nodes, i = node / node_cols, j = node % node_cols;
    const uint8_t* mask = masks + s * rows * cols;
    double fx = 0.0, fy = 0.0;
    for (int64_t r = i - 1; r <= i; ++r) {
      for (int64_t c = j - 1; c <= j; ++c) {
        if (r < 0 || r >= rows || c < 0 || c >= cols || !is_material[mask[r * cols + c]]) continue;
        for (int side = 0; side < 4; ++side) {
          const int64_t rn = r + kSideRow[side], cn = c + kSideCol[side];
          if (rn < 0 || rn >= rows || cn < 0 || cn >= cols || !is_lumen[mask[rn * cols + cn]]) continue;
          int local[2];
          double force[2];
          fea::edge_load<double>(side, pressure, h, local, force);
          for (int a : local) {
            if (r + kCornerRow[a] == i && c + kCornerCol[a] == j) {
              fx += force[0];
              fy += force[1];
            }
          }
        }
      }
    }
    f[2 * t] = fx;
    f[2 * t + 1] = fy;
  }
}

__global__ void apply_stiffness_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                       const double* __restrict__ ke_table, double void_diagonal,
                                       const double* __restrict__ u, int64_t count, double* __restrict__ y) {
  const int64_t node_cols = cols + 1, nodes = (rows + 1) * node_cols, dofs = 2 * nodes;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nodes;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / nodes, node = t % nodes, i = node / node_cols, j = node % node_cols;
    const uint8_t* mask = masks + s * rows * cols;
    const double* us = u + s * dofs;
    double yx = 0.0, yy = 0.0;
    bool stiff = false;
    for (int a = 0; a < 4; ++a) {  // this node is local node a of pixel (r, c)
      const int64_t r = i - kCornerRow[a], c = j - kCornerCol[a];
      if (r < 0 || r >= rows || c < 0 || c >= cols) continue;
      const double* ke = ke_table + 64 * mask[r * cols + c];
      if (ke[0] == 0.0) continue;  // a label without stiffness (void in the compact formulation)
      stiff = true;
      for (int b = 0; b < 4; ++b) {
        const int64_t other = (r + kCornerRow[b]) * node_cols + c + kCornerCol[b];
        const double ux = us[2 * other], uy = us[2 * other + 1];
        yx += ke[(2 * a) * 8 + 2 * b] * ux + ke[(2 * a) * 8 + 2 * b + 1] * uy;
        yy += ke[(2 * a + 1) * 8 + 2 * b] * ux + ke[(2 * a + 1) * 8 + 2 * b + 1] * uy;
      }
    }
    y[2 * t] = stiff ? yx : void_diagonal * us[2 * node];
    y[2 * t + 1] = stiff ? yy : void_diagonal * us[2 * node + 1];
  }
}

// Von Mises and in-plane maximum principal stress from [s_xx, s_yy, s_xy, s_zz], the
// derived planes of fea::recover_stress (host-only there, so restated for the device;
// they belong in fea_element.hpp as an LM_HD function once its owner moves them).
__global__ void recover_stress_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                      const uint8_t* __restrict__ is_material, const double* __restrict__ lam,
                                      const double* __restrict__ mu, const double* __restrict__ u, double h,
                                      int64_t count, float* __restrict__ out) {
  const int64_t plane = rows * cols, node_cols = cols + 1, dofs = 2 * (rows + 1) * node_cols;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * plane;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / plane, e = t % plane, r = e / cols, c = e % cols;
    const uint8_t label = masks[t];
    float* planes = out + s * 6 * plane + e;
    if (!is_material[label]) {
      for (int q = 0; q < 6; ++q) planes[q * plane] = nanf("");
      continue;
    }
    double ue[8], st[4];
    for (int a = 0; a < fea::kElementNodes; ++a) {
      const int64_t node = (r + kCornerRow[a]) * node_cols + c + kCornerCol[a];
      ue[2 * a] = u[s * dofs + 2 * node];
      ue[2 * a + 1] = u[s * dofs + 2 * node + 1];
    }
    fea::element_stress<double>(ue, lam[label], mu[label], h, st);
    double derived[6];
    fea::stress_planes<double>(st, derived);
    for (int q = 0; q < 6; ++q) planes[q * plane] = static_cast<float>(derived[q]);
  }
}

}  // namespace

void fill_values(const uint8_t* masks, int64_t pixels, const double* ke_table, const int32_t* slot_ptr,
                 const int32_t* contrib, int64_t nnz, int64_t count, double* values, cudaStream_t stream) {
  fill_values_kernel<<<blocks_for(count * nnz), kThreads, 0, stream>>>(masks, pixels, ke_table, slot_ptr, contrib,
                                                                      nnz, count, values);
  check_launch("fea fill_values");
}

void pressure_load(const uint8_t* masks, int64_t rows, int64_t cols, const uint8_t* is_material,
                   const uint8_t* is_lumen, double pressure, double h, int64_t count, double* f,
                   cudaStream_t stream) {
  const int64_t total = count * (rows + 1) * (cols + 1);
  pressure_load_kernel<<<blocks_for(total), kThreads, 0, stream>>>(masks, rows, cols, is_material, is_lumen,
                                                                  pressure, h, count, f);
  check_launch("fea pressure_load");
}

void apply_stiffness(const uint8_t* masks, int64_t rows, int64_t cols, const double* ke_table,
                     double void_diagonal, const double* u, int64_t count, double* y, cudaStream_t stream) {
  const int64_t total = count * (rows + 1) * (cols + 1);
  apply_stiffness_kernel<<<blocks_for(total), kThreads, 0, stream>>>(masks, rows, cols, ke_table, void_diagonal, u,
                                                                    count, y);
  check_launch("fea apply_stiffness");
}

void recover_stress(const uint8_t* masks, int64_t rows, int64_t cols, const uint8_t* is_material,
                    const double* lam, const double* mu, const double* u, double h, int64_t count, float* out,
                    cudaStream_t stream) {
  recover_stress_kernel<<<blocks_for(count * rows * cols), kThreads, 0, stream>>>(masks, rows, cols, is_material,
                                                                                 lam, mu, u, h, count, out);
  check_launch("fea recover_stress");
}

}  // namespace fea_cuda
}  // namespace latentmine
