// SPDX-License-Identifier: Apache-2.0
/// @file spatial_pooling.cpp
/// @brief Spatial Max and Average pooling and cross-channel LRN, forward and backward
/// (spec/math.md §9.2), the CPU reference. Each output or input element is computed on its own
/// by the formulas of spatial_pooling_terms.hpp, which the CUDA kernels share: results do not
/// depend on the thread count, and Max and Average match CUDA bit for bit.
#include "cpu/spatial_pooling_terms.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 14;

/// Max or Average forward over every output element.
void pool_forward(const PoolGeometry& g, bool maximum, const float* x, int64_t rows, float* y) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  const int64_t n = rows * g.channels * out_volume;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) {
    const float* map = x + (e / out_volume) * in_volume;
    const auto w = terms::pool_window(g, terms::map_position(e % out_volume, g.out));
    y[e] = maximum ? map[terms::window_winner(map, g, w)] : terms::window_average(map, g, w);
  }
}

/// Max (`x` set) or Average backward over every input element.
void pool_backward(const PoolGeometry& g, const float* x, const float* delta, int64_t rows,
                   bool accumulate, float* dx) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  const int64_t n = rows * g.channels * in_volume;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) {
    const int64_t map_index = e / in_volume;
    const float* map = x != nullptr ? x + map_index * in_volume : nullptr;
    bool any = false;
    const float gradient = terms::gathered_gradient(g, map, delta + map_index * out_volume,
                                                    e % in_volume, any);
    terms::store_gradient(dx + e, gradient, any, accumulate);
  }
}

}  // namespace

void max_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x, int64_t rows,
                      float* y) {
  if (!checks::max_pool_forward(ctx, g, x, rows, y)) return;
  pool_forward(g, true, x, rows, y);
}

void max_pool_backward(const Context& ctx, const PoolGeometry& g, const float* x,
                       const float* delta, int64_t rows, bool accumulate, float* dx) {
  if (!checks::max_pool_backward(ctx, g, x, delta, rows, accumulate, dx)) return;
  pool_backward(g, x, delta, rows, accumulate, dx);
}

void average_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x,
                          int64_t rows, float* y) {
  if (!checks::average_pool_forward(ctx, g, x, rows, y)) return;
  pool_forward(g, false, x, rows, y);
}

void average_pool_backward(const Context& ctx, const PoolGeometry& g, const float* delta,
                           int64_t rows, bool accumulate, float* dx) {
  if (!checks::average_pool_backward(ctx, g, delta, rows, accumulate, dx)) return;
  pool_backward(g, nullptr, delta, rows, accumulate, dx);
}

void lrn_forward(const Context& ctx, const LrnParams& p, const float* x, int64_t rows,
                 int64_t channels, int64_t spatial, float* y) {
  if (!checks::lrn_forward(ctx, p, x, rows, channels, spatial, y)) return;
  const int64_t n = rows * channels * spatial;
#pragma omp parallel for schedule(static) if (n * p.n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const float* column = x + example * channels * spatial + e % spatial;
    y[e] = terms::lrn_value(column, spatial, c, channels, p);
  }
}

void lrn_backward(const Context& ctx, const LrnParams& p, const float* x, const float* delta,
                  int64_t rows, int64_t channels, int64_t spatial, bool accumulate, float* dx) {
  if (!checks::lrn_backward(ctx, p, x, delta, rows, channels, spatial, accumulate, dx)) return;
  const int64_t n = rows * channels * spatial;
#pragma omp parallel for schedule(static) if (n * p.n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const int64_t column_at = example * channels * spatial + e % spatial;
    const float gradient =
        terms::lrn_gradient(x + column_at, delta + column_at, spatial, c, channels, p);
    terms::store_gradient(dx + e, gradient, true, accumulate);
  }
}

}  // namespace dsstne::cpu
