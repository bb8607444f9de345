// Python binding of the CUDA latent step: device pointers from torch tensors and
// the handle of the torch stream to launch on (`torch.cuda.current_stream().cuda_stream`).
#include <cstdint>
#include <stdexcept>

#include "latentmine/ops_latent_step.hpp"
#include "latentmine/registry.hpp"

namespace latentmine {
namespace {

void latent_step(uintptr_t z, uintptr_t grad, uintptr_t noise, uintptr_t out, int64_t rows, int64_t cols,
                 float step_size, float noise_std, float max_norm, uintptr_t stream) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("latent_step: negative shape");
  ops::latent_step_cuda(reinterpret_cast<const float*>(z), reinterpret_cast<const float*>(grad),
                        reinterpret_cast<const float*>(noise), reinterpret_cast<float*>(out), rows, cols,
                        {step_size, noise_std, max_norm}, stream);
}

}  // namespace

void register_ops_cuda(py::module_& m) {
  m.def("latent_step", &latent_step, py::arg("z_ptr"), py::arg("grad_ptr"), py::arg("noise_ptr"),
        py::arg("out_ptr"), py::arg("rows"), py::arg("cols"), py::arg("step_size"), py::arg("noise_std"),
        py::arg("max_norm"), py::arg("stream"),
        "CUDA latent step on device pointers, asynchronous on the given stream handle; same arguments as "
        "latentmine._core.latent_step.");
}

}  // namespace latentmine
