// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file loss_raw_pass.hpp
/// @brief The raw pass of the CPU loss kernels with sparse targets: a row's error and deltas as
/// if every target were 0, before loss.cpp corrects the stored units. One loop per error
/// function (and, for the deltas, per activation), so that the common ones vectorize.

#include <cstdint>

#include "dsstne/kernel_types.hpp"

namespace dsstne::cpu {

/// Σ_j e(a_j, 0) over one row of `cols` units, e as terms::loss_error. Each unit's error equals
/// terms::loss_error(p, softmax, a_j, 0) (up to the sign of a zero); the sum is in double, in
/// 8 partial sums of the columns j ≡ 0, …, 7 (mod 8), each in column order, added in a fixed
/// tree: the same bits wherever the row lies in memory and whichever thread sums it.
double raw_row_error(const LossParams& p, bool softmax, const float* a, int64_t cols);

/// delta_j = w·terms::delta_term(p, a_j, 0) over one row, bit for bit. Not for SoftMax outputs.
void raw_row_delta(const LossParams& p, const float* a, int64_t cols, float w, float* delta);

}  // namespace dsstne::cpu
