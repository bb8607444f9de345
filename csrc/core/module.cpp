#include "latentmine/registry.hpp"

#ifdef LATENTMINE_OPENMP
#include <omp.h>
#endif

namespace {
int openmp_max_threads() {
#ifdef LATENTMINE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "latentmine CPU kernels (C++17, OpenMP when available)";
#ifdef LATENTMINE_OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  m.def("openmp_max_threads", &openmp_max_threads, "Threads an OpenMP region would use now.");
  latentmine::register_fea(m);
  latentmine::register_ops(m);
  latentmine::register_cholesky(m);
  latentmine::register_cuda_twins(m);
}
