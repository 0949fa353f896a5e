// SPDX-License-Identifier: Apache-2.0
/// @file sparse.cpp
/// @brief Products of a CSR batch with a dense weight matrix (spec/math.md §4.2, §4.4) and the
/// materialisation of a CSR batch. Zeros are never visited: work is proportional to the stored
/// entries, and every sum runs in storage order so results do not depend on the thread count.

#include <algorithm>
#include <cstdint>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

namespace {

/// Output columns owned by one task of the transposed product. Any width gives the same bits;
/// this one keeps a task's strip of grad and delta rows within a few cache lines.
constexpr int64_t kColumnBlock = 128;

}  // namespace

void sparse_product(const Context& ctx, const CsrView& x, const float* w, int64_t n_out,
                    float* z) {
  // x: rows × n_in (CSR), w: n_in × n_out, z: rows × n_out (accumulated into).
  if (!checks::sparse_product(ctx, x, w, n_out, z)) return;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t r = 0; r < x.rows; ++r) {
    float* zr = z + r * n_out;
    for (int64_t e = x.offsets[r]; e < x.offsets[r + 1]; ++e) {
      const float* wi = w + static_cast<int64_t>(x.indices[e]) * n_out;
      if (x.values == nullptr) {
        for (int64_t o = 0; o < n_out; ++o) zr[o] += wi[o];
      } else {
        const float v = x.values[e];
        for (int64_t o = 0; o < n_out; ++o) zr[o] += v * wi[o];
      }
    }
  }
}

void sparse_transposed_product(const Context& ctx, const CsrView& x, const float* delta,
                               int64_t n_in, int64_t n_out, float alpha, float beta, float* grad) {
  // x: rows × n_in (CSR), delta: rows × n_out, grad: n_in × n_out.
  if (!checks::sparse_transposed_product(ctx, x, delta, n_in, n_out, alpha, beta, grad)) return;
  const int64_t nnz = x.rows > 0 ? x.offsets[x.rows] : 0;
  DSSTNE_EXPECTS(x.nnz < 0 || x.nnz == nnz, "sparse_transposed_product: the batch says it has ",
                 x.nnz, " entries, its offsets end at ", nnz);
  for (int64_t e = 0; e < nnz; ++e) {
    DSSTNE_EXPECTS(x.indices[e] < n_in, "sparse_transposed_product: entry ", e, " has index ",
                   x.indices[e], " >= n_in=", n_in);
  }
  // Each task owns a strip of grad columns and walks every row in order, so each grad element
  // sees the same additions in the same order for any thread count.
  const int64_t blocks = (n_out + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t o0 = blk * kColumnBlock, o1 = std::min(n_out, o0 + kColumnBlock);
    if (beta == 0.0f) {
      // Overwrite rather than multiply: 0·NaN from an uninitialised buffer would stick.
      for (int64_t i = 0; i < n_in; ++i) std::fill(grad + i * n_out + o0, grad + i * n_out + o1, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t i = 0; i < n_in; ++i) {
        float* gi = grad + i * n_out;
        for (int64_t o = o0; o < o1; ++o) gi[o] *= beta;
      }
    }
    for (int64_t r = 0; r < x.rows; ++r) {
      const float* dr = delta + r * n_out;
      for (int64_t e = x.offsets[r]; e < x.offsets[r + 1]; ++e) {
        const float c = x.values == nullptr ? alpha : alpha * x.values[e];
        float* gi = grad + static_cast<int64_t>(x.indices[e]) * n_out;
        for (int64_t o = o0; o < o1; ++o) gi[o] += c * dr[o];
      }
    }
  }
}

void csr_to_dense(const Context& ctx, const CsrView& x, int64_t col_begin, int64_t cols,
                  float* out) {
  // x: rows × (global units), out: rows × cols holding global columns [col_begin, col_begin+cols).
  if (!checks::csr_to_dense(ctx, x, col_begin, cols, out)) return;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t r = 0; r < x.rows; ++r) {
    float* row = out + r * cols;
    std::fill(row, row + cols, 0.0f);
    for (int64_t e = x.offsets[r]; e < x.offsets[r + 1]; ++e) {
      const int64_t c = static_cast<int64_t>(x.indices[e]) - col_begin;
      if (c < 0 || c >= cols) continue;  // another process's slice of the layer
      row[c] += x.values == nullptr ? 1.0f : x.values[e];
    }
  }
}

}  // namespace dsstne::cpu
