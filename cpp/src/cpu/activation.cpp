// SPDX-License-Identifier: Apache-2.0
/// @file activation.cpp
/// @brief CPU reference of the activation functions (spec/math.md §2, fixed): element-wise
/// forward and backward, and the row-wise SoftMax with its Jacobian product.

#include <cstdint>

#include "activation_terms.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "kind_dispatch.hpp"
#include "vector_math.hpp"

namespace dsstne::cpu {

namespace {

/// Below this many elements a parallel region costs more than the work.
constexpr int64_t kParallelMin = 1 << 15;

/// One SoftMax row in place. The max is subtracted so e^{z−m} ≤ 1 never overflows (logits of
/// ±1e4 are fine); the normaliser is summed in double, in column order, after the exponentials
/// (a loop of its own, so that one vectorizes).
void softmax_row(float* z, int64_t cols) {
  float m = z[0];
  for (int64_t j = 1; j < cols; ++j) m = z[j] > m ? z[j] : m;
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) z[j] = vector_math::exp(z[j] - m);
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) sum += static_cast<double>(z[j]);
  for (int64_t j = 0; j < cols; ++j) z[j] = static_cast<float>(static_cast<double>(z[j]) / sum);
}

/// g ← a ⊙ (g − Σ_k g_k·a_k) over one row; the dot product in double, in column order.
void softmax_backward_row(const float* a, float* g, int64_t cols) {
  double dot = 0.0;
  for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(g[j]) * a[j];
  const float s = static_cast<float>(dot);
  for (int64_t j = 0; j < cols; ++j) g[j] = a[j] * (g[j] - s);
}

/// z ← f(z) for one element-wise kind. Parameters by value and pointers as arguments: the
/// OpenMP region then holds copies, which the stores to z cannot alias, and the loop vectorizes.
/// Not `omp simd`: GCC gives each lane its own copy of the parameter block, a scatter it cannot
/// vectorize.
template <Activation Kind>
void activate_all(ActivationParams p, float* z, int64_t n) {
#pragma omp parallel for schedule(static) firstprivate(p) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) z[i] = terms::activate(with_kind<Kind>(p), z[i]);
}

/// g ← g·f'(a) for one element-wise kind.
template <Activation Kind>
void apply_slopes(ActivationParams p, const float* a, float* g, int64_t n) {
#pragma omp parallel for schedule(static) firstprivate(p) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) g[i] *= terms::activation_slope(with_kind<Kind>(p), a[i]);
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
  with_activation(p.kind, [&](auto kind) { activate_all<decltype(kind)::value>(p, z, n); });
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
  with_activation(p.kind, [&](auto kind) { apply_slopes<decltype(kind)::value>(p, a, g, n); });
}

}  // namespace dsstne::cpu
