// SPDX-License-Identifier: Apache-2.0
// The rows a sparse batch touches, on the GPU (reference: cpp/src/cpu/listed_rows.cpp): their
// list, sorted and distinct, and the clearing of those rows in the gradient. The list's length
// stays in device memory; kernels that walk it are sized by the host's bound (the batch's entry
// count) and stop at the device's count, so nothing here waits for the host.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 1u << 20;  // grid-stride beyond this many rows
constexpr uint32_t kNotARow = 0xFFFFFFFFu;     // sorts last; never < n_in

// keys[e] ← the entry's index, or kNotARow when it is ≥ n_in; slots past the batch's entries
// (a bound larger than the device's count) stay kNotARow from the fill before.
__global__ void index_keys_kernel(const int64_t* offsets, const uint32_t* indices, int64_t rows,
                                  int64_t bound, int64_t n_in, uint32_t* keys) {
  const int64_t begin = max(offsets[0], int64_t(0)), end = min(offsets[rows], begin + bound);
  for (int64_t e = begin + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < end;
       e += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t i = indices[e];
    keys[e - begin] = int64_t(i) < n_in ? i : kNotARow;
  }
}

// The distinct keys end with at most one kNotARow: it is not a row.
__global__ void drop_not_a_row_kernel(const uint32_t* rows, int64_t* count) {
  const int64_t n = *count;
  if (n > 0 && rows[n - 1] == kNotARow) *count = n - 1;
}

__global__ void zero_rows_kernel(const uint32_t* rows, const int64_t* count, int64_t n_rows,
                                 int64_t row_len, bool quads, float* m) {
  const int64_t n = *count;
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int64_t row = rows[i];
    if (row >= n_rows) continue;
    float* out = m + row * row_len;
    if (quads) {
      for (int64_t j = threadIdx.x; j < row_len / 4; j += blockDim.x)
        reinterpret_cast<float4*>(out)[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    } else {
      for (int64_t j = threadIdx.x; j < row_len; j += blockDim.x) out[j] = 0.0f;
    }
  }
}

}  // namespace

void sparse_distinct_indices(const Context& ctx, const CsrView& x, int64_t n_in, uint32_t* rows,
                             int64_t* count) {
  if (!checks::sparse_distinct_indices(ctx, x, n_in, rows, count)) return;
  const StreamScope s(ctx);
  int64_t bound = x.rows > 0 ? x.nnz : 0;
  if (bound < 0) {  // a caller's batch without its count: one download, which waits
    DSSTNE_CUDA_TRY(cudaMemcpyAsync(&bound, x.offsets + x.rows, sizeof(bound),
                                    cudaMemcpyDeviceToHost, s.stream()));
    wait_for_stream(s);
  }
  DSSTNE_EXPECTS(bound >= 0 && bound < INT_MAX, "sparse_distinct_indices: ", bound,
                 " entries in one batch exceed the sort's 32-bit count");
  if (bound == 0) {
    DSSTNE_CUDA_TRY(cudaMemsetAsync(count, 0, sizeof(int64_t), s.stream()));
    return;
  }
  const int n = static_cast<int>(bound);
  cub::DoubleBuffer<uint32_t> keys(nullptr, nullptr);
  std::size_t sort_bytes = 0, unique_bytes = 0;
  DSSTNE_CUDA_TRY(cub::DeviceRadixSort::SortKeys(nullptr, sort_bytes, keys, n, 0, 32, s.stream()));
  DSSTNE_CUDA_TRY(cub::DeviceSelect::Unique(nullptr, unique_bytes, keys.Current(), rows, count, n,
                                            s.stream()));
  const std::size_t entries = static_cast<std::size_t>(bound);
  const std::size_t temp_bytes = std::max(sort_bytes, unique_bytes);
  Scratch scratch(s, 2 * Scratch::round_up(entries * sizeof(uint32_t)) +
                         Scratch::round_up(temp_bytes),
                  "sparse_distinct_indices");
  uint32_t* keys_a = scratch.take<uint32_t>(entries);
  uint32_t* keys_b = scratch.take<uint32_t>(entries);
  void* temp = scratch.take<unsigned char>(temp_bytes);
  keys = cub::DoubleBuffer<uint32_t>(keys_a, keys_b);
  DSSTNE_CUDA_TRY(cudaMemsetAsync(keys_a, 0xFF, entries * sizeof(uint32_t), s.stream()));
  index_keys_kernel<<<std::min(blocks_for(bound, kThreads), kMaxBlocks), kThreads, 0,
                      s.stream()>>>(x.offsets, x.indices, x.rows, bound, n_in, keys_a);
  DSSTNE_CHECK_LAST_KERNEL();
  DSSTNE_CUDA_TRY(cub::DeviceRadixSort::SortKeys(temp, sort_bytes, keys, n, 0, 32, s.stream()));
  DSSTNE_CUDA_TRY(cub::DeviceSelect::Unique(temp, unique_bytes, keys.Current(), rows, count, n,
                                            s.stream()));
  drop_not_a_row_kernel<<<1, 1, 0, s.stream()>>>(rows, count);
  DSSTNE_CHECK_LAST_KERNEL();
}

void zero_listed_rows(const Context& ctx, const uint32_t* rows, const int64_t* count,
                      int64_t max_count, int64_t n_rows, int64_t row_len, float* m) {
  if (!checks::zero_listed_rows(ctx, rows, count, max_count, n_rows, row_len, m)) return;
  const StreamScope s(ctx);
  const bool quads = row_len % 4 == 0 && reinterpret_cast<std::uintptr_t>(m) % 16 == 0;
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(max_count, kMaxBlocks));
  zero_rows_kernel<<<blocks, kThreads, 0, s.stream()>>>(rows, count, n_rows, row_len, quads, m);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
