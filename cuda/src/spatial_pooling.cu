// SPDX-License-Identifier: Apache-2.0
// Spatial Max and Average pooling and cross-channel LRN, forward and backward (reference:
// cpp/src/cpu/spatial_pooling.cpp), in grid-stride loops over a grid bounded by kMaxBlocks.
// Forward: one thread per output element. Average backward: one thread per input element,
// gathering from the covering windows in ascending order (no atomics). Max backward: a first
// kernel writes each window's winner (its offset in the map) into scratch, then one thread per
// input element gathers, in the same ascending order, the deltas of the covering windows whose
// winner it is. LRN backward: one thread per (example, spatial position, run of channels) walks
// the channels once, keeping the last n per-channel terms in shared memory. The formulas are the
// CPU's (cpu/spatial_pooling_terms.hpp, explicitly rounded), so Max and Average give its bits;
// LRN differs only by CUDA's double pow.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "cpu/spatial_pooling_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;
/// The most window winners one max_pool_backward pass keeps in scratch (64 MiB of int32); a
/// larger batch runs in chunks of examples.
constexpr int64_t kMaxWinners = int64_t(1) << 24;
/// Channels one LRN backward thread walks (plus the n − 1 neighbours their terms reach).
constexpr int64_t kLrnRun = 32;
/// Shared memory an LRN backward block may take for its per-thread rings of terms.
constexpr std::size_t kLrnSharedBytes = 48 * 1024;

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), kMaxBlocks));
}

/// Max (`maximum`) or Average forward for one output element per thread.
__global__ void pool_forward_kernel(PoolGeometry g, bool maximum, const float* __restrict__ x,
                                    int64_t n, float* __restrict__ y) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float* map = x + (e / out_volume) * in_volume;
    const auto w = terms::pool_window(g, terms::map_position(e % out_volume, g.out));
    y[e] = maximum ? map[terms::window_winner(map, g, w)] : terms::window_average(map, g, w);
  }
}

/// Max (`maximum`, re-scanning each covering window) or Average backward for one input element
/// per thread. Max uses it only for maps too large for int32 winner offsets.
__global__ void pool_backward_kernel(PoolGeometry g, bool maximum, const float* __restrict__ x,
                                     const float* __restrict__ delta, int64_t n, bool accumulate,
                                     float* __restrict__ dx) {
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

/// winners[e] = the offset within its map of output window e's winner (the position
/// max_pool_forward copies), for the n windows of a run of examples.
__global__ void pool_winner_kernel(PoolGeometry g, const float* __restrict__ x, int64_t n,
                                   int32_t* __restrict__ winners) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float* map = x + (e / out_volume) * in_volume;
    const auto w = terms::pool_window(g, terms::map_position(e % out_volume, g.out));
    winners[e] = static_cast<int32_t>(terms::window_winner(map, g, w));
  }
}

/// Max backward for one input element per thread from the winners of pool_winner_kernel: the
/// deltas of the covering windows whose winner it is, added in ascending z, y, x order from +0,
/// as terms::gathered_gradient adds them.
__global__ void max_pool_gather_kernel(PoolGeometry g, const int32_t* __restrict__ winners,
                                       const float* __restrict__ delta, int64_t n,
                                       bool accumulate, float* __restrict__ dx) {
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t map_index = e / in_volume, own = e % in_volume;
    const int32_t* map_winners = winners + map_index * out_volume;
    const float* map_delta = delta + map_index * out_volume;
    const terms::MapPosition i = terms::map_position(own, g.in);
    terms::Span cover[3];
    for (int a = 0; a < 3; ++a)
      cover[a] = terms::covering_windows(i.at[a], g.out[a], g.kernel[a], g.stride[a], g.pad[a]);
    float sum = 0.0f;
    bool any = false;
    for (int64_t oz = cover[2].begin; oz < cover[2].end; ++oz)
      for (int64_t oy = cover[1].begin; oy < cover[1].end; ++oy)
        for (int64_t ox = cover[0].begin; ox < cover[0].end; ++ox) {
          const int64_t o = (oz * g.out[1] + oy) * g.out[0] + ox;
          if (map_winners[o] != own) continue;
          sum = terms::add_f(sum, map_delta[o]);
          any = true;
        }
    terms::store_gradient(dx + e, sum, any, accumulate);
  }
}

__global__ void lrn_forward_kernel(LrnParams p, const float* __restrict__ x, int64_t channels,
                                   int64_t spatial, int64_t n, float* __restrict__ y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const float* column = x + example * channels * spatial + e % spatial;
    y[e] = terms::lrn_value(column, spatial, c, channels, p);
  }
}

/// LRN backward for one element per thread (terms::lrn_gradient, n + 1 window sums and pows
/// each): the fallback for an n too wide for lrn_backward_run_kernel's shared rings.
__global__ void lrn_backward_kernel(LrnParams p, const float* __restrict__ x,
                                    const float* __restrict__ delta, int64_t channels,
                                    int64_t spatial, int64_t n, bool accumulate,
                                    float* __restrict__ dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t example = e / (channels * spatial), c = (e / spatial) % channels;
    const int64_t column_at = example * channels * spatial + e % spatial;
    const float gradient =
        terms::lrn_gradient(x + column_at, delta + column_at, spatial, c, channels, p);
    terms::store_gradient(dx + e, gradient, true, accumulate);
  }
}

