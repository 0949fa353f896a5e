// SPDX-License-Identifier: Apache-2.0
// The argument checks of the loss kernels (kernel_checks.hpp), shared by both backends.
#include <cstdint>

#include "cpu/loss_terms.hpp"
#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {
namespace {

/// Shapes, codes, the DataScaledMarginalCrossEntropy rules and the target pointers.
bool loss_arguments(const char* kernel, const LossParams& p, const float* a, int64_t rows,
                    int64_t cols, int64_t col_begin, const TargetView& t) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0, kernel, ": bad shape rows=", rows,
                 " cols=", cols, " col_begin=", col_begin);
  DSSTNE_EXPECTS(terms::known_error_function(p.function), kernel, ": unknown error function code ",
                 static_cast<uint32_t>(p.function));
  DSSTNE_EXPECTS(terms::known_activation(p.activation.kind), kernel, ": unknown activation code ",
                 static_cast<uint32_t>(p.activation.kind));
  if (p.function == ErrorFunction::DataScaledMarginalCrossEntropy) {
    DSSTNE_EXPECTS(t.sparse, "DataScaledMarginalCrossEntropy needs sparse targets");
    DSSTNE_EXPECTS(!terms::is_softmax(p),
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

}  // namespace

bool output_error(const Context&, const LossParams& p, const float* a, int64_t rows, int64_t cols,
                  int64_t col_begin, const TargetView& t) {
  return loss_arguments("output_error", p, a, rows, cols, col_begin, t);
}

bool output_error_sum(const Context&, const LossParams& p, const float* a, int64_t rows,
                      int64_t cols, int64_t col_begin, const TargetView& t, double* total) {
  if (!loss_arguments("output_error_sum", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(total != nullptr, "output_error_sum: the total pointer is null");
  return true;
}

bool output_delta(const Context&, const LossParams& p, const float* a, int64_t rows, int64_t cols,
                  int64_t col_begin, const TargetView& t, float* delta) {
  if (!loss_arguments("output_delta", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(delta != nullptr, "output_delta: the delta pointer is null");
  return true;
}

bool output_pass(const Context&, const LossParams& p, const float*, const float* z,
                 int64_t rows, int64_t cols, int64_t col_begin, const TargetView& t,
                 double* total, float* delta) {
  DSSTNE_EXPECTS(p.activation.kind != Activation::SoftMax,
                 "output_pass: a SoftMax output takes its delta row by row (output_delta)");
  if (!loss_arguments("output_pass", p, z, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(total != nullptr && delta != nullptr, "output_pass: the ",
                 total == nullptr ? "total" : "delta", " pointer is null");
  return true;
}

bool softmax_delta_sums(const Context&, const LossParams& p, const float* a, int64_t rows,
                        int64_t cols, int64_t col_begin, const TargetView& t, float* sums) {
  DSSTNE_EXPECTS(p.activation.kind == Activation::SoftMax,
                 "softmax_delta_sums: the output layer is not a SoftMax");
  if (!loss_arguments("softmax_delta_sums", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(sums != nullptr, "softmax_delta_sums: the sums pointer is null");
  return true;
}

bool softmax_output_delta(const Context&, const LossParams& p, const float* a, int64_t rows,
                          int64_t cols, int64_t col_begin, const TargetView& t,
                          const float* sums, float* delta) {
  DSSTNE_EXPECTS(p.activation.kind == Activation::SoftMax,
                 "softmax_output_delta: the output layer is not a SoftMax");
  if (!loss_arguments("softmax_output_delta", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(sums != nullptr && delta != nullptr,
                 "softmax_output_delta: the sums or delta pointer is null");
  return true;
}

}  // namespace dsstne::checks
