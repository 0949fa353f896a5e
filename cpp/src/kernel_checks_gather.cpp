// SPDX-License-Identifier: Apache-2.0
// The argument checks of the batch-loading (gather) kernels (kernel_checks.hpp), shared by both
// backends.
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {

bool sparse_row_counts(const Context&, const SparseStorageView&, const uint32_t*, int64_t rows,
                       int64_t*) {
  DSSTNE_EXPECTS(rows >= 0, "sparse_row_counts: negative row count ", rows);
  return rows > 0;
}

bool sparse_batch_fill(const Context&, const SparseStorageView&, const uint32_t*, int64_t rows,
                       const int64_t*, bool, const DenoiseParams& dn, uint32_t*, float*) {
  DSSTNE_EXPECTS(rows >= 0, "sparse_batch_fill: negative row count ", rows);
  DSSTNE_EXPECTS(dn.p >= 0.0f && dn.p < 1.0f, "sparse_batch_fill: denoising probability ", dn.p,
                 " is outside [0, 1)");
  return rows > 0;
}

bool dense_batch_fill(const Context&, const DenseStorageView& s, const uint32_t*, int64_t rows,
                      int64_t col_begin, int64_t cols, bool, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0, "dense_batch_fill: bad shape rows=",
                 rows, " col_begin=", col_begin, " cols=", cols);
  DSSTNE_EXPECTS(s.one_hot || col_begin + cols <= s.stride, "dense_batch_fill: columns [",
                 col_begin, ", ", col_begin + cols, ") exceed the record stride ", s.stride);
  return rows > 0 && cols > 0;
}

bool gather_weights(const Context&, const float*, const uint32_t*, int64_t rows, float*) {
  DSSTNE_EXPECTS(rows >= 0, "gather_weights: negative row count ", rows);
  return rows > 0;
}

}  // namespace dsstne::checks
