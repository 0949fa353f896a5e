// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file batch_norm_terms.hpp
/// @brief The formulas and the summation order of batch normalization, shared by the CPU
/// reference (batch_norm.cpp) and the CUDA kernels (batch_norm.cu) so that both give the same
/// bits.
///
/// Layout: value j of feature f in row r sits at (r·features + f)·spatial + j. A feature's
/// m = rows·spatial values are numbered i = r·spatial + j (row by row, x fastest).
///
/// Summation order (every per-feature sum: Σ z, Σ (z − μ)², Σ dy, Σ dy·ẑ). Each sum is formed in
/// double. Lane t of kBatchNormLanes adds the terms of values t, t + L, t + 2L … in that order,
/// starting from +0; then the lanes meet in a halving tree (lane t gains lane t + L/2, then
/// t + L/4, …, 1). The CUDA kernels run one thread per lane; the CPU walks the same lanes. Every
/// other operation below is one explicitly rounded IEEE double operation (no contraction into a
/// fused multiply-add on either side: the CPU is built with -ffp-contract=off, the device uses
/// the _rn intrinsics), and each stored result is rounded to float once.
///
/// Choices: the variance is two-pass, Σ (z − μ)² after μ (not E[z²] − μ², which cancels); y of
/// the training pass uses the unrounded double μ and 1/√(σ² + ε), while the backward pass reads
/// the float saved_mean and saved_inv_std, as its contract says.

#include <math.h>

#include <cstdint>

#include "cpu/pooling_terms.hpp"  // mul_d, add_d, sub_d
#include "dsstne/rng.hpp"         // DSSTNE_HOST_DEVICE

namespace dsstne::terms {

/// Lanes of a feature's sums: the CUDA block size of the batch normalization kernels (a power
/// of two).
constexpr int kBatchNormLanes = 256;

#if defined(__CUDA_ARCH__)
DSSTNE_HOST_DEVICE double div_d(double x, double y) { return __ddiv_rn(x, y); }
DSSTNE_HOST_DEVICE double sqrt_d(double x) { return __dsqrt_rn(x); }
#else
DSSTNE_HOST_DEVICE double div_d(double x, double y) { return x / y; }
DSSTNE_HOST_DEVICE double sqrt_d(double x) { return sqrt(x); }  // IEEE: correctly rounded
#endif

/// The term of Σ (z − μ)² for one value.
DSSTNE_HOST_DEVICE double centered_square(float z, double mean) {
  const double d = sub_d(static_cast<double>(z), mean);
  return mul_d(d, d);
}

/// 1/√(variance + epsilon), in double.
DSSTNE_HOST_DEVICE double inverse_std(double variance, float epsilon) {
  return div_d(1.0, sqrt_d(add_d(variance, static_cast<double>(epsilon))));
}

/// A feature's batch statistics, from Σ z and Σ (z − μ)² over its m values.
struct BatchNormStats {
  double mean;
  double inv_std;       ///< 1/√(σ² + epsilon), σ² the biased variance
  double unbiased_var;  ///< Σ (z − μ)²/(m − 1), or σ² (= 0) when m = 1
};

DSSTNE_HOST_DEVICE double batch_mean(double sum, int64_t m) {
  return div_d(sum, static_cast<double>(m));
}

DSSTNE_HOST_DEVICE BatchNormStats batch_stats(double mean, double centered_squares, int64_t m,
                                              float epsilon) {
  BatchNormStats s;
  s.mean = mean;
  const double biased = div_d(centered_squares, static_cast<double>(m));
  s.inv_std = inverse_std(biased, epsilon);
  s.unbiased_var = m > 1 ? div_d(centered_squares, static_cast<double>(m - 1)) : biased;
  return s;
}

/// gamma·((z − mean)·inv_std) + beta, rounded to float once (training and inference alike).
DSSTNE_HOST_DEVICE float normalized_output(float z, double mean, double inv_std, float gamma,
                                           float beta) {
  const double z_hat = mul_d(sub_d(static_cast<double>(z), mean), inv_std);
  return static_cast<float>(
      add_d(mul_d(static_cast<double>(gamma), z_hat), static_cast<double>(beta)));
}

/// The running average after one batch: (1 − factor)·old + factor·stat, rounded once. Factor 0
/// leaves old as it is and factor 1 takes stat as it is, whatever the other holds (so a running
/// buffer never yet written, NaN included, can be overwritten with factor 1).
DSSTNE_HOST_DEVICE float running_update(float old, double stat, float factor) {
  if (factor == 0.0f) return old;
  if (factor == 1.0f) return static_cast<float>(stat);
  const double f = static_cast<double>(factor);
  const double kept = mul_d(sub_d(1.0, f), static_cast<double>(old));
  return static_cast<float>(add_d(kept, mul_d(f, stat)));
}

/// ẑ of the backward pass, from the float statistics the training pass saved.
DSSTNE_HOST_DEVICE double saved_z_hat(float z, float saved_mean, float saved_inv_std) {
  return mul_d(sub_d(static_cast<double>(z), static_cast<double>(saved_mean)),
               static_cast<double>(saved_inv_std));
}

/// What dz needs of one feature: gamma·inv_std, Σ dy/m and Σ dy·ẑ/m.
struct BatchNormDelta {
  double scale;
  double mean_dy;
  double mean_dy_z_hat;
};

DSSTNE_HOST_DEVICE BatchNormDelta batch_delta(float gamma, float saved_inv_std, double sum_dy,
                                              double sum_dy_z_hat, int64_t m) {
  BatchNormDelta d;
  d.scale = mul_d(static_cast<double>(gamma), static_cast<double>(saved_inv_std));
  d.mean_dy = div_d(sum_dy, static_cast<double>(m));
  d.mean_dy_z_hat = div_d(sum_dy_z_hat, static_cast<double>(m));
  return d;
}

/// dz = gamma·inv_std·((dy − Σdy/m) − ẑ·Σ(dy·ẑ)/m), rounded once: the derivative through y and
/// through the batch mean and variance.
DSSTNE_HOST_DEVICE float input_delta(float dy, double z_hat, const BatchNormDelta& d) {
  const double centered =
      sub_d(sub_d(static_cast<double>(dy), d.mean_dy), mul_d(z_hat, d.mean_dy_z_hat));
  return static_cast<float>(mul_d(d.scale, centered));
}

}  // namespace dsstne::terms
