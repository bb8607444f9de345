// Geometric nested dissection of the kept grid nodes, with the separator tree
// that the multifrontal Cholesky (sparse_cholesky.hpp) factorises along.
//
// George, "Nested dissection of a regular finite element mesh", SIAM J Numer
// Anal 10 (1973): split a part of the grid along the grid line through the
// median of its longer side; the nodes on that line separate the two halves
// (an element couples nodes at most one row and one column apart), so each half
// is numbered recursively and the separator last. Every part becomes one
// supernode of the tree: its nodes get consecutive ids, its children are the
// two halves, and the supernodes come out in postorder (children first).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "latentmine/fea_grid.hpp"

namespace latentmine {
namespace fea {

struct Dissection {
  std::vector<int32_t> first;   // supernode s holds node ids first[s] .. first[s+1]-1; size supernodes + 1
  std::vector<int32_t> parent;  // parent supernode, -1 for a root
};

namespace detail {

class Dissector {
 public:
  Dissector(const std::vector<int32_t>& row, const std::vector<int32_t>& col, int32_t leaf, double balance,
            int32_t* order_id)
      : row_(row), col_(col), leaf_(leaf), balance_(balance), order_id_(order_id) {}

  // Numbers the nodes items[lo, hi) and returns the root supernode of their subtree (-1 if empty).
  int32_t dissect(std::vector<int32_t>& items, int64_t lo, int64_t hi) {
    if (lo == hi) return -1;
    auto begin = items.begin() + lo, end = items.begin() + hi;
    if (hi - lo <= leaf_) {
      std::sort(begin, end);  // grid order inside a leaf: neighbours stay close in memory
      return emit(begin, end, -1, -1);
    }
    const Split split = best_split(begin, end);
    const std::vector<int32_t>& key = split.by_row ? row_ : col_;
    const std::vector<int32_t>& along = split.by_row ? col_ : row_;
    const int32_t line = split.line;
    auto less_end = std::partition(begin, end, [&](int32_t a) { return key[a] < line; });
    auto separator_end = std::partition(less_end, end, [&](int32_t a) { return key[a] == line; });
    const int32_t left = dissect(items, lo, less_end - items.begin());
    const int32_t right = dissect(items, separator_end - items.begin(), hi);
    // The recursion reorders only inside its own ranges, so the separator's range is intact.
    std::sort(less_end, separator_end, [&](int32_t a, int32_t b) { return along[a] < along[b]; });
    return emit(less_end, separator_end, left, right);
  }

  Dissection tree;

 private:
  struct Split {
    bool by_row;
    int32_t line;
  };

  // The grid line, of either direction, with the fewest nodes among those
  // that leave at least the share `balance` of the part on each side (ties: the more
  // balanced). The median line of the longer side alone (George 1973) cuts
  // an annular wall where it is thickest as often as where it is thin.
  Split best_split(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end) {
    const int64_t total = end - begin;
    Split best{true, -1};
    int64_t best_size = total + 1, best_imbalance = total + 1;
    for (const bool by_row : {true, false}) {
      const std::vector<int32_t>& key = by_row ? row_ : col_;
      int32_t lo = key[*begin], hi = lo;
      for (auto it = begin; it != end; ++it) lo = std::min(lo, key[*it]), hi = std::max(hi, key[*it]);
      counts_.assign(hi - lo + 1, 0);
      for (auto it = begin; it != end; ++it) ++counts_[key[*it] - lo];
      int64_t below = 0;
      for (int32_t v = lo; v <= hi; ++v) {
        const int64_t size = counts_[v - lo], above = total - below - size;
        const int64_t imbalance = below > above ? below - above : above - below;
        const bool balanced = std::min(below, above) >= balance_ * total;
        if (balanced && (size < best_size || (size == best_size && imbalance < best_imbalance)))
          best = Split{by_row, v}, best_size = size, best_imbalance = imbalance;
        below += size;
      }
    }
    if (best.line < 0) {  // a part too small or too thin to balance: the median of its longer side
      best.by_row = row_extent(begin, end) >= col_extent(begin, end);
      const std::vector<int32_t>& key = best.by_row ? row_ : col_;
      auto middle = begin + total / 2;
      std::nth_element(begin, middle, end, [&](int32_t a, int32_t b) { return key[a] < key[b]; });
      best.line = key[*middle];
    }
    return best;
  }

  int32_t row_extent(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end) const {
    auto [lo, hi] = std::minmax_element(begin, end, [&](int32_t a, int32_t b) { return row_[a] < row_[b]; });
    return row_[*hi] - row_[*lo];
  }
  int32_t col_extent(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end) const {
    auto [lo, hi] = std::minmax_element(begin, end, [&](int32_t a, int32_t b) { return col_[a] < col_[b]; });
    return col_[*hi] - col_[*lo];
  }

  int32_t emit(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end, int32_t left,
               int32_t right) {
    const int32_t s = static_cast<int32_t>(tree.parent.size());
    if (tree.first.empty()) tree.first.push_back(0);
    int32_t next = tree.first.back();
    for (auto it = begin; it != end; ++it) order_id_[*it] = next++;
    tree.first.push_back(next);
    tree.parent.push_back(-1);
    if (left >= 0) tree.parent[left] = s;
    if (right >= 0) tree.parent[right] = s;
    return s;
  }

  const std::vector<int32_t>& row_;
  const std::vector<int32_t>& col_;
  std::vector<int64_t> counts_;
  int32_t leaf_;
  double balance_;
  int32_t* order_id_;
};

}  // namespace detail

// Numbers the nodes touched by an active pixel in nested-dissection order
// (node_id, (H+1) x (W+1), -1 elsewhere) and returns the separator tree.
// Parts of at most `leaf` nodes are not split further; each side of a
// separator keeps at least the share `balance` of its part.
inline Dissection nested_dissection(const Grid& g, const uint8_t* active, int32_t leaf, double balance,
                                    int32_t* node_id) {
  const int64_t kept = number_nodes(g, active, node_id);  // grid order first: the coordinates of each node
  std::vector<int32_t> row(kept), col(kept), items(kept);
  for (int64_t i = 0; i <= g.rows; ++i)
    for (int64_t j = 0; j <= g.cols; ++j) {
      const int32_t k = node_id[i * g.node_cols() + j];
      if (k >= 0) row[k] = static_cast<int32_t>(i), col[k] = static_cast<int32_t>(j);
    }
  for (int64_t k = 0; k < kept; ++k) items[k] = static_cast<int32_t>(k);
  std::vector<int32_t> order_id(kept);
  detail::Dissector dissector(row, col, std::max<int32_t>(leaf, 1), balance, order_id.data());
  dissector.dissect(items, 0, kept);
  for (int64_t n = 0; n < g.nodes(); ++n)
    if (node_id[n] >= 0) node_id[n] = order_id[node_id[n]];
  if (dissector.tree.first.empty()) dissector.tree.first.push_back(0);
  return std::move(dissector.tree);
}

}  // namespace fea
}  // namespace latentmine
