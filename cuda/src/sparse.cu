// SPDX-License-Identifier: Apache-2.0
// Products of a CSR batch with a dense weight matrix on the GPU (reference:
// cpp/src/cpu/sparse.cpp). Zeros are never visited, and every output element adds its terms in the
// CPU's order with separately rounded multiply and add (__fmul_rn/__fadd_rn: no fused
// multiply-add), so the results equal the CPU's bit for bit and no atomics are needed.
//
// The transposed product (the sparse weight gradient) groups the batch's entries by feature with
// a stable radix sort instead of DSSTNE's atomic bucket fill: sorting (feature → entry position)
// stably keeps each feature's entries in entry order, which is the CPU's row order.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;           // also the entries staged per pass
constexpr unsigned int kMaxBlocksY = 65535;      // gridDim.y limit; further tiles are strided
constexpr unsigned int kMaxBlocks1d = 1u << 20;  // grid-stride beyond this many blocks

/// Threads of a block that walks output columns: a warp multiple covering n_out, at most kThreads.
unsigned int column_threads(int64_t n_out) {
  return static_cast<unsigned int>(std::clamp<int64_t>((n_out + 31) / 32 * 32, 32, kThreads));
}

// x: rows × n_in (CSR), w: n_in × n_out, z: rows × n_out (accumulated into).
// Block (row r, column tile); the row's entries are staged in shared memory, then each thread
// adds v·w[i][o] for its column o over the entries in storage order.
__global__ void sparse_product_kernel(const int64_t* offsets, const uint32_t* indices,
                                      const float* values, const float* w, int64_t n_out,
                                      float* z) {
  __shared__ uint32_t s_index[kThreads];
  __shared__ float s_value[kThreads];
  const int64_t r = blockIdx.x;
  const int64_t begin = offsets[r], end = offsets[r + 1];
  const int64_t tiles = (n_out + blockDim.x - 1) / blockDim.x;
  for (int64_t tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
    const int64_t o = tile * blockDim.x + threadIdx.x;
    float* zo = z + r * n_out + o;
    float acc = o < n_out ? *zo : 0.0f;
    for (int64_t e0 = begin; e0 < end; e0 += blockDim.x) {
      const int count = static_cast<int>(min(int64_t(blockDim.x), end - e0));
      __syncthreads();  // the previous stage has been read by every thread
      if (int(threadIdx.x) < count) {
        s_index[threadIdx.x] = indices[e0 + threadIdx.x];
        s_value[threadIdx.x] = values != nullptr ? values[e0 + threadIdx.x] : 1.0f;
      }
      __syncthreads();
      if (o < n_out) {
        // v = 1 for Boolean data: 1·w is exact, so this equals the CPU's plain zr[o] += wi[o].
        for (int j = 0; j < count; ++j)
          acc = __fadd_rn(acc, __fmul_rn(s_value[j], w[int64_t(s_index[j]) * n_out + o]));
      }
    }
    if (o < n_out) *zo = acc;
  }
}

// grad: n_in × n_out. The beta pass for beta other than 0 (a fill: 0·NaN from an uninitialised
// buffer would stick) and 1 (not launched).
__global__ void scale_gradient_kernel(float* grad, int64_t n, float beta) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    grad[i] *= beta;
}

// One block per batch row (strided): key[e] = the entry's feature (invalid ones → sentinel, which
// sorts last and is skipped), position[e] = e, row_of[e] = r.
// Entries at or past nnz (a count that disagrees with the offsets) are never written: the
// buffers hold nnz entries.
__global__ void transpose_keys_kernel(const int64_t* offsets, const uint32_t* indices, int64_t rows,
                                      int64_t nnz, int64_t n_in, uint32_t sentinel, uint32_t* keys,
                                      uint32_t* positions, uint32_t* row_of) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t end = min(offsets[r + 1], nnz);
    for (int64_t e = max(offsets[r], int64_t(0)) + threadIdx.x; e < end; e += blockDim.x) {
      const uint32_t i = indices[e];
      keys[e] = int64_t(i) < n_in ? i : sentinel;
      positions[e] = static_cast<uint32_t>(e);
      row_of[e] = static_cast<uint32_t>(r);
    }
  }
}

