// SPDX-License-Identifier: Apache-2.0
/// @file rows.cpp
/// @brief The halves of row- and column-wise reductions that the ranks of a split layer finish
/// together: each rank reduces its units (row_stats, column_square_sums), the communicator adds
/// or maxes those over the ranks, and each rank applies the result to its units (transform_rows,
/// clip_columns). The formulas are those of the whole kernels (SoftMax, DeltaNorm, WeightNorm).
/// sum_blocks is the communicators' sum of the ranks' contributions, in rank order.
#include <algorithm>
#include <cmath>

#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

}  // namespace

void row_stats(const Context& ctx, RowStat stat, const float* a, const float* b, int64_t rows,
               int64_t cols, float* out) {
  if (!checks::row_stats(ctx, stat, a, b, rows, cols, out)) return;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * cols;
    if (stat == RowStat::Max) {
      float m = -INFINITY;
      for (int64_t j = 0; j < cols; ++j) m = x[j] > m ? x[j] : m;
      out[r] = m;
      continue;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const double v = x[j];
      sum += stat == RowStat::Sum ? v : stat == RowStat::SquareSum ? v * v : v * b[r * cols + j];
    }
    out[r] = static_cast<float>(sum);
  }
}

void transform_rows(const Context& ctx, RowOp op, float* x, const float* a, int64_t rows,
                    int64_t cols, const float* v, float max_norm) {
  if (!checks::transform_rows(ctx, op, x, a, rows, cols, v, max_norm)) return;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    const float value = v[r];
    switch (op) {
      case RowOp::SubtractExp:
        for (int64_t j = 0; j < cols; ++j) row[j] = std::exp(row[j] - value);
        break;
      case RowOp::Divide:
        for (int64_t j = 0; j < cols; ++j)
          row[j] = static_cast<float>(static_cast<double>(row[j]) / value);
        break;
      case RowOp::ClipNorm:
        if (value > max_norm * max_norm) {
          const float scale = max_norm / std::sqrt(value);
          for (int64_t j = 0; j < cols; ++j) row[j] *= scale;
        }
        break;
      case RowOp::SoftmaxBackward:
        for (int64_t j = 0; j < cols; ++j) row[j] = a[r * cols + j] * (row[j] - value);
        break;
    }
  }
}

void column_square_sums(const Context& ctx, const float* w, int64_t rows, int64_t cols,
                        float* out) {
  if (!checks::column_square_sums(ctx, w, rows, cols, out)) return;
  std::fill(out, out + cols, 0.0f);
  // Rows in order for every column: the sum does not depend on the thread count.
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      const float x = w[i * cols + c];
      out[c] += x * x;
    }
}

void clip_columns(const Context& ctx, float* w, int64_t rows, int64_t cols, const float* sq,
                  float max_norm) {
  if (!checks::clip_columns(ctx, w, rows, cols, sq, max_norm)) return;
  const float max_sq = max_norm * max_norm;
  for (int64_t c = 0; c < cols; ++c) {
    if (!(sq[c] > max_sq)) continue;
    const float scale = max_norm / std::sqrt(sq[c]);
    for (int64_t i = 0; i < rows; ++i) w[i * cols + c] *= scale;
  }
}

void sum_blocks(const Context& ctx, const float* blocks, int64_t nblocks, int64_t count,
                float* out) {
  if (!checks::sum_blocks(ctx, blocks, nblocks, count, out)) return;
  if (out != blocks) std::copy(blocks, blocks + count, out);
  for (int64_t b = 1; b < nblocks; ++b) {
    const float* block = blocks + b * count;
    for (int64_t i = 0; i < count; ++i) out[i] += block[i];
  }
}

}  // namespace dsstne::cpu
