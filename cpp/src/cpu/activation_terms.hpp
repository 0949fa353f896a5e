// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file activation_terms.hpp
/// @brief Element formulas of the activation functions (spec/math.md §2, fixed), shared by the
/// CPU reference (cpp/src/cpu/) and the CUDA kernels. Host/device, no std:: containers.
///
/// Layers keep a = f(z) and never z, so every derivative is written as a function of a.

#include <math.h>

#include <cstdint>

#include "dsstne/kernel_types.hpp"
#include "dsstne/rng.hpp"  // DSSTNE_HOST_DEVICE
#if !defined(__CUDACC__)
#include "vector_math.hpp"
#endif

namespace dsstne::terms {

/// e^x: CUDA's expf in the CUDA kernels; on the CPU vector_math's, which the CPU loops vectorize
/// (libm's is a call per element).
DSSTNE_HOST_DEVICE float exponential(float x) {
#if defined(__CUDACC__)
  return expf(x);
#else
  return cpu::vector_math::exp(x);
#endif
}

/// True for the activation codes of enums.hpp (a cheap guard before any loop).
DSSTNE_HOST_DEVICE bool known_activation(Activation kind) {
  return static_cast<uint32_t>(kind) <= static_cast<uint32_t>(Activation::ScaledExponentialLinear);
}

/// a = f(z) for the element-wise activations. SoftMax is row-wise and handled by the row code;
/// here it (like Linear) returns z.
DSSTNE_HOST_DEVICE float activate(const ActivationParams& p, float z) {
  switch (p.kind) {
    case Activation::Sigmoid:
      return 1.0f / (1.0f + exponential(-z));
    case Activation::Tanh:
      return tanhf(z);
    case Activation::RectifiedLinear:
      return z > 0.0f ? z : 0.0f;
    case Activation::LeakyRectifiedLinear:
    case Activation::ParametricRectifiedLinear:
      return z > 0.0f ? z : p.slope * z;
    case Activation::ExponentialLinear:
      return z > 0.0f ? z : p.alpha * expm1f(z);
    case Activation::ScaledExponentialLinear:
      return p.lambda * (z > 0.0f ? z : p.alpha * expm1f(z));
    case Activation::SoftPlus:
      // log(1 + e^z) without overflow for large z nor lost digits for very negative z.
      return z > 0.0f ? z + log1pf(expf(-z)) : log1pf(expf(z));
    case Activation::SoftSign:
      return z / (1.0f + fabsf(z));
    case Activation::RELUMax:
      return z > 0.0f ? (z < 1.0f ? z : 1.0f) : 0.0f;
    case Activation::LinearMax:
      return z > -1.0f ? (z < 1.0f ? z : 1.0f) : -1.0f;
    case Activation::Linear:
    case Activation::SoftMax:
    default:
      return z;
  }
}

/// f'(z) expressed through a = f(z). SoftMax returns 1: its Jacobian couples a row and is
/// applied by the row code.
DSSTNE_HOST_DEVICE float activation_slope(const ActivationParams& p, float a) {
  switch (p.kind) {
    case Activation::Sigmoid:
      return a * (1.0f - a);
    case Activation::Tanh:
      return 1.0f - a * a;
    case Activation::RectifiedLinear:
      return a > 0.0f ? 1.0f : 0.0f;
    case Activation::LeakyRectifiedLinear:
    case Activation::ParametricRectifiedLinear:
      return a > 0.0f ? 1.0f : p.slope;
    case Activation::ExponentialLinear:
      return a > 0.0f ? 1.0f : a + p.alpha;  // α·e^z = a + α on the negative side
    case Activation::ScaledExponentialLinear:
      return a > 0.0f ? p.lambda : a + p.lambda * p.alpha;
    case Activation::SoftPlus:
      return -expm1f(-a);  // sigmoid(z) = 1 − e^{−a}, accurate when a is tiny
    case Activation::SoftSign: {
      const float s = 1.0f - fabsf(a);  // 1/(1+|z|)
      return s * s;
    }
    case Activation::RELUMax:
      return (a > 0.0f && a < 1.0f) ? 1.0f : 0.0f;
    case Activation::LinearMax:
      return (a > -1.0f && a < 1.0f) ? 1.0f : 0.0f;
    case Activation::Linear:
    case Activation::SoftMax:
    default:
      return 1.0f;
  }
}

}  // namespace dsstne::terms
