// SPDX-License-Identifier: Apache-2.0
/// @file batch_norm.cpp
/// @brief Batch normalization, the CPU reference: training and inference forward passes and the
/// backward pass. Statistics are per feature over rows × spatial (BatchNormShape). Each sum is
/// taken in the lane order of batch_norm_terms.hpp, which the CUDA kernels share: a feature's
/// results depend neither on the thread count (threads split the features, never a sum) nor on
/// the backend.
#include "cpu/batch_norm_terms.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kLanes = terms::kBatchNormLanes;

/// Σ term(e) over feature f's values (e the value's offset in the batch), in the lane order:
/// consecutive values go to consecutive lanes, the lanes then meet in the halving tree.
template <typename Term>
double feature_sum(const BatchNormShape& s, int64_t f, Term term) {
  double lanes[kLanes] = {};
  int64_t t = 0;
  for (int64_t r = 0; r < s.rows; ++r) {
    const int64_t base = (r * s.features + f) * s.spatial;
    for (int64_t j = 0; j < s.spatial; ++j) {
      lanes[t] = terms::add_d(lanes[t], term(base + j));
      t = (t + 1) & (kLanes - 1);
    }
  }
  for (int64_t stride = kLanes / 2; stride > 0; stride /= 2)
    for (int64_t u = 0; u < stride; ++u) lanes[u] = terms::add_d(lanes[u], lanes[u + stride]);
  return lanes[0];
}

/// Calls visit(e) for every value of feature f (any order: nothing is summed).
template <typename Visit>
void for_feature(const BatchNormShape& s, int64_t f, Visit visit) {
  for (int64_t r = 0; r < s.rows; ++r) {
    const int64_t base = (r * s.features + f) * s.spatial;
    for (int64_t j = 0; j < s.spatial; ++j) visit(base + j);
  }
}

}  // namespace

void batch_norm_forward_training(const Context& ctx, const BatchNormShape& s, const float* z,
                                 const float* gamma, const float* beta, float epsilon, float factor,
                                 float* y, float* saved_mean, float* saved_inv_std,
                                 float* running_mean, float* running_var) {
  if (!checks::batch_norm_forward_training(ctx, s, z, gamma, beta, epsilon, factor, y, saved_mean,
                                           saved_inv_std, running_mean, running_var))
    return;
  const int64_t m = s.rows * s.spatial;
#pragma omp parallel for schedule(static) if (m * s.features >= kParallelMin)
  for (int64_t f = 0; f < s.features; ++f) {
    const double mean =
        terms::batch_mean(feature_sum(s, f, [&](int64_t e) { return double(z[e]); }), m);
    const double squares =
        feature_sum(s, f, [&](int64_t e) { return terms::centered_square(z[e], mean); });
    const terms::BatchNormStats st = terms::batch_stats(mean, squares, m, epsilon);
    for_feature(s, f, [&](int64_t e) {
      y[e] = terms::normalized_output(z[e], st.mean, st.inv_std, gamma[f], beta[f]);
    });
    saved_mean[f] = static_cast<float>(st.mean);
    saved_inv_std[f] = static_cast<float>(st.inv_std);
    running_mean[f] = terms::running_update(running_mean[f], st.mean, factor);
    running_var[f] = terms::running_update(running_var[f], st.unbiased_var, factor);
  }
}

void batch_norm_forward_inference(const Context& ctx, const BatchNormShape& s, const float* z,
                                  const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float epsilon, float* y) {
  if (!checks::batch_norm_forward_inference(ctx, s, z, gamma, beta, running_mean, running_var,
                                            epsilon, y))
    return;
  const int64_t m = s.rows * s.spatial;
#pragma omp parallel for schedule(static) if (m * s.features >= kParallelMin)
  for (int64_t f = 0; f < s.features; ++f) {
    const double inv_std = terms::inverse_std(double(running_var[f]), epsilon);
    const double mean = running_mean[f];
    for_feature(s, f, [&](int64_t e) {
      y[e] = terms::normalized_output(z[e], mean, inv_std, gamma[f], beta[f]);
    });
  }
}

void batch_norm_backward(const Context& ctx, const BatchNormShape& s, const float* z,
                         const float* dy, const float* gamma, const float* saved_mean,
                         const float* saved_inv_std, float* dz, float* dgamma, float* dbeta) {
  if (!checks::batch_norm_backward(ctx, s, z, dy, gamma, saved_mean, saved_inv_std, dz, dgamma,
                                   dbeta))
    return;
  const int64_t m = s.rows * s.spatial;
#pragma omp parallel for schedule(static) if (m * s.features >= kParallelMin)
  for (int64_t f = 0; f < s.features; ++f) {
    const float mu = saved_mean[f], inv_std = saved_inv_std[f];
    const double sum_dy = feature_sum(s, f, [&](int64_t e) { return double(dy[e]); });
    const double sum_dy_z_hat = feature_sum(s, f, [&](int64_t e) {
      return terms::mul_d(dy[e], terms::saved_z_hat(z[e], mu, inv_std));
    });
    const terms::BatchNormDelta d = terms::batch_delta(gamma[f], inv_std, sum_dy, sum_dy_z_hat, m);
    for_feature(s, f, [&](int64_t e) {
      dz[e] = terms::input_delta(dy[e], terms::saved_z_hat(z[e], mu, inv_std), d);
    });
    dbeta[f] = static_cast<float>(terms::div_d(sum_dy, double(s.rows)));
    dgamma[f] = static_cast<float>(terms::div_d(sum_dy_z_hat, double(s.rows)));
  }
}

}  // namespace dsstne::cpu