/// LRN backward with each channel's s_c computed once: thread e handles one example, one
/// spatial position and channels [c0, c0 + kLrnRun). It walks c from the first user of c0 up,
/// computing s_c (terms::lrn_base), the coupled term δ_c·x_c·s_c^(−β−1) and, inside the run, the
/// own term δ_c·s_c^(−β); the last n of each stay in a ring of shared memory (slot k of this
/// thread at ring[k·blockDim.x]). Channel i is written once the terms of all its users exist,
/// summing them in ascending c from 0 as terms::lrn_gradient does: the same double operations
/// on the same values, so the same bits as the per-element kernel, with 2 pows per channel
/// (1 in the n − 1 halo) instead of n + 1, and n loads of x per channel instead of n·(n + 1).
__global__ void lrn_backward_run_kernel(LrnParams p, const float* __restrict__ x,
                                        const float* __restrict__ delta, int64_t channels,
                                        int64_t spatial, int64_t runs, int64_t n,
                                        bool accumulate, float* __restrict__ dx) {
  extern __shared__ double lrn_rings[];
  const int width = static_cast<int>(p.n);  // ≤ 96 (lrn_run_threads)
  double* coupled_ring = lrn_rings + threadIdx.x;
  double* own_ring = lrn_rings + std::size_t(width) * blockDim.x + threadIdx.x;
  const double beta = p.beta;
  const double factor =
      terms::mul_d(2.0 * static_cast<double>(p.alpha) / static_cast<double>(p.n), beta);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t position = e % spatial, run = (e / spatial) % runs;
    const int64_t example = e / (spatial * runs);
    const int64_t column_at = example * channels * spatial + position;
    const float* column = x + column_at;
    const float* delta_column = delta + column_at;
    const int64_t c0 = run * kLrnRun, c1 = c0 + kLrnRun < channels ? c0 + kLrnRun : channels;
    const int64_t first = terms::lrn_users(c0, channels, p.n).begin;
    int64_t next = first;  // the next channel whose terms are computed
    int slot = 0;          // its ring slot: (next − first) mod width
    for (int64_t i = c0; i < c1; ++i) {
      const terms::Span users = terms::lrn_users(i, channels, p.n);
      for (; next < users.end; ++next) {
        const double s = terms::lrn_base(column, spatial, next, channels, p);
        const double d = delta_column[next * spatial];
        coupled_ring[slot * blockDim.x] =
            terms::mul_d(terms::mul_d(d, column[next * spatial]), pow(s, -beta - 1.0));
        if (next >= c0) own_ring[slot * blockDim.x] = terms::mul_d(d, pow(s, -beta));
        slot = slot + 1 == width ? 0 : slot + 1;
      }
      int k = static_cast<int>((users.begin - first) % width);
      double coupled = 0.0;
      for (int64_t c = users.begin; c < users.end; ++c) {
        coupled = terms::add_d(coupled, coupled_ring[k * blockDim.x]);
        k = k + 1 == width ? 0 : k + 1;
      }
      const double own = own_ring[static_cast<int>((i - first) % width) * blockDim.x];
      const float gradient = static_cast<float>(
          terms::sub_d(own, terms::mul_d(terms::mul_d(factor, column[i * spatial]), coupled)));
      terms::store_gradient(dx + column_at + i * spatial, gradient, true, accumulate);
    }
  }
}

/// Threads per block of lrn_backward_run_kernel for window n (a multiple of 32 whose two rings
/// of n doubles each fit kLrnSharedBytes), or 0 when not even 32 threads' rings fit.
unsigned int lrn_run_threads(int64_t window) {
  if (window > int64_t(kLrnSharedBytes / (2 * 32 * sizeof(double)))) return 0;  // over 96
  const auto ring_bytes = [window](unsigned int threads) {
    return 2 * std::size_t(window) * threads * sizeof(double);
  };
  unsigned int threads = kThreads;
  while (threads > 32 && ring_bytes(threads) > kLrnSharedBytes) threads /= 2;
  return ring_bytes(threads) <= kLrnSharedBytes ? threads : 0;
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
  const int64_t in_volume = terms::map_volume(g.in), out_volume = terms::map_volume(g.out);
  const int64_t example_in = g.channels * in_volume, example_out = g.channels * out_volume;
  if (in_volume > std::numeric_limits<int32_t>::max()) {  // no int32 winner offsets: re-scan
    const int64_t n = rows * example_in;
    pool_backward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(g, true, x, delta, n,
                                                                         accumulate, dx);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  const int64_t chunk = std::max<int64_t>(1, std::min(rows, kMaxWinners / example_out));
  const auto slots = static_cast<std::size_t>(chunk * example_out);
  Scratch scratch(s, Scratch::round_up(slots * sizeof(int32_t)), "max_pool_backward");
  int32_t* winners = scratch.take<int32_t>(slots);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r = std::min(chunk, rows - r0);
    const int64_t windows = r * example_out, inputs = r * example_in;
    pool_winner_kernel<<<element_blocks(windows), kThreads, 0, s.stream()>>>(
        g, x + r0 * example_in, windows, winners);
    DSSTNE_CHECK_LAST_KERNEL();
    max_pool_gather_kernel<<<element_blocks(inputs), kThreads, 0, s.stream()>>>(
        g, winners, delta + r0 * example_out, inputs, accumulate, dx + r0 * example_in);
    DSSTNE_CHECK_LAST_KERNEL();
  }
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
  const unsigned int threads = lrn_run_threads(p.n);
  if (threads == 0) {
    const int64_t n = rows * channels * spatial;
    lrn_backward_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(
        p, x, delta, channels, spatial, n, accumulate, dx);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  const int64_t runs = (channels + kLrnRun - 1) / kLrnRun;
  const int64_t n = rows * runs * spatial;
  const auto blocks =
      static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, threads), kMaxBlocks));
  const std::size_t shared = 2 * std::size_t(p.n) * threads * sizeof(double);
  lrn_backward_run_kernel<<<blocks, threads, shared, s.stream()>>>(p, x, delta, channels, spatial,
                                                                   runs, n, accumulate, dx);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
