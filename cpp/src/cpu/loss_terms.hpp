// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file loss_terms.hpp
/// @brief Element formulas of the error functions and output deltas (spec/math.md §3, in the
/// fixed form decided for dsstne), shared by the CPU reference and the CUDA kernels.
/// Host/device, no std:: containers. Example weights are applied by the callers.
///
/// Notation: a is the output activation, t the target, e(a, t) the error of one unit,
/// g(a, t) = ∂e/∂a. Every log of a probability is floored: log(max(1e-12, x)).

#include <math.h>

#include <cstdint>

#include "activation_terms.hpp"
#include "dsstne/kernel_types.hpp"
#include "dsstne/rng.hpp"  // DSSTNE_HOST_DEVICE

namespace dsstne::terms {

constexpr float kLogFloor = 1e-12f;

/// True for the error-function codes of enums.hpp.
DSSTNE_HOST_DEVICE bool known_error_function(ErrorFunction f) {
  return static_cast<uint32_t>(f) <= static_cast<uint32_t>(ErrorFunction::L2Hinge);
}

/// A SoftMax output layer: the loss then couples the units of a row.
DSSTNE_HOST_DEVICE bool is_softmax(const LossParams& p) {
  return p.activation.kind == Activation::SoftMax;
}

/// Whether DeltaBoost scales this loss's deltas: only with sparse targets, and, as in DSSTNE's
/// kernels, never for the marginal cross-entropies, whose scales already weigh the two targets.
DSSTNE_HOST_DEVICE bool boosts_deltas(const LossParams& p, bool sparse_targets) {
  const bool marginal = p.function == ErrorFunction::ScaledMarginalCrossEntropy ||
                        p.function == ErrorFunction::DataScaledMarginalCrossEntropy;
  return sparse_targets && !marginal &&
         (p.delta_boost_one != 1.0f || p.delta_boost_zero != 1.0f);
}

/// x·y and x − y, each rounded on its own on the GPU too: nvcc would fuse a product and a
/// difference into one multiply-add, and differently in different kernels, so two kernels that
/// sum the same errors (output_error's and output_pass's raw passes) would disagree in the last
/// bits. On the host (x86-64 without FMA) these are the plain operations.
DSSTNE_HOST_DEVICE float mul_rn(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, y);
#else
  return x * y;
#endif
}
DSSTNE_HOST_DEVICE float sub_rn(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(x, y);
#else
  return x - y;
#endif
}

/// log(max(1e-12, x)): CUDA's logf in the CUDA kernels; on the CPU vector_math's, which the CPU
/// loops vectorize (libm's logf and fmaxf are calls per element), in its form for arguments of
/// 2^-126 and more. The floor is chosen for a NaN too, as by fmaxf; with a select, since GCC
/// turns log(x > floor ? x : floor) into a branch between log(x) and a constant.
DSSTNE_HOST_DEVICE float floored_log(float x) {
#if defined(__CUDACC__)
  return logf(fmaxf(kLogFloor, x));
#else
  return cpu::vector_math::log_of_normal(cpu::vector_math::select(x > kLogFloor, x, kLogFloor));
#endif
}

/// d/dx floored_log(x): zero where the floor holds, so g stays the derivative of e.
DSSTNE_HOST_DEVICE float floored_log_slope(float x) { return x > kLogFloor ? 1.0f / x : 0.0f; }

DSSTNE_HOST_DEVICE float sign_of(float x) {
  return static_cast<float>(x > 0.0f) - static_cast<float>(x < 0.0f);
}

/// One-sided residual of L2Hinge: a positive target is a floor, a zero/negative one a ceiling.
DSSTNE_HOST_DEVICE float l2_hinge_residual(float a, float t) {
  return t > 0.0f ? fminf(0.0f, a - t) : fmaxf(0.0f, a - t);
}

