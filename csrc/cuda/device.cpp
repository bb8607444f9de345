// Device discovery. A module linked with static cudart imports on a machine with
// no driver; cudaGetDeviceCount then fails (error 35), which we report as zero
// devices so that "the module imports" is never mistaken for "there is a GPU".
#include <cuda_runtime_api.h>

#include "latentmine/registry.hpp"

namespace latentmine {
namespace {
int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

int runtime_version() {
  int version = 0;
  cudaRuntimeGetVersion(&version);
  return version;
}
}  // namespace

void register_device(py::module_& m) {
  m.def("device_count", &device_count, "Number of usable CUDA devices (0 when no driver or device).");
  m.def("runtime_version", &runtime_version, "CUDA runtime version this module was built against.");
}
}  // namespace latentmine
