// SPDX-License-Identifier: Apache-2.0
/// @file gather.cpp
/// @brief Builds a batch from stored data set records (spec/formats.md §2.5): the examples of
/// the batch are looked up through the Indexed table, converted to float by the one rule of
/// convert.hpp, weighted (Weighted data sets) and, for sparse inputs, denoised (math.md §6.2).

#include <cstdint>

#include "convert.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

namespace {

/// The stored record that example `e` reads: Indexed data sets share records between examples.
inline uint64_t record_of(const uint32_t* index, uint32_t e) {
  return index != nullptr ? index[e] : e;
}

}  // namespace

void sparse_row_counts(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, int64_t* counts) {
  if (!checks::sparse_row_counts(ctx, s, examples, rows, counts)) return;
#pragma omp parallel for if (rows >= 4096)
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t u = record_of(s.index, examples[r]);
    counts[r] = static_cast<int64_t>(s.end[u] - s.start[u]);
  }
}

void sparse_batch_fill(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, const int64_t* offsets, bool apply_weights,
                       const DenoiseParams& dn, uint32_t* indices, float* values) {
  // Batch row r ← stored entries [start[u], end[u]) of its record u, in storage order.
  if (!checks::sparse_batch_fill(ctx, s, examples, rows, offsets, apply_weights, dn, indices,
                                 values))
    return;
  // The offsets and records are host memory here, so each row's room is checked too.
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t u = record_of(s.index, examples[r]);
    DSSTNE_EXPECTS(offsets[r + 1] - offsets[r] == static_cast<int64_t>(s.end[u] - s.start[u]),
                   "sparse_batch_fill: batch row ", r, " has room for ", offsets[r + 1] - offsets[r],
                   " entries but record ", u, " holds ", s.end[u] - s.start[u]);
  }
  const bool denoise = dn.p > 0.0f;
  const float keep_scale = denoise ? 1.0f / (1.0f - dn.p) : 1.0f;
  const bool weighted = apply_weights && s.weights != nullptr;

  auto fill_rows = [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* stored = static_cast<const T*>(s.values);
#pragma omp parallel for schedule(dynamic, 64) if (rows >= 256)
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t u = record_of(s.index, examples[r]);
      const float w = weighted ? s.weights[examples[r]] : 1.0f;
      int64_t out = offsets[r];
      for (uint64_t k = s.start[u]; k < s.end[u]; ++k, ++out) {
        indices[out] = s.indices[k];
        float v = (stored != nullptr ? to_float(stored[k]) : 1.0f) * w;
        if (denoise) {
          // Counter k is the entry's position in the whole data set: every example that reads
          // this record sees the same mask for the epoch's stream.
          const bool dropped = random_uniform(dn.rs.seed, dn.rs.stream, k) < dn.p;
          v = dropped ? 0.0f : v * keep_scale;
        }
        values[out] = v;
      }
    }
  };
  if (s.values == nullptr) {
    fill_rows(TypeTag<float>{});  // Boolean: no stored values, the element type is irrelevant
  } else {
    visit_data_type(s.type, fill_rows);
  }
}

void dense_batch_fill(const Context& ctx, const DenseStorageView& s, const uint32_t* examples,
                      int64_t rows, int64_t col_begin, int64_t cols, bool apply_weights,
                      float* out) {
  // out: rows × cols ← columns [col_begin, col_begin + cols) of each example's stored record.
  if (!checks::dense_batch_fill(ctx, s, examples, rows, col_begin, cols, apply_weights, out))
    return;
  const bool weighted = apply_weights && s.weights != nullptr;

  if (s.one_hot) {
    // Boolean dense data stores only the hot unit of each record, as uint32.
    const uint32_t* hot = static_cast<const uint32_t*>(s.data);
#pragma omp parallel for if (rows * cols >= (1 << 15))
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t u = record_of(s.index, examples[r]);
      const float w = weighted ? s.weights[examples[r]] : 1.0f;
      float* row = out + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        row[c] = (col_begin + c == static_cast<int64_t>(hot[u]) ? 1.0f : 0.0f) * w;
      }
    }
    return;
  }

  visit_data_type(s.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* data = static_cast<const T*>(s.data);
#pragma omp parallel for if (rows * cols >= (1 << 15))
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t u = record_of(s.index, examples[r]);
      const float w = weighted ? s.weights[examples[r]] : 1.0f;
      const T* src = data + static_cast<int64_t>(u) * s.stride + col_begin;
      float* row = out + r * cols;
      for (int64_t c = 0; c < cols; ++c) row[c] = to_float(src[c]) * w;
    }
  });
}

void gather_weights(const Context& ctx, const float* weights, const uint32_t* examples,
                    int64_t rows, float* out) {
  if (!checks::gather_weights(ctx, weights, examples, rows, out)) return;
  for (int64_t r = 0; r < rows; ++r) out[r] = weights[examples[r]];
}

}  // namespace dsstne::cpu
