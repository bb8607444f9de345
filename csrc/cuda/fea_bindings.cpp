// Python bindings of the batched FE kernels (fea_kernels.cuh): device pointers and
// the CUDA stream handle as integers (CuPy's `array.data.ptr`, `stream.ptr`).
#include <cstdint>
#include <stdexcept>

#include "fea_kernels.cuh"
#include "latentmine/registry.hpp"

namespace latentmine {
namespace {

template <typename T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

cudaStream_t stream_of(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

void check_counts(int64_t count, int64_t size) {
  if (count < 0 || size < 0) throw std::invalid_argument("fea cuda kernels: negative sizes");
}

}  // namespace

void register_fea_cuda(py::module_& m) {
  m.def(
      "fea_fill_values",
      [](uintptr_t masks, int64_t pixels, uintptr_t ke_table, uintptr_t slot_ptr, uintptr_t contrib, int64_t nnz,
         int64_t count, uintptr_t values, uintptr_t stream) {
        check_counts(count, nnz);
        fea_cuda::fill_values(ptr<const uint8_t>(masks), pixels, ptr<const double>(ke_table),
                              ptr<const int32_t>(slot_ptr), ptr<const int32_t>(contrib), nnz, count,
                              ptr<double>(values), stream_of(stream));
      },
      py::arg("masks"), py::arg("pixels"), py::arg("ke_table"), py::arg("slot_ptr"), py::arg("contrib"),
      py::arg("nnz"), py::arg("count"), py::arg("values"), py::arg("stream"),
      "CSR values (count, nnz) float64 of a batch of uint8 masks (count, pixels) on the shared full-grid pattern.");
  m.def(
      "fea_pressure_load",
      [](uintptr_t masks, int64_t rows, int64_t cols, uintptr_t is_material, uintptr_t is_lumen, double pressure,
         double h, int64_t count, uintptr_t f, uintptr_t stream) {
        check_counts(count, rows * cols);
        fea_cuda::pressure_load(ptr<const uint8_t>(masks), rows, cols, ptr<const uint8_t>(is_material),
                                ptr<const uint8_t>(is_lumen), pressure, h, count, ptr<double>(f), stream_of(stream));
      },
      py::arg("masks"), py::arg("rows"), py::arg("cols"), py::arg("is_material"), py::arg("is_lumen"),
      py::arg("pressure"), py::arg("h"), py::arg("count"), py::arg("f"), py::arg("stream"),
      "Luminal pressure loads (count, 2 * nodes) float64 on the full node grid.");
  m.def(
      "fea_apply_stiffness",
      [](uintptr_t masks, int64_t rows, int64_t cols, uintptr_t ke_table, double void_diagonal, uintptr_t u,
         int64_t count, uintptr_t y, uintptr_t stream) {
        check_counts(count, rows * cols);
        fea_cuda::apply_stiffness(ptr<const uint8_t>(masks), rows, cols, ptr<const double>(ke_table), void_diagonal,
                                  ptr<const double>(u), count, ptr<double>(y), stream_of(stream));
      },
      py::arg("masks"), py::arg("rows"), py::arg("cols"), py::arg("ke_table"), py::arg("void_diagonal"), py::arg("u"),
      py::arg("count"), py::arg("y"), py::arg("stream"),
      "Matrix-free y = K u (count, 2 * nodes) float64 on the full node grid; void nodes get void_diagonal * u.");
  m.def(
      "fea_recover_stress",
      [](uintptr_t masks, int64_t rows, int64_t cols, uintptr_t is_material, uintptr_t lam, uintptr_t mu, uintptr_t u,
         double h, int64_t count, uintptr_t out, uintptr_t stream) {
        check_counts(count, rows * cols);
        fea_cuda::recover_stress(ptr<const uint8_t>(masks), rows, cols, ptr<const uint8_t>(is_material),
                                 ptr<const double>(lam), ptr<const double>(mu), ptr<const double>(u), h, count,
                                 ptr<float>(out), stream_of(stream));
      },
      py::arg("masks"), py::arg("rows"), py::arg("cols"), py::arg("is_material"), py::arg("lam"), py::arg("mu"),
      py::arg("u"), py::arg("h"), py::arg("count"), py::arg("out"), py::arg("stream"),
      "Stress planes (count, 6, rows, cols) float32 from full-grid displacements (count, 2 * nodes) float64.");
  m.def(
      "sym3_eigh",
      [](uintptr_t a, int64_t count, uintptr_t w, uintptr_t vectors, uintptr_t stream) {
        check_counts(count, 0);
        fea_cuda::sym3_eigh(ptr<const double>(a), count, ptr<double>(w), ptr<double>(vectors), stream_of(stream));
      },
      py::arg("a"), py::arg("count"), py::arg("w"), py::arg("vectors"), py::arg("stream"),
      "Closed-form eigh of (count, 3, 3) float64 symmetric matrices: w (count, 3) ascending, vectors (count, 3, 3).");
}

}  // namespace latentmine
