// SPDX-License-Identifier: Apache-2.0
// Batch normalization: training and inference forward passes and the backward pass (reference:
// cpp/src/cpu/batch_norm.cpp). The training and backward kernels run one block of
// kBatchNormLanes threads per feature, thread t being lane t of batch_norm_terms.hpp: it sums the
// feature's values t, t + L, t + 2L … in order, and the lanes meet in the same halving tree as on
// the CPU, so every output is the CPU's bit for bit. A block touches only its own feature, and
// all of a feature's sums complete before any of its outputs is written.
#include <algorithm>
#include <cstdint>

#include "cpu/batch_norm_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kLanes = terms::kBatchNormLanes;
constexpr unsigned int kMaxBlocks = 65535;

/// Calls visit(e) for the values of feature f that belong to this thread's lane, in lane order
/// (e the value's offset in the batch). Value i = r·spatial + j of the feature sits at
/// (r·features + f)·spatial + j; stepping i by kLanes steps (r, j) by (L / spatial, L % spatial)
/// with a carry, so no division runs inside the loop.
template <typename Visit>
__device__ void walk_lane(const BatchNormShape& s, int64_t f, Visit visit) {
  const int64_t step_r = kLanes / s.spatial, step_j = kLanes % s.spatial;
  int64_t r = threadIdx.x / s.spatial, j = threadIdx.x % s.spatial;
  while (r < s.rows) {
    visit((r * s.features + f) * s.spatial + j);
    r += step_r;
    j += step_j;
    if (j >= s.spatial) {
      j -= s.spatial;
      ++r;
    }
  }
}

/// The block's lanes joined in the CPU's halving tree (reduce.cuh).
__device__ double lane_sum(double value, double* shared) {
  return lane_tree_sum<kLanes>(value, shared);
}

__global__ void forward_training_kernel(BatchNormShape s, const float* z, const float* gamma,
                                        const float* beta, float epsilon, float factor, float* y,
                                        float* saved_mean, float* saved_inv_std,
                                        float* running_mean, float* running_var) {
  __shared__ double shared[kLanes];
  const int64_t m = s.rows * s.spatial;
  for (int64_t f = blockIdx.x; f < s.features; f += gridDim.x) {
    double local = 0.0;
    walk_lane(s, f, [&](int64_t e) { local = terms::add_d(local, double(z[e])); });
    const double mean = terms::batch_mean(lane_sum(local, shared), m);
    local = 0.0;
    walk_lane(s, f,
              [&](int64_t e) { local = terms::add_d(local, terms::centered_square(z[e], mean)); });
    const terms::BatchNormStats st = terms::batch_stats(mean, lane_sum(local, shared), m, epsilon);
    const float g = gamma[f], b = beta[f];
    walk_lane(s, f,
              [&](int64_t e) { y[e] = terms::normalized_output(z[e], st.mean, st.inv_std, g, b); });
    if (threadIdx.x == 0) {
      saved_mean[f] = static_cast<float>(st.mean);
      saved_inv_std[f] = static_cast<float>(st.inv_std);
      running_mean[f] = terms::running_update(running_mean[f], st.mean, factor);
      running_var[f] = terms::running_update(running_var[f], st.unbiased_var, factor);
    }
  }
}

// Elementwise: nothing is summed, so any grid will do.
__global__ void forward_inference_kernel(BatchNormShape s, const float* z, const float* gamma,
                                         const float* beta, const float* running_mean,
                                         const float* running_var, float epsilon, float* y) {
  const int64_t n = s.rows * s.features * s.spatial;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t f = (e / s.spatial) % s.features;
    const double inv_std = terms::inverse_std(double(running_var[f]), epsilon);
    y[e] = terms::normalized_output(z[e], double(running_mean[f]), inv_std, gamma[f], beta[f]);
  }
}

__global__ void backward_kernel(BatchNormShape s, const float* z, const float* dy,
                                const float* gamma, const float* saved_mean,
                                const float* saved_inv_std, float* dz, float* dgamma,
                                float* dbeta) {
  __shared__ double shared[kLanes];
  const int64_t m = s.rows * s.spatial;
  for (int64_t f = blockIdx.x; f < s.features; f += gridDim.x) {
    const float mu = saved_mean[f], inv_std = saved_inv_std[f];
    // Both sums in one walk; each keeps its own lane order.
    double local_dy = 0.0, local_dy_z_hat = 0.0;
    walk_lane(s, f, [&](int64_t e) {
      const float d = dy[e];
      local_dy = terms::add_d(local_dy, double(d));
      local_dy_z_hat =
          terms::add_d(local_dy_z_hat, terms::mul_d(d, terms::saved_z_hat(z[e], mu, inv_std)));
    });
    const double sum_dy = lane_sum(local_dy, shared);
    const double sum_dy_z_hat = lane_sum(local_dy_z_hat, shared);
    const terms::BatchNormDelta d = terms::batch_delta(gamma[f], inv_std, sum_dy, sum_dy_z_hat, m);
    walk_lane(s, f, [&](int64_t e) {
      dz[e] = terms::input_delta(dy[e], terms::saved_z_hat(z[e], mu, inv_std), d);
    });
    if (threadIdx.x == 0) {
      dbeta[f] = static_cast<float>(terms::div_d(sum_dy, double(s.rows)));
      dgamma[f] = static_cast<float>(terms::div_d(sum_dy_z_hat, double(s.rows)));
    }
  }
}

unsigned int feature_blocks(int64_t features) {
  return static_cast<unsigned int>(std::min<int64_t>(features, kMaxBlocks));
}

}  // namespace

void batch_norm_forward_training(const Context& ctx, const BatchNormShape& s, const float* z,
                                 const float* gamma, const float* beta, float epsilon, float factor,
                                 float* y, float* saved_mean, float* saved_inv_std,
                                 float* running_mean, float* running_var) {
  if (!checks::batch_norm_forward_training(ctx, s, z, gamma, beta, epsilon, factor, y, saved_mean,
                                           saved_inv_std, running_mean, running_var))
    return;
  const StreamScope scope(ctx);
  forward_training_kernel<<<feature_blocks(s.features), kLanes, 0, scope.stream()>>>(
      s, z, gamma, beta, epsilon, factor, y, saved_mean, saved_inv_std, running_mean, running_var);
  DSSTNE_CHECK_LAST_KERNEL();
}

void batch_norm_forward_inference(const Context& ctx, const BatchNormShape& s, const float* z,
                                  const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float epsilon, float* y) {
  if (!checks::batch_norm_forward_inference(ctx, s, z, gamma, beta, running_mean, running_var,
                                            epsilon, y))
    return;
  const StreamScope scope(ctx);
  const int64_t n = s.rows * s.features * s.spatial;
  const auto blocks =
      static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kLanes), kMaxBlocks));
  forward_inference_kernel<<<blocks, kLanes, 0, scope.stream()>>>(s, z, gamma, beta, running_mean,
                                                                  running_var, epsilon, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void batch_norm_backward(const Context& ctx, const BatchNormShape& s, const float* z,
                         const float* dy, const float* gamma, const float* saved_mean,
                         const float* saved_inv_std, float* dz, float* dgamma, float* dbeta) {
  if (!checks::batch_norm_backward(ctx, s, z, dy, gamma, saved_mean, saved_inv_std, dz, dgamma,
                                   dbeta))
    return;
  const StreamScope scope(ctx);
  backward_kernel<<<feature_blocks(s.features), kLanes, 0, scope.stream()>>>(
      s, z, dy, gamma, saved_mean, saved_inv_std, dz, dgamma, dbeta);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
