// SPDX-License-Identifier: Apache-2.0
// The halves of row- and column-wise reductions that the ranks of a split layer finish together
// (reference: cpp/src/cpu/rows.cpp). Row reductions take one block per row and a fixed tree;
// column sums (and sum_blocks, the communicators' rank-order sum) walk the rows in order with
// explicitly rounded operations, as the CPU does.
#include <algorithm>
#include <cfloat>
#include <cstdint>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;

// a (and b): rows × cols; out: rows. One block per row, strided over rows.
__global__ void row_stats_kernel(RowStat stat, const float* a, const float* b, int64_t rows,
                                 int64_t cols, float* out) {
  __shared__ float shared[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* x = a + r * cols;
    float local = stat == RowStat::Max ? -INFINITY : 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float v = x[j];
      if (stat == RowStat::Max) {
        local = fmaxf(local, v);
      } else {
        const float term = stat == RowStat::Sum         ? v
                           : stat == RowStat::SquareSum ? __fmul_rn(v, v)
                                                        : __fmul_rn(v, b[r * cols + j]);
        local = __fadd_rn(local, term);
      }
    }
    const float result = stat == RowStat::Max ? block_reduce(local, shared, MaxOp{})
                                              : block_reduce(local, shared, SumOp{});
    if (threadIdx.x == 0) out[r] = result;
  }
}

// x (and a): rows × cols; threads over columns, blocks.y over rows.
__global__ void transform_rows_kernel(RowOp op, float* x, const float* a, int64_t rows,
                                      int64_t cols, const float* v, float max_norm) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float* p = x + r * cols + c;
    const float value = v[r];
    switch (op) {
      case RowOp::SubtractExp:
        *p = expf(__fsub_rn(*p, value));
        break;
      case RowOp::Divide:
        *p = static_cast<float>(static_cast<double>(*p) / static_cast<double>(value));
        break;
      case RowOp::ClipNorm:
        if (value > __fmul_rn(max_norm, max_norm)) *p = __fmul_rn(*p, max_norm / sqrtf(value));
        break;
      case RowOp::SoftmaxBackward:
        *p = __fmul_rn(a[r * cols + c], __fsub_rn(*p, value));
        break;
    }
  }
}

// w: rows × cols; one thread per column, rows in order.
__global__ void column_square_sums_kernel(const float* w, int64_t rows, int64_t cols,
                                          float* out) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.0f;
  for (int64_t i = 0; i < rows; ++i) {
    const float x = w[i * cols + c];
    sum = __fadd_rn(sum, __fmul_rn(x, x));
  }
  out[c] = sum;
}

__global__ void clip_columns_kernel(float* w, int64_t rows, int64_t cols, const float* sq,
                                    float max_norm) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols || !(sq[c] > __fmul_rn(max_norm, max_norm))) return;
  const float scale = max_norm / sqrtf(sq[c]);
  for (int64_t i = 0; i < rows; ++i) w[i * cols + c] = __fmul_rn(w[i * cols + c], scale);
}

__global__ void sum_blocks_kernel(const float* blocks, int64_t nblocks, int64_t count,
                                  float* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    float sum = blocks[i];
    for (int64_t b = 1; b < nblocks; ++b) sum = __fadd_rn(sum, blocks[b * count + i]);
    out[i] = sum;
  }
}

unsigned int column_blocks(int64_t cols) {
  return static_cast<unsigned int>((cols + kThreads - 1) / kThreads);
}

}  // namespace

void row_stats(const Context& ctx, RowStat stat, const float* a, const float* b, int64_t rows,
               int64_t cols, float* out) {
  if (!checks::row_stats(ctx, stat, a, b, rows, cols, out)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocks));
  row_stats_kernel<<<blocks, kThreads, 0, s.stream()>>>(stat, a, b, rows, cols, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

void transform_rows(const Context& ctx, RowOp op, float* x, const float* a, int64_t rows,
                    int64_t cols, const float* v, float max_norm) {
  if (!checks::transform_rows(ctx, op, x, a, rows, cols, v, max_norm)) return;
  const StreamScope s(ctx);
  const dim3 grid(column_blocks(cols), static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocks)));
  transform_rows_kernel<<<grid, kThreads, 0, s.stream()>>>(op, x, a, rows, cols, v, max_norm);
  DSSTNE_CHECK_LAST_KERNEL();
}

void column_square_sums(const Context& ctx, const float* w, int64_t rows, int64_t cols,
                        float* out) {
  if (!checks::column_square_sums(ctx, w, rows, cols, out)) return;
  const StreamScope s(ctx);
  column_square_sums_kernel<<<column_blocks(cols), kThreads, 0, s.stream()>>>(w, rows, cols, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

void clip_columns(const Context& ctx, float* w, int64_t rows, int64_t cols, const float* sq,
                  float max_norm) {
  if (!checks::clip_columns(ctx, w, rows, cols, sq, max_norm)) return;
  const StreamScope s(ctx);
  clip_columns_kernel<<<column_blocks(cols), kThreads, 0, s.stream()>>>(w, rows, cols, sq,
                                                                        max_norm);
  DSSTNE_CHECK_LAST_KERNEL();
}

void sum_blocks(const Context& ctx, const float* blocks, int64_t nblocks, int64_t count,
                float* out) {
  if (!checks::sum_blocks(ctx, blocks, nblocks, count, out)) return;
  const StreamScope s(ctx);
  const auto grid =
      static_cast<unsigned int>(std::min<int64_t>((count + kThreads - 1) / kThreads, kMaxBlocks));
  sum_blocks_kernel<<<grid, kThreads, 0, s.stream()>>>(blocks, nblocks, count, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
