#include "latentmine/registry.hpp"

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "latentmine CUDA kernels; every entry point takes raw device pointers and a stream";
  latentmine::register_device(m);
  latentmine::register_fea_cuda(m);
  latentmine::register_ops_cuda(m);
}
