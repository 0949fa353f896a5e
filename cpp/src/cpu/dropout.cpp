// SPDX-License-Identifier: Apache-2.0
/// @file dropout.cpp
/// @brief CPU reference of training-time dropout (spec/math.md §6.1, with the backward pass
/// fixed): inverted dropout, or alpha dropout for ELU/SELU layers. The Bernoulli mask is kept so
/// the backward pass applies exactly the slope of the forward map.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

namespace {

bool uses_alpha_dropout(const ActivationParams& act) {
  return act.kind == Activation::ExponentialLinear ||
         act.kind == Activation::ScaledExponentialLinear;
}

/// The affine map of alpha dropout: dropped → a_s·α' + b_s, kept → a_s·a + b_s. Formed in double
/// and rounded once, so the per-element work is one float multiply-add any backend can repeat.
struct AlphaDropout {
  float a_s = 1.0f;
  float b_s = 0.0f;
  float dropped = 0.0f;  ///< a_s·α' + b_s
};

AlphaDropout alpha_dropout(const ActivationParams& act, float p) {
  const double lambda_d =
      act.kind == Activation::ScaledExponentialLinear ? static_cast<double>(act.lambda) : 1.0;
  const double alpha_prime = -lambda_d * static_cast<double>(act.alpha);
  const double q = p;
  const double a_s = 1.0 / std::sqrt(1.0 - q + alpha_prime * alpha_prime * q * (1.0 - q));
  const double b_s = -a_s * q * alpha_prime;
  return AlphaDropout{static_cast<float>(a_s), static_cast<float>(b_s),
                      static_cast<float>(a_s * alpha_prime + b_s)};
}

}  // namespace

void dropout_forward(const Context& ctx, const ActivationParams& act, float p,
                     const RandomStream& rs, int64_t row_pitch, int64_t col_begin, int64_t rows,
                     int64_t cols, float* a, float* saved, uint8_t* mask) {
  if (!checks::dropout_forward(ctx, act, p, rs, row_pitch, col_begin, rows, cols, a, saved, mask))
    return;
  const int64_t n = rows * cols;

  std::memcpy(saved, a, static_cast<size_t>(n) * sizeof(float));
  if (p <= 0.0f) {  // nothing dropped and nothing rescaled
    std::memset(mask, 1, static_cast<size_t>(n));
    return;
  }

  const bool alpha = uses_alpha_dropout(act);
  const AlphaDropout ad = alpha ? alpha_dropout(act, p) : AlphaDropout{};
  const float keep = 1.0f - p;

  // a, mask: rows × cols; unit (r, c) draws counter r·row_pitch + col_begin + c, so the mask
  // depends on the global unit, not on how the layer is split.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t base = static_cast<uint64_t>(r * row_pitch + col_begin);
    float* row = a + r * cols;
    uint8_t* row_mask = mask + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float u = random_uniform(rs.seed, rs.stream, base + static_cast<uint64_t>(c));
      const bool dropped = u < p;
      row_mask[c] = dropped ? 0 : 1;
      if (alpha) {
        row[c] = dropped ? ad.dropped : ad.a_s * row[c] + ad.b_s;
      } else {
        row[c] = dropped ? 0.0f : row[c] / keep;
      }
    }
  }
}

void dropout_backward(const Context& ctx, const ActivationParams& act, float p,
                      const uint8_t* mask, int64_t rows, int64_t cols, float* g) {
  if (!checks::dropout_backward(ctx, act, p, mask, rows, cols, g)) return;
  const int64_t n = rows * cols;

  // Slope of the forward map at kept units; dropped units are constants (slope 0).
  // With p <= 0 the forward pass was the identity (mask all 1), so slope 1.
  const bool alpha = p > 0.0f && uses_alpha_dropout(act);
  const bool inverted = p > 0.0f && !alpha;
  const float slope = alpha ? alpha_dropout(act, p).a_s : 1.0f;
  const float keep = 1.0f - p;

  // g, mask: rows × cols, element-wise.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if (mask[i] == 0) {
      g[i] = 0.0f;
    } else if (inverted) {
      g[i] = g[i] / keep;  // same rounding as the forward a / (1 − p)
    } else {
      g[i] = g[i] * slope;
    }
  }
}

}  // namespace dsstne::cpu
