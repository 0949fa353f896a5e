// SPDX-License-Identifier: Apache-2.0
/// @file dense.cpp
/// @brief Dense reference kernels: GEMM through OpenBLAS and the small row/column helpers
/// (bias broadcast, column mean, norm clipping). Every matrix is row-major.

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne::cpu {

namespace {

/// Columns handled together by the column-wise kernels: a contiguous strip of each row keeps
/// the row-major walk cache friendly while each column still sums over rows in order.
constexpr int64_t kColumnBlock = 256;

/// Loops below this many elements run on one thread: forking costs more than the work.
constexpr int64_t kParallelMin = 1 << 15;

int to_blas_int(int64_t v, const char* name) {
  DSSTNE_EXPECTS(v >= 0 && v <= INT_MAX, "gemm: ", name, " = ", v,
                 " is outside the range BLAS accepts [0, ", INT_MAX, "]");
  return static_cast<int>(v);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
  // Stored shapes: A is m × k (or k × m when trans_a), B is k × n (or n × k), C is m × n.
  DSSTNE_EXPECTS(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  DSSTNE_EXPECTS(ldc >= std::max<int64_t>(1, n), "gemm: ldc=", ldc, " < n=", n);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // No product terms: C = beta·C, and beta == 0 overwrites so that NaN garbage cannot survive.
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  DSSTNE_EXPECTS(lda >= a_cols, "gemm: lda=", lda, " < ", a_cols, " columns of stored A");
  DSSTNE_EXPECTS(ldb >= b_cols, "gemm: ldb=", ldb, " < ", b_cols, " columns of stored B");
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, to_blas_int(m, "m"), to_blas_int(n, "n"),
              to_blas_int(k, "k"), alpha, a, to_blas_int(lda, "lda"), b, to_blas_int(ldb, "ldb"),
              beta, c, to_blas_int(ldc, "ldc"));
}

void broadcast_rows(const float* v, int64_t rows, int64_t cols, bool accumulate, float* z) {
  // z: rows × cols, v: cols.
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "broadcast_rows: negative size ", rows, " × ", cols);
#pragma omp parallel for if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = z + r * cols;
    if (accumulate) {
      for (int64_t c = 0; c < cols; ++c) row[c] += v[c];
    } else {
      std::copy(v, v + cols, row);
    }
  }
}

void add(const float* x, int64_t n, float* y) {
  DSSTNE_EXPECTS(n >= 0, "add: negative size ", n);
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void column_mean(const float* x, int64_t rows, int64_t cols, float* out) {
  // x: rows × cols, out: cols. Each column sums its rows in order, whatever the thread count.
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "column_mean: negative size ", rows, " × ", cols);
  const int64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for if (rows * cols >= kParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock, c1 = std::min(cols, c0 + kColumnBlock);
    for (int64_t c = c0; c < c1; ++c) out[c] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * cols;
      for (int64_t c = c0; c < c1; ++c) out[c] += row[c];
    }
    if (rows > 0) {
      const float count = static_cast<float>(rows);
      for (int64_t c = c0; c < c1; ++c) out[c] /= count;
    }
  }
}

void fill(float* x, int64_t n, float v) {
  DSSTNE_EXPECTS(n >= 0, "fill: negative size ", n);
  std::fill(x, x + n, v);
}

void clip_row_norms(float* x, int64_t rows, int64_t cols, float max_norm) {
  // x: rows × cols; each row is one example's delta (DeltaNorm).
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "clip_row_norms: negative size ", rows, " × ", cols);
  if (!(max_norm > 0.0f)) return;  // 0 (the default) disables the constraint
  const float max_sq = max_norm * max_norm;
#pragma omp parallel for if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    float sq = 0.0f;
    for (int64_t c = 0; c < cols; ++c) sq += row[c] * row[c];
    if (sq > max_sq) {
      const float scale = max_norm / std::sqrt(sq);
      for (int64_t c = 0; c < cols; ++c) row[c] *= scale;
    }
  }
}

void clip_column_norms(float* w, int64_t n_in, int64_t n_out, float max_norm) {
  // w: n_in × n_out; column o is the incoming weight vector of output unit o (WeightNorm).
  DSSTNE_EXPECTS(n_in >= 0 && n_out >= 0, "clip_column_norms: negative size ", n_in, " × ",
                 n_out);
  if (!(max_norm > 0.0f)) return;
  const float max_sq = max_norm * max_norm;
  const int64_t blocks = (n_out + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for if (n_in * n_out >= kParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t o0 = blk * kColumnBlock, o1 = std::min(n_out, o0 + kColumnBlock);
    float sq[kColumnBlock] = {};  // sq[o − o0] = Σ_i w[i][o]², i ascending
    for (int64_t i = 0; i < n_in; ++i) {
      const float* row = w + i * n_out;
      for (int64_t o = o0; o < o1; ++o) sq[o - o0] += row[o] * row[o];
    }
    float scale[kColumnBlock];
    bool any = false;
    for (int64_t o = o0; o < o1; ++o) {
      const float s = sq[o - o0];
      scale[o - o0] = s > max_sq ? max_norm / std::sqrt(s) : 1.0f;
      any = any || s > max_sq;
    }
    if (!any) continue;
    for (int64_t i = 0; i < n_in; ++i) {
      float* row = w + i * n_out;
      for (int64_t o = o0; o < o1; ++o) {
        if (scale[o - o0] != 1.0f) row[o] *= scale[o - o0];
      }
    }
  }
}

}  // namespace dsstne::cpu
