// SPDX-License-Identifier: Apache-2.0
// The per-channel bias helpers of the convolutional layers, as own kernels (no cuDNN): the bias
// added to every position of its channel, and each channel's mean over rows and positions
// (reference: cpp/src/cpu/convolution.cpp).
#include <algorithm>
#include <cstdint>

#include "cpu/pooling_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;
constexpr int kLanes = terms::kPoolingLanes;  // channel_mean's lanes, the CPU's order

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), kMaxBlocks));
}

// y: maps (rows × channels) × spatial; one float addition per element, as on the CPU.
__global__ void add_channel_bias_kernel(const float* b, int64_t channels, int64_t spatial,
                                        int64_t n, float* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    y[e] += b[(e / spatial) % channels];
}

// One block of kLanes threads per channel: thread t is lane t of the CPU's sum (values
// i = r·spatial + s with i ≡ t mod kLanes, in order), then the lanes meet in the same halving tree.
__global__ void channel_mean_kernel(const float* x, int64_t rows, int64_t channels,
                                    int64_t spatial, float* out) {
  __shared__ double lanes[kLanes];
  const int t = threadIdx.x;
  const int64_t n = rows * spatial;
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    double sum = 0.0;
    for (int64_t i = t; i < n; i += kLanes)
      sum = terms::add_d(sum, double(x[((i / spatial) * channels + c) * spatial + i % spatial]));
    const double total = lane_tree_sum<kLanes>(sum, lanes);
    if (t == 0) out[c] = rows == 0 ? 0.0f : float(__ddiv_rn(total, double(rows)));
  }
}

}  // namespace

void add_channel_bias(const Context& ctx, const float* b, int64_t rows, int64_t channels,
                      int64_t spatial, float* y) {
  if (!checks::add_channel_bias(ctx, b, rows, channels, spatial, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * channels * spatial;
  add_channel_bias_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(b, channels, spatial,
                                                                          n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void channel_mean(const Context& ctx, const float* x, int64_t rows, int64_t channels,
                  int64_t spatial, float* out) {
  if (!checks::channel_mean(ctx, x, rows, channels, spatial, out)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(channels, kMaxBlocks));
  channel_mean_kernel<<<blocks, kLanes, 0, s.stream()>>>(x, rows, channels, spatial, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
