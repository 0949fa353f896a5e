// SPDX-License-Identifier: Apache-2.0
/// @file convolution.cpp
/// @brief Convolution (cross-correlation, dilation 1) forward, backward to the data and to the
/// filters, and the per-channel bias helpers: the CPU reference.
///
/// Shapes, with W = in_channels·kz·ky·kx (the unfolded window) and S = out[2]·out[1]·out[0]:
///   x      rows × in_channels × in[2] × in[1] × in[0]
///   y, δ   rows × out_channels × S
///   w, dw  out_channels × W            (out_c × in_c × kz × ky × kx, the filter order)
///   cols   W × T                       (one example's unfolded input, T ≤ S output positions)
/// Each example is unfolded (im2col) one tile of T output positions at a time, so the scratch
/// stays bounded, and multiplied with the filters through cpu::gemm (OpenBLAS, the context's
/// GEMM math). Examples and tiles run in a fixed order; threads only split the unfolding, the
/// folding back (per channel) and the products inside BLAS, none of which changes an addition
/// order, so results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/pooling_terms.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {
namespace {

/// Floats of one unfolded tile (16 MiB): a tile covers at least one output position.
constexpr int64_t kColumnBudget = int64_t(1) << 22;
constexpr int64_t kParallelMin = 1 << 14;

/// The sizes every kernel below walks.
struct Layout {
  int64_t in_volume, out_volume, kernel_volume, window, tile;
  explicit Layout(const ConvGeometry& g)
      : in_volume(g.in[0] * g.in[1] * g.in[2]),
        out_volume(g.out[0] * g.out[1] * g.out[2]),
        kernel_volume(g.kernel[0] * g.kernel[1] * g.kernel[2]),
        window(g.in_channels * kernel_volume),
        tile(std::clamp<int64_t>(kColumnBudget / window, 1, out_volume)) {}
};

/// Calls visit(j, at, o) for the window rows j in [j0, j1), j = ((c·kz + kz')·ky + ky')·kx + kx'
/// (the filter order), and the output positions o0 + o, o in [0, n), in that order: `at` is the
/// offset within one example's input that position o reads through row j, or −1 for padding.
template <typename Visit>
void walk_rows(const ConvGeometry& g, const Layout& l, int64_t j0, int64_t j1, int64_t o0,
               int64_t n, Visit visit) {
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t c = j / l.kernel_volume, k = j % l.kernel_volume;
    const int64_t kx = k % g.kernel[0], ky = (k / g.kernel[0]) % g.kernel[1],
                  kz = k / (g.kernel[0] * g.kernel[1]);
    // The position (ox, oy, oz) of o0, then stepped along x with carries (no divisions).
    int64_t ox = o0 % g.out[0], oy = (o0 / g.out[0]) % g.out[1], oz = o0 / (g.out[0] * g.out[1]);
    for (int64_t o = 0; o < n; ++o) {
      // Output position o reads input o·stride − pad + k on each axis; outside [0, in) is zero.
      const int64_t ix = ox * g.stride[0] - g.pad[0] + kx;
      const int64_t iy = oy * g.stride[1] - g.pad[1] + ky;
      const int64_t iz = oz * g.stride[2] - g.pad[2] + kz;
      const bool inside = ix >= 0 && iy >= 0 && iz >= 0 && ix < g.in[0] && iy < g.in[1] &&
                          iz < g.in[2];
      visit(j, inside ? c * l.in_volume + (iz * g.in[1] + iy) * g.in[0] + ix : -1, o);
      if (++ox == g.out[0]) {
        ox = 0;
        if (++oy == g.out[1]) {
          oy = 0;
          ++oz;
        }
      }
    }
  }
}

/// cols (W × n) ← the unfolded input of one example x_r for output positions [o0, o0 + n).
/// Threads split the window rows: every element is a copy, so no order is at stake.
void im2col(const ConvGeometry& g, const Layout& l, const float* x_r, int64_t o0, int64_t n,
            float* cols) {
#pragma omp parallel for schedule(static) if (l.window * n >= kParallelMin)
  for (int64_t j = 0; j < l.window; ++j) {
    walk_rows(g, l, j, j + 1, o0, n, [&](int64_t row, int64_t at, int64_t o) {
      cols[row * n + o] = at >= 0 ? x_r[at] : 0.0f;
    });
  }
}

/// dx_r (one example's input) += cols (W × n) of positions [o0, o0 + n) folded back. A channel's
/// map is one thread's and gains its terms in (window row, position) order, for any thread count.
void col2im(const ConvGeometry& g, const Layout& l, const float* cols, int64_t o0, int64_t n,
            float* dx_r) {
#pragma omp parallel for schedule(static) if (l.window * n >= kParallelMin)
  for (int64_t c = 0; c < g.in_channels; ++c) {
    walk_rows(g, l, c * l.kernel_volume, (c + 1) * l.kernel_volume, o0, n,
              [&](int64_t row, int64_t at, int64_t o) {
                if (at >= 0) dx_r[at] += cols[row * n + o];
              });
  }
}

}  // namespace

