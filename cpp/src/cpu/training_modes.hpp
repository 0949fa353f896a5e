// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file training_modes.hpp
/// @brief The optimizer kernels' training-mode dispatch, shared by the CPU reference and the CUDA
/// kernels (the element rules stay per backend: the CUDA one spells out its rounding with
/// intrinsics for bitwise parity; the argument checks are in kernel_checks_optimizer.cpp).

#include <cstdint>
#include <type_traits>

#include "dsstne/kernel_types.hpp"

namespace dsstne::terms {

template <TrainingMode M>
using Mode = std::integral_constant<TrainingMode, M>;

/// Calls `f(Mode<mode>{})`, turning a checked run-time mode into a compile-time one.
template <typename F>
void with_training_mode(TrainingMode mode, F&& f) {
  switch (mode) {
    case TrainingMode::SGD: return f(Mode<TrainingMode::SGD>{});
    case TrainingMode::Momentum: return f(Mode<TrainingMode::Momentum>{});
    case TrainingMode::Nesterov: return f(Mode<TrainingMode::Nesterov>{});
    case TrainingMode::AdaGrad: return f(Mode<TrainingMode::AdaGrad>{});
    case TrainingMode::RMSProp: return f(Mode<TrainingMode::RMSProp>{});
    case TrainingMode::AdaDelta: return f(Mode<TrainingMode::AdaDelta>{});
    case TrainingMode::Adam: return f(Mode<TrainingMode::Adam>{});
  }
}

}  // namespace dsstne::terms
