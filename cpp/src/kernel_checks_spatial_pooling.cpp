// SPDX-License-Identifier: Apache-2.0
// The argument checks of the spatial pooling kernels, Max, Average and LRN (kernel_checks.hpp),
// shared by both backends.
#include <cmath>
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"
#include "kernel_checks_util.hpp"

namespace dsstne::checks {

// The geometry rule. spec/formats.md §1.9 derives, per axis, out = 1 when in ≤ kernel, in when
// stride is 1 ("same"), else ⌊(in − kernel)/stride⌋ + 1, with pad (kernel − in + 1)/2 when
// in < kernel, kernel/2 when stride is 1, else 0. Those do not always meet the usual
// out = ⌊(in + 2·pad − kernel)/stride⌋ + 1 (an even kernel at stride 1 gives one output fewer;
// in = kernel at stride 1 gives one output), so the rule accepted here is the one both satisfy:
// 0 ≤ pad < kernel, in + 2·pad ≥ kernel and 1 ≤ out ≤ ⌊(in + 2·pad − kernel)/stride⌋ + 1. Then
// every window lies inside the padded input and holds at least one real position (the first
// ends at kernel − pad > 0, the last starts at most at in + pad − kernel < in), so a maximum
// always has a winner and an average a nonzero count.

namespace {

void pool_geometry(const char* kernel, const PoolGeometry& g, int64_t rows) {
  DSSTNE_EXPECTS(rows >= 0, kernel, ": negative row count ", rows);
  DSSTNE_EXPECTS(g.channels >= 1, kernel, ": ", g.channels, " channels, it needs at least 1");
  for (int axis = 0; axis < 3; ++axis) detail::window_axis(kernel, g, axis);
}

void lrn_arguments(const char* kernel, const LrnParams& p, int64_t rows, int64_t channels,
                   int64_t spatial) {
  DSSTNE_EXPECTS(rows >= 0 && channels >= 0 && spatial >= 0, kernel, ": bad shape rows=", rows,
                 " channels=", channels, " spatial=", spatial);
  DSSTNE_EXPECTS(p.n >= 1, kernel, ": window of ", p.n, " channels, it needs at least 1");
  // k > 0 and alpha ≥ 0 keep the base of the power positive, so y is finite for finite x.
  DSSTNE_EXPECTS(std::isfinite(p.k) && p.k > 0.0f, kernel, ": k = ", p.k,
                 " must be finite and positive");
  DSSTNE_EXPECTS(std::isfinite(p.alpha) && p.alpha >= 0.0f, kernel, ": alpha = ", p.alpha,
                 " must be finite and not negative");
  DSSTNE_EXPECTS(std::isfinite(p.beta) && p.beta >= 0.0f, kernel, ": beta = ", p.beta,
                 " must be finite and not negative");
}

}  // namespace

bool max_pool_forward(const Context&, const PoolGeometry& g, const float* x, int64_t rows,
                      float* y) {
  pool_geometry("max_pool_forward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "max_pool_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "max_pool_forward: the output pointer is null");
  return true;
}

bool max_pool_backward(const Context&, const PoolGeometry& g, const float* x,
                       const float* delta, int64_t rows, bool, float* dx) {
  pool_geometry("max_pool_backward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "max_pool_backward: the input pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "max_pool_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "max_pool_backward: the input delta pointer is null");
  return true;
}

bool average_pool_forward(const Context&, const PoolGeometry& g, const float* x,
                          int64_t rows, float* y) {
  pool_geometry("average_pool_forward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "average_pool_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "average_pool_forward: the output pointer is null");
  return true;
}

bool average_pool_backward(const Context&, const PoolGeometry& g, const float* delta,
                           int64_t rows, bool, float* dx) {
  pool_geometry("average_pool_backward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(delta != nullptr, "average_pool_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "average_pool_backward: the input delta pointer is null");
  return true;
}

bool lrn_forward(const Context&, const LrnParams& p, const float* x, int64_t rows,
                 int64_t channels, int64_t spatial, float* y) {
  lrn_arguments("lrn_forward", p, rows, channels, spatial);
  if (rows * channels * spatial == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "lrn_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "lrn_forward: the output pointer is null");
  return true;
}

bool lrn_backward(const Context&, const LrnParams& p, const float* x, const float* delta,
                  int64_t rows, int64_t channels, int64_t spatial, bool, float* dx) {
  lrn_arguments("lrn_backward", p, rows, channels, spatial);
  if (rows * channels * spatial == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "lrn_backward: the input pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "lrn_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "lrn_backward: the input delta pointer is null");
  return true;
}

}  // namespace dsstne::checks
