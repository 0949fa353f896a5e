// SPDX-License-Identifier: Apache-2.0
// Activations on the GPU, from the same element formulas as the CPU reference
// (cpp/src/cpu/activation_terms.hpp). SoftMax runs one block per row with a fixed reduction tree,
// so results do not depend on timing.
#include <cfloat>

#include "cpu/activation_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;

// z: rows × cols, in place.
__global__ void activate_kernel(ActivationParams p, float* z, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) z[i] = terms::activate(p, z[i]);
}

// g ← g · f'(a), elementwise.
__global__ void activation_slope_kernel(ActivationParams p, const float* a, float* g, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) g[i] *= terms::activation_slope(p, a[i]);
}


// One block per row: a = exp(z − max) / Σ exp(z − max).
__global__ void softmax_kernel(float* z, int64_t cols) {
  __shared__ float shared[kThreads];
  float* row = z + int64_t(blockIdx.x) * cols;
  float local_max = -FLT_MAX;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) local_max = fmaxf(local_max, row[c]);
  const float row_max = block_reduce(local_max, shared, MaxOp{});
  float local_sum = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float e = expf(row[c] - row_max);
    row[c] = e;
    local_sum += e;
  }
  const float inv = 1.0f / block_reduce(local_sum, shared, SumOp{});
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] *= inv;
}

// One block per row: g ← a ⊙ (g − Σ g·a).
__global__ void softmax_backward_kernel(const float* a, float* g, int64_t cols) {
  __shared__ float shared[kThreads];
  const float* arow = a + int64_t(blockIdx.x) * cols;
  float* grow = g + int64_t(blockIdx.x) * cols;
  float local = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) local += grow[c] * arow[c];
  const float dot = block_reduce(local, shared, SumOp{});
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) grow[c] = arow[c] * (grow[c] - dot);
}

}  // namespace

void activation_forward(const Context& ctx, const ActivationParams& p, float* z, int64_t rows,
                        int64_t cols) {
  if (!checks::activation_forward(ctx, p, z, rows, cols)) return;
  const StreamScope s(ctx);
  if (p.kind == Activation::SoftMax) {
    softmax_kernel<<<static_cast<unsigned int>(rows), kThreads, 0, s.stream()>>>(z, cols);
  } else {
    activate_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, s.stream()>>>(p, z,
                                                                                  rows * cols);
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

void activation_backward(const Context& ctx, const ActivationParams& p, const float* a, float* g,
                         int64_t rows, int64_t cols) {
  if (!checks::activation_backward(ctx, p, a, g, rows, cols)) return;
  const StreamScope s(ctx);
  if (p.kind == Activation::SoftMax) {
    softmax_backward_kernel<<<static_cast<unsigned int>(rows), kThreads, 0, s.stream()>>>(a, g,
                                                                                        cols);
  } else {
    activation_slope_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, s.stream()>>>(
        p, a, g, rows * cols);
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
