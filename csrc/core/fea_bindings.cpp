// Python bindings of the pixel finite-element kernels (fea_grid.hpp). Thin:
// shape checks, allocation, then one call into the templated kernel.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>

#include <stdexcept>
#include <string>

#include "latentmine/fea_element.hpp"
#include "latentmine/fea_grid.hpp"
#include "latentmine/registry.hpp"

namespace latentmine {
namespace {

using fea::Grid;
template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

Grid grid_of(const Array<uint8_t>& pixels) {
  if (pixels.ndim() != 2) throw std::invalid_argument("expected an (H, W) pixel array");
  return Grid{pixels.shape(0), pixels.shape(1)};
}

void expect_size(const char* what, py::ssize_t got, int64_t want) {
  if (got != want)
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(want) + " entries, got " +
                                std::to_string(got));
}

py::array_t<double> element_stiffness(double lam, double mu, bool selective) {
  py::array_t<double> ke({8, 8});
  fea::element_stiffness<double>(lam, mu, selective, ke.mutable_data());
  return ke;
}

py::tuple grid_pattern(const Array<uint8_t>& active, const std::optional<Array<int32_t>>& numbering) {
  const Grid g = grid_of(active);
  py::array_t<int32_t> node_id({g.rows + 1, g.cols + 1});
  int64_t kept;
  if (numbering) {
    expect_size("node_id", numbering->size(), g.nodes());
    std::copy(numbering->data(), numbering->data() + g.nodes(), node_id.mutable_data());
    kept = fea::check_numbering(g, active.data(), node_id.data());
    if (kept < 0)
      throw std::invalid_argument("node_id must number every node of an active pixel 0..kept-1 and others -1");
  } else {
    py::gil_scoped_release release;
    kept = fea::number_nodes(g, active.data(), node_id.mutable_data());
  }
  py::array_t<int32_t> indptr(2 * kept + 1);
  {
    py::gil_scoped_release release;
    fea::pattern_indptr(g, active.data(), node_id.data(), kept, indptr.mutable_data());
  }
  py::array_t<int32_t> indices(indptr.data()[2 * kept]);
  {
    py::gil_scoped_release release;
    fea::pattern_indices(g, active.data(), node_id.data(), indptr.data(), indices.mutable_data());
  }
  return py::make_tuple(node_id, indptr, indices);
}

py::array_t<double> fill_values(const Array<uint8_t>& active, const Array<uint8_t>& labels,
                                const Array<double>& ke_table, const Array<int32_t>& node_id,
                                const Array<int32_t>& indptr) {
  const Grid g = grid_of(active);
  expect_size("labels", labels.size(), g.rows * g.cols);
  expect_size("node_id", node_id.size(), g.nodes());
  if (ke_table.ndim() != 2 || ke_table.shape(1) != 64 || ke_table.shape(0) < 256)
    throw std::invalid_argument("ke_table must have shape (256, 64): one 8 x 8 stiffness per label code");
  py::array_t<double> data(indptr.data()[indptr.size() - 1]);
  py::gil_scoped_release release;
  fea::fill_values<double>(g, active.data(), labels.data(), ke_table.data(), node_id.data(), indptr.data(),
                           data.mutable_data());
  return data;
}

py::array_t<int32_t> element_slots(const Array<uint8_t>& active, const Array<int32_t>& node_id,
                                   const Array<int32_t>& indptr) {
  const Grid g = grid_of(active);
  expect_size("node_id", node_id.size(), g.nodes());
  py::array_t<int32_t> slots({g.rows * g.cols, int64_t{64}});
  py::gil_scoped_release release;
  fea::element_slots(g, active.data(), node_id.data(), indptr.data(), slots.mutable_data());
  return slots;
}

py::array_t<double> pressure_load(const Array<uint8_t>& material, const Array<uint8_t>& lumen,
                                  const Array<int32_t>& node_id, int64_t kept, double pressure, double h) {
  const Grid g = grid_of(material);
  expect_size("lumen", lumen.size(), g.rows * g.cols);
  expect_size("node_id", node_id.size(), g.nodes());
  py::array_t<double> f(2 * kept);
  py::gil_scoped_release release;
  fea::pressure_load<double>(g, material.data(), lumen.data(), node_id.data(), kept, pressure, h,
                             f.mutable_data());
  return f;
}

py::array_t<float> recover_stress(const Array<uint8_t>& material, const Array<uint8_t>& labels,
                                  const Array<double>& lam, const Array<double>& mu,
                                  const Array<int32_t>& node_id, const Array<double>& u, double h) {
  const Grid g = grid_of(material);
  expect_size("labels", labels.size(), g.rows * g.cols);
  expect_size("lam", lam.size(), 256);
  expect_size("mu", mu.size(), 256);
  expect_size("node_id", node_id.size(), g.nodes());
  py::array_t<float> out({int64_t{6}, g.rows, g.cols});
  py::gil_scoped_release release;
  fea::recover_stress<double>(g, material.data(), labels.data(), lam.data(), mu.data(), node_id.data(), u.data(),
                              h, out.mutable_data());
  return out;
}

}  // namespace

void register_fea(py::module_& m) {
  m.def("fea_element_stiffness", &element_stiffness, py::arg("lam"), py::arg("mu"), py::arg("selective") = true,
        "8 x 8 plane-strain stiffness of a square pixel (h-independent); selective reduced integration or plain Q4.");
  m.def("fea_grid_pattern", &grid_pattern, py::arg("active"), py::arg("node_id") = py::none(),
        "(node_id, indptr, indices): node numbering (H+1, W+1) and CSR pattern of the active pixels' elements. "
        "Nodes are numbered in grid order unless node_id gives a numbering (columns are then unsorted).");
  m.def("fea_fill_values", &fill_values, py::arg("active"), py::arg("labels"), py::arg("ke_table"),
        py::arg("node_id"), py::arg("indptr"), "CSR values for the pattern of fea_grid_pattern.");
  m.def("fea_element_slots", &element_slots, py::arg("active"), py::arg("node_id"), py::arg("indptr"),
        "(H*W, 64) int32: CSR position of each element's local entry (A*8+B), -1 for inactive pixels.");
  m.def("fea_pressure_load", &pressure_load, py::arg("material"), py::arg("lumen"), py::arg("node_id"),
        py::arg("kept"), py::arg("pressure"), py::arg("h"),
        "Consistent nodal load of the luminal pressure on material sides facing lumen.");
  m.def("fea_recover_stress", &recover_stress, py::arg("material"), py::arg("labels"), py::arg("lam"),
        py::arg("mu"), py::arg("node_id"), py::arg("u"), py::arg("h"),
        "(6, H, W) float32: s_xx, s_yy, s_xy, s_zz, von Mises, max in-plane principal; NaN off material.");
}

}  // namespace latentmine
