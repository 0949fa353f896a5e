// SPDX-License-Identifier: Apache-2.0
/// @file loss_raw_pass.cpp
/// @brief The raw pass (loss_raw_pass.hpp): e(a, 0) and δ(a, 0) of every unit of a row.
///
/// The errors are written out for t = 0 rather than taken from terms::loss_error with a zero
/// target, which would still compute log(a) for the cross-entropies' t·log(a) term only to
/// multiply it by 0 (its one effect, a NaN for a non-finite one_scale, is kept). Both sides of
/// every condition are computed and chosen with vector_math::select, which GCC vectorizes where a
/// ternary around a float operation would stay a branch.

#include "loss_raw_pass.hpp"

#include <algorithm>
#include <cmath>

#include "kind_dispatch.hpp"
#include "loss_terms.hpp"
#include "vector_math.hpp"

namespace dsstne::cpu {

namespace {

using vector_math::select;

constexpr int64_t kLanes = 8;    ///< partial sums of a row's errors
constexpr int64_t kBlock = 512;  ///< errors computed per block; a multiple of kLanes

/// e(a, 0) of one unit, a diverged (non-finite) a giving NaN as terms::loss_error does (a zero
/// may come out as +0 where loss_error gives −0, which no sum can tell apart).
template <ErrorFunction F, bool SoftMax>
float zero_target_error(const LossParams& p, float a) {
  const SmceParams& s = p.smce;
  float e = 0.0f;
  if constexpr (F == ErrorFunction::L1) {
    e = std::fabs(a);
  } else if constexpr (F == ErrorFunction::L2) {
    e = 0.5f * a * a;
  } else if constexpr (F == ErrorFunction::L2Hinge) {
    const float d = select(a > 0.0f, a, 0.0f);
    e = 0.5f * d * d;
  } else if constexpr (F == ErrorFunction::Hinge) {
    e = 1.0f;
  } else if constexpr (F == ErrorFunction::DataScaledMarginalCrossEntropy) {
    e = select(a > s.zero_target, -s.zero_scale * terms::floored_log(1.0f - a), 0.0f);
  } else if constexpr (SoftMax) {
    e = 0.0f;  // the multinomial cross-entropies have no term for t = 0
  } else if constexpr (F == ErrorFunction::CrossEntropy) {
    e = 0.0f - terms::floored_log(1.0f - a);
  } else if constexpr (F == ErrorFunction::ScaledMarginalCrossEntropy) {
    // The one-target term is (one_scale·0)·log(a) below one_target: +0 after the subtraction,
    // or NaN for a non-finite one_scale.
    const float one_term = select(a < s.one_target, 0.0f - s.one_scale * 0.0f, 0.0f);
    e = select(a > s.zero_target, one_term - s.zero_scale * terms::floored_log(1.0f - a),
               one_term);
  }
  // a − a is 0 for a finite a and NaN otherwise: the error, or NaN, as loss_error's guard gives.
  return e + (a - a);
}

template <ErrorFunction F, bool SoftMax>
double row_error(const LossParams p, const float* a, int64_t cols) {
  double lanes[kLanes] = {};
  float e[kBlock];
  for (int64_t begin = 0; begin < cols; begin += kBlock) {
    const int64_t n = std::min(kBlock, cols - begin);
    for (int64_t j = 0; j < n; ++j) e[j] = zero_target_error<F, SoftMax>(p, a[begin + j]);
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(e[j + l]);
    }
    for (int64_t l = 0; j + l < n; ++l) lanes[l] += static_cast<double>(e[j + l]);
  }
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/// δ(a, 0) of one unit: terms::delta_term with the kinds fixed, except for the Sigmoid forms of
/// the marginal cross-entropies, whose conditions are written with select.
template <ErrorFunction F, Activation A>
float zero_target_delta(const LossParams& p, float a) {
  const SmceParams& s = p.smce;
  if constexpr (A == Activation::Sigmoid && F == ErrorFunction::ScaledMarginalCrossEntropy) {
    return select(a < s.one_target, s.one_scale * 0.0f * (a - 1.0f), 0.0f) +
           select(a > s.zero_target, s.zero_scale * 1.0f * a, 0.0f);
  } else if constexpr (A == Activation::Sigmoid &&
                       F == ErrorFunction::DataScaledMarginalCrossEntropy) {
    return select(a > s.zero_target, s.zero_scale * a, 0.0f);
  } else {
    return terms::delta_term(p, a, 0.0f);
  }
}

template <ErrorFunction F, Activation A>
void row_delta(const LossParams p, const float* a, int64_t cols, float w, float* delta) {
  const LossParams fixed = with_kinds<F, A>(p);
  for (int64_t j = 0; j < cols; ++j) delta[j] = w * zero_target_delta<F, A>(fixed, a[j]);
}

}  // namespace

double raw_row_error(const LossParams& p, bool softmax, const float* a, int64_t cols) {
  double sum = 0.0;
  with_error_function(p.function, [&](auto function) {
    constexpr ErrorFunction kFunction = decltype(function)::value;
    sum = softmax ? row_error<kFunction, true>(p, a, cols)
                  : row_error<kFunction, false>(p, a, cols);
  });
  return sum;
}

void raw_row_delta(const LossParams& p, const float* a, int64_t cols, float w, float* delta) {
  with_error_function(p.function, [&](auto function) {
    with_activation(p.activation.kind, [&](auto kind) {
      constexpr Activation kKind = decltype(kind)::value;
      if constexpr (kKind != Activation::SoftMax) {
        row_delta<decltype(function)::value, kKind>(p, a, cols, w, delta);
      }
    });
  });
}

}  // namespace dsstne::cpu
