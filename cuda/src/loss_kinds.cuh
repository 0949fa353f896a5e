// SPDX-License-Identifier: Apache-2.0
#pragma once
// The (activation, error function) pairs that the element-wise loss passes are compiled for.
// loss_terms.hpp picks each unit's formula with a switch on the LossParams codes; in a sweep over
// a million outputs per row those switches, and the log of a target the raw pass knows to be 0,
// cost more than the memory traffic. A kernel instantiated with Fixed<A, F> reads its codes as
// constants, so the compiler folds the switches; every other pair runs the same kernel with
// Runtime, the codes as given. Either way each unit gets loss_terms' formula, so results do not
// depend on which instantiation ran.
#include "cpu/loss_terms.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne::cuda {

/// The codes of `p`, as the launch gave them.
struct Runtime {
  static constexpr bool fixed = false;
  __device__ static LossParams of(const LossParams& p) { return p; }
};

/// `p` with activation A and function F as compile-time constants (the host checked that p has
/// them).
template <Activation A, ErrorFunction F>
struct Fixed {
  static constexpr bool fixed = true;
  __device__ static LossParams of(LossParams p) {
    p.activation.kind = A;
    p.function = F;
    return p;
  }
};

/// e(a, 0) of a non-SoftMax output: loss_error(p, false, a, 0) but for the sign of a zero
/// result, which no sum of errors can see (sums start at +0, and x + (−0) = x + (+0) = x for
/// every x but −0). The cross-entropies drop the t·log a term, which is ±0 for every finite a
/// (its log is floored), and a non-finite a returns NaN as loss_error does.
__device__ __forceinline__ float zero_target_error(const LossParams& p, float a) {
  if (!(fabsf(a) <= 3.40282347e38f)) return a - a;
  const SmceParams& s = p.smce;
  switch (p.function) {
    case ErrorFunction::CrossEntropy:
      return -terms::floored_log(1.0f - a);
    case ErrorFunction::ScaledMarginalCrossEntropy:
      return a > s.zero_target ? -terms::mul_rn(s.zero_scale, terms::floored_log(1.0f - a)) : 0.0f;
    default:
      return terms::loss_error(p, false, a, 0.0f);
  }
}

/// Calls launch(Kind{}) with the Fixed kind of p's pair when it is one of the common ones, else
/// with Runtime. SoftMax outputs (row-wise) always take Runtime.
template <typename Launch>
void with_loss_kind(const LossParams& p, Launch&& launch) {
  if (p.activation.kind == Activation::Sigmoid) {
    switch (p.function) {
      case ErrorFunction::CrossEntropy:
        return launch(Fixed<Activation::Sigmoid, ErrorFunction::CrossEntropy>{});
      case ErrorFunction::ScaledMarginalCrossEntropy:
        return launch(Fixed<Activation::Sigmoid, ErrorFunction::ScaledMarginalCrossEntropy>{});
      case ErrorFunction::L2:
        return launch(Fixed<Activation::Sigmoid, ErrorFunction::L2>{});
      default:
        break;
    }
  }
  if (p.activation.kind == Activation::Linear && p.function == ErrorFunction::L2)
    return launch(Fixed<Activation::Linear, ErrorFunction::L2>{});
  launch(Runtime{});
}

}  // namespace dsstne::cuda
