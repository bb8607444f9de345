// Latent step of adaptive latent space sampling (Mo et al., arXiv 2004.02757):
// each row of z moves by step_size along its normalised gradient, takes optional
// Gaussian noise, and is then projected back into the ball of radius max_norm.
// The per-row scalar rules live here once, for the CPU (csrc/core/ops_latent_step.cpp)
// and the CUDA kernel (csrc/cuda/ops_latent_step.cu).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LATENTMINE_OPS_HD __host__ __device__ __forceinline__
#else
#define LATENTMINE_OPS_HD inline
#endif

namespace latentmine {
namespace ops {

struct LatentStepParams {
  float step_size;
  float noise_std;  // the noise pointer is ignored when this is 0
  float max_norm;   // negative: no projection
};

// Factor on g so that the step has length |step_size|; a zero gradient gives no step
// (rather than 0/0) so that a converged sample stays where it is.
LATENTMINE_OPS_HD float gradient_scale(float grad_norm_sq, float step_size) {
  return grad_norm_sq > 0.0f ? step_size / sqrtf(grad_norm_sq) : 0.0f;
}

// Factor that brings a row of squared norm `norm_sq` into the ball of radius
// max_norm; 1 when it is already inside or when there is no ball.
LATENTMINE_OPS_HD float ball_scale(float norm_sq, float max_norm) {
  if (max_norm < 0.0f || norm_sq <= max_norm * max_norm) return 1.0f;
  return max_norm / sqrtf(norm_sq);
}

// One stepped coordinate before the projection. kNoise is a template argument so
// that the inner loops carry no branch and vectorise.
template <bool kNoise>
LATENTMINE_OPS_HD float stepped(float z, float g, float g_scale, float noise, float noise_std) {
  return kNoise ? z + g_scale * g + noise_std * noise : z + g_scale * g;
}

// Entry points on raw pointers to contiguous (rows, cols) float32 arrays; noise
// is null when there is none. The CUDA one is asynchronous on `stream` (a
// cudaStream_t passed as an integer so that this header needs no CUDA include).
void latent_step_cpu(const float* z, const float* grad, const float* noise, float* out, int64_t rows,
                     int64_t cols, LatentStepParams params);
void latent_step_cuda(const float* z, const float* grad, const float* noise, float* out, int64_t rows,
                      int64_t cols, LatentStepParams params, uintptr_t stream);

}  // namespace ops
}  // namespace latentmine
