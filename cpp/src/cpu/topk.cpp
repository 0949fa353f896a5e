// SPDX-License-Identifier: Apache-2.0
/// @file topk.cpp
/// @brief Per-row top-k selection (spec/math.md §8.5) with the reproducible ordering the spec
/// recommends: descending score, ties by ascending column, NaN below every number. Any k.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "topk_terms.hpp"

namespace dsstne::cpu {

using terms::column_of;
using terms::kNoIndex;
using terms::rank_key;

void topk(const Context& ctx, const float* scores, int64_t rows, int64_t cols, int64_t col_begin,
          int64_t k, const CsrView* exclude, float* out_scores, uint32_t* out_indices) {
  // scores: rows × cols; out_scores, out_indices: rows × k.
  if (!checks::topk(ctx, scores, rows, cols, col_begin, k, exclude, out_scores, out_indices))
    return;

#pragma omp parallel
  {
    std::vector<uint64_t> heap;      // min-heap of the best k keys seen so far in the row
    std::vector<uint32_t> excluded;  // sorted local columns to skip in the row
    heap.reserve(static_cast<size_t>(std::min(k, cols)));

#pragma omp for schedule(dynamic, 1)
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = scores + r * cols;
      excluded.clear();
      if (exclude != nullptr) {
        for (int64_t e = exclude->offsets[r]; e < exclude->offsets[r + 1]; ++e) {
          const int64_t c = static_cast<int64_t>(exclude->indices[e]) - col_begin;
          if (c >= 0 && c < cols) excluded.push_back(static_cast<uint32_t>(c));
        }
        std::sort(excluded.begin(), excluded.end());
        excluded.push_back(kNoIndex);  // sentinel: never equals a local column
      }

      // One pass: the heap's top is the weakest of the current best k, so a candidate enters
      // only when it beats it; ~k·log(cols/k) replacements on typical data.
      // `floor` is the weakest kept score once the heap is full (−inf while that is NaN, since
      // every number beats NaN): most scores fail one float compare and skip the key work.
      heap.clear();
      float floor = -std::numeric_limits<float>::infinity();
      size_t next_excluded = 0;
      for (int64_t c = 0; c < cols; ++c) {
        if (exclude != nullptr && excluded[next_excluded] == c) {
          while (excluded[next_excluded] == c) ++next_excluded;  // duplicates in the list
          continue;
        }
        const bool full = static_cast<int64_t>(heap.size()) == k;
        if (full && !(row[c] >= floor)) continue;
        const uint64_t key = rank_key(row[c], static_cast<uint32_t>(c));
        if (!full) {
          heap.push_back(key);
          std::push_heap(heap.begin(), heap.end(), std::greater<>());
        } else if (key > heap.front()) {
          std::pop_heap(heap.begin(), heap.end(), std::greater<>());
          heap.back() = key;
          std::push_heap(heap.begin(), heap.end(), std::greater<>());
        } else {
          continue;
        }
        if (static_cast<int64_t>(heap.size()) == k) {
          const float weakest = row[column_of(heap.front())];
          floor = std::isnan(weakest) ? -std::numeric_limits<float>::infinity() : weakest;
        }
      }
      std::sort(heap.begin(), heap.end(), std::greater<>());

      float* os = out_scores + r * k;
      uint32_t* oi = out_indices + r * k;
      const int64_t found = static_cast<int64_t>(heap.size());
      for (int64_t j = 0; j < found; ++j) {
        const uint32_t c = column_of(heap[j]);
        os[j] = row[c];  // the stored score itself (keeps −0 and the NaN payload)
        oi[j] = static_cast<uint32_t>(col_begin + c);
      }
      for (int64_t j = found; j < k; ++j) {
        os[j] = -std::numeric_limits<float>::infinity();
        oi[j] = kNoIndex;
      }
    }
  }
}

}  // namespace dsstne::cpu
