// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file optimizer_checks.hpp
/// @brief The optimizer kernels' argument checks and training-mode dispatch, shared by the CPU
/// reference and the CUDA kernels (the element rules stay per backend: the CUDA one spells out
/// its rounding with intrinsics for bitwise parity).

#include <cstdint>
#include <type_traits>

#include "dsstne/error.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne::terms {

/// Checks an update call; returns false when there is nothing to update (n == 0).
inline bool check_update_arguments(const char* who, const UpdateParams& u, const float* input,
                                   int64_t n, const float* p, const float* v, const float* v2) {
  DSSTNE_EXPECTS(n >= 0, who, ": negative element count ", n);
  const TrainingMode mode = u.mode;
  switch (mode) {
    case TrainingMode::SGD:
    case TrainingMode::Momentum:
    case TrainingMode::Nesterov:
    case TrainingMode::AdaGrad:
    case TrainingMode::RMSProp:
    case TrainingMode::AdaDelta:
    case TrainingMode::Adam:
      break;
    default:
      DSSTNE_FAIL(InvalidArgument, who, ": unknown training mode code ",
                  static_cast<uint32_t>(mode));
  }
  DSSTNE_EXPECTS(mode != TrainingMode::Adam || u.step >= 1, who,
                 ": Adam needs a 1-based step count, got ", u.step);
  if (n == 0) return false;
  const bool needs_v = mode != TrainingMode::SGD;
  const bool needs_v2 = mode == TrainingMode::AdaDelta || mode == TrainingMode::Adam;
  DSSTNE_EXPECTS(input != nullptr && p != nullptr, who, ": gradient or parameter pointer is null");
  DSSTNE_EXPECTS(!needs_v || v != nullptr, who, ": training mode code ",
                 static_cast<uint32_t>(mode), " needs optimizer state v, got null");
  DSSTNE_EXPECTS(!needs_v2 || v2 != nullptr, who, ": training mode code ",
                 static_cast<uint32_t>(mode), " needs optimizer state v2, got null");
  return true;
}

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