void conv_forward(const Context& ctx, const ConvGeometry& g, const float* x, const float* w,
                  int64_t rows, bool accumulate, float* y) {
  if (!checks::conv_forward(ctx, g, x, w, rows, accumulate, y)) return;
  const Layout l(g);
  std::vector<float> cols(std::size_t(l.window * l.tile));
  for (int64_t r = 0; r < rows; ++r) {
    const float* x_r = x + r * g.in_channels * l.in_volume;
    float* y_r = y + r * g.out_channels * l.out_volume;
    for (int64_t o0 = 0; o0 < l.out_volume; o0 += l.tile) {
      const int64_t n = std::min(l.tile, l.out_volume - o0);
      im2col(g, l, x_r, o0, n, cols.data());
      // y_r[:, o0:o0+n] (out_c × n, row pitch S) (+)= w (out_c × W) · cols (W × n).
      gemm(ctx, false, false, g.out_channels, n, l.window, 1.0f, w, l.window, cols.data(), n,
           accumulate ? 1.0f : 0.0f, y_r + o0, l.out_volume);
    }
  }
}

void conv_backward_data(const Context& ctx, const ConvGeometry& g, const float* w,
                        const float* delta, int64_t rows, bool accumulate, float* dx) {
  if (!checks::conv_backward_data(ctx, g, w, delta, rows, accumulate, dx)) return;
  const Layout l(g);
  const int64_t in_example = g.in_channels * l.in_volume;
  std::vector<float> cols(std::size_t(l.window * l.tile));
  // One example's gradient is gathered here first, so an accumulated dx gains it in one
  // addition (old + gradient), as the CUDA backend's beta = 1 does.
  std::vector<float> gradient(static_cast<std::size_t>(in_example));
  for (int64_t r = 0; r < rows; ++r) {
    const float* delta_r = delta + r * g.out_channels * l.out_volume;
    std::fill(gradient.begin(), gradient.end(), 0.0f);
    for (int64_t o0 = 0; o0 < l.out_volume; o0 += l.tile) {
      const int64_t n = std::min(l.tile, l.out_volume - o0);
      // cols (W × n) = wᵀ (W × out_c) · delta_r[:, o0:o0+n] (out_c × n, row pitch S).
      gemm(ctx, true, false, l.window, n, g.out_channels, 1.0f, w, l.window, delta_r + o0,
           l.out_volume, 0.0f, cols.data(), n);
      col2im(g, l, cols.data(), o0, n, gradient.data());
    }
    float* dx_r = dx + r * in_example;
    for (int64_t i = 0; i < in_example; ++i)
      dx_r[i] = accumulate ? dx_r[i] + gradient[std::size_t(i)] : gradient[std::size_t(i)];
  }
}

void conv_backward_filter(const Context& ctx, const ConvGeometry& g, const float* x,
                          const float* delta, int64_t rows, float scale, float beta, float* dw) {
  if (!checks::conv_backward_filter(ctx, g, x, delta, rows, scale, beta, dw)) return;
  const Layout l(g);
  const int64_t filters = g.out_channels * l.window;
  // dw ← beta·dw first; beta 0 writes zeros, so NaN left in dw cannot survive.
  for (int64_t i = 0; i < filters; ++i) dw[i] = beta == 0.0f ? 0.0f : beta * dw[i];
  std::vector<float> cols(std::size_t(l.window * l.tile));
  for (int64_t r = 0; r < rows; ++r) {
    const float* x_r = x + r * g.in_channels * l.in_volume;
    const float* delta_r = delta + r * g.out_channels * l.out_volume;
    for (int64_t o0 = 0; o0 < l.out_volume; o0 += l.tile) {
      const int64_t n = std::min(l.tile, l.out_volume - o0);
      im2col(g, l, x_r, o0, n, cols.data());
      // dw (out_c × W) += scale · delta_r[:, o0:o0+n] (out_c × n, row pitch S) · colsᵀ (n × W).
      gemm(ctx, false, true, g.out_channels, l.window, n, scale, delta_r + o0, l.out_volume,
           cols.data(), n, 1.0f, dw, l.window);
    }
  }
}

void add_channel_bias(const Context& ctx, const float* b, int64_t rows, int64_t channels,
                      int64_t spatial, float* y) {
  // y: rows × channels × spatial, b: channels. One float addition per element (CUDA's bits).
  if (!checks::add_channel_bias(ctx, b, rows, channels, spatial, y)) return;
  const int64_t maps = rows * channels;
#pragma omp parallel for schedule(static) if (maps * spatial >= kParallelMin)
  for (int64_t m = 0; m < maps; ++m) {
    const float v = b[m % channels];
    float* map = y + m * spatial;
    for (int64_t s = 0; s < spatial; ++s) map[s] += v;
  }
}

void channel_mean(const Context& ctx, const float* x, int64_t rows, int64_t channels,
                  int64_t spatial, float* out) {
  // x: rows × channels × spatial, out: channels. Channel c's values, numbered i = r·spatial + s,
  // are summed in double by the pooling reductions' lanes (pooling_terms.hpp): lane t adds
  // i = t, t + L, t + 2L … in order, then the lanes meet in a halving tree. The CUDA kernel runs
  // one thread per lane, so both give the same bits. The mean is one double division, rounded
  // to float once; an empty batch gives 0.
  if (!checks::channel_mean(ctx, x, rows, channels, spatial, out)) return;
  constexpr int kLanes = terms::kPoolingLanes;
  const int64_t n = rows * spatial;
#pragma omp parallel for schedule(static) if (n * channels >= kParallelMin)
  for (int64_t c = 0; c < channels; ++c) {
    double lanes[kLanes] = {};
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = i / spatial, s = i % spatial;
      lanes[i % kLanes] += static_cast<double>(x[(r * channels + c) * spatial + s]);
    }
    for (int half = kLanes / 2; half >= 1; half /= 2)
      for (int t = 0; t < half; ++t) lanes[t] += lanes[t + half];
    out[c] = rows == 0 ? 0.0f : static_cast<float>(lanes[0] / static_cast<double>(rows));
  }
}

}  // namespace dsstne::cpu
