// SPDX-License-Identifier: Apache-2.0
// The argument checks of the sparse kernels and of zero_listed_rows (kernel_checks.hpp), shared
// by both backends.
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"
#include "kernel_checks_util.hpp"

namespace dsstne::checks {
namespace {

void check_csr(const CsrView& x, const char* kernel) {
  DSSTNE_EXPECTS(x.rows >= 0, kernel, ": negative row count ", x.rows);
  DSSTNE_EXPECTS(x.rows == 0 || (x.offsets != nullptr), kernel, ": CSR batch of ", x.rows,
                 " rows has no offsets");
}

}  // namespace

bool sparse_product(const Context&, const CsrView& x, const float*, int64_t n_out, float*) {
  check_csr(x, "sparse_product");
  DSSTNE_EXPECTS(n_out >= 0, "sparse_product: negative n_out ", n_out);
  return x.rows > 0 && n_out > 0;
}

bool sparse_transposed_product(const Context&, const CsrView& x, const float*, int64_t n_in,
                               int64_t n_out, float, float, float*) {
  check_csr(x, "sparse_transposed_product");
  DSSTNE_EXPECTS(n_in >= 0 && n_out >= 0, "sparse_transposed_product: negative size ", n_in,
                 " × ", n_out);
  return n_in > 0 && n_out > 0;
}

bool csr_to_dense(const Context&, const CsrView& x, int64_t col_begin, int64_t cols, float*) {
  check_csr(x, "csr_to_dense");
  DSSTNE_EXPECTS(cols >= 0 && col_begin >= 0, "csr_to_dense: bad column range begin=", col_begin,
                 " cols=", cols);
  return x.rows > 0 && cols > 0;
}

bool sparse_distinct_indices(const Context&, const CsrView& x, int64_t n_in, uint32_t* rows,
                             int64_t* count) {
  check_csr(x, "sparse_distinct_indices");
  DSSTNE_EXPECTS(n_in >= 0, "sparse_distinct_indices: negative n_in ", n_in);
  DSSTNE_EXPECTS(rows != nullptr && count != nullptr, "sparse_distinct_indices: the ",
                 rows == nullptr ? "rows" : "count", " pointer is null");
  return true;
}

bool zero_listed_rows(const Context&, const uint32_t* rows, const int64_t* count,
                      int64_t max_count, int64_t n_rows, int64_t row_len, float* m) {
  if (!detail::listed_rows_arguments("zero_listed_rows", rows, count, max_count, n_rows, row_len))
    return false;
  DSSTNE_EXPECTS(m != nullptr, "zero_listed_rows: the matrix pointer is null");
  return true;
}

}  // namespace dsstne::checks
