// SPDX-License-Identifier: Apache-2.0
/// @file topk.cpp
/// @brief Per-row top-k selection (spec/math.md §8.5) with the reproducible ordering the spec
/// recommends: descending score, ties by ascending column, NaN below every number. Any k.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne::cpu {

namespace {

/// Index written for padding slots (fewer than k candidates in a row).
constexpr uint32_t kNoIndex = 0xFFFFFFFFu;

/// Packs (score, local column) into one integer whose unsigned order is the ranking order:
/// the high word orders scores (NaN lowest, −0 equal to +0), the low word prefers low columns.
/// All keys of a row are distinct, so selection needs no tie logic.
inline uint64_t rank_key(float score, uint32_t col) {
  uint32_t order = 0;  // NaN
  if (!std::isnan(score)) {
    if (score == 0.0f) score = 0.0f;  // fold −0 into +0 so both tie by column
    uint32_t bits;
    std::memcpy(&bits, &score, sizeof bits);
    // Monotone map of IEEE floats to unsigned; −inf maps to 0x007FFFFF, above NaN's 0.
    order = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  return (static_cast<uint64_t>(order) << 32) | (kNoIndex - col);
}

inline uint32_t column_of(uint64_t key) { return kNoIndex - static_cast<uint32_t>(key); }

}  // namespace

void topk(const float* scores, int64_t rows, int64_t cols, int64_t col_begin, int64_t k,
          const CsrView* exclude, float* out_scores, uint32_t* out_indices) {
  // scores: rows × cols; out_scores, out_indices: rows × k.
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && k >= 0, "topk: negative size rows=", rows, " cols=",
                 cols, " k=", k);
  DSSTNE_EXPECTS(col_begin >= 0 && col_begin + cols <= static_cast<int64_t>(kNoIndex),
                 "topk: columns [", col_begin, ", ", col_begin + cols,
                 ") do not fit 32-bit indices below the padding index ", kNoIndex);
  DSSTNE_EXPECTS(exclude == nullptr || exclude->rows == rows, "topk: exclusion list has ",
                 exclude ? exclude->rows : 0, " rows, scores have ", rows);
  if (k == 0 || rows == 0) return;

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
