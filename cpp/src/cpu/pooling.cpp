// SPDX-License-Identifier: Apache-2.0
/// @file pooling.cpp
/// @brief The pooling functions that combine several same-sized sources unit by unit or row by
/// row (spec/math.md §9.2): maxout, dot product and cosine, forward and backward. Row sums follow
/// the lane order of pooling_terms.hpp, which the CUDA kernels share, so each row's result does
/// not depend on the thread count and the two backends agree bit for bit.
#include <algorithm>
#include <cmath>

#include "cpu/pooling_terms.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kLanes = terms::kPoolingLanes;

/// The lanes' partial sums of one row, then their halving tree (pooling_terms.hpp).
class LaneSum {
 public:
  /// Σ_j x[j]·z[j] over the row's cols units.
  static double dot(const float* x, const float* z, int64_t cols) {
    LaneSum s;
    for (int64_t base = 0; base < cols; base += kLanes) {
      const int64_t width = std::min(kLanes, cols - base);
      for (int64_t t = 0; t < width; ++t)
        s.lanes_[t] += static_cast<double>(x[base + t]) * static_cast<double>(z[base + t]);
    }
    return s.total();
  }

 private:
  double total() {
    for (int64_t stride = kLanes / 2; stride > 0; stride /= 2)
      for (int64_t t = 0; t < stride; ++t) lanes_[t] += lanes_[t + stride];
    return lanes_[0];
  }
  double lanes_[kLanes] = {};
};

/// The source's maximum at one unit, as maxout_forward forms it.
float unit_maximum(const float* const* sources, int64_t count, int64_t e) {
  float y = sources[0][e];
  for (int64_t k = 1; k < count; ++k) y = terms::maxout_step(y, sources[k][e]);
  return y;
}

}  // namespace

void maxout_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  if (!checks::maxout_forward(ctx, sources, count, rows, cols, y)) return;
  const int64_t n = rows * cols;
#pragma omp parallel for schedule(static) if (n * count >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) y[e] = unit_maximum(sources, count, e);
}

void maxout_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas) {
  if (!checks::maxout_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas))
    return;
  const int64_t n = rows * cols;
#pragma omp parallel for schedule(static) if (n * count >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) {
    const float m = unit_maximum(sources, count, e);
    for (int64_t k = 0; k < count; ++k) {
      if (deltas[k] == nullptr) continue;
      const bool wins = sources[k][e] == m;
      if (accumulate) {
        if (wins) deltas[k][e] += delta[e];
      } else {
        deltas[k][e] = wins ? delta[e] : 0.0f;
      }
    }
  }
}

void dot_product_forward(const Context& ctx, const float* const* sources, int64_t count,
                         int64_t rows, int64_t cols, float* y) {
  if (!checks::dot_product_forward(ctx, sources, count, rows, cols, y)) return;
  const int64_t pairs = count - 1;
#pragma omp parallel for schedule(static) if (rows * cols * pairs >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 1; i < count; ++i)
      y[r * pairs + i - 1] =
          static_cast<float>(LaneSum::dot(sources[0] + r * cols, sources[i] + r * cols, cols));
}

void dot_product_backward(const Context& ctx, const float* const* sources, int64_t count,
                          int64_t rows, int64_t cols, const float* delta, bool accumulate,
                          float* const* deltas) {
  if (!checks::dot_product_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas))
    return;
  const int64_t pairs = count - 1;
#pragma omp parallel for schedule(static) if (rows * cols * count >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* d = delta + r * pairs;
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t e = r * cols + j;
      const double x0 = sources[0][e];
      double sum = 0.0;
      for (int64_t i = 1; i < count; ++i) {
        sum = terms::add_d(sum, terms::mul_d(d[i - 1], sources[i][e]));
        if (deltas[i] != nullptr)
          deltas[i][e] = terms::delta_result(accumulate, deltas[i][e], terms::mul_d(d[i - 1], x0));
      }
      if (deltas[0] != nullptr) deltas[0][e] = terms::delta_result(accumulate, deltas[0][e], sum);
    }
  }
}

void cosine_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  if (!checks::cosine_forward(ctx, sources, count, rows, cols, y)) return;
  const int64_t pairs = count - 1;
#pragma omp parallel for schedule(static) if (rows * cols * count >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x0 = sources[0] + r * cols;
    const double square_sum_0 = LaneSum::dot(x0, x0, cols);
    for (int64_t i = 1; i < count; ++i) {
      const float* xi = sources[i] + r * cols;
      const terms::CosinePair p =
          terms::cosine_pair(LaneSum::dot(x0, xi, cols), square_sum_0, LaneSum::dot(xi, xi, cols));
      y[r * pairs + i - 1] = static_cast<float>(p.cosine);
    }
  }
}

void cosine_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas) {
  if (!checks::cosine_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas)) return;
  const int64_t pairs = count - 1;
#pragma omp parallel for schedule(static) if (rows * cols * count >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x0 = sources[0] + r * cols;
    const double square_sum_0 = LaneSum::dot(x0, x0, cols);
    terms::CosinePair pair[kMaxPoolingSources];
    for (int64_t i = 1; i < count; ++i) {
      const float* xi = sources[i] + r * cols;
      pair[i] =
          terms::cosine_pair(LaneSum::dot(x0, xi, cols), square_sum_0, LaneSum::dot(xi, xi, cols));
    }
    const float* d = delta + r * pairs;
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t e = r * cols + j;
      double sum = 0.0;
      for (int64_t i = 1; i < count; ++i) {
        const terms::CosinePair& p = pair[i];
        sum = terms::add_d(sum, terms::cosine_gradient(d[i - 1], x0[j], sources[i][e], p.inv_ab,
                                                       p.c_over_a_sq));
        if (deltas[i] != nullptr)
          deltas[i][e] = terms::delta_result(
              accumulate, deltas[i][e],
              terms::cosine_gradient(d[i - 1], sources[i][e], x0[j], p.inv_ab, p.c_over_b_sq));
      }
      if (deltas[0] != nullptr) deltas[0][e] = terms::delta_result(accumulate, deltas[0][e], sum);
    }
  }
}

}  // namespace dsstne::cpu