// keys/positions: the batch's entries sorted by feature (stable), delta: rows × n_out,
// grad: n_in × n_out. One warp per (sorted position p, tile of kRunTile columns); only the warp at
// the first position of a feature's run works. It loads the run 32 entries at a time (row and
// alpha·value per lane), broadcasts them with shuffles, and each lane adds coef·delta[row][o] to
// kRunTile/32 columns of grad[feature] in entry order. A warp rather than a block per run: most
// runs are one entry long, so the time goes into the chain keys → positions → rows → delta, and
// warps keep four times as many such chains in flight as blocks would.
constexpr int kRunCols = 4;                  // columns per lane
constexpr int kRunTile = 32 * kRunCols;      // columns per warp
__global__ void transposed_product_kernel(const uint32_t* __restrict__ keys,
                                          const uint32_t* __restrict__ positions,
                                          const uint32_t* __restrict__ row_of,
                                          const float* __restrict__ values, float alpha,
                                          const float* __restrict__ delta, int64_t nnz,
                                          int64_t n_in, int64_t n_out, float* __restrict__ grad) {
  const int lane = threadIdx.x % 32;
  const int64_t p = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (p >= nnz) return;
  const uint32_t key = keys[p];
  // Uniform over the warp: not a run head, or a skipped out-of-range index.
  if ((p > 0 && keys[p - 1] == key) || int64_t(key) >= n_in) return;
  float* g = grad + int64_t(key) * n_out;
  const int64_t tiles = (n_out + kRunTile - 1) / kRunTile;
  for (int64_t tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
    const int64_t o0 = tile * kRunTile + lane;  // lane's columns: o0, o0 + 32, ...
    float acc[kRunCols];
#pragma unroll
    for (int u = 0; u < kRunCols; ++u) acc[u] = o0 + 32 * u < n_out ? g[o0 + 32 * u] : 0.0f;
    for (int64_t q0 = p;; q0 += 32) {
      const int64_t q = q0 + lane;
      // The run is contiguous, so the in-run lanes of a chunk are a prefix of the warp.
      const bool in_run = q < nnz && keys[q] == key;
      uint32_t row = 0;
      float coef = 0.0f;
      if (in_run) {
        const uint32_t e = positions[q];
        row = row_of[e];
        coef = values != nullptr ? __fmul_rn(alpha, values[e]) : alpha;
      }
      const int count = __popc(__ballot_sync(0xffffffffu, in_run));
#pragma unroll 8  // several delta rows in flight: a popular feature has a long run
      for (int j = 0; j < count; ++j) {
        const float c = __shfl_sync(0xffffffffu, coef, j);
        const float* d = delta + int64_t(__shfl_sync(0xffffffffu, row, j)) * n_out;
#pragma unroll
        for (int u = 0; u < kRunCols; ++u) {
          if (o0 + 32 * u < n_out) acc[u] = __fadd_rn(acc[u], __fmul_rn(c, d[o0 + 32 * u]));
        }
      }
      if (count < 32) break;  // uniform over the warp
    }
#pragma unroll
    for (int u = 0; u < kRunCols; ++u) {
      if (o0 + 32 * u < n_out) g[o0 + 32 * u] = acc[u];
    }
  }
}

// out: rows × cols holding global columns [col_begin, col_begin + cols). One block per row
// (strided): zero the row, then add the entries in storage order. Entries are staged a block at
// a time; within a stage the first entry of each column adds all of that column's entries of the
// stage in order, so duplicates are summed in the CPU's order without atomics.
__global__ void csr_to_dense_kernel(const int64_t* offsets, const uint32_t* indices,
                                    const float* values, int64_t rows, int64_t col_begin,
                                    int64_t cols, float* out) {
  __shared__ int64_t s_col[kThreads];
  __shared__ float s_value[kThreads];
  const int t = threadIdx.x;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = out + r * cols;
    for (int64_t c = t; c < cols; c += blockDim.x) row[c] = 0.0f;
    const int64_t begin = offsets[r], end = offsets[r + 1];
    for (int64_t e0 = begin; e0 < end; e0 += blockDim.x) {
      const int count = static_cast<int>(min(int64_t(blockDim.x), end - e0));
      int64_t col = -1;  // −1: no entry, or another process's slice of the layer
      if (t < count) {
        col = int64_t(indices[e0 + t]) - col_begin;
        if (col < 0 || col >= cols) col = -1;
        s_col[t] = col;
        s_value[t] = values != nullptr ? values[e0 + t] : 1.0f;
      }
      __syncthreads();  // stage (and the zeroed row, or the previous stage's sums) visible
      if (col >= 0) {
        bool first = true;
        for (int j = 0; j < t && first; ++j) first = s_col[j] != col;
        if (first) {
          float acc = row[col];
          for (int j = t; j < count; ++j)
            if (s_col[j] == col) acc += s_value[j];
          row[col] = acc;
        }
      }
      __syncthreads();  // the stage is consumed before it is overwritten
    }
  }
}

}  // namespace

void sparse_product(const Context& ctx, const CsrView& x, const float* w, int64_t n_out,
                    float* z) {
  if (!checks::sparse_product(ctx, x, w, n_out, z)) return;
  DSSTNE_EXPECTS(x.rows < INT_MAX, "sparse_product: ", x.rows, " rows exceed the grid");
  const StreamScope s(ctx);
  const unsigned int threads = column_threads(n_out);
  const int64_t tiles = (n_out + threads - 1) / threads;
  const dim3 grid(static_cast<unsigned int>(x.rows),
                  static_cast<unsigned int>(std::min<int64_t>(tiles, kMaxBlocksY)));
  sparse_product_kernel<<<grid, threads, 0, s.stream()>>>(x.offsets, x.indices, x.values, w,
                                                          n_out, z);
  DSSTNE_CHECK_LAST_KERNEL();
}

