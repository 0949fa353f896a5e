// SPDX-License-Identifier: Apache-2.0
// The argument checks of the batch normalization kernels (kernel_checks.hpp), shared by the CPU
// reference, the CUDA kernels and the CUDA stubs of a build without CUDA.
#include <cmath>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {
namespace {

/// The shape rule: nothing negative; a batch with rows needs at least one feature of at least
/// one value, since each feature's statistics divide by m = rows·spatial. True when there is
/// work (rows > 0).
bool batch_norm_shape(const char* kernel, const BatchNormShape& s) {
  DSSTNE_EXPECTS(s.rows >= 0 && s.features >= 0 && s.spatial >= 0, kernel,
                 ": bad shape rows=", s.rows, " features=", s.features, " spatial=", s.spatial);
  if (s.rows == 0) return false;
  DSSTNE_EXPECTS(s.features >= 1 && s.spatial >= 1, kernel, ": a batch of ", s.rows,
                 " rows needs at least one feature of at least one value, got features=",
                 s.features, " spatial=", s.spatial);
  return true;
}

/// epsilon keeps 1/√(σ² + epsilon) finite for a constant feature, so it must be positive.
void batch_norm_epsilon(const char* kernel, float epsilon) {
  DSSTNE_EXPECTS(std::isfinite(epsilon) && epsilon > 0.0f, kernel, ": epsilon = ", epsilon,
                 " must be finite and positive");
}

void expect_pointer(const char* kernel, const void* p, const char* what) {
  DSSTNE_EXPECTS(p != nullptr, kernel, ": the ", what, " pointer is null");
}

}  // namespace

bool batch_norm_forward_training(const Context&, const BatchNormShape& s, const float* z,
                                 const float* gamma, const float* beta, float epsilon, float factor,
                                 float* y, float* saved_mean, float* saved_inv_std,
                                 float* running_mean, float* running_var) {
  const char* k = "batch_norm_forward_training";
  batch_norm_epsilon(k, epsilon);
  // The weight of this batch in the running averages (1: the batch's statistics replace them).
  DSSTNE_EXPECTS(factor >= 0.0f && factor <= 1.0f, k, ": factor = ", factor, " must lie in [0, 1]");
  if (!batch_norm_shape(k, s)) return false;
  expect_pointer(k, z, "input");
  expect_pointer(k, gamma, "gamma");
  expect_pointer(k, beta, "beta");
  expect_pointer(k, y, "output");
  expect_pointer(k, saved_mean, "saved mean");
  expect_pointer(k, saved_inv_std, "saved inverse standard deviation");
  expect_pointer(k, running_mean, "running mean");
  expect_pointer(k, running_var, "running variance");
  return true;
}

bool batch_norm_forward_inference(const Context&, const BatchNormShape& s, const float* z,
                                  const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float epsilon, float* y) {
  const char* k = "batch_norm_forward_inference";
  batch_norm_epsilon(k, epsilon);
  if (!batch_norm_shape(k, s)) return false;
  expect_pointer(k, z, "input");
  expect_pointer(k, gamma, "gamma");
  expect_pointer(k, beta, "beta");
  expect_pointer(k, running_mean, "running mean");
  expect_pointer(k, running_var, "running variance");
  expect_pointer(k, y, "output");
  return true;
}

bool batch_norm_backward(const Context&, const BatchNormShape& s, const float* z, const float* dy,
                         const float* gamma, const float* saved_mean, const float* saved_inv_std,
                         float* dz, float* dgamma, float* dbeta) {
  const char* k = "batch_norm_backward";
  if (!batch_norm_shape(k, s)) return false;
  expect_pointer(k, z, "input");
  expect_pointer(k, dy, "output delta");
  expect_pointer(k, gamma, "gamma");
  expect_pointer(k, saved_mean, "saved mean");
  expect_pointer(k, saved_inv_std, "saved inverse standard deviation");
  expect_pointer(k, dz, "input delta");
  expect_pointer(k, dgamma, "gamma gradient");
  expect_pointer(k, dbeta, "beta gradient");
  return true;
}

}  // namespace dsstne::checks
