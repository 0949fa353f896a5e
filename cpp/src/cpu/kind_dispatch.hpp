// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file kind_dispatch.hpp
/// @brief Turns a checked run-time activation or error function into a compile-time one, so that
/// a CPU loop is instantiated per kind instead of switching on the kind per element.
///
/// The element formulas (activation_terms.hpp, loss_terms.hpp) switch on the kind in their
/// parameter block. Given a block whose kind is a constant (with_kind), the inlined switch folds
/// to that kind's case and the loop around it can vectorize.

#include <cstdint>
#include <type_traits>
#include <utility>

#include "dsstne/kernel_types.hpp"

namespace dsstne::cpu {

namespace detail {

template <typename Enum, typename F, uint32_t... Codes>
void with_constant_code(Enum value, F&& f, std::integer_sequence<uint32_t, Codes...>) {
  const uint32_t code = static_cast<uint32_t>(value);
  ((code == Codes ? (f(std::integral_constant<Enum, static_cast<Enum>(Codes)>{}), true) : false) ||
   ...);
}

}  // namespace detail

/// Calls f(std::integral_constant<Activation, kind>{}); kind must be a known code.
template <typename F>
void with_activation(Activation kind, F&& f) {
  constexpr uint32_t kCount = static_cast<uint32_t>(Activation::ScaledExponentialLinear) + 1;
  detail::with_constant_code(kind, f, std::make_integer_sequence<uint32_t, kCount>{});
}

/// Calls f(std::integral_constant<ErrorFunction, function>{}); function must be a known code.
template <typename F>
void with_error_function(ErrorFunction function, F&& f) {
  constexpr uint32_t kCount = static_cast<uint32_t>(ErrorFunction::L2Hinge) + 1;
  detail::with_constant_code(function, f, std::make_integer_sequence<uint32_t, kCount>{});
}

/// p with its kind fixed at compile time. Called inside the loop (or the OpenMP region) so that
/// the constant is in sight where the formulas are inlined, not behind a shared variable.
template <Activation Kind>
ActivationParams with_kind(ActivationParams p) {
  p.kind = Kind;
  return p;
}

template <ErrorFunction Function, Activation Kind>
LossParams with_kinds(LossParams p) {
  p.function = Function;
  p.activation.kind = Kind;
  return p;
}

}  // namespace dsstne::cpu
