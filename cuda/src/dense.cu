// SPDX-License-Identifier: Apache-2.0
// Dense kernels on the GPU (reference: cpp/src/cpu/dense.cpp). GEMM goes through cuBLAS; the
// row/column helpers are memory-bound elementwise passes. Every column-wise sum walks the rows in
// order (as the CPU does) or, where one thread per column would leave the GPU idle, in a fixed
// chunk tree; nothing uses atomics, so two runs give the same bits.
#include <algorithm>
#include <cstdint>

#include "dsstne/cuda/blas.cuh"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "gemm_bfloat16.cuh"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocksY = 65535;     // gridDim.y limit; further rows are strided
constexpr unsigned int kMaxBlocks1d = 1u << 20;  // grid-stride beyond this many blocks
/// Rows per partial sum in clip_column_norms when one thread per column would be too few.
constexpr int64_t kNormChunkRows = 256;

unsigned int grid_1d(int64_t n) { return std::min(blocks_for(n, kThreads), kMaxBlocks1d); }

// c: m × n with row pitch ldc; C ← beta·C, and beta == 0 overwrites (NaN garbage must not stay).
// beta is *beta_on_device when that is given.
__global__ void scale_matrix_kernel(float* c, int64_t m, int64_t n, int64_t ldc, float beta,
                                    const float* beta_on_device) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= n) return;
  if (beta_on_device != nullptr) beta = *beta_on_device;
  for (int64_t r = blockIdx.y; r < m; r += gridDim.y) {
    float* p = c + r * ldc + col;
    *p = beta == 0.0f ? 0.0f : beta * *p;
  }
}

// z: rows × cols; threads over columns (coalesced), blocks.y over rows.
__global__ void broadcast_rows_kernel(const float* v, int64_t rows, int64_t cols, bool accumulate,
                                      float* z) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  const float value = v[col];
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float* p = z + r * cols + col;
    *p = accumulate ? *p + value : value;
  }
}

// y, x: n.
__global__ void add_kernel(const float* x, int64_t n, float* y) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

// x: n.
__global__ void fill_kernel(float* x, int64_t n, float v) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = v;
}

// x: rows × cols, out: cols. One thread per column sums the rows in order, exactly as the CPU
// does (plain additions, so no contraction can change the bits); a warp reads 32 adjacent floats.
__global__ void column_mean_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  // Loads are issued 16 rows ahead so a thread has many in flight; the adds stay in row order.
  constexpr int kAhead = 16;
  float sum = 0.0f;
  int64_t r = 0;
  for (; r + kAhead <= rows; r += kAhead) {
    float v[kAhead];
#pragma unroll
    for (int j = 0; j < kAhead; ++j) v[j] = x[(r + j) * cols + col];
#pragma unroll
    for (int j = 0; j < kAhead; ++j) sum += v[j];
  }
  for (; r < rows; ++r) sum += x[r * cols + col];
  out[col] = rows > 0 ? sum / static_cast<float>(rows) : sum;
}

// x: rows × cols; one block per row (blocks.x strided over rows). Each thread sums the squares of
// its strided columns in order, then the block combines them in a fixed tree.
__global__ void clip_row_norms_kernel(float* x, int64_t rows, int64_t cols, float max_norm) {
  __shared__ float shared[kThreads];
  const float max_sq = max_norm * max_norm;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = x + r * cols;
    float local = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) local += row[c] * row[c];
    const float sq = block_reduce(local, shared, SumOp{});
    if (sq > max_sq) {
      const float scale = max_norm / sqrtf(sq);
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row[c] *= scale;
    }
  }
}

// w: n_in × n_out, partial: chunks × n_out. partial[k][o] = Σ_{i in chunk k} w[i][o]², i ascending.
// Threads over columns (coalesced), blocks.y over row chunks.
__global__ void column_square_sums_kernel(const float* w, int64_t n_in, int64_t n_out,
                                          int64_t chunk_rows, int64_t chunks, float* partial) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n_out) return;
  for (int64_t k = blockIdx.y; k < chunks; k += gridDim.y) {
    const int64_t i1 = min(n_in, (k + 1) * chunk_rows);
    float sq = 0.0f;
    // Products rounded on their own, as on the CPU (no fused multiply-add).
    for (int64_t i = k * chunk_rows; i < i1; ++i) {
      const float v = w[i * n_out + o];
      sq = __fadd_rn(sq, __fmul_rn(v, v));
    }
    partial[k * n_out + o] = sq;
  }
}

// partial: chunks × n_out, in place: row 0 ← the column's scale (1 when within the norm), summing
// the chunks in order.
__global__ void column_scales_kernel(float* partial, int64_t n_out, int64_t chunks,
                                     float max_norm) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n_out) return;
  float sq = 0.0f;
  for (int64_t k = 0; k < chunks; ++k) sq += partial[k * n_out + o];
  partial[o] = sq > max_norm * max_norm ? max_norm / sqrtf(sq) : 1.0f;
}

// w: n_in × n_out; w[i][o] *= scale[o] where the column was clipped.
__global__ void scale_columns_kernel(float* w, int64_t n_in, int64_t n_out, const float* scale) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n_out) return;
  const float s = scale[o];
  if (s == 1.0f) return;
  for (int64_t i = blockIdx.y; i < n_in; i += gridDim.y) w[i * n_out + o] *= s;
}

/// Grid of column tiles × row blocks for the 2-D kernels above.
dim3 grid_2d(int64_t cols, int64_t rows) {
  return dim3(blocks_for(cols, kThreads),
              static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocksY)));
}

