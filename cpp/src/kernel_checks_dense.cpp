// SPDX-License-Identifier: Apache-2.0
// The argument checks of the dense kernels (kernel_checks.hpp), shared by both backends.
#include <climits>
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {
namespace {

void check_blas_int(int64_t v, const char* name) {
  DSSTNE_EXPECTS(v >= 0 && v <= INT_MAX, "gemm: ", name, " = ", v,
                 " is outside the range BLAS accepts [0, ", INT_MAX, "]");
}

}  // namespace

bool gemm(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float,
          const float*, int64_t lda, const float*, int64_t ldb, float, float*, int64_t ldc) {
  // Stored shapes: A is m × k (or k × m when trans_a), B is k × n (or n × k), C is m × n.
  DSSTNE_EXPECTS(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  // An empty C (a rank owning none of a layer's units) is never touched, whatever its ldc.
  DSSTNE_EXPECTS(ldc >= n, "gemm: ldc=", ldc, " < n=", n);
  if (m == 0 || n == 0) return false;
  if (k == 0) return true;  // no product terms: C = beta·C, and A and B are never read
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  DSSTNE_EXPECTS(lda >= a_cols, "gemm: lda=", lda, " < ", a_cols, " columns of stored A");
  DSSTNE_EXPECTS(ldb >= b_cols, "gemm: ldb=", ldb, " < ", b_cols, " columns of stored B");
  check_blas_int(m, "m");
  check_blas_int(n, "n");
  check_blas_int(k, "k");
  check_blas_int(lda, "lda");
  check_blas_int(ldb, "ldb");
  check_blas_int(ldc, "ldc");
  return true;
}

bool gemm_device_scalars(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, const float* scalars, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc) {
  DSSTNE_EXPECTS(scalars != nullptr, "gemm_device_scalars: the scalars pointer is null");
  return gemm(ctx, trans_a, trans_b, m, n, k, 0.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

bool broadcast_rows(const Context&, const float*, int64_t rows, int64_t cols, bool, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "broadcast_rows: negative size ", rows, " × ", cols);
  return rows > 0 && cols > 0;
}

bool add(const Context&, const float*, int64_t n, float*) {
  DSSTNE_EXPECTS(n >= 0, "add: negative size ", n);
  return n > 0;
}

bool column_mean(const Context&, const float*, int64_t rows, int64_t cols, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "column_mean: negative size ", rows, " × ", cols);
  return cols > 0;
}

bool fill(const Context&, float*, int64_t n, float) {
  DSSTNE_EXPECTS(n >= 0, "fill: negative size ", n);
  return n > 0;
}

bool clip_row_norms(const Context&, float*, int64_t rows, int64_t cols, float max_norm) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "clip_row_norms: negative size ", rows, " × ", cols);
  return max_norm > 0.0f && rows > 0 && cols > 0;  // max_norm 0 (the default) disables it
}

bool clip_column_norms(const Context&, float*, int64_t n_in, int64_t n_out, float max_norm) {
  DSSTNE_EXPECTS(n_in >= 0 && n_out >= 0, "clip_column_norms: negative size ", n_in, " × ",
                 n_out);
  return max_norm > 0.0f && n_in > 0 && n_out > 0;
}

}  // namespace dsstne::checks
