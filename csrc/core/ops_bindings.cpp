// Python binding of the CPU latent step (python/latentmine/ops/latent_step.py
// validates the tensors and passes their data pointers).
#include <cstdint>
#include <stdexcept>

#include "latentmine/ops_latent_step.hpp"
#include "latentmine/registry.hpp"

namespace latentmine {
namespace {

void latent_step(uintptr_t z, uintptr_t grad, uintptr_t noise, uintptr_t out, int64_t rows, int64_t cols,
                 float step_size, float noise_std, float max_norm) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("latent_step: negative shape");
  py::gil_scoped_release release;
  ops::latent_step_cpu(reinterpret_cast<const float*>(z), reinterpret_cast<const float*>(grad),
                       reinterpret_cast<const float*>(noise), reinterpret_cast<float*>(out), rows, cols,
                       {step_size, noise_std, max_norm});
}

}  // namespace

void register_ops(py::module_& m) {
  m.def("latent_step", &latent_step, py::arg("z_ptr"), py::arg("grad_ptr"), py::arg("noise_ptr"),
        py::arg("out_ptr"), py::arg("rows"), py::arg("cols"), py::arg("step_size"), py::arg("noise_std"),
        py::arg("max_norm"),
        "out = z + step_size * grad / ||grad|| (+ noise_std * noise), each row then projected into the "
        "ball of radius max_norm (max_norm < 0: no projection). Raw pointers to contiguous (rows, cols) "
        "float32 arrays; noise_ptr 0 for no noise.");
}

}  // namespace latentmine
