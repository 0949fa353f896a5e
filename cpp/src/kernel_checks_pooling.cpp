// SPDX-License-Identifier: Apache-2.0
// The argument checks of the pooling kernels of several sources (kernel_checks.hpp), shared by
// both backends.
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {
namespace {

/// The shape and the source count; when `has_work`, the source list too, and its entries unless
/// the rows have no units to read.
bool pooling_sources(const char* kernel, const float* const* sources, int64_t count,
                     int64_t min_count, int64_t rows, int64_t cols, bool has_work) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, kernel, ": bad shape rows=", rows, " cols=", cols);
  DSSTNE_EXPECTS(count >= min_count && count <= kMaxPoolingSources, kernel, ": ", count,
                 " sources, it takes ", min_count, " to ", kMaxPoolingSources);
  if (!has_work) return false;
  DSSTNE_EXPECTS(sources != nullptr, kernel, ": the source list is null");
  for (int64_t k = 0; k < count && cols != 0; ++k)
    DSSTNE_EXPECTS(sources[k] != nullptr, kernel, ": source ", k, " is null");
  return true;
}

/// The incoming delta and the list of the sources' deltas, whose null entries are skipped. A
/// buffer listed twice would take one source's gradient and then lose it to the other's.
bool pooling_deltas(const char* kernel, const float* delta, int64_t count,
                    float* const* deltas) {
  DSSTNE_EXPECTS(delta != nullptr, kernel, ": the delta pointer is null");
  DSSTNE_EXPECTS(deltas != nullptr, kernel, ": the list of the sources' deltas is null");
  for (int64_t k = 1; k < count; ++k)
    for (int64_t earlier = 0; earlier < k; ++earlier)
      DSSTNE_EXPECTS(deltas[k] == nullptr || deltas[k] != deltas[earlier], kernel, ": sources ",
                     earlier, " and ", k, " share one delta buffer");
  return true;
}

bool pooling_output(const char* kernel, const float* const* sources, int64_t count,
                    int64_t min_count, int64_t rows, int64_t cols, bool has_work,
                    const float* y) {
  if (!pooling_sources(kernel, sources, count, min_count, rows, cols, has_work)) return false;
  DSSTNE_EXPECTS(y != nullptr, kernel, ": the output pointer is null");
  return true;
}

bool pooling_backward(const char* kernel, const float* const* sources, int64_t count,
                      int64_t min_count, int64_t rows, int64_t cols, const float* delta,
                      float* const* deltas) {
  if (!pooling_sources(kernel, sources, count, min_count, rows, cols, rows * cols != 0))
    return false;
  return pooling_deltas(kernel, delta, count, deltas);
}

}  // namespace

bool maxout_forward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  return pooling_output("maxout_forward", sources, count, 1, rows, cols, rows * cols != 0, y);
}

bool maxout_backward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool, float* const* deltas) {
  return pooling_backward("maxout_backward", sources, count, 1, rows, cols, delta, deltas);
}

bool dot_product_forward(const Context&, const float* const* sources, int64_t count,
                         int64_t rows, int64_t cols, float* y) {
  return pooling_output("dot_product_forward", sources, count, 2, rows, cols, rows != 0, y);
}

bool dot_product_backward(const Context&, const float* const* sources, int64_t count,
                          int64_t rows, int64_t cols, const float* delta, bool,
                          float* const* deltas) {
  return pooling_backward("dot_product_backward", sources, count, 2, rows, cols, delta, deltas);
}

bool cosine_forward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  return pooling_output("cosine_forward", sources, count, 2, rows, cols, rows != 0, y);
}

bool cosine_backward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool, float* const* deltas) {
  return pooling_backward("cosine_backward", sources, count, 2, rows, cols, delta, deltas);
}

}  // namespace dsstne::checks
