// CUDA latent step: one warp per row. Each lane strides over the columns, the
// squared norms are summed with warp shuffles, and the lane that wrote an
// element is the one that rescales it, so no shared memory or block barrier.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "latentmine/ops_latent_step.hpp"

namespace latentmine {
namespace ops {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <bool kNoise>
__global__ void latent_step_kernel(const float* __restrict__ z, const float* __restrict__ grad,
                                   const float* __restrict__ noise, float* __restrict__ out, int64_t rows,
                                   int64_t cols, LatentStepParams p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= rows) return;  // whole warps leave together: the shuffles stay full
  const int lane = threadIdx.x % kWarp;
  const int64_t base = row * cols;

  float grad_sq = 0.0f;
  for (int64_t c = lane; c < cols; c += kWarp) grad_sq += grad[base + c] * grad[base + c];
  const float g_scale = gradient_scale(warp_sum(grad_sq), p.step_size);

  float out_sq = 0.0f;
  for (int64_t c = lane; c < cols; c += kWarp) {
    const float v = stepped<kNoise>(z[base + c], grad[base + c], g_scale, kNoise ? noise[base + c] : 0.0f,
                                    p.noise_std);
    out[base + c] = v;
    out_sq += v * v;
  }

  const float shrink = ball_scale(warp_sum(out_sq), p.max_norm);
  if (shrink != 1.0f) {
    for (int64_t c = lane; c < cols; c += kWarp) out[base + c] *= shrink;
  }
}

}  // namespace

void latent_step_cuda(const float* z, const float* grad, const float* noise, float* out, int64_t rows,
                      int64_t cols, LatentStepParams params, uintptr_t stream_handle) {
  if (rows == 0 || cols == 0) return;
  const auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  const dim3 block(kWarp * kRowsPerBlock);
  const dim3 grid(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock));
  if (noise != nullptr && params.noise_std != 0.0f) {
    latent_step_kernel<true><<<grid, block, 0, stream>>>(z, grad, noise, out, rows, cols, params);
  } else {
    latent_step_kernel<false><<<grid, block, 0, stream>>>(z, grad, nullptr, out, rows, cols, params);
  }
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("latent_step: CUDA launch failed: ") + cudaGetErrorString(status));
  }
}

}  // namespace ops
}  // namespace latentmine
