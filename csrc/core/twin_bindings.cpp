// CPU twins of the CUDA kernels (csrc/cuda), as latentmine._core.cuda_twin.
//
// Every function has the signature of its latentmine._cuda namesake (raw host
// pointers in place of device pointers; the stream argument is accepted and
// ignored, the host runs synchronously), so the Python wrappers that launch the
// CUDA kernels drive these unchanged (python/latentmine/fea/gpu/kernels.py). Each
// loop iteration is one CUDA thread's work item, the same function of
// latentmine/fea_batch.hpp or sym3_eigen.hpp, so CI tests the CUDA kernels'
// logic on the CPU.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "latentmine/fea_batch.hpp"
#include "latentmine/ops_latent_step.hpp"
#include "latentmine/registry.hpp"
#include "latentmine/sym3_eigen.hpp"

namespace latentmine {
namespace {

// Below this many work items the loops stay on one thread (the shared 2-core
// machines pay more for waking a team than a small batch costs).
constexpr int64_t kParallelItems = int64_t{1} << 18;

template <typename T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void check_counts(const char* what, int64_t count, int64_t size) {
  if (count < 0 || size < 0) throw std::invalid_argument(std::string(what) + ": negative sizes");
}

void fill_values(uintptr_t masks_p, int64_t pixels, uintptr_t ke_p, uintptr_t slot_ptr_p, uintptr_t contrib_p,
                 int64_t nnz, int64_t count, uintptr_t values_p, uintptr_t) {
  check_counts("fea_fill_values", count, nnz);
  const auto* masks = ptr<const uint8_t>(masks_p);
  const auto* ke = ptr<const double>(ke_p);
  const auto* slot_ptr = ptr<const int32_t>(slot_ptr_p);
  const auto* contrib = ptr<const int32_t>(contrib_p);
  auto* values = ptr<double>(values_p);
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (count * nnz >= kParallelItems)
  for (int64_t t = 0; t < count * nnz; ++t) {
    values[t] = fea_batch::slot_value<double>(masks + (t / nnz) * pixels, ke, slot_ptr, contrib, t % nnz);
  }
}

void pressure_load(uintptr_t masks_p, int64_t rows, int64_t cols, uintptr_t is_material_p, uintptr_t is_lumen_p,
                   double pressure, double h, int64_t count, uintptr_t f_p, uintptr_t) {
  check_counts("fea_pressure_load", count, rows * cols);
  const auto* masks = ptr<const uint8_t>(masks_p);
  const auto* is_material = ptr<const uint8_t>(is_material_p);
  const auto* is_lumen = ptr<const uint8_t>(is_lumen_p);
  auto* f = ptr<double>(f_p);
  const int64_t nodes = (rows + 1) * (cols + 1);
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (count * nodes >= kParallelItems)
  for (int64_t t = 0; t < count * nodes; ++t) {
    fea_batch::node_pressure_load<double>(masks + (t / nodes) * rows * cols, rows, cols, is_material, is_lumen,
                                          pressure, h, t % nodes, f + 2 * t);
  }
}

void apply_stiffness(uintptr_t masks_p, int64_t rows, int64_t cols, uintptr_t ke_p, double void_diagonal,
                     uintptr_t u_p, int64_t count, uintptr_t y_p, uintptr_t) {
  check_counts("fea_apply_stiffness", count, rows * cols);
  const auto* masks = ptr<const uint8_t>(masks_p);
  const auto* ke = ptr<const double>(ke_p);
  const auto* u = ptr<const double>(u_p);
  auto* y = ptr<double>(y_p);
  const int64_t nodes = (rows + 1) * (cols + 1);
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (count * nodes >= kParallelItems)
  for (int64_t t = 0; t < count * nodes; ++t) {
    const int64_t s = t / nodes;
    fea_batch::node_stiffness_product<double>(masks + s * rows * cols, rows, cols, ke, void_diagonal,
                                              u + s * 2 * nodes, t % nodes, y + 2 * t);
  }
}

void recover_stress(uintptr_t masks_p, int64_t rows, int64_t cols, uintptr_t is_material_p, uintptr_t lam_p,
                    uintptr_t mu_p, uintptr_t u_p, double h, int64_t count, uintptr_t out_p, uintptr_t) {
  check_counts("fea_recover_stress", count, rows * cols);
  const auto* masks = ptr<const uint8_t>(masks_p);
  const auto* is_material = ptr<const uint8_t>(is_material_p);
  const auto* lam = ptr<const double>(lam_p);
  const auto* mu = ptr<const double>(mu_p);
  const auto* u = ptr<const double>(u_p);
  auto* out = ptr<float>(out_p);
  const int64_t plane = rows * cols, dofs = 2 * (rows + 1) * (cols + 1);
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (count * plane >= kParallelItems)
  for (int64_t t = 0; t < count * plane; ++t) {
    const int64_t s = t / plane, e = t % plane;
    fea_batch::pixel_stress<double>(masks + s * plane, cols, is_material, lam, mu, u + s * dofs, h, e,
                                    out + s * 6 * plane + e, plane);
  }
}

void sym3_eigh(uintptr_t a_p, int64_t count, uintptr_t w_p, uintptr_t vectors_p, uintptr_t) {
  check_counts("sym3_eigh", count, 0);
  const auto* a = ptr<const double>(a_p);
  auto* w = ptr<double>(w_p);
  auto* vectors = ptr<double>(vectors_p);
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (count >= kParallelItems)
  for (int64_t t = 0; t < count; ++t) sym3::eigh<double>(a + 9 * t, w + 3 * t, vectors + 9 * t);
}

// The CUDA latent step (csrc/cuda/ops_latent_step.cu) row by row: 32 lanes stride
// over the columns, and their partial sums meet in the same xor butterfly as the
// warp shuffles (every lane ends with the same sum, so lane 0's is the row's).
constexpr int kLanes = 32;

float butterfly_sum(float partial[kLanes]) {
  for (int offset = kLanes / 2; offset > 0; offset /= 2) {
    float next[kLanes];
    for (int lane = 0; lane < kLanes; ++lane) next[lane] = partial[lane] + partial[lane ^ offset];
    for (int lane = 0; lane < kLanes; ++lane) partial[lane] = next[lane];
  }
  return partial[0];
}

void latent_step(uintptr_t z_p, uintptr_t grad_p, uintptr_t noise_p, uintptr_t out_p, int64_t rows, int64_t cols,
                 float step_size, float noise_std, float max_norm, uintptr_t) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("latent_step: negative shape");
  const auto* z = ptr<const float>(z_p);
  const auto* grad = ptr<const float>(grad_p);
  const auto* noise = ptr<const float>(noise_p);
  auto* out = ptr<float>(out_p);
  const bool with_noise = noise != nullptr && noise_std != 0.0f;
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelItems)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t base = row * cols;
    float partial[kLanes] = {};
    for (int lane = 0; lane < kLanes; ++lane)
      for (int64_t c = lane; c < cols; c += kLanes) partial[lane] += grad[base + c] * grad[base + c];
    const float g_scale = ops::gradient_scale(butterfly_sum(partial), step_size);
    for (int lane = 0; lane < kLanes; ++lane) {
      partial[lane] = 0.0f;
      for (int64_t c = lane; c < cols; c += kLanes) {
        const float v = with_noise ? ops::stepped<true>(z[base + c], grad[base + c], g_scale, noise[base + c], noise_std)
                                   : ops::stepped<false>(z[base + c], grad[base + c], g_scale, 0.0f, noise_std);
        out[base + c] = v;
        partial[lane] += v * v;
      }
    }
    const float shrink = ops::ball_scale(butterfly_sum(partial), max_norm);
    if (shrink != 1.0f) {
      for (int64_t c = 0; c < cols; ++c) out[base + c] *= shrink;
    }
  }
}

}  // namespace

