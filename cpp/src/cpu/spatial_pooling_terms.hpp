// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file spatial_pooling_terms.hpp
/// @brief The window arithmetic and element formulas of spatial pooling (Max, Average) and
/// cross-channel LRN (spec/math.md §9.2), shared by the CPU reference and the CUDA kernels.
///
/// Max and Average: one output element scans its window in z, y, x order (x fastest); the
/// backward passes gather, one input position at a time, over the output windows that cover it
/// in the same ascending order. Every float operation is one IEEE operation rounded on its own
/// (explicit intrinsics on the device, -ffp-contract=off on the CPU), so both backends give the
/// same bits. LRN works in double and rounds once; its pow comes from each side's math library.

#include <math.h>

#include <cstdint>

#include "cpu/pooling_terms.hpp"  // mul_d, add_d, sub_d
#include "dsstne/kernel_types.hpp"
#include "dsstne/rng.hpp"  // DSSTNE_HOST_DEVICE

namespace dsstne::terms {

#if defined(__CUDA_ARCH__)
DSSTNE_HOST_DEVICE float add_f(float x, float y) { return __fadd_rn(x, y); }
DSSTNE_HOST_DEVICE float div_f(float x, float y) { return __fdiv_rn(x, y); }
#else
DSSTNE_HOST_DEVICE float add_f(float x, float y) { return x + y; }
DSSTNE_HOST_DEVICE float div_f(float x, float y) { return x / y; }
#endif

/// A half-open range of positions along one axis (or of channels).
struct Span {
  int64_t begin;
  int64_t end;
};

/// The input positions of output window o along one axis, clipped to the input: padding only
/// shifts the window, it is never read.
DSSTNE_HOST_DEVICE Span window_span(int64_t o, int64_t in, int64_t kernel, int64_t stride,
                                    int64_t pad) {
  const int64_t start = o * stride - pad;
  return Span{start < 0 ? 0 : start, start + kernel < in ? start + kernel : in};
}

/// The output windows along one axis that hold input position i:
/// o·stride − pad ≤ i < o·stride − pad + kernel, clipped to [0, out).
DSSTNE_HOST_DEVICE Span covering_windows(int64_t i, int64_t out, int64_t kernel, int64_t stride,
                                         int64_t pad) {
  const int64_t last = (i + pad) / stride;  // i + pad ≥ 0
  const int64_t reach = i + pad - kernel;   // windows starting at or before this miss i
  const int64_t first = reach < 0 ? 0 : reach / stride + 1;
  return Span{first, last + 1 < out ? last + 1 : out};
}

/// A position in a map, x fastest.
struct MapPosition {
  int64_t at[3];  // x, y, z
};

DSSTNE_HOST_DEVICE MapPosition map_position(int64_t offset, const int64_t extent[3]) {
  return MapPosition{{offset % extent[0], (offset / extent[0]) % extent[1],
                      offset / (extent[0] * extent[1])}};
}

DSSTNE_HOST_DEVICE int64_t map_volume(const int64_t extent[3]) {
  return extent[0] * extent[1] * extent[2];
}

/// The clipped window of the output element at `o` (always at least one position, by the
/// geometry check).
struct PoolWindow {
  Span axis[3];
};

DSSTNE_HOST_DEVICE PoolWindow pool_window(const PoolGeometry& g, const MapPosition& o) {
  PoolWindow w;
  for (int a = 0; a < 3; ++a)
    w.axis[a] = window_span(o.at[a], g.in[a], g.kernel[a], g.stride[a], g.pad[a]);
  return w;
}

/// Whether `candidate`, met later in the scan, takes over the maximum from `best`: when larger,
/// or when a NaN, unless `best` is already a NaN. So the first NaN wins (a NaN must reach the
/// loss and the divergence check) and among equal values the first one met.
DSSTNE_HOST_DEVICE bool takes_maximum(float candidate, float best) {
  return best == best && (candidate > best || candidate != candidate);
}

/// The offset within `map` of the window's winner, scanning z, y, x ascending.
DSSTNE_HOST_DEVICE int64_t window_winner(const float* map, const PoolGeometry& g,
                                         const PoolWindow& w) {
  int64_t winner = -1;
  float best = 0.0f;
  for (int64_t z = w.axis[2].begin; z < w.axis[2].end; ++z)
    for (int64_t y = w.axis[1].begin; y < w.axis[1].end; ++y)
      for (int64_t x = w.axis[0].begin; x < w.axis[0].end; ++x) {
        const int64_t at = (z * g.in[1] + y) * g.in[0] + x;
        if (winner < 0 || takes_maximum(map[at], best)) {
          winner = at;
          best = map[at];
        }
      }
  return winner;
}

/// The number of input positions in the window: the average's divisor (padding excluded).
DSSTNE_HOST_DEVICE float window_count(const PoolWindow& w) {
  return static_cast<float>((w.axis[0].end - w.axis[0].begin) *
                            (w.axis[1].end - w.axis[1].begin) *
                            (w.axis[2].end - w.axis[2].begin));
}

/// The window's average: a float sum in scan order from +0, divided by the count.
DSSTNE_HOST_DEVICE float window_average(const float* map, const PoolGeometry& g,
                                        const PoolWindow& w) {
  float sum = 0.0f;
  for (int64_t z = w.axis[2].begin; z < w.axis[2].end; ++z)
    for (int64_t y = w.axis[1].begin; y < w.axis[1].end; ++y)
      for (int64_t x = w.axis[0].begin; x < w.axis[0].end; ++x)
        sum = add_f(sum, map[(z * g.in[1] + y) * g.in[0] + x]);
  return div_f(sum, window_count(w));
}

/// The gradient of input position `own` of one map: the deltas of the output windows that
/// cover it, in ascending z, y, x order. With `map` set (Max) only the windows whose winner it
/// is count, each giving its whole delta; without (Average) every covering window gives
/// delta / count. `any` says whether some window gave it something.
DSSTNE_HOST_DEVICE float gathered_gradient(const PoolGeometry& g, const float* map,
                                           const float* map_delta, int64_t own, bool& any) {
  const MapPosition i = map_position(own, g.in);
  Span cover[3];
  for (int a = 0; a < 3; ++a)
    cover[a] = covering_windows(i.at[a], g.out[a], g.kernel[a], g.stride[a], g.pad[a]);
  float sum = 0.0f;
  any = false;
  for (int64_t oz = cover[2].begin; oz < cover[2].end; ++oz)
    for (int64_t oy = cover[1].begin; oy < cover[1].end; ++oy)
      for (int64_t ox = cover[0].begin; ox < cover[0].end; ++ox) {
        const PoolWindow w = pool_window(g, MapPosition{{ox, oy, oz}});
        const float d = map_delta[(oz * g.out[1] + oy) * g.out[0] + ox];
        if (map != nullptr) {
          if (window_winner(map, g, w) != own) continue;
          sum = add_f(sum, d);
        } else {
          sum = add_f(sum, div_f(d, window_count(w)));
        }
        any = true;
      }
  return sum;
}

/// Writes or adds one input position's gradient; an accumulated delta that no window reached
/// is left as it was (as maxout_backward does), an overwritten one becomes +0.
DSSTNE_HOST_DEVICE void store_gradient(float* dx, float gradient, bool any, bool accumulate) {
  if (!accumulate)
    *dx = gradient;
  else if (any)
    *dx = add_f(*dx, gradient);
}

// ---- LRN ------------------------------------------------------------------------------------
// With W(c) = channels c − ⌊(n−1)/2⌋ … c + ⌈(n−1)/2⌉ clipped to [0, channels) (cuDNN's window;
// an even n reaches one channel further up than down), s_c = k + (α/n)·Σ_{j∈W(c)} x_j² and
// y_c = x_c·s_c^(−β). Since ∂s_c/∂x_i = (2α/n)·x_i for i ∈ W(c):
//   ∂E/∂x_i = δ_i·s_i^(−β) − (2αβ/n)·x_i·Σ_{c : i∈W(c)} δ_c·x_c·s_c^(−β−1),
// and i ∈ W(c) ⇔ c ∈ [i − ⌈(n−1)/2⌉, i + ⌊(n−1)/2⌋] (lrn_users). The divisor is n even where
// the window is clipped, as in cuDNN.

/// The channels in the window of channel c.
DSSTNE_HOST_DEVICE Span lrn_window(int64_t c, int64_t channels, int64_t n) {
  const int64_t below = (n - 1) / 2, above = n - 1 - below;
  return Span{c - below < 0 ? 0 : c - below, c + above + 1 < channels ? c + above + 1 : channels};
}

/// The channels whose window holds channel i.
DSSTNE_HOST_DEVICE Span lrn_users(int64_t i, int64_t channels, int64_t n) {
  const int64_t below = (n - 1) / 2, above = n - 1 - below;
  return Span{i - above < 0 ? 0 : i - above, i + below + 1 < channels ? i + below + 1 : channels};
}

/// s_c for channel c; `column` is channel 0 of one example at one spatial position, channels
/// `spatial` apart.
DSSTNE_HOST_DEVICE double lrn_base(const float* column, int64_t spatial, int64_t c,
                                   int64_t channels, const LrnParams& p) {
  const Span w = lrn_window(c, channels, p.n);
  double squares = 0.0;
  for (int64_t j = w.begin; j < w.end; ++j) {
    const double v = column[j * spatial];
    squares = add_d(squares, mul_d(v, v));
  }
  const double scale = static_cast<double>(p.alpha) / static_cast<double>(p.n);
  return add_d(static_cast<double>(p.k), mul_d(scale, squares));
}

DSSTNE_HOST_DEVICE float lrn_value(const float* column, int64_t spatial, int64_t c,
                                   int64_t channels, const LrnParams& p) {
  const double s = lrn_base(column, spatial, c, channels, p);
  return static_cast<float>(mul_d(column[c * spatial], pow(s, -static_cast<double>(p.beta))));
}

/// ∂E/∂x_i from the incoming deltas (laid out like `column`), as written out above.
DSSTNE_HOST_DEVICE float lrn_gradient(const float* column, const float* delta_column,
                                      int64_t spatial, int64_t i, int64_t channels,
                                      const LrnParams& p) {
  const double beta = p.beta;
  const double own = mul_d(delta_column[i * spatial],
                           pow(lrn_base(column, spatial, i, channels, p), -beta));
  const Span users = lrn_users(i, channels, p.n);
  double coupled = 0.0;
  for (int64_t c = users.begin; c < users.end; ++c) {
    const double s = lrn_base(column, spatial, c, channels, p);
    const double term = mul_d(mul_d(delta_column[c * spatial], column[c * spatial]),
                              pow(s, -beta - 1.0));
    coupled = add_d(coupled, term);
  }
  const double factor = mul_d(2.0 * static_cast<double>(p.alpha) / static_cast<double>(p.n), beta);
  return static_cast<float>(sub_d(own, mul_d(mul_d(factor, column[i * spatial]), coupled)));
}

}  // namespace dsstne::terms
