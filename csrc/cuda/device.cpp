// Device discovery. A module linked with static cudart imports on a machine with
// no driver, so "the module imports" is never taken for "there is a GPU": the
// device count comes with the CUDA error that made it zero (error 35, "CUDA
// driver version is insufficient for CUDA runtime version", when the driver is
// too old for this runtime; error 100 with no device), so that a user reads why.
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#include "latentmine/registry.hpp"

namespace latentmine {
namespace {

// (count, error): error is "" when the count is trustworthy, else the CUDA error's
// name and string (the count is then 0).
py::tuple device_status() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls start clean
    return py::make_tuple(0, std::string(cudaGetErrorName(status)) + " (" + std::to_string(int(status)) +
                                 "): " + cudaGetErrorString(status));
  }
  return py::make_tuple(count, std::string());
}

int device_count() { return device_status()[0].cast<int>(); }

int runtime_version() {
  int version = 0;
  cudaRuntimeGetVersion(&version);
  return version;
}

// Newest CUDA version the installed driver supports (0 without a driver).
int driver_version() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return version;
}

// Name, compute capability and memory of device `index`, for benchmark records.
py::dict device_properties(int index) {
  cudaDeviceProp prop;
  const cudaError_t status = cudaGetDeviceProperties(&prop, index);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("cudaGetDeviceProperties(" + std::to_string(index) + "): " + cudaGetErrorString(status));
  }
  py::dict out;
  out["name"] = std::string(prop.name);
  out["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  out["total_memory_bytes"] = static_cast<int64_t>(prop.totalGlobalMem);
  out["multiprocessors"] = prop.multiProcessorCount;
  return out;
}

}  // namespace

void register_device(py::module_& m) {
  m.def("device_status", &device_status,
        "(count, error): usable CUDA devices, and the CUDA error string when cudaGetDeviceCount failed ('' if not).");
  m.def("device_count", &device_count, "Number of usable CUDA devices (0 when no driver or device).");
  m.def("runtime_version", &runtime_version, "CUDA runtime version this module was built against.");
  m.def("driver_version", &driver_version, "CUDA version the installed driver supports (0 without a driver).");
  m.def("device_properties", &device_properties, py::arg("index") = 0,
        "Name, compute capability, memory and multiprocessors of a CUDA device.");
}

}  // namespace latentmine