void register_cuda_twins(py::module_& m) {
  auto twin = m.def_submodule("cuda_twin", "CPU twins of latentmine._cuda: same signatures, host pointers");
  twin.def("fea_fill_values", &fill_values, py::arg("masks"), py::arg("pixels"), py::arg("ke_table"),
           py::arg("slot_ptr"), py::arg("contrib"), py::arg("nnz"), py::arg("count"), py::arg("values"),
           py::arg("stream") = 0, "Twin of latentmine._cuda.fea_fill_values.");
  twin.def("fea_pressure_load", &pressure_load, py::arg("masks"), py::arg("rows"), py::arg("cols"),
           py::arg("is_material"), py::arg("is_lumen"), py::arg("pressure"), py::arg("h"), py::arg("count"),
           py::arg("f"), py::arg("stream") = 0, "Twin of latentmine._cuda.fea_pressure_load (node gather).");
  twin.def("fea_apply_stiffness", &apply_stiffness, py::arg("masks"), py::arg("rows"), py::arg("cols"),
           py::arg("ke_table"), py::arg("void_diagonal"), py::arg("u"), py::arg("count"), py::arg("y"),
           py::arg("stream") = 0, "Twin of latentmine._cuda.fea_apply_stiffness (matrix-free K u).");
  twin.def("fea_recover_stress", &recover_stress, py::arg("masks"), py::arg("rows"), py::arg("cols"),
           py::arg("is_material"), py::arg("lam"), py::arg("mu"), py::arg("u"), py::arg("h"), py::arg("count"),
           py::arg("out"), py::arg("stream") = 0, "Twin of latentmine._cuda.fea_recover_stress.");
  twin.def("sym3_eigh", &sym3_eigh, py::arg("a"), py::arg("count"), py::arg("w"), py::arg("vectors"),
           py::arg("stream") = 0,
           "Twin of latentmine._cuda.sym3_eigh: closed-form eigh of (count, 3, 3) float64 symmetric matrices.");
  twin.def("latent_step", &latent_step, py::arg("z_ptr"), py::arg("grad_ptr"), py::arg("noise_ptr"),
           py::arg("out_ptr"), py::arg("rows"), py::arg("cols"), py::arg("step_size"), py::arg("noise_std"),
           py::arg("max_norm"), py::arg("stream") = 0,
           "Twin of latentmine._cuda.latent_step: the warp's lane-strided sums and shuffle butterfly.");
}

}  // namespace latentmine