void multiply(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
              const Scalars& scalars, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc) {
  const StreamScope s(ctx);
  if (k == 0) {
    scale_matrix_kernel<<<grid_2d(n, m), kThreads, 0, s.stream()>>>(
        c, m, n, ldc, scalars.on_device ? 0.0f : *scalars.beta,
        scalars.on_device ? scalars.beta : nullptr);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  const GemmMath math = ctx.gemm_math();
  if (math == GemmMath::BFloat16) {
    gemm_bfloat16(s, trans_a, trans_b, m, n, k, scalars, a, lda, b, ldb, c, ldc);
    return;
  }
  // The handle is shared by the context's copies, each with its own GEMM math: the math mode is
  // set and used under the context's lock, so no other thread changes it in between.
  Resources& r = s.resources();
  const std::lock_guard<std::mutex> lock(r.mutex);
  DSSTNE_CUBLAS_TRY(cublasSetMathMode(r.blas, math == GemmMath::TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                     : CUBLAS_PEDANTIC_MATH));
  const PointerMode mode(r.blas, scalars.on_device);
  // cuBLAS is column-major: a row-major matrix is its transpose there. Row-major C = op(A)·op(B)
  // is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so B goes first, m and n swap, and each op is kept (a
  // stored row-major B read column-major is already Bᵀ). The checks kept every size within int.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  DSSTNE_CUBLAS_TRY(cublasSgemm(r.blas, op_b, op_a, int(n), int(m), int(k), scalars.alpha, b,
                                int(ldb), a, int(lda), scalars.beta, c, int(ldc)));
}

}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  if (!checks::gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  multiply(ctx, trans_a, trans_b, m, n, k, Scalars{&alpha, &beta, false}, a, lda, b, ldb, c, ldc);
}

void gemm_device_scalars(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, const float* scalars, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (!checks::gemm_device_scalars(ctx, trans_a, trans_b, m, n, k, scalars, a, lda, b, ldb, c,
                                   ldc))
    return;
  multiply(ctx, trans_a, trans_b, m, n, k, Scalars{scalars, scalars + 1, true}, a, lda, b, ldb,
           c, ldc);
}

void broadcast_rows(const Context& ctx, const float* v, int64_t rows, int64_t cols,
                    bool accumulate, float* z) {
  if (!checks::broadcast_rows(ctx, v, rows, cols, accumulate, z)) return;
  const StreamScope s(ctx);
  broadcast_rows_kernel<<<grid_2d(cols, rows), kThreads, 0, s.stream()>>>(v, rows, cols,
                                                                          accumulate, z);
  DSSTNE_CHECK_LAST_KERNEL();
}

void add(const Context& ctx, const float* x, int64_t n, float* y) {
  if (!checks::add(ctx, x, n, y)) return;
  const StreamScope s(ctx);
  add_kernel<<<grid_1d(n), kThreads, 0, s.stream()>>>(x, n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void column_mean(const Context& ctx, const float* x, int64_t rows, int64_t cols, float* out) {
  if (!checks::column_mean(ctx, x, rows, cols, out)) return;
  const StreamScope s(ctx);
  column_mean_kernel<<<blocks_for(cols, kThreads), kThreads, 0, s.stream()>>>(x, rows, cols, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

void fill(const Context& ctx, float* x, int64_t n, float v) {
  if (!checks::fill(ctx, x, n, v)) return;
  const StreamScope s(ctx);
  fill_kernel<<<grid_1d(n), kThreads, 0, s.stream()>>>(x, n, v);
  DSSTNE_CHECK_LAST_KERNEL();
}

void clip_row_norms(const Context& ctx, float* x, int64_t rows, int64_t cols, float max_norm) {
  if (!checks::clip_row_norms(ctx, x, rows, cols, max_norm)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocks1d));
  clip_row_norms_kernel<<<blocks, kThreads, 0, s.stream()>>>(x, rows, cols, max_norm);
  DSSTNE_CHECK_LAST_KERNEL();
}

void clip_column_norms(const Context& ctx, float* w, int64_t n_in, int64_t n_out,
                       float max_norm) {
  // w: n_in × n_out; column o is the incoming weight vector of output unit o (WeightNorm).
  if (!checks::clip_column_norms(ctx, w, n_in, n_out, max_norm)) return;
  // A 1M × 128 input weight would leave 128 threads walking a million rows each, so the rows are
  // cut into fixed chunks whose partial sums are then added in chunk order (deterministic; equal
  // to the CPU's order up to rounding).
  const StreamScope s(ctx);
  const int64_t chunks = (n_in + kNormChunkRows - 1) / kNormChunkRows;
  const auto n_partial = static_cast<std::size_t>(chunks * n_out);
  Scratch scratch(s, Scratch::round_up(n_partial * sizeof(float)), "clip_column_norms");
  float* partial = scratch.take<float>(n_partial);
  column_square_sums_kernel<<<grid_2d(n_out, chunks), kThreads, 0, s.stream()>>>(
      w, n_in, n_out, kNormChunkRows, chunks, partial);
  DSSTNE_CHECK_LAST_KERNEL();
  column_scales_kernel<<<blocks_for(n_out, kThreads), kThreads, 0, s.stream()>>>(partial, n_out,
                                                                                 chunks, max_norm);
  DSSTNE_CHECK_LAST_KERNEL();
  scale_columns_kernel<<<grid_2d(n_out, n_in), kThreads, 0, s.stream()>>>(w, n_in, n_out, partial);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
