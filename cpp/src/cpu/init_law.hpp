// SPDX-License-Identifier: Apache-2.0
#pragma once
// The law of each weight-init scheme (spec/math.md §7, fixed), shared by the CPU reference and the
// CUDA kernel: the per-call factor is formed in double and rounded to float once, so both
// backends multiply every draw by the same float and produce the same weights.
#include <cmath>
#include <cstdint>

#include "dsstne/enums.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernel_types.hpp"

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

/// init_weights' argument checks (both backends), then the law of `scheme`.
inline InitLaw checked_init_law(WeightInit scheme, float scale, int64_t n_in, int64_t n_out,
                                const MatrixBlock& b) {
  DSSTNE_EXPECTS(n_in > 0 && n_out > 0, "init_weights: matrix must be non-empty, got ", n_in,
                 " x ", n_out);
  DSSTNE_EXPECTS(b.col_begin >= 0 && b.cols >= 0 && b.col_begin + b.cols <= n_out,
                 "init_weights: columns [", b.col_begin, ", ", b.col_begin + b.cols,
                 ") outside the ", n_out, " output units");
  DSSTNE_EXPECTS(b.row_begin >= 0 && b.rows >= 0 && b.row_begin + b.rows <= n_in,
                 "init_weights: rows [", b.row_begin, ", ", b.row_begin + b.rows,
                 ") outside the ", n_in, " input units");
  return init_law(scheme, scale, n_in, n_out);
}

}  // namespace dsstne::init
