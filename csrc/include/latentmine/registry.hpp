// Each area of the native modules binds its functions in its own file; the
// module definitions (csrc/core/module.cpp, csrc/cuda/module.cpp) call these.
#pragma once
#include <pybind11/pybind11.h>

namespace latentmine {
namespace py = pybind11;

void register_fea(py::module_& m);        // csrc/core/fea_bindings.cpp
void register_ops(py::module_& m);        // csrc/core/ops_bindings.cpp
void register_cholesky(py::module_& m);   // csrc/core/cholesky_bindings.cpp
void register_cuda_twins(py::module_& m); // csrc/core/twin_bindings.cpp

void register_device(py::module_& m);     // csrc/cuda/device.cpp
void register_fea_cuda(py::module_& m);   // csrc/cuda/fea_bindings.cpp
void register_ops_cuda(py::module_& m);   // csrc/cuda/ops_bindings.cpp
}  // namespace latentmine
