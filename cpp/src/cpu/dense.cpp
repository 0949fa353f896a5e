// SPDX-License-Identifier: Apache-2.0
/// @file dense.cpp
/// @brief Dense reference kernels: GEMM through OpenBLAS and the small row/column helpers
/// (bias broadcast, column mean, norm clipping). Every matrix is row-major.

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

namespace {

/// Columns handled together by the column-wise kernels: a contiguous strip of each row keeps
/// the row-major walk cache friendly while each column still sums over rows in order.
constexpr int64_t kColumnBlock = 256;

/// Loops below this many elements run on one thread: forking costs more than the work.
constexpr int64_t kParallelMin = 1 << 15;

}  // namespace

namespace {

/// x rounded to the nearest bfloat16 (ties to even), kept as a float; NaN stays NaN.
float to_bfloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    bits = (bits | 0x00400000u) & 0xFFFF0000u;  // quiet, and never rounded into infinity
  } else {
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    bits &= 0xFFFF0000u;
  }
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

/// The rows × cols matrix at m (leading dimension ld) with every value rounded to bfloat16, in
/// `out` (leading dimension cols).
const float* rounded_to_bfloat16(const float* m, int64_t rows, int64_t cols, int64_t ld,
                                 std::vector<float>& out) {
  out.resize(static_cast<std::size_t>(rows * cols));
#pragma omp parallel for if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[std::size_t(r * cols + j)] = to_bfloat16(m[r * ld + j]);
  return out.data();
}

}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  if (!checks::gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  if (k == 0) {
    // No product terms: C = beta·C, and beta == 0 overwrites so that NaN garbage cannot survive.
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  std::vector<float> a16, b16;
  if (ctx.gemm_math() == GemmMath::BFloat16) {  // the GPU's bf16 inputs, float32 accumulation
    a = rounded_to_bfloat16(a, trans_a ? k : m, trans_a ? m : k, lda, a16);
    lda = trans_a ? m : k;
    b = rounded_to_bfloat16(b, trans_b ? n : k, trans_b ? k : n, ldb, b16);
    ldb = trans_b ? k : n;
  }
  // The checks kept every size within BLAS's int.
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

void gemm_device_scalars(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, const float* scalars, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (!checks::gemm_device_scalars(ctx, trans_a, trans_b, m, n, k, scalars, a, lda, b, ldb, c,
                                   ldc))
    return;
  gemm(ctx, trans_a, trans_b, m, n, k, scalars[0], a, lda, b, ldb, scalars[1], c, ldc);
}

void broadcast_rows(const Context& ctx, const float* v, int64_t rows, int64_t cols,
                    bool accumulate, float* z) {
  // z: rows × cols, v: cols.
  if (!checks::broadcast_rows(ctx, v, rows, cols, accumulate, z)) return;
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

void add(const Context& ctx, const float* x, int64_t n, float* y) {
  if (!checks::add(ctx, x, n, y)) return;
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void column_mean(const Context& ctx, const float* x, int64_t rows, int64_t cols, float* out) {
  // x: rows × cols, out: cols. Each column sums its rows in order, whatever the thread count.
  if (!checks::column_mean(ctx, x, rows, cols, out)) return;
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

void fill(const Context& ctx, float* x, int64_t n, float v) {
  if (!checks::fill(ctx, x, n, v)) return;
  std::fill(x, x + n, v);
}

void clip_row_norms(const Context& ctx, float* x, int64_t rows, int64_t cols, float max_norm) {
  // x: rows × cols; each row is one example's delta (DeltaNorm).
  if (!checks::clip_row_norms(ctx, x, rows, cols, max_norm)) return;
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

void clip_column_norms(const Context& ctx, float* w, int64_t n_in, int64_t n_out,
                       float max_norm) {
  // w: n_in × n_out; column o is the incoming weight vector of output unit o (WeightNorm).
  if (!checks::clip_column_norms(ctx, w, n_in, n_out, max_norm)) return;
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
