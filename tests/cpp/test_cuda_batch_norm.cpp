// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of the batch normalization kernels (cuda/src/batch_norm.cu against
// cpp/src/cpu/batch_norm.cpp): training forward (y, saved and running statistics), inference
// forward, and backward (dz, dgamma, dbeta) on random data.
//
// Bitwise everywhere: every per-feature sum is a double sum in the lane order both backends
// share (cpu/batch_norm_terms.hpp), every other step one explicitly rounded double operation,
// each result rounded to float once. A mismatch means the two orders or roundings have drifted
// apart, not numerical noise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

// One value per feature (m = 1); fewer values than lanes; a lane sweep with a remainder on FC
// and conv shapes; spatial above, equal to and dividing the lane count; a large conv map
// (rows 128 × spatial 3025, AlexNet's 55 × 55); many features (more than one grid's extent).
constexpr BatchNormShape kShapes[] = {{1, 5, 1},     {3, 7, 1},     {300, 17, 1}, {4, 3, 49},
                                      {2, 4, 256},   {5, 3, 64},    {3, 2, 1000}, {128, 8, 3025},
                                      {64, 1024, 1}, {2, 70000, 1}, {7, 33, 257}};

struct HostBatch {
  HostBatch(const BatchNormShape& s, uint64_t seed) {
    const std::size_t n = std::size_t(s.rows * s.features * s.spatial);
    const auto F = std::size_t(s.features);
    z = testing::uniform_values(n, seed, -2.0f, 5.0f);
    dy = testing::uniform_values(n, seed + 1);
    gamma = testing::uniform_values(F, seed + 2, 0.5f, 1.5f);
    beta = testing::uniform_values(F, seed + 3);
    running_mean = testing::uniform_values(F, seed + 4);
    running_var = testing::uniform_values(F, seed + 5, 0.5f, 2.0f);
  }
  std::vector<float> z, dy, gamma, beta, running_mean, running_var;
};

void expect_parity(const Context& ctx, const BatchNormShape& s, float epsilon, float factor,
                   uint64_t seed) {
  const std::string what = std::to_string(s.rows) + "x" + std::to_string(s.features) + "x" +
                           std::to_string(s.spatial) + " factor " + std::to_string(factor);
  SCOPED_TRACE(what);
  const HostBatch h(s, seed);
  const std::size_t n = h.z.size(), F = h.gamma.size();
  const auto z = testing::on_device(ctx, h.z), dy = testing::on_device(ctx, h.dy);
  const auto gamma = testing::on_device(ctx, h.gamma), beta = testing::on_device(ctx, h.beta);

  // Training forward.
  std::vector<float> y(n), mean(F), inv_std(F), run_mean = h.running_mean, run_var = h.running_var;
  cpu::batch_norm_forward_training(testing::host, s, h.z.data(), h.gamma.data(), h.beta.data(),
                                   epsilon, factor, y.data(), mean.data(), inv_std.data(),
                                   run_mean.data(), run_var.data());
  DeviceBuffer<float> d_y(ctx, n, "y"), d_mean(ctx, F, "mean"), d_inv_std(ctx, F, "inv_std");
  auto d_run_mean = testing::on_device(ctx, h.running_mean);
  auto d_run_var = testing::on_device(ctx, h.running_var);
  cuda::batch_norm_forward_training(ctx, s, z.data(), gamma.data(), beta.data(), epsilon, factor,
                                    d_y.data(), d_mean.data(), d_inv_std.data(), d_run_mean.data(),
                                    d_run_var.data());
  testing::expect_bitwise(y, d_y.download(), what + " y");
  testing::expect_bitwise(mean, d_mean.download(), what + " saved mean");
  testing::expect_bitwise(inv_std, d_inv_std.download(), what + " saved inv std");
  testing::expect_bitwise(run_mean, d_run_mean.download(), what + " running mean");
  testing::expect_bitwise(run_var, d_run_var.download(), what + " running var");

  // Inference forward, from the updated running statistics.
  cpu::batch_norm_forward_inference(testing::host, s, h.z.data(), h.gamma.data(), h.beta.data(),
                                    run_mean.data(), run_var.data(), epsilon, y.data());
  cuda::batch_norm_forward_inference(ctx, s, z.data(), gamma.data(), beta.data(), d_run_mean.data(),
                                     d_run_var.data(), epsilon, d_y.data());
  testing::expect_bitwise(y, d_y.download(), what + " inference y");

  // Backward, from the saved statistics (equal on both sides, checked above).
  std::vector<float> dz(n), dgamma(F), dbeta(F);
  cpu::batch_norm_backward(testing::host, s, h.z.data(), h.dy.data(), h.gamma.data(), mean.data(),
                           inv_std.data(), dz.data(), dgamma.data(), dbeta.data());
  DeviceBuffer<float> d_dz(ctx, n, "dz"), d_dgamma(ctx, F, "dgamma"), d_dbeta(ctx, F, "dbeta");
  cuda::batch_norm_backward(ctx, s, z.data(), dy.data(), gamma.data(), d_mean.data(),
                            d_inv_std.data(), d_dz.data(), d_dgamma.data(), d_dbeta.data());
  testing::expect_bitwise(dz, d_dz.download(), what + " dz");
  testing::expect_bitwise(dgamma, d_dgamma.download(), what + " dgamma");
  testing::expect_bitwise(dbeta, d_dbeta.download(), what + " dbeta");
}

