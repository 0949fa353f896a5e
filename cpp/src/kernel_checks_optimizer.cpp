// SPDX-License-Identifier: Apache-2.0
// The argument checks of the regularization and optimizer kernels (kernel_checks.hpp), shared by
// both backends.
#include <cmath>
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"
#include "kernel_checks_util.hpp"

namespace dsstne::checks {
namespace {

bool update_arguments(const char* who, const UpdateParams& u, const float* input, int64_t n,
                      const float* p, const float* v, const float* v2) {
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

}  // namespace

// ---- regularize --------------------------------------------------------------------------------

bool sparseness_penalty(const Context&, const float* a, int64_t rows, int64_t cols, float, float,
                        float* g) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "sparseness_penalty: bad shape rows=", rows,
                 " cols=", cols);
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr && g != nullptr,
                 "sparseness_penalty: activation or delta pointer is null");
  return true;
}

bool regularization_error(const Context&, const float* w, int64_t n, float, float) {
  DSSTNE_EXPECTS(n >= 0, "regularization_error: negative weight count ", n);
  if (n == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "regularization_error: weight pointer is null");
  return true;
}

bool regularization_error_sum(const Context&, const float* w, int64_t n, float, float,
                              double* total) {
  DSSTNE_EXPECTS(n >= 0, "regularization_error_sum: negative weight count ", n);
  DSSTNE_EXPECTS(total != nullptr, "regularization_error_sum: the total pointer is null");
  if (n == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "regularization_error_sum: weight pointer is null");
  return true;
}

// ---- optimizer ---------------------------------------------------------------------------------

bool update_weights(const Context&, const UpdateParams& u, const float* g, int64_t n, float* w,
                    float* v, float* v2) {
  return update_arguments("update_weights", u, g, n, w, v, v2);
}

bool update_biases(const Context&, const UpdateParams& u, const float* mean_delta, int64_t n,
                   float* b, float* v, float* v2) {
  return update_arguments("update_biases", u, mean_delta, n, b, v, v2);
}

bool update_listed_rows(const Context& ctx, const UpdateParams& u, const float* g,
                        const uint32_t* rows, const int64_t* count, int64_t max_count,
                        int64_t n_rows, int64_t row_len, float* w) {
  DSSTNE_EXPECTS(u.mode == TrainingMode::SGD && u.lambda == 0.0f && u.lambda1 == 0.0f,
                 "update_listed_rows: only SGD without weight decay leaves unlisted rows as they "
                 "are; got training mode code ", static_cast<uint32_t>(u.mode), ", lambda ",
                 u.lambda, ", lambda1 ", u.lambda1);
  if (!detail::listed_rows_arguments("update_listed_rows", rows, count, max_count, n_rows, row_len))
    return false;
  return update_weights(ctx, u, g, row_len, w, nullptr, nullptr);
}

bool watch_error(const Context&, const double* error, double tolerance, int32_t* halt) {
  DSSTNE_EXPECTS(error != nullptr && halt != nullptr, "watch_error: the ",
                 error == nullptr ? "error" : "halt", " pointer is null");
  DSSTNE_EXPECTS(tolerance >= 0.0, "watch_error: the tolerance must be >= 0, got ", tolerance);
  return true;
}

bool zero_if_halted(const Context&, const int32_t* halt, float* x, int64_t n) {
  DSSTNE_EXPECTS(halt != nullptr, "zero_if_halted: the halt pointer is null");
  DSSTNE_EXPECTS(n >= 0, "zero_if_halted: negative element count ", n);
  if (n == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "zero_if_halted: the data pointer is null");
  return true;
}

bool sgd_step_scalars(const Context&, const UpdateParams& u, float scale, float* scalars) {
  DSSTNE_EXPECTS(u.mode == TrainingMode::SGD && u.lambda1 == 0.0f,
                 "sgd_step_scalars: only SGD without L1 decay is one product; got training mode "
                 "code ", static_cast<uint32_t>(u.mode), ", lambda1 ", u.lambda1);
  DSSTNE_EXPECTS(std::isfinite(u.alpha) && std::isfinite(u.lambda) && std::isfinite(scale),
                 "sgd_step_scalars: alpha ", u.alpha, ", lambda ", u.lambda, " and scale ", scale,
                 " must be finite");
  DSSTNE_EXPECTS(scalars != nullptr, "sgd_step_scalars: the scalars pointer is null");
  return true;
}

}  // namespace dsstne::checks