/// e(a, t) of one unit. `softmax`: the output is a SoftMax, so CrossEntropy is multinomial
/// (−t·log a) and SMCE keeps only its positive term.
DSSTNE_HOST_DEVICE float loss_error(const LossParams& p, bool softmax, float a, float t) {
  // A diverged output must show in the error whatever the loss: the floored logs and the margins
  // of the cross-entropies and hinges would otherwise map NaN or infinity to a finite value.
  if (!(fabsf(a) <= 3.40282347e38f)) return a - a;
  const SmceParams& s = p.smce;
  switch (p.function) {
    case ErrorFunction::L1:
      return fabsf(a - t);
    case ErrorFunction::L2: {
      const float d = a - t;
      return 0.5f * d * d;
    }
    case ErrorFunction::L2Hinge: {
      const float d = l2_hinge_residual(a, t);
      return 0.5f * d * d;
    }
    case ErrorFunction::Hinge:
      return fmaxf(0.0f, sub_rn(1.0f, mul_rn(t, a)));
    case ErrorFunction::CrossEntropy:
      if (softmax) return -t * floored_log(a);
      return sub_rn(mul_rn(-t, floored_log(a)), mul_rn(1.0f - t, floored_log(1.0f - a)));
    case ErrorFunction::ScaledMarginalCrossEntropy: {
      if (softmax) {
        return (t > 0.0f && a < s.one_target) ? -s.one_scale * t * floored_log(a) : 0.0f;
      }
      float e = 0.0f;
      if (a < s.one_target) e = sub_rn(e, mul_rn(s.one_scale * t, floored_log(a)));
      if (a > s.zero_target)
        e = sub_rn(e, mul_rn(s.zero_scale * (1.0f - t), floored_log(1.0f - a)));
      return e;
    }
    case ErrorFunction::DataScaledMarginalCrossEntropy:
      if (t > 0.0f) return a < s.one_target ? -s.one_scale * t * floored_log(a) : 0.0f;
      return a > s.zero_target ? -s.zero_scale * floored_log(1.0f - a) : 0.0f;
    default:
      return 0.0f;
  }
}

/// g(a, t) = ∂e/∂a of one unit (a subgradient at the kinks: sgn(0) = 0, hinge 0 at t·a = 1).
DSSTNE_HOST_DEVICE float loss_gradient(const LossParams& p, bool softmax, float a, float t) {
  const SmceParams& s = p.smce;
  switch (p.function) {
    case ErrorFunction::L1:
      return sign_of(a - t);
    case ErrorFunction::L2:
      return a - t;
    case ErrorFunction::L2Hinge:
      return l2_hinge_residual(a, t);
    case ErrorFunction::Hinge:
      return t * a < 1.0f ? -t : 0.0f;
    case ErrorFunction::CrossEntropy:
      if (softmax) return -t * floored_log_slope(a);
      return -t * floored_log_slope(a) + (1.0f - t) * floored_log_slope(1.0f - a);
    case ErrorFunction::ScaledMarginalCrossEntropy: {
      if (softmax) {
        return (t > 0.0f && a < s.one_target) ? -s.one_scale * t * floored_log_slope(a) : 0.0f;
      }
      float g = 0.0f;
      if (a < s.one_target) g -= s.one_scale * t * floored_log_slope(a);
      if (a > s.zero_target) g += s.zero_scale * (1.0f - t) * floored_log_slope(1.0f - a);
      return g;
    }
    case ErrorFunction::DataScaledMarginalCrossEntropy:
      if (t > 0.0f) return a < s.one_target ? -s.one_scale * t * floored_log_slope(a) : 0.0f;
      return a > s.zero_target ? s.zero_scale * floored_log_slope(1.0f - a) : 0.0f;
    default:
      return 0.0f;
  }
}

/// δ/w = g(a, t)·f'(a) of one unit of a non-SoftMax output. With a Sigmoid the cross-entropy
/// family uses the fused forms, where a(1−a) cancels the 1/a and 1/(1−a) of g: no division,
/// and no loss of the gradient when the floor of the log would hold.
DSSTNE_HOST_DEVICE float delta_term(const LossParams& p, float a, float t) {
  if (p.activation.kind == Activation::Sigmoid) {
    const SmceParams& s = p.smce;
    switch (p.function) {
      case ErrorFunction::CrossEntropy:
        return a - t;
      case ErrorFunction::ScaledMarginalCrossEntropy:
        return (a < s.one_target ? s.one_scale * t * (a - 1.0f) : 0.0f) +
               (a > s.zero_target ? s.zero_scale * (1.0f - t) * a : 0.0f);
      case ErrorFunction::DataScaledMarginalCrossEntropy:
        if (t > 0.0f) return a < s.one_target ? s.one_scale * t * (a - 1.0f) : 0.0f;
        return a > s.zero_target ? s.zero_scale * a : 0.0f;
      default:
        break;
    }
  }
  return loss_gradient(p, false, a, t) * activation_slope(p.activation, a);
}

/// q(a, t) = a·g(a, t) for a SoftMax output, so that with Q = Σ_k q_k over the row the delta
/// is δ_j = w·(q_j − a_j·Q) (the Jacobian product a ⊙ (G − Σ G·a) with G = w·g). The
/// cross-entropy forms are fused: a·(−t/a) = −t, no division.
DSSTNE_HOST_DEVICE float softmax_term(const LossParams& p, float a, float t) {
  const SmceParams& s = p.smce;
  switch (p.function) {
    case ErrorFunction::CrossEntropy:
      return -t;
    case ErrorFunction::ScaledMarginalCrossEntropy:
      return (t > 0.0f && a < s.one_target) ? -s.one_scale * t : 0.0f;
    default:
      return a * loss_gradient(p, true, a, t);
  }
}

}  // namespace dsstne::terms
