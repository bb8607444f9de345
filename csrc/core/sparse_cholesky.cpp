// Multifrontal Cholesky along the nested-dissection tree (design in
// sparse_cholesky.hpp).
#include "latentmine/sparse_cholesky.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace latentmine {
namespace sparse {
namespace {

// Diagonal blocks up to this order are factorised by the unblocked kernel;
// larger ones split in two around dtrsm and dsyrk.
constexpr int kUnblocked = 48;

struct Pivoting {
  double threshold, replacement;
  int64_t perturbed = 0;
};

// Unblocked right-looking Cholesky of the leading k x k block of a (leading
// dimension ld), lower triangle, with static pivoting. (Eliminating whole
// small fronts this way, without BLAS, was 1.5x slower at 64^2.)
void cholesky_unblocked(double* a, int ld, int k, Pivoting& pivoting) {
  for (int j = 0; j < k; ++j) {
    double* column = a + static_cast<int64_t>(j) * ld;
    double pivot = column[j];
    if (!(pivot > pivoting.threshold)) pivot = pivoting.replacement, ++pivoting.perturbed;
    const double diagonal = std::sqrt(pivot), inverse = 1.0 / diagonal;
    column[j] = diagonal;
    for (int i = j + 1; i < k; ++i) column[i] *= inverse;
    for (int c = j + 1; c < k; ++c) {
      double* target = a + static_cast<int64_t>(c) * ld;
      const double factor = column[c];
      for (int i = c; i < k; ++i) target[i] -= column[i] * factor;
    }
  }
}

// Eliminates the first k of the n rows and columns of the front a (n x n,
// column-major, lower triangle): a11 = L11 L11^T, a21 <- L21 = a21 L11^-T,
// a22 <- a22 - L21 L21^T. A wide own block is split in two and eliminated
// half after half, which keeps the work in BLAS-3 (recursive Cholesky,
// Gustavson, IBM J Res Dev 41, 1997).
void eliminate(double* a, int ld, int n, int k, Pivoting& pivoting, const DenseBlas& blas) {
  if (k > kUnblocked) {
    const int head = k / 2;
    eliminate(a, ld, n, head, pivoting, blas);
    eliminate(a + head + static_cast<int64_t>(head) * ld, ld, n - head, k - head, pivoting, blas);
    return;
  }
  cholesky_unblocked(a, ld, k, pivoting);
  int rest = n - k;
  if (rest == 0) return;
  char right = 'R', lower = 'L', transpose = 'T', plain = 'N', non_unit = 'N';
  double one = 1.0, minus_one = -1.0;
  blas.trsm(&right, &lower, &transpose, &non_unit, &rest, &k, &one, a, &ld, a + k, &ld);
  blas.syrk(&lower, &plain, &rest, &k, &minus_one, a + k, &ld, &one, a + k + static_cast<int64_t>(k) * ld, &ld);
}

}  // namespace

void MultifrontalCholesky::factorise(const int32_t* indptr, const int32_t* indices, const double* values,
                                     const fea::Dissection& tree, double relative_shift, DenseBlas blas) {
  if (!(relative_shift > 0.0) || !std::isfinite(relative_shift))
    throw std::invalid_argument("relative_shift must be positive and finite");
  if (blas.trsm == nullptr || blas.syrk == nullptr) throw std::invalid_argument("dtrsm and dsyrk are required");
  analyse(indptr, indices, tree);
  eliminate_all(indptr, indices, values, relative_shift, blas);
}

void MultifrontalCholesky::analyse(const int32_t* indptr, const int32_t* indices, const fea::Dissection& tree) {
  const int64_t count = static_cast<int64_t>(tree.parent.size());
  const int32_t nodes = tree.first.back();
  dofs_ = 2 * static_cast<int64_t>(nodes);
  child_ptr_.assign(count + 1, 0);
  for (int64_t s = 0; s < count; ++s)
    if (tree.parent[s] >= 0) ++child_ptr_[tree.parent[s] + 1];
  for (int64_t s = 0; s < count; ++s) child_ptr_[s + 1] += child_ptr_[s];
  children_.assign(child_ptr_[count], 0);
  std::vector<int32_t> fill(child_ptr_.begin(), child_ptr_.end() - 1);
  for (int64_t s = 0; s < count; ++s)
    if (tree.parent[s] >= 0) children_[fill[tree.parent[s]]++] = static_cast<int32_t>(s);

  // Boundary nodes: neighbours of the own nodes and the children's boundaries, past the own nodes.
  std::vector<int32_t> marker(nodes, -1), boundary, boundary_ptr(count + 1, 0);
  std::vector<int32_t> found;
  for (int64_t s = 0; s < count; ++s) {
    const int32_t lo = tree.first[s], hi = tree.first[s + 1];
    found.clear();
    auto visit = [&](int32_t w) {
      if (w >= hi && marker[w] != s) marker[w] = static_cast<int32_t>(s), found.push_back(w);
    };
    for (int32_t v = lo; v < hi; ++v)
      for (int32_t p = indptr[2 * v]; p < indptr[2 * v + 1]; ++p)
        if ((indices[p] & 1) == 0) visit(indices[p] >> 1);
    for (int32_t q = child_ptr_[s]; q < child_ptr_[s + 1]; ++q) {
      const int32_t c = children_[q];
      for (int32_t p = boundary_ptr[c]; p < boundary_ptr[c + 1]; ++p) visit(boundary[p]);
    }
    std::sort(found.begin(), found.end());
    boundary.insert(boundary.end(), found.begin(), found.end());
    boundary_ptr[s + 1] = static_cast<int32_t>(boundary.size());
  }

  own_.assign(count, 0);
  row_ptr_.assign(count + 1, 0);
  panel_ptr_.assign(count + 1, 0);
  rows_.clear();
  int64_t stack = 0;
  stack_entries_ = front_slack_ = largest_front_ = 0;
  flops_ = 0.0;
  std::vector<int64_t> update(count, 0);
  for (int64_t s = 0; s < count; ++s) {
    const int32_t lo = tree.first[s], hi = tree.first[s + 1];
    for (int32_t d = 2 * lo; d < 2 * hi; ++d) rows_.push_back(d);
    for (int32_t p = boundary_ptr[s]; p < boundary_ptr[s + 1]; ++p)
      rows_.push_back(2 * boundary[p]), rows_.push_back(2 * boundary[p] + 1);
    row_ptr_[s + 1] = static_cast<int64_t>(rows_.size());
    const int64_t n = row_ptr_[s + 1] - row_ptr_[s], k = 2 * (hi - lo), m = n - k;
    own_[s] = static_cast<int32_t>(k);
    panel_ptr_[s + 1] = panel_ptr_[s] + n * k;
    largest_front_ = std::max(largest_front_, n);
    front_slack_ = std::max(front_slack_, n * m);
    flops_ += k * k * k / 3.0 + k * k * static_cast<double>(m) + k * static_cast<double>(m) * m;
    // The children's update matrices leave the stack as this one joins it.
    for (int32_t q = child_ptr_[s]; q < child_ptr_[s + 1]; ++q) stack -= update[children_[q]];
    update[s] = m * m;
    stack += m * m;
    stack_entries_ = std::max(stack_entries_, stack);
  }
}

void MultifrontalCholesky::eliminate_all(const int32_t* indptr, const int32_t* indices, const double* values,
                                         double relative_shift, const DenseBlas& blas) {
  const int64_t count = supernodes();
  // Grow only: resize() keeps the capacity, and no entry is read before it is written.
  if (panels_.size() < static_cast<size_t>(panel_ptr_[count] + front_slack_))
    panels_.resize(panel_ptr_[count] + front_slack_);
  if (stack_.size() < static_cast<size_t>(stack_entries_)) stack_.resize(stack_entries_);
  if (local_.size() < static_cast<size_t>(dofs_)) local_.resize(dofs_);
  std::vector<int64_t> update_at(count, 0);
  std::vector<int32_t> position(largest_front_);  // rows of a child's update matrix in its parent's front
  int64_t top = 0;  // entries in use on the stack
  double trace = 0.0;
  for (int64_t d = 0; d < dofs_; ++d)
    for (int32_t p = indptr[d]; p < indptr[d + 1]; ++p)
      if (indices[p] == d) trace += values[p];
  const double shift = relative_shift * trace / static_cast<double>(std::max<int64_t>(dofs_, 1));
  if (!(shift > 0.0) || !std::isfinite(shift))
    throw std::invalid_argument("relative_shift times the mean diagonal must be positive and finite");
  shift_ = shift;
  Pivoting pivoting{0.5 * shift, shift};
  for (int64_t s = 0; s < count; ++s) {
    const int32_t* rows = rows_.data() + row_ptr_[s];
    const int n = static_cast<int>(row_ptr_[s + 1] - row_ptr_[s]), k = own_[s], m = n - k;
    double* f = panels_.data() + panel_ptr_[s];
    for (int j = 0; j < n; ++j)  // only the lower triangle is ever read
      std::memset(f + static_cast<int64_t>(j) * n + j, 0, sizeof(double) * (n - j));
    for (int a = 0; a < n; ++a) local_[rows[a]] = a;
    // The lower triangle of A's own columns: entries at or below the diagonal lie in this front.
    for (int j = 0; j < k; ++j) {
      const int32_t column = rows[j];
      double* target = f + static_cast<int64_t>(j) * n;
      for (int32_t p = indptr[column]; p < indptr[column + 1]; ++p)
        if (indices[p] >= column) target[local_[indices[p]]] += values[p];
      target[j] += shift;
    }
    // Extend-add of the children's update matrices, last child on top of the stack.
    for (int32_t q = child_ptr_[s + 1] - 1; q >= child_ptr_[s]; --q) {
      const int32_t c = children_[q];
      const int32_t* child_rows = rows_.data() + row_ptr_[c] + own_[c];
      const int mc = static_cast<int>(row_ptr_[c + 1] - row_ptr_[c]) - own_[c];
      const double* u = stack_.data() + update_at[c];
      for (int a = 0; a < mc; ++a) position[a] = local_[child_rows[a]];
      for (int b = 0; b < mc; ++b) {
        double* target = f + static_cast<int64_t>(position[b]) * n;
        const double* source = u + static_cast<int64_t>(b) * mc;
        for (int a = b; a < mc; ++a) target[position[a]] += source[a];
      }
      top = update_at[c];
    }
    if (k > 0) eliminate(f, n, n, k, pivoting, blas);
    update_at[s] = top;
    for (int b = 0; b < m; ++b)  // the lower triangle of the Schur complement
      std::memcpy(stack_.data() + top + static_cast<int64_t>(b) * m + b, f + k + b + static_cast<int64_t>(k + b) * n,
                  sizeof(double) * (m - b));
    top += static_cast<int64_t>(m) * m;
  }
  perturbed_ = pivoting.perturbed;
}

void MultifrontalCholesky::solve(double* x) const {
  const int64_t count = supernodes();
  std::vector<double> t(largest_front_);
  for (int64_t s = 0; s < count; ++s) {  // forward: L y = x
    const int32_t* rows = rows_.data() + row_ptr_[s];
    const int n = static_cast<int>(row_ptr_[s + 1] - row_ptr_[s]), k = own_[s];
    const double* panel = panels_.data() + panel_ptr_[s];
    for (int a = 0; a < n; ++a) t[a] = x[rows[a]];
    for (int j = 0; j < k; ++j) {
      const double* column = panel + static_cast<int64_t>(j) * n;
      const double value = t[j] /= column[j];
      for (int i = j + 1; i < n; ++i) t[i] -= column[i] * value;
    }
    for (int a = 0; a < n; ++a) x[rows[a]] = t[a];
  }
  for (int64_t s = count - 1; s >= 0; --s) {  // backward: L^T x = y
    const int32_t* rows = rows_.data() + row_ptr_[s];
    const int n = static_cast<int>(row_ptr_[s + 1] - row_ptr_[s]), k = own_[s];
    const double* panel = panels_.data() + panel_ptr_[s];
    for (int a = 0; a < n; ++a) t[a] = x[rows[a]];
    for (int j = k - 1; j >= 0; --j) {
      const double* column = panel + static_cast<int64_t>(j) * n;
      double sum = t[j];
      for (int i = j + 1; i < n; ++i) sum -= column[i] * t[i];
      t[j] = sum / column[j];
    }
    for (int a = 0; a < k; ++a) x[rows[a]] = t[a];
  }
}

}  // namespace sparse
}  // namespace latentmine
