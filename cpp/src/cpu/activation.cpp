// SPDX-License-Identifier: Apache-2.0
/// @file activation.cpp
/// @brief CPU reference of the activation functions (spec/math.md §2, fixed): element-wise
/// forward and backward, and the row-wise SoftMax with its Jacobian product.

#include <cmath>
#include <cstdint>

#include "kernel_checks.hpp"
#include "activation_terms.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne::cpu {

namespace {

/// Below this many elements a parallel region costs more than the work.
constexpr int64_t kParallelMin = 1 << 15;

/// One SoftMax row in place. The max is subtracted so e^{z−m} ≤ 1 never overflows (logits of
/// ±1e4 are fine); the normaliser is summed in double, in column order.
void softmax_row(float* z, int64_t cols) {
  float m = z[0];
  for (int64_t j = 1; j < cols; ++j) m = z[j] > m ? z[j] : m;
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) {
    z[j] = std::exp(z[j] - m);
    sum += static_cast<double>(z[j]);
  }
  for (int64_t j = 0; j < cols; ++j) z[j] = static_cast<float>(static_cast<double>(z[j]) / sum);
}

/// g ← a ⊙ (g − Σ_k g_k·a_k) over one row; the dot product in double, in column order.
void softmax_backward_row(const float* a, float* g, int64_t cols) {
  double dot = 0.0;
  for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(g[j]) * a[j];
  const float s = static_cast<float>(dot);
  for (int64_t j = 0; j < cols; ++j) g[j] = a[j] * (g[j] - s);
}

}  // namespace

void activation_forward(const Context& ctx, const ActivationParams& p, float* z, int64_t rows,
                        int64_t cols) {
  if (!checks::activation_forward(ctx, p, z, rows, cols)) return;
  const int64_t n = rows * cols;

  // z: rows × cols, rewritten in place.
  if (p.kind == Activation::SoftMax) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) softmax_row(z + r * cols, cols);
    return;
  }
  if (p.kind == Activation::Linear) return;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) z[i] = terms::activate(p, z[i]);
}

void activation_backward(const Context& ctx, const ActivationParams& p, const float* a, float* g,
                         int64_t rows, int64_t cols) {
  if (!checks::activation_backward(ctx, p, a, g, rows, cols)) return;
  const int64_t n = rows * cols;

  // a, g: rows × cols; g = ∂E/∂a on entry, ∂E/∂z on exit.
  if (p.kind == Activation::SoftMax) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) softmax_backward_row(a + r * cols, g + r * cols, cols);
    return;
  }
  if (p.kind == Activation::Linear) return;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) g[i] *= terms::activation_slope(p, a[i]);
}

}  // namespace dsstne::cpu
