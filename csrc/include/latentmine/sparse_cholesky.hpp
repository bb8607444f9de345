// Multifrontal sparse Cholesky of A + shift * I for the pixel finite-element
// systems, along the nested-dissection tree of fea_dissection.hpp.
//
// Duff and Reid, "The multifrontal solution of indefinite sparse symmetric
// linear equations", ACM TOMS 9 (1983); Liu, "The multifrontal method for
// sparse matrix solution: theory and practice", SIAM Review 34 (1992). Every
// supernode of the tree (a separator or a leaf part) is one dense front: its
// own DOFs, then the DOFs of ancestor separators it couples to (its boundary).
// The front sums the matrix columns of its own DOFs and the update matrices of
// its children (extend-add), eliminates its own DOFs with dense kernels (a
// recursive Cholesky of the diagonal block, then BLAS-3 dtrsm and dsyrk) and
// passes its Schur complement on to its parent on a stack.
//
// Node k carries DOFs 2k and 2k+1 and the node ids follow the tree: supernode
// s owns the consecutive nodes first[s] .. first[s+1]-1, children come before
// parents. A separator couples the two halves only through ancestors, so the
// boundary of a front lies in the fronts of its ancestors, and with its rows
// sorted by DOF every child's rows land in increasing order in its parent.
//
// A and the shift: the traction-only stiffness is singular (rigid-body modes),
// and A + shift * I is positive definite with smallest eigenvalue `shift`, so
// no exact pivot lies below it. A pivot that round-off pushes below half the
// shift is replaced by the shift and counted (static pivoting, as in Li and
// Demmel, ACM TOMS 29, 2003); iterative refinement on the unshifted system
// (fea/solver.py) absorbs it.
#pragma once

#include <cstdint>
#include <vector>

#include "latentmine/fea_dissection.hpp"

namespace latentmine {
namespace sparse {

// Fortran BLAS entry points, taken at run time from SciPy's bundled OpenBLAS
// (scipy.linalg.cython_blas capsules), so the module links no BLAS.
struct DenseBlas {
  using Trsm = void (*)(char*, char*, char*, char*, int*, int*, double*, double*, int*, double*, int*);
  using Syrk = void (*)(char*, char*, int*, int*, double*, double*, int*, double*, double*, int*);
  Trsm trsm = nullptr;
  Syrk syrk = nullptr;
};

// One object is meant to factorise mask after mask: it keeps its buffers, so
// that later factorisations of similar size touch no fresh pages (on a 256^2
// plaque, page faults and zeroing of new buffers took a quarter of the time).
class MultifrontalCholesky {
 public:
  // Symbolic analysis and numeric factorisation of A + shift I, shift =
  // relative_shift times the mean diagonal of A, replacing any previous
  // factor. `indptr`, `indices`, `values` hold the full (both triangles) CSR
  // matrix of `2 * tree.first.back()` DOFs.
  void factorise(const int32_t* indptr, const int32_t* indices, const double* values, const fea::Dissection& tree,
                 double relative_shift, DenseBlas blas);

  // x <- (L L^T)^{-1} x.
  void solve(double* x) const;

  int64_t dofs() const { return dofs_; }
  int64_t supernodes() const { return static_cast<int64_t>(own_.size()); }
  int64_t factor_entries() const { return panel_ptr_.empty() ? 0 : panel_ptr_.back(); }
  int64_t perturbed_pivots() const { return perturbed_; }
  double shift() const { return shift_; }
  double flops() const { return flops_; }
  int64_t largest_front() const { return largest_front_; }

 private:
  void analyse(const int32_t* indptr, const int32_t* indices, const fea::Dissection& tree);
  void eliminate_all(const int32_t* indptr, const int32_t* indices, const double* values, double relative_shift,
                     const DenseBlas& blas);

  int64_t dofs_ = 0;
  std::vector<int32_t> child_ptr_, children_;  // children of each supernode (CSR, increasing)
  std::vector<int32_t> own_;                   // DOFs each supernode eliminates
  std::vector<int64_t> row_ptr_;               // front rows of supernode s: rows_[row_ptr_[s] .. row_ptr_[s+1])
  std::vector<int32_t> rows_;                  // own DOFs, then the boundary, increasing
  // Panel of s (front rows x own, column-major) at panels_[panel_ptr_[s]]. The
  // whole front of s is assembled there, its Schur complement overlapping the
  // next panels until it moves to the stack, hence front_slack_ extra entries.
  std::vector<int64_t> panel_ptr_;
  std::vector<double> panels_, stack_;
  std::vector<int32_t> local_;  // position of each DOF in the current front
  int64_t stack_entries_ = 0, front_slack_ = 0, largest_front_ = 0, perturbed_ = 0;
  double flops_ = 0.0, shift_ = 0.0;
};

}  // namespace sparse
}  // namespace latentmine
