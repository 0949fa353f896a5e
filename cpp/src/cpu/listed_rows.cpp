// SPDX-License-Identifier: Apache-2.0
/// @file listed_rows.cpp
/// @brief CPU reference of the work on the rows a sparse batch touches: listing them, zeroing
/// them in the gradient, stepping them alone (docs/design.md "Wide sparse inputs").
///
/// A batch of a million-item input touches a few thousand rows of its weight gradient. Listing
/// them lets the engine clear only those rows before the next batch, and lets SGD without weight
/// decay step only those rows, instead of sweeping the whole matrix twice per batch.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

void sparse_distinct_indices(const Context& ctx, const CsrView& x, int64_t n_in, uint32_t* rows,
                             int64_t* count) {
  if (!checks::sparse_distinct_indices(ctx, x, n_in, rows, count)) return;
  std::vector<uint32_t> found;
  if (x.rows > 0) {
    const int64_t begin = x.offsets[0], end = x.offsets[x.rows];
    DSSTNE_EXPECTS(begin >= 0 && begin <= end, "sparse_distinct_indices: offsets run from ",
                   begin, " to ", end);
    DSSTNE_EXPECTS(begin == end || x.indices != nullptr,
                   "sparse_distinct_indices: sparse batch without indices");
    found.reserve(static_cast<std::size_t>(end - begin));
    for (int64_t e = begin; e < end; ++e)
      if (int64_t(x.indices[e]) < n_in) found.push_back(x.indices[e]);
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  std::copy(found.begin(), found.end(), rows);
  *count = static_cast<int64_t>(found.size());
}

namespace {

/// The listed rows that exist, in list order.
std::vector<int64_t> existing_rows(const uint32_t* rows, const int64_t* count, int64_t max_count,
                                   int64_t n_rows, const char* who) {
  DSSTNE_EXPECTS(*count >= 0 && *count <= max_count, who, ": ", *count,
                 " listed rows, the caller's bound is ", max_count);
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(*count));
  for (int64_t i = 0; i < *count; ++i)
    if (int64_t(rows[i]) < n_rows) out.push_back(rows[i]);
  return out;
}

}  // namespace

void zero_listed_rows(const Context& ctx, const uint32_t* rows, const int64_t* count,
                      int64_t max_count, int64_t n_rows, int64_t row_len, float* m) {
  if (!checks::zero_listed_rows(ctx, rows, count, max_count, n_rows, row_len, m)) return;
  const std::vector<int64_t> listed =
      existing_rows(rows, count, max_count, n_rows, "zero_listed_rows");
  const auto n = static_cast<int64_t>(listed.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) std::fill_n(m + listed[i] * row_len, row_len, 0.0f);
}

void update_listed_rows(const Context& ctx, const UpdateParams& u, const float* g,
                        const uint32_t* rows, const int64_t* count, int64_t max_count,
                        int64_t n_rows, int64_t row_len, float* w) {
  if (!checks::update_listed_rows(ctx, u, g, rows, count, max_count, n_rows, row_len, w)) return;
  if (u.halt != nullptr && *u.halt != 0) return;
  std::vector<int64_t> listed = existing_rows(rows, count, max_count, n_rows, "update_listed_rows");
  // A row listed twice would step twice.
  std::sort(listed.begin(), listed.end());
  DSSTNE_EXPECTS(std::adjacent_find(listed.begin(), listed.end()) == listed.end(),
                 "update_listed_rows: a row is listed twice");
  const auto n = static_cast<int64_t>(listed.size());
  // Each row is the whole-matrix step restricted to it: the same element rule, bit for bit.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = listed[i] * row_len;
    update_weights(ctx, u, g + at, row_len, w + at, nullptr, nullptr);
  }
}

}  // namespace dsstne::cpu
