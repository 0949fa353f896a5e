// SPDX-License-Identifier: Apache-2.0
// The regularisers on the GPU (spec/math.md §5.4, §6.3), in the CPU reference's summation orders
// (cpp/src/cpu/regularize.cpp): the sparseness penalty is bitwise the CPU's, and the weight-decay
// error keeps the CPU's chunk structure, so both are deterministic without atomics.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr int kUnroll = 8;  ///< rows of loads in flight per thread in sparseness_penalty
/// Weights per partial sum of regularization_error; must equal the CPU's kRegChunk.
constexpr int64_t kRegChunk = 1 << 16;

// a, g: rows × cols; one thread per column (consecutive threads read consecutive columns, so
// every row access is coalesced). The column sum runs over r in order, the CPU's float sum, so
// ρ̂ and the penalty are bitwise the CPU's; the same thread then adds the penalty down the
// column, which needs no workspace.
__global__ void sparseness_penalty_kernel(const float* __restrict__ a, int64_t rows, int64_t cols,
                                          float inv_rows, float p, float one_minus_p, float beta,
                                          float* __restrict__ g) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= cols) return;
  // Loads are issued kUnroll rows ahead of the in-order adds: with few columns there are few
  // threads, and the pass is bound by load latency.
  float rho = 0.0f;
  int64_t r = 0;
  for (; r + kUnroll <= rows; r += kUnroll) {
    float x[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) x[k] = a[(r + k) * cols + o];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) rho = __fadd_rn(rho, x[k]);
  }
  for (; r < rows; ++r) rho = __fadd_rn(rho, a[r * cols + o]);
  // std::min(std::max(x, lo), hi) with its NaN behaviour (a NaN mean stays NaN).
  float mean = __fmul_rn(rho, inv_rows);
  mean = mean < 1e-6f ? 1e-6f : mean;
  mean = 0.999999f < mean ? 0.999999f : mean;
  const float penalty =
      __fmul_rn(beta, __fadd_rn(__fdiv_rn(-p, mean), __fdiv_rn(one_minus_p, __fsub_rn(1.0f, mean))));
  for (r = 0; r + kUnroll <= rows; r += kUnroll) {
    float x[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) x[k] = g[(r + k) * cols + o];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) g[(r + k) * cols + o] = __fadd_rn(x[k], penalty);
  }
  for (; r < rows; ++r) g[r * cols + o] = __fadd_rn(g[r * cols + o], penalty);
}

// One block per 65,536-weight chunk: each thread sums a fixed strided subset in double
// (coalesced reads), then a fixed shared-memory tree gives the chunk sum. The terms are rounded
// as on the CPU (½λ·x·x + λ1·|x|, no FMA); only the order of addition inside a chunk differs.
__global__ void regularization_chunks_kernel(const float* w, int64_t n, double l2, double l1,
                                             double* partial) {
  __shared__ double shared[kThreads];
  const int64_t begin = int64_t(blockIdx.x) * kRegChunk;
  const int64_t end = min(n, begin + kRegChunk);
  double sum = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double x = w[i];
    sum = __dadd_rn(sum, __dadd_rn(__dmul_rn(__dmul_rn(l2, x), x), __dmul_rn(l1, fabs(x))));
  }
  shared[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride)
      shared[threadIdx.x] = __dadd_rn(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = shared[0];
}

}  // namespace

void sparseness_penalty(const Context& ctx, const float* a, int64_t rows, int64_t cols, float p,
                        float beta, float* g) {
  if (!checks::sparseness_penalty(ctx, a, rows, cols, p, beta, g)) return;
  const StreamScope s(ctx);
  const float inv_rows = 1.0f / static_cast<float>(rows);
  sparseness_penalty_kernel<<<blocks_for(cols, kThreads), kThreads, 0, s.stream()>>>(
      a, rows, cols, inv_rows, p, 1.0f - p, beta, g);
  DSSTNE_CHECK_LAST_KERNEL();
}

namespace {

/// Launches the chunk sums of regularization_error into `partial` (chunk_count(n) doubles).
int64_t launch_regularization_chunks(const StreamScope& s, Scratch& scratch, const float* w,
                                     int64_t n, float lambda, float lambda1, double** partial) {
  const int64_t chunks = (n + kRegChunk - 1) / kRegChunk;
  *partial = scratch.take<double>(static_cast<std::size_t>(chunks));
  regularization_chunks_kernel<<<static_cast<unsigned int>(chunks), kThreads, 0, s.stream()>>>(
      w, n, 0.5 * static_cast<double>(lambda), static_cast<double>(lambda1), *partial);
  DSSTNE_CHECK_LAST_KERNEL();
  return chunks;
}

std::size_t regularization_bytes(int64_t n) {
  return Scratch::round_up(static_cast<std::size_t>((n + kRegChunk - 1) / kRegChunk) *
                           sizeof(double));
}

}  // namespace

double regularization_error(const Context& ctx, const float* w, int64_t n, float lambda,
                            float lambda1) {
  if (!checks::regularization_error(ctx, w, n, lambda, lambda1)) return 0.0;
  const StreamScope s(ctx);
  Scratch scratch(s, regularization_bytes(n), "regularization_error");
  double* partial = nullptr;
  const auto chunks = static_cast<std::size_t>(
      launch_regularization_chunks(s, scratch, w, n, lambda, lambda1, &partial));
  // The chunk sums are added in chunk order on the host, as the CPU does (the wait for the copy
  // also reports a failed kernel).
  std::vector<double> sums(chunks);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(sums.data(), partial, chunks * sizeof(double),
                                  cudaMemcpyDeviceToHost, s.stream()));
  wait_for_stream(s);
  double total = 0.0;
  for (double x : sums) total += x;
  return total;
}

void regularization_error_sum(const Context& ctx, const float* w, int64_t n, float lambda,
                              float lambda1, double* total) {
  if (!checks::regularization_error_sum(ctx, w, n, lambda, lambda1, total)) return;
  const StreamScope s(ctx);
  Scratch scratch(s, regularization_bytes(n), "regularization_error_sum");
  double* partial = nullptr;
  const int64_t chunks = launch_regularization_chunks(s, scratch, w, n, lambda, lambda1, &partial);
  add_in_order_kernel<<<1, 1, 0, s.stream()>>>(partial, chunks, total);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
