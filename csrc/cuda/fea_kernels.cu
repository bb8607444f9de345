// Batched element-value fill, luminal load, matrix-free K u, stress recovery and
// the closed-form 3 x 3 eigensolver on the GPU. The work item of every kernel is a
// function of latentmine/fea_batch.hpp or sym3_eigen.hpp, shared with the CPU twins
// in csrc/core/twin_bindings.cpp (tested in CI); the element maths is fea_element.hpp.
#include <cmath>
#include <stdexcept>
#include <string>

#include "fea_kernels.cuh"
#include "latentmine/fea_batch.hpp"
#include "latentmine/sym3_eigen.hpp"

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

// Each kernel is the loop of its CPU twin (csrc/core/twin_bindings.cpp) as a
// grid-stride loop: thread t runs work item t, the same fea_batch.hpp function.
__global__ void fill_values_kernel(const uint8_t* __restrict__ masks, int64_t pixels,
                                   const double* __restrict__ ke_table, const int32_t* __restrict__ slot_ptr,
                                   const int32_t* __restrict__ contrib, int64_t nnz, int64_t count,
                                   double* __restrict__ values) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nnz;
       t += int64_t(gridDim.x) * blockDim.x) {
    values[t] = fea_batch::slot_value<double>(masks + (t / nnz) * pixels, ke_table, slot_ptr, contrib, t % nnz);
  }
}

__global__ void pressure_load_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                     const uint8_t* __restrict__ is_material, const uint8_t* __restrict__ is_lumen,
                                     double pressure, double h, int64_t count, double* __restrict__ f) {
  const int64_t nodes = (rows + 1) * (cols + 1);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nodes;
       t += int64_t(gridDim.x) * blockDim.x) {
    fea_batch::node_pressure_load<double>(masks + (t / nodes) * rows * cols, rows, cols, is_material, is_lumen,
                                          pressure, h, t % nodes, f + 2 * t);
  }
}

__global__ void apply_stiffness_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                       const double* __restrict__ ke_table, double void_diagonal,
                                       const double* __restrict__ u, int64_t count, double* __restrict__ y) {
  const int64_t nodes = (rows + 1) * (cols + 1);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * nodes;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / nodes;
    fea_batch::node_stiffness_product<double>(masks + s * rows * cols, rows, cols, ke_table, void_diagonal,
                                              u + s * 2 * nodes, t % nodes, y + 2 * t);
  }
}

__global__ void recover_stress_kernel(const uint8_t* __restrict__ masks, int64_t rows, int64_t cols,
                                      const uint8_t* __restrict__ is_material, const double* __restrict__ lam,
                                      const double* __restrict__ mu, const double* __restrict__ u, double h,
                                      int64_t count, float* __restrict__ out) {
  const int64_t plane = rows * cols, dofs = 2 * (rows + 1) * (cols + 1);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count * plane;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = t / plane, e = t % plane;
    fea_batch::pixel_stress<double>(masks + s * plane, cols, is_material, lam, mu, u + s * dofs, h, e,
                                    out + s * 6 * plane + e, plane);
  }
}

__global__ void sym3_eigh_kernel(const double* __restrict__ a, int64_t count, double* __restrict__ w,
                                 double* __restrict__ vectors) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < count; t += int64_t(gridDim.x) * blockDim.x) {
    sym3::eigh<double>(a + 9 * t, w + 3 * t, vectors + 9 * t);
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

void sym3_eigh(const double* a, int64_t count, double* w, double* vectors, cudaStream_t stream) {
  sym3_eigh_kernel<<<blocks_for(count), kThreads, 0, stream>>>(a, count, w, vectors);
  check_launch("sym3_eigh");
}

}  // namespace fea_cuda
}  // namespace latentmine
