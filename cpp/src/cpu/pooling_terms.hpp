// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file pooling_terms.hpp
/// @brief The element formulas and the summation order of the pooling kernels (maxout, dot
/// product, cosine; spec/math.md §9.2), shared by the CPU reference and the CUDA kernels so that
/// both give the same bits.
///
/// A row's sums (a dot product, a squared norm) are formed in double: source i's product with
/// source 0 is exact in double (24 + 24 bits), so only the order of the additions matters, and
/// that order is fixed here. Lane t of kPoolingLanes adds the terms of columns t, t + L, t + 2L …
/// in column order, starting from +0; then the lanes are added in a halving tree (lane t gains
/// lane t + L/2, then t + L/4, …). The CUDA kernels run one thread per lane; the CPU walks the
/// same lanes. Every other operation is one IEEE double operation, rounded on its own (no
/// multiply-add contraction on either side), and each result is rounded to float once.

#include <math.h>

#include <cstdint>

#include "dsstne/rng.hpp"  // DSSTNE_HOST_DEVICE

namespace dsstne::terms {

/// Lanes of a row sum: the CUDA block size of the pooling reductions (a power of two).
constexpr int kPoolingLanes = 256;
/// Added to each norm of a cosine, so that a zero source gives a cosine of 0 rather than NaN.
constexpr double kCosineEpsilon = 1e-8;

/// One step of maxout: max(y, x), where a NaN wins and then stays. A NaN in any source must
/// reach the loss (and the divergence check) rather than be skipped, as fmax would.
DSSTNE_HOST_DEVICE float maxout_step(float y, float x) {
  return (y == y && !(x <= y)) ? x : y;
}

// x·y, x + y and x − y in double, each rounded on its own: nvcc contracts a product and a sum
// into one fma otherwise, and differently per kernel; the CPU reference is compiled with
// -ffp-contract=off.
#if defined(__CUDA_ARCH__)
DSSTNE_HOST_DEVICE double mul_d(double x, double y) { return __dmul_rn(x, y); }
DSSTNE_HOST_DEVICE double add_d(double x, double y) { return __dadd_rn(x, y); }
DSSTNE_HOST_DEVICE double sub_d(double x, double y) { return __dsub_rn(x, y); }
#else
DSSTNE_HOST_DEVICE double mul_d(double x, double y) { return x * y; }
DSSTNE_HOST_DEVICE double add_d(double x, double y) { return x + y; }
DSSTNE_HOST_DEVICE double sub_d(double x, double y) { return x - y; }
#endif

/// What the cosine's backward pass needs of one pair (source 0, source i), from the pair's dot
/// product and the two squared norms.
struct CosinePair {
  double cosine;        ///< c = dot / (A·B)
  double inv_ab;        ///< 1 / (A·B)
  double c_over_a_sq;   ///< c / A²
  double c_over_b_sq;   ///< c / B²
};

DSSTNE_HOST_DEVICE CosinePair cosine_pair(double dot, double square_sum_0, double square_sum_i) {
  const double a = add_d(sqrt(square_sum_0), kCosineEpsilon);
  const double b = add_d(sqrt(square_sum_i), kCosineEpsilon);
  const double ab = mul_d(a, b);
  CosinePair p;
  p.cosine = dot / ab;
  p.inv_ab = 1.0 / ab;
  p.c_over_a_sq = p.cosine / mul_d(a, a);
  p.c_over_b_sq = p.cosine / mul_d(b, b);
  return p;
}

/// The cosine's gradient with respect to one unit of one source of the pair:
/// delta·(other/(A·B) − own·c/own_norm²), with c_over_own_sq = c/A² for source 0, c/B² for i.
DSSTNE_HOST_DEVICE double cosine_gradient(double delta, double own, double other, double inv_ab,
                                          double c_over_own_sq) {
  return mul_d(delta, sub_d(mul_d(other, inv_ab), mul_d(own, c_over_own_sq)));
}

/// The value a delta buffer receives: old + gradient (accumulating) or the gradient, rounded to
/// float once.
DSSTNE_HOST_DEVICE float delta_result(bool accumulate, float old, double gradient) {
  return static_cast<float>(accumulate ? add_d(static_cast<double>(old), gradient) : gradient);
}

}  // namespace dsstne::terms
