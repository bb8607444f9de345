// CPU latent step: OpenMP over rows, three short SIMD loops per row (gradient
// norm, step + norm of the result, projection). Rows are independent, so the
// result does not depend on the number of threads.
#include "latentmine/ops_latent_step.hpp"

namespace latentmine {
namespace ops {
namespace {

template <bool kNoise>
void latent_step_rows(const float* z, const float* grad, const float* noise, float* out, int64_t rows,
                      int64_t cols, LatentStepParams p) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    const float* gr = grad + r * cols;
    const float* nr = kNoise ? noise + r * cols : nullptr;
    float* out_r = out + r * cols;

    float grad_sq = 0.0f;
#pragma omp simd reduction(+ : grad_sq)
    for (int64_t c = 0; c < cols; ++c) grad_sq += gr[c] * gr[c];
    const float g_scale = gradient_scale(grad_sq, p.step_size);

    float out_sq = 0.0f;
#pragma omp simd reduction(+ : out_sq)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = stepped<kNoise>(zr[c], gr[c], g_scale, kNoise ? nr[c] : 0.0f, p.noise_std);
      out_r[c] = v;
      out_sq += v * v;
    }

    const float shrink = ball_scale(out_sq, p.max_norm);
    if (shrink != 1.0f) {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) out_r[c] *= shrink;
    }
  }
}

}  // namespace

void latent_step_cpu(const float* z, const float* grad, const float* noise, float* out, int64_t rows,
                     int64_t cols, LatentStepParams params) {
  if (noise != nullptr && params.noise_std != 0.0f) {
    latent_step_rows<true>(z, grad, noise, out, rows, cols, params);
  } else {
    latent_step_rows<false>(z, grad, nullptr, out, rows, cols, params);
  }
}

}  // namespace ops
}  // namespace latentmine
