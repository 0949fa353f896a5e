// SPDX-License-Identifier: Apache-2.0
/// @file regularize.cpp
/// @brief CPU reference of the regularisers: the KL sparseness penalty on hidden activations
/// (spec/math.md §6.3) and the reported weight-decay error (§5.4).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

namespace {

/// Weights per partial sum of regularization_error. Fixed, so the result does not depend on
/// the number of threads.
constexpr int64_t kRegChunk = 1 << 16;
/// Independent partial sums within a chunk of regularization_error.
constexpr int kLanes = 8;

}  // namespace

void sparseness_penalty(const Context& ctx, const float* a, int64_t rows, int64_t cols, float p,
                        float beta, float* g) {
  if (!checks::sparseness_penalty(ctx, a, rows, cols, p, beta, g)) return;

  // a, g: rows × cols. Column sums are accumulated row after row so that each column is a
  // sequential float sum over r (the order DSSTNE uses) while reading a row-major.
  std::vector<float> rho(static_cast<size_t>(cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = a + r * cols;
    for (int64_t o = 0; o < cols; ++o) rho[static_cast<size_t>(o)] += row[o];
  }
  const float inv_rows = 1.0f / static_cast<float>(rows);
  std::vector<float> penalty(static_cast<size_t>(cols));
  for (int64_t o = 0; o < cols; ++o) {
    const float mean = std::min(std::max(rho[static_cast<size_t>(o)] * inv_rows, 1e-6f), 0.999999f);
    penalty[static_cast<size_t>(o)] = beta * (-p / mean + (1.0f - p) / (1.0f - mean));
  }

#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = g + r * cols;
    for (int64_t o = 0; o < cols; ++o) row[o] += penalty[static_cast<size_t>(o)];
  }
}

double regularization_error(const Context& ctx, const float* w, int64_t n, float lambda,
                            float lambda1) {
  if (!checks::regularization_error(ctx, w, n, lambda, lambda1)) return 0.0;

  const double l2 = 0.5 * static_cast<double>(lambda);
  const double l1 = lambda1;
  // Sums in double over fixed chunks, then the chunk sums in chunk order: the same value for any
  // thread count. Within a chunk, weight i goes to lane i mod kLanes and the lanes are added in
  // a fixed tree at the end, so the loop vectorizes without reordering anything at run time.
  const int64_t chunks = (n + kRegChunk - 1) / kRegChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t begin = k * kRegChunk, end = std::min(n, (k + 1) * kRegChunk);
    double lane[kLanes] = {};
    int64_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const double x = w[i + l];
        lane[l] += l2 * x * x + l1 * std::fabs(x);
      }
    }
    for (int l = 0; i < end; ++i, ++l) {
      const double x = w[i];
      lane[l] += l2 * x * x + l1 * std::fabs(x);
    }
    partial[static_cast<size_t>(k)] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                                      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

void regularization_error_sum(const Context& ctx, const float* w, int64_t n, float lambda,
                              float lambda1, double* total) {
  if (checks::regularization_error_sum(ctx, w, n, lambda, lambda1, total))
    *total += regularization_error(ctx, w, n, lambda, lambda1);
}

}  // namespace dsstne::cpu