void sparse_transposed_product(const Context& ctx, const CsrView& x, const float* delta,
                               int64_t n_in, int64_t n_out, float alpha, float beta, float* grad) {
  // x: rows × n_in (CSR), delta: rows × n_out, grad: n_in × n_out.
  if (!checks::sparse_transposed_product(ctx, x, delta, n_in, n_out, alpha, beta, grad)) return;
  const StreamScope s(ctx);
  if (beta == 0.0f) {  // all-zero bits are +0.0f; the copy engine's fill runs at bandwidth
    DSSTNE_CUDA_TRY(cudaMemsetAsync(grad, 0, static_cast<std::size_t>(n_in * n_out) * sizeof(float),
                                    s.stream()));
  } else if (beta != 1.0f) {
    const int64_t n = n_in * n_out;
    const auto blocks = std::min(blocks_for(n, kThreads), kMaxBlocks1d);
    scale_gradient_kernel<<<blocks, kThreads, 0, s.stream()>>>(grad, n, beta);
    DSSTNE_CHECK_LAST_KERNEL();
  }
  if (x.rows == 0) return;
  DSSTNE_EXPECTS(x.rows <= UINT32_MAX, "sparse_transposed_product: ", x.rows,
                 " rows exceed the 32-bit row index");
  // The sort needs the entry count on the host: the engine's batches carry it; otherwise one
  // 8-byte download, which waits for the stream's earlier work.
  int64_t nnz = x.nnz;
  if (nnz < 0) {
    DSSTNE_CUDA_TRY(cudaMemcpyAsync(&nnz, x.offsets + x.rows, sizeof(nnz),
                                    cudaMemcpyDeviceToHost, s.stream()));
    wait_for_stream(s);
  }
  if (nnz == 0) return;
  DSSTNE_EXPECTS(nnz > 0 && nnz < INT_MAX, "sparse_transposed_product: ", nnz,
                 " entries in one batch exceed the sort's 32-bit count");

  // Feature keys need only the bits of the sentinel n_in (out-of-range indices map to it).
  const uint32_t sentinel = static_cast<uint32_t>(std::min<int64_t>(n_in, UINT32_MAX));
  int end_bit = 0;
  while (end_bit < 32 && (uint64_t(sentinel) >> end_bit) != 0) ++end_bit;

  // Five entry arrays (two key and two position buffers for the sort, the row of each entry)
  // and the sort's temporary storage, from the context's workspace: this runs on every batch.
  const auto entries = static_cast<std::size_t>(nnz);
  cub::DoubleBuffer<uint32_t> keys(nullptr, nullptr), positions(nullptr, nullptr);
  std::size_t temp_bytes = 0;
  DSSTNE_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, positions,
                                                  static_cast<int>(nnz), 0, end_bit, s.stream()));
  Scratch scratch(s, 5 * Scratch::round_up(entries * sizeof(uint32_t)) +
                         Scratch::round_up(temp_bytes),
                  "sparse_transposed_product");
  uint32_t* keys_a = scratch.take<uint32_t>(entries);
  uint32_t* keys_b = scratch.take<uint32_t>(entries);
  uint32_t* positions_a = scratch.take<uint32_t>(entries);
  uint32_t* positions_b = scratch.take<uint32_t>(entries);
  uint32_t* row_of = scratch.take<uint32_t>(entries);
  void* temp = scratch.take<unsigned char>(temp_bytes);
  keys = cub::DoubleBuffer<uint32_t>(keys_a, keys_b);
  positions = cub::DoubleBuffer<uint32_t>(positions_a, positions_b);

  // All-ones keys sort past every feature and are skipped: slots a wrong nnz leaves unwritten.
  DSSTNE_CUDA_TRY(cudaMemsetAsync(keys.Current(), 0xFF, entries * sizeof(uint32_t), s.stream()));
  transpose_keys_kernel<<<static_cast<unsigned int>(std::min<int64_t>(x.rows, kMaxBlocks1d)), 128,
                          0, s.stream()>>>(x.offsets, x.indices, x.rows, nnz, n_in, sentinel,
                                           keys.Current(), positions.Current(), row_of);
  DSSTNE_CHECK_LAST_KERNEL();
  // Radix sort is stable: equal features keep ascending entry positions (the CPU's row order).
  DSSTNE_CUDA_TRY(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, positions,
                                                  static_cast<int>(nnz), 0, end_bit, s.stream()));
  const int64_t tiles = (n_out + kRunTile - 1) / kRunTile;
  const dim3 grid(blocks_for(nnz, kThreads / 32),
                  static_cast<unsigned int>(std::min<int64_t>(tiles, kMaxBlocksY)));
  transposed_product_kernel<<<grid, kThreads, 0, s.stream()>>>(
      keys.Current(), positions.Current(), row_of, x.values, alpha, delta, nnz, n_in, n_out, grad);
  DSSTNE_CHECK_LAST_KERNEL();
}

void csr_to_dense(const Context& ctx, const CsrView& x, int64_t col_begin, int64_t cols,
                  float* out) {
  if (!checks::csr_to_dense(ctx, x, col_begin, cols, out)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(x.rows, kMaxBlocks1d));
  csr_to_dense_kernel<<<blocks, kThreads, 0, s.stream()>>>(x.offsets, x.indices, x.values, x.rows,
                                                           col_begin, cols, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
