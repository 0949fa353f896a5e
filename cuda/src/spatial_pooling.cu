// SPDX-License-Identifier: Apache-2.0
// Spatial Max and Average pooling and cross-channel LRN, forward and backward (reference:
// cpp/src/cpu/spatial_pooling.cpp). One thread per output element (forward) or input element
// (backward, gathering from the covering windows in ascending order: no atomics), in
// grid-stride loops over a grid bounded by kMaxBlocks. The formulas are the CPU's
// (cpu/spatial_pooling_terms.hpp, explicitly rounded), so Max and Average give its bits; LRN
// differs only by CUDA's double pow.
#include <algorithm>
#include <cstdint>

#include "cpu/spatial_pooling_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), kMaxBlocks));
}

/// Max (`maximum`) or Average forward for one output element per thread.
__global__ void pool_forward_kernel(PoolGeometry g, bool maximum, const float* x, int64_t n,
                                    float* y) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float* map = x + (e / out_volume) * in_volume;
    const auto w = terms::pool_window(g, terms::map_position(e % out_volume, g.out));
    y[e] = maximum ? map[terms::window_winner(map, g, w)] : terms::window_average(map, g, w);
  }
}

/// Max (`maximum`) or Average backward for one input element per thread.
__global__ void pool_backward_kernel(PoolGeometry g, bool maximum, const float* x,
                                     const float* delta, int64_t n, bool accumulate, float* dx) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t map_index = e / in_volume;
    const float* map = maximum ? x + map_index * in_volume : nullptr;
    bool any = false;
    const float gradient = terms::gathered_gradient(g, map, delta + map_index * out_volume,
                                                    e % in_volume, any);
    terms::store_gradient(dx + e, gradient, any, accumulate);
  }
}

__global__ void lrn_forward_kernel(LrnParams p, const float* x, int64_t channels,
                                   int64_t spatial, int64_t n, float* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const float* column = x + example * channels * spatial + e % spatial;
    y[e] = terms::lrn_value(column, spatial, c, channels, p);
  }
}

__global__ void lrn_backward_kernel(LrnParams p, const float* x, const float* delta,
                                    int64_t channels, int64_t spatial, int64_t n,
                                    bool accumulate, float* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const int64_t column_at = example * channels * spatial + e % spatial;
    const float gradient =
        terms::lrn_gradient(x + column_at, delta + column_at, spatial, c, channels, p);
    terms::store_gradient(dx + e, gradient, true, accumulate);
  }
}

}  // namespace

void max_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x, int64_t rows,
                      float* y) {
  if (!checks::max_pool_forward(ctx, g, x, rows, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * g.channels * terms::map_volume(g.out);
  pool_forward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(g, true, x, n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void max_pool_backward(const Context& ctx, const PoolGeometry& g, const float* x,
                       const float* delta, int64_t rows, bool accumulate, float* dx) {
  if (!checks::max_pool_backward(ctx, g, x, delta, rows, accumulate, dx)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * g.channels * terms::map_volume(g.in);
  pool_backward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(g, true, x, delta, n,
                                                                       accumulate, dx);
  DSSTNE_CHECK_LAST_KERNEL();
}

void average_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x,
                          int64_t rows, float* y) {
  if (!checks::average_pool_forward(ctx, g, x, rows, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * g.channels * terms::map_volume(g.out);
  pool_forward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(g, false, x, n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void average_pool_backward(const Context& ctx, const PoolGeometry& g, const float* delta,
                           int64_t rows, bool accumulate, float* dx) {
  if (!checks::average_pool_backward(ctx, g, delta, rows, accumulate, dx)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * g.channels * terms::map_volume(g.in);
  pool_backward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(g, false, nullptr, delta,
                                                                       n, accumulate, dx);
  DSSTNE_CHECK_LAST_KERNEL();
}

void lrn_forward(const Context& ctx, const LrnParams& p, const float* x, int64_t rows,
                 int64_t channels, int64_t spatial, float* y) {
  if (!checks::lrn_forward(ctx, p, x, rows, channels, spatial, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * channels * spatial;
  lrn_forward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(p, x, channels, spatial, n,
                                                                     y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void lrn_backward(const Context& ctx, const LrnParams& p, const float* x, const float* delta,
                  int64_t rows, int64_t channels, int64_t spatial, bool accumulate, float* dx) {
  if (!checks::lrn_backward(ctx, p, x, delta, rows, channels, spatial, accumulate, dx)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * channels * spatial;
  lrn_backward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(p, x, delta, channels,
                                                                      spatial, n, accumulate, dx);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
