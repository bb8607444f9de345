// Python bindings of the nested-dissection ordering (fea_dissection.hpp) and
// the multifrontal Cholesky (sparse_cholesky.hpp). Thin: checks, then one call.
#include <pybind11/numpy.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "latentmine/fea_dissection.hpp"
#include "latentmine/registry.hpp"
#include "latentmine/sparse_cholesky.hpp"

namespace latentmine {
namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array_t<T> to_array(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::tuple nested_dissection(const Array<uint8_t>& active, int32_t leaf, double balance) {
  if (active.ndim() != 2) throw std::invalid_argument("active: expected an (H, W) pixel array");
  if (leaf < 1) throw std::invalid_argument("leaf must be at least 1, got " + std::to_string(leaf));
  if (!(balance >= 0.0 && balance < 0.5)) throw std::invalid_argument("balance must lie in [0, 0.5)");
  const fea::Grid g{active.shape(0), active.shape(1)};
  py::array_t<int32_t> node_id({g.rows + 1, g.cols + 1});
  fea::Dissection tree;
  {
    py::gil_scoped_release release;
    tree = fea::nested_dissection(g, active.data(), leaf, balance, node_id.mutable_data());
  }
  return py::make_tuple(node_id, to_array(tree.first), to_array(tree.parent));
}

fea::Dissection tree_of(const Array<int32_t>& first, const Array<int32_t>& parent) {
  fea::Dissection tree{std::vector<int32_t>(first.data(), first.data() + first.size()),
                       std::vector<int32_t>(parent.data(), parent.data() + parent.size())};
  const int64_t count = static_cast<int64_t>(tree.parent.size());
  if (static_cast<int64_t>(tree.first.size()) != count + 1 || tree.first[0] != 0)
    throw std::invalid_argument("first must have one entry per supernode plus one, starting at 0");
  for (int64_t s = 0; s < count; ++s) {
    if (tree.first[s + 1] < tree.first[s]) throw std::invalid_argument("first must not decrease");
    if (tree.parent[s] != -1 && (tree.parent[s] <= s || tree.parent[s] >= count))
      throw std::invalid_argument("parent[" + std::to_string(s) + "] must be -1 or a later supernode");
  }
  return tree;
}

sparse::DenseBlas blas_of(const py::capsule& trsm, const py::capsule& syrk) {
  sparse::DenseBlas blas;
  blas.trsm = reinterpret_cast<sparse::DenseBlas::Trsm>(trsm.get_pointer<void>());
  blas.syrk = reinterpret_cast<sparse::DenseBlas::Syrk>(syrk.get_pointer<void>());
  return blas;
}

void factorise(sparse::MultifrontalCholesky& factor, const Array<int32_t>& indptr, const Array<int32_t>& indices,
               const Array<double>& data, const Array<int32_t>& first, const Array<int32_t>& parent, double relative_shift,
               const py::capsule& trsm, const py::capsule& syrk) {
  const fea::Dissection tree = tree_of(first, parent);
  const int64_t dofs = 2 * static_cast<int64_t>(tree.first.back());
  if (indptr.size() != dofs + 1)
    throw std::invalid_argument("indptr: expected " + std::to_string(dofs + 1) + " entries (2 DOFs per tree node)");
  const int64_t nnz = indptr.data()[dofs];
  if (indices.size() != nnz || data.size() != nnz)
    throw std::invalid_argument("indices and data must have indptr[-1] = " + std::to_string(nnz) + " entries");
  for (int64_t p = 0; p < nnz; ++p)
    if (indices.data()[p] < 0 || indices.data()[p] >= dofs) throw std::invalid_argument("indices out of range");
  const sparse::DenseBlas blas = blas_of(trsm, syrk);
  py::gil_scoped_release release;
  factor.factorise(indptr.data(), indices.data(), data.data(), tree, relative_shift, blas);
}

py::array_t<double> solve(const sparse::MultifrontalCholesky& factor, const Array<double>& rhs) {
  if (rhs.ndim() != 1 || rhs.size() != factor.dofs())
    throw std::invalid_argument("rhs: expected a vector of " + std::to_string(factor.dofs()) + " entries");
  py::array_t<double> x(rhs.size());
  std::copy(rhs.data(), rhs.data() + rhs.size(), x.mutable_data());
  py::gil_scoped_release release;
  factor.solve(x.mutable_data());
  return x;
}

}  // namespace

void register_cholesky(py::module_& m) {
  m.def("fea_nested_dissection", &nested_dissection, py::arg("active"), py::arg("leaf"), py::arg("balance"),
        "(node_id, first, parent): nodes touched by an active pixel numbered in nested-dissection order "
        "(-1 elsewhere), and the separator tree: supernode s owns node ids first[s]..first[s+1]-1.");
  py::class_<sparse::MultifrontalCholesky>(m, "MultifrontalCholesky",
                                           "Multifrontal Cholesky of A + shift I along a dissection tree; reuses its buffers from one factorisation to the next.")
      .def(py::init<>())
      .def("factorise", &factorise, py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("first"),
           py::arg("parent"), py::arg("relative_shift"), py::arg("dtrsm"), py::arg("dsyrk"),
           "Factorise A + shift I, shift = relative_shift times the mean diagonal of A (CSR, both triangles, node ids in tree order), replacing the previous factor; "
           "dtrsm and dsyrk are scipy.linalg.cython_blas capsules.")
      .def("solve", &solve, py::arg("rhs"), "(L L^T)^{-1} rhs as a new array.")
      .def_property_readonly("dofs", &sparse::MultifrontalCholesky::dofs)
      .def_property_readonly("supernodes", &sparse::MultifrontalCholesky::supernodes)
      .def_property_readonly("factor_entries", &sparse::MultifrontalCholesky::factor_entries)
      .def_property_readonly("perturbed_pivots", &sparse::MultifrontalCholesky::perturbed_pivots)
      .def_property_readonly("shift", &sparse::MultifrontalCholesky::shift)
      .def_property_readonly("flops", &sparse::MultifrontalCholesky::flops)
      .def_property_readonly("largest_front", &sparse::MultifrontalCholesky::largest_front);
}

}  // namespace latentmine
