// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file vector_math.hpp
/// @brief log and exp of a float for the CPU kernels, written so that GCC vectorizes the loops
/// that call them (libm's logf and expf are opaque calls, one element at a time). Host only: the
/// CUDA kernels keep CUDA's own logf and expf.
///
/// Only IEEE operations (+ − × ÷, compares, float/int conversions, bit moves), no branches, no
/// tables: a lane of a vector and a scalar call give the same bits. Every operation is done for
/// every input and the special cases are chosen at the end with `select`. Special values as
/// libm: NaN → NaN, log(±0) = −∞, log(x < 0) = NaN, log(+∞) = +∞, exp overflows to +∞ and
/// underflows through the denormals (correctly rounded there) to 0. Accuracy against libm over
/// the whole float range: tests/cpp/test_vector_math.cpp (1 ulp at most for both).
///
/// The polynomial coefficients are minimax fits made for this file with numpy: Lawson's
/// iteratively reweighted least squares (300 rounds of numpy.linalg.lstsq, each weight times
/// its point's error) against 40-digit mpmath values, on 20,000 points of z in (0, 1.0001·s²max]
/// for log's R (absolute error) and 40,000 of r in ±1.002·ln2/2 for exp's Q (error weighted by
/// r²/e^r, i.e. relative to e^r), then each coefficient rounded to the nearest float.

#include <cstdint>

namespace dsstne::cpu::vector_math {

namespace detail {

inline uint32_t bits_of(float x) { return __builtin_bit_cast(uint32_t, x); }
inline float float_of(uint32_t bits) { return __builtin_bit_cast(float, bits); }

/// 2^k for −126 ≤ k ≤ 127, built in the exponent field.
inline float power_of_two(int32_t k) {
  return float_of(static_cast<uint32_t>(k + 127) << 23);
}

/// ln 2 split in two: kLn2High has 15 significant bits, so k·kLn2High is exact for |k| < 2^9
/// (both functions need |k| ≤ 150), and kLn2High + kLn2Low = ln 2 to 6e-14.
constexpr float kLn2High = 0x1.62e4p-1f;
constexpr float kLn2Low = 0x1.7f7d1cp-20f;

/// log: R(z) ≈ 2·atanh(s)/s − 2 with z = s², |s| ≤ (√2 − 1)/(√2 + 1); max error 1.8e-9.
constexpr float kLogR1 = 0x1.55557ap-1f;
constexpr float kLogR2 = 0x1.995eb4p-2f;
constexpr float kLogR3 = 0x1.31e388p-2f;

/// exp: Q(r) ≈ (e^r − 1 − r)/r² for |r| ≤ ln2/2; relative error of 1 + r + r²Q below 4.2e-9.
constexpr float kExpQ0 = 0.49999994f;
constexpr float kExpQ1 = 0.1666652f;
constexpr float kExpQ2 = 0.0416684f;
constexpr float kExpQ3 = 0.00836885f;
constexpr float kExpQ4 = 0.0013814294f;

}  // namespace detail

/// c ? a : b, chosen on the bits once both are computed. For a ternary, GCC moves the work of
/// each side under a branch, and with its default -ftrapping-math it will not turn a branch
/// around a float operation back into a select, so the loop stays scalar.
inline float select(bool c, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return detail::float_of((detail::bits_of(a) & mask) | (detail::bits_of(b) & ~mask));
}

namespace detail {

/// log(x) + k_bias·ln2 for a positive, normal, finite x; a meaningless finite value otherwise.
inline float log_of_positive_normal(float x, float k_bias) {
  // x = 2^k·m with m in [√½, √2): offsetting the bits by those of √½ before splitting off the
  // exponent field moves the cut of the significand range from 1 to √½, so |log m| ≤ ln√2.
  constexpr uint32_t kSqrtHalfBits = 0x3f3504f3u;
  const uint32_t offset = bits_of(x) - kSqrtHalfBits;
  const float k = static_cast<float>(static_cast<int32_t>(offset) >> 23) + k_bias;
  const float f = float_of((offset & 0x007fffffu) + kSqrtHalfBits) - 1.0f;  // m − 1, exact
  // log(1 + f) = 2·atanh(s) with s = f/(2 + f), = f − f²/2 + s·(f²/2 + R(s²)): the small terms
  // are summed first, f and the exact k·ln2 high part last.
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float r = z * (kLogR1 + z * (kLogR2 + z * kLogR3));
  const float half_f2 = 0.5f * f * f;
  const float small = s * (half_f2 + r) - half_f2;
  return k * kLn2High + (f + (small + k * kLn2Low));
}

}  // namespace detail

/// Natural logarithm, within 1 ulp of libm's logf (tested).
inline float log(float x) {
  constexpr float kInfinity = __builtin_inff();
  // A denormal is scaled by 2^23 into the normal range first, and 23 taken off its exponent.
  const bool denormal = x < 0x1p-126f;
  const float scaled = select(denormal, x * 0x1p23f, x);
  const float result = detail::log_of_positive_normal(scaled, select(denormal, -23.0f, 0.0f));
  // Outside (0, +∞): −∞ at ±0, NaN below 0, x itself at +∞ and NaN.
  const float special = select(x == 0.0f, -kInfinity, select(x < 0.0f, __builtin_nanf(""), x));
  return select((x > 0.0f) & (x < kInfinity), result, special);
}

/// log(x) for x ≥ 2^-126, +∞ and NaN, bit for bit as `log`; meaningless below 2^-126 (denormals,
/// zeros, negatives). For arguments floored away from zero (loss_terms.hpp's floored_log): without
/// the cases it cannot meet, it takes half the time of `log`.
inline float log_of_normal(float x) {
  return select(x < __builtin_inff(), detail::log_of_positive_normal(x, 0.0f), x);
}

/// e^x, within 1 ulp of libm's expf (tested).
inline float exp(float x) {
  using namespace detail;
  // Beyond these bounds e^x rounds to +∞ or to 0 anyway; clamping keeps the exponent arithmetic
  // in range. A NaN becomes the upper bound here and is put back at the end.
  float clamped = select(x < 89.0f, x, 89.0f);
  clamped = select(clamped > -104.0f, clamped, -104.0f);
  // k = round(x/ln2) by the 1.5·2^23 trick (exact while |x/ln2| < 2^22), r = x − k·ln2 with
  // |r| ≤ ln2/2 (k·kLn2High exact, the subtraction exact by the size of r).
  constexpr float kLog2e = 0x1.715476p0f;
  constexpr float kRoundingShift = 0x1.8p23f;
  const float k = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const float r = (clamped - k * kLn2High) - k * kLn2Low;
  const float q = kExpQ0 + r * (kExpQ1 + r * (kExpQ2 + r * (kExpQ3 + r * kExpQ4)));
  const float e_r = 1.0f + (r + r * r * q);
  // 2^k in two halves, each a normal float for −150 ≤ k ≤ 128: the first product is exact and
  // the second rounds once, to the denormals or to +∞ where the result lies there.
  const int32_t k_int = static_cast<int32_t>(k);
  const int32_t k_low = k_int >> 1;
  const float result = e_r * power_of_two(k_low) * power_of_two(k_int - k_low);
  return select(x == x, result, x);
}

}  // namespace dsstne::cpu::vector_math
