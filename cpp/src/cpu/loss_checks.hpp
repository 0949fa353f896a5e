// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file loss_checks.hpp
/// @brief Argument checks of the loss kernels that need no target data, shared by the CPU
/// reference and the CUDA kernels so both refuse the same calls with the same messages.

#include <cstdint>

#include "dsstne/error.hpp"
#include "dsstne/kernel_types.hpp"
#include "loss_terms.hpp"

namespace dsstne::terms {

/// Shapes, codes, the DataScaledMarginalCrossEntropy rules and the target pointers. Returns
/// false when there is nothing to compute. Sparse offsets themselves are checked by each
/// backend where they live (host memory on the CPU, device memory on the GPU).
inline bool check_loss_arguments(const char* kernel, const LossParams& p, const float* a,
                                 int64_t rows, int64_t cols, int64_t col_begin,
                                 const TargetView& t) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0, kernel, ": bad shape rows=", rows,
                 " cols=", cols, " col_begin=", col_begin);
  DSSTNE_EXPECTS(known_error_function(p.function), kernel, ": unknown error function code ",
                 static_cast<uint32_t>(p.function));
  DSSTNE_EXPECTS(known_activation(p.activation.kind), kernel, ": unknown activation code ",
                 static_cast<uint32_t>(p.activation.kind));
  if (p.function == ErrorFunction::DataScaledMarginalCrossEntropy) {
    DSSTNE_EXPECTS(t.sparse, "DataScaledMarginalCrossEntropy needs sparse targets");
    DSSTNE_EXPECTS(!is_softmax(p),
                   "DataScaledMarginalCrossEntropy is not defined for a SoftMax output layer");
  }
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr, kernel, ": the activation pointer is null");
  if (!t.sparse) {
    DSSTNE_EXPECTS(t.dense != nullptr, kernel, ": dense targets without a target pointer");
    return true;
  }
  DSSTNE_EXPECTS(t.csr.offsets != nullptr, kernel, ": sparse targets without offsets");
  DSSTNE_EXPECTS(t.csr.rows >= rows, kernel, ": sparse targets have ", t.csr.rows,
                 " rows for a batch of ", rows);
  return true;
}

}  // namespace dsstne::terms
