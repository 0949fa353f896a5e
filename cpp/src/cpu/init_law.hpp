// SPDX-License-Identifier: Apache-2.0
#pragma once
// The law of each weight-init scheme (spec/math.md §7, fixed), shared by the CPU reference and the
// CUDA kernel: the per-call factor is formed in double and rounded to float once, so both
// backends multiply every draw by the same float and produce the same weights.
#include <cmath>
#include <cstdint>

#include "dsstne/enums.hpp"
#include "dsstne/error.hpp"

namespace dsstne::init {

struct InitLaw {
  bool normal = false;    ///< draw n instead of u
  bool centred = false;   ///< use u − ½ instead of u
  bool constant = false;  ///< no draw at all
  float factor = 0.0f;
};

inline InitLaw init_law(WeightInit scheme, float scale, int64_t n_in, int64_t n_out) {
  const double s = scale;
  InitLaw law;
  switch (scheme) {
    case WeightInit::Xavier:  // half the Glorot range, kept from DSSTNE on purpose (§7)
      law.centred = true;
      law.factor = static_cast<float>(s * std::sqrt(6.0 / static_cast<double>(n_in + n_out)));
      break;
    case WeightInit::CaffeXavier:  // fan-out, as DSSTNE does
      law.centred = true;
      law.factor = static_cast<float>(s * 2.0 * std::sqrt(3.0 / static_cast<double>(n_out)));
      break;
    case WeightInit::Uniform:
      law.centred = true;
      law.factor = static_cast<float>(2.0 * s);
      break;
    case WeightInit::UnitBall:
      law.factor = scale;
      break;
    case WeightInit::Gaussian:
      law.normal = true;
      law.factor = scale;
      break;
    case WeightInit::SELU:  // LeCun normal (std 1/√N_in), DSSTNE's 1/N_in fixed
      law.normal = true;
      law.factor = static_cast<float>(s / std::sqrt(static_cast<double>(n_in)));
      break;
    case WeightInit::Constant:  // +s: DSSTNE's flipped sign fixed
      law.constant = true;
      law.factor = scale;
      break;
    default:
      DSSTNE_FAIL(InvalidArgument, "init_weights: unknown weight init scheme code ",
                  static_cast<uint32_t>(scheme));
  }
  return law;
}

}  // namespace dsstne::init