TEST(CudaParityBatchNorm, RandomBatches) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 100;
  for (const BatchNormShape& s : kShapes)
    for (float factor : {0.0f, 0.1f, 1.0f}) expect_parity(ctx, s, 1e-5f, factor, seed += 10);
}

TEST(CudaParityBatchNorm, ConstantFeatureAndLargeEpsilon) {
  // A constant feature: σ² = 0 exactly, inv_std = 1/√epsilon; a large epsilon besides.
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const BatchNormShape s{6, 2, 50};
  expect_parity(ctx, s, 0.5f, 0.3f, 7);
  HostBatch h(s, 8);
  std::fill(h.z.begin(), h.z.end(), 1.25f);
  const auto z = testing::on_device(ctx, h.z);
  const auto gamma = testing::on_device(ctx, h.gamma), beta = testing::on_device(ctx, h.beta);
  std::vector<float> y(h.z.size()), mean(2), inv_std(2), rm = h.running_mean, rv = h.running_var;
  cpu::batch_norm_forward_training(testing::host, s, h.z.data(), h.gamma.data(), h.beta.data(),
                                   1e-3f, 0.1f, y.data(), mean.data(), inv_std.data(), rm.data(),
                                   rv.data());
  DeviceBuffer<float> d_y(ctx, y.size(), "y"), d_mean(ctx, 2, "m"), d_inv(ctx, 2, "i");
  auto d_rm = testing::on_device(ctx, h.running_mean),
       d_rv = testing::on_device(ctx, h.running_var);
  cuda::batch_norm_forward_training(ctx, s, z.data(), gamma.data(), beta.data(), 1e-3f, 0.1f,
                                    d_y.data(), d_mean.data(), d_inv.data(), d_rm.data(),
                                    d_rv.data());
  testing::expect_bitwise(y, d_y.download(), "constant y");
  testing::expect_bitwise(inv_std, d_inv.download(), "constant inv std");
  testing::expect_bitwise(rv, d_rv.download(), "constant running var");
}

TEST(CudaParityBatchNorm, EmptyBatchIsANoOp) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::vector<float> before{3.0f, 4.0f};
  auto running = testing::on_device(ctx, before);
  cuda::batch_norm_forward_training(ctx, BatchNormShape{0, 2, 5}, nullptr, nullptr, nullptr, 1e-5f,
                                    1.0f, nullptr, running.data(), running.data(), running.data(),
                                    running.data());
  testing::expect_bitwise(before, running.download(), "untouched");
}

}  // namespace
}  // namespace dsstne
