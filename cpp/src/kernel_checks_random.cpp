// SPDX-License-Identifier: Apache-2.0
// The argument checks of the random kernels (weight initialization, shuffling) and of dropout
// (kernel_checks.hpp), shared by both backends.
#include <cstdint>

#include "cpu/init_law.hpp"
#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {

bool init_weights(const Context&, WeightInit scheme, float scale, const RandomStream&,
                  int64_t n_in, int64_t n_out, const MatrixBlock& b, float* w) {
  DSSTNE_EXPECTS(n_in > 0 && n_out > 0, "init_weights: matrix must be non-empty, got ", n_in,
                 " x ", n_out);
  DSSTNE_EXPECTS(b.col_begin >= 0 && b.cols >= 0 && b.col_begin + b.cols <= n_out,
                 "init_weights: columns [", b.col_begin, ", ", b.col_begin + b.cols,
                 ") outside the ", n_out, " output units");
  DSSTNE_EXPECTS(b.row_begin >= 0 && b.rows >= 0 && b.row_begin + b.rows <= n_in,
                 "init_weights: rows [", b.row_begin, ", ", b.row_begin + b.rows,
                 ") outside the ", n_in, " input units");
  init::init_law(scheme, scale, n_in, n_out);  // raises for an unknown scheme
  if (b.cols == 0 || b.rows == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "init_weights: weight pointer is null");
  return true;
}

bool shuffle_permutation(const Context&, const RandomStream&, int64_t n, uint32_t* perm) {
  DSSTNE_EXPECTS(n >= 0 && n <= (int64_t{1} << 32), "shuffle_permutation: example count ", n,
                 " outside [0, 2^32]");
  if (n == 0) return false;
  DSSTNE_EXPECTS(perm != nullptr, "shuffle_permutation: permutation pointer is null");
  return true;
}

bool dropout_forward(const Context&, const ActivationParams&, float p, const RandomStream&,
                     int64_t row_pitch, int64_t col_begin, int64_t rows, int64_t cols, float* a,
                     float* saved, uint8_t* mask) {
  DSSTNE_EXPECTS(p < 1.0f, "dropout_forward: dropout probability ", p, " must be below 1");
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0 && row_pitch >= col_begin + cols,
                 "dropout_forward: bad shape rows=", rows, " cols=", cols, " col_begin=", col_begin,
                 " row_pitch=", row_pitch);
  if (rows * cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr && saved != nullptr && mask != nullptr,
                 "dropout_forward: activation, saved or mask pointer is null");
  return true;
}

bool dropout_backward(const Context&, const ActivationParams&, float p, const uint8_t* mask,
                      int64_t rows, int64_t cols, float* g) {
  DSSTNE_EXPECTS(p < 1.0f, "dropout_backward: dropout probability ", p, " must be below 1");
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "dropout_backward: bad shape rows=", rows, " cols=", cols);
  if (rows * cols == 0) return false;
  DSSTNE_EXPECTS(mask != nullptr && g != nullptr,
                 "dropout_backward: mask or delta pointer is null");
  return true;
}

}  // namespace dsstne::checks
