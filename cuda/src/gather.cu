// SPDX-License-Identifier: Apache-2.0
// Builds a batch from stored data set records on the GPU (reference: cpp/src/cpu/gather.cpp):
// examples are looked up through the Indexed table, converted to float by the engine's one rule,
// weighted, and sparse inputs denoised with the shared counter-based generator (dsstne/rng.hpp),
// so every value equals the CPU's bit for bit (each is one conversion and at most two products).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "cpu/convert.hpp"  // visit_data_type, TypeTag (host-side type dispatch)
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kWarp = 32;
constexpr unsigned int kMaxBlocksY = 65535;      // gridDim.y limit; further rows are strided
constexpr unsigned int kMaxBlocks1d = 1u << 20;  // grid-stride beyond this many blocks

/// Stored element → float: the rule of cpu::to_float (cpp/src/cpu/convert.hpp), which is a
/// host-only function and cannot be called here. Byte types are normalised (uint8 → v/256,
/// int8 → v/128); every other type is a plain round-to-nearest conversion.
template <typename T>
__device__ __forceinline__ float element_to_float(T v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<float>(v) * (1.0f / 256.0f);
  } else if constexpr (std::is_same_v<T, int8_t>) {
    return static_cast<float>(v) * (1.0f / 128.0f);
  } else {
    return static_cast<float>(v);
  }
}

/// The stored record that example `e` reads: Indexed data sets share records between examples.
__device__ __forceinline__ uint64_t record_of(const uint32_t* index, uint32_t e) {
  return index != nullptr ? index[e] : e;
}

// counts: rows; one thread per batch row.
__global__ void sparse_row_counts_kernel(const uint64_t* start, const uint64_t* end,
                                         const uint32_t* index, const uint32_t* examples,
                                         int64_t rows, int64_t* counts) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t u = record_of(index, examples[r]);
    counts[r] = static_cast<int64_t>(end[u] - start[u]);
  }
}

/// The stored sparse data a fill reads (device pointers), by value into the kernel.
struct SparseSource {
  const uint64_t* start;
  const uint64_t* end;
  const uint32_t* indices;
  const uint32_t* index;
  const float* weights;  // nullptr unless the example weights apply
};

/// Denoising of the fill: p > 0 drops entry k when random_uniform(seed, stream, k) < p.
struct Denoise {
  float p;
  float keep_scale;  // 1/(1−p), formed on the host exactly as the CPU forms it
  uint64_t seed;
  uint64_t stream;
};

// One warp per batch row: lanes walk the record's entries [start[u], end[u]) in storage order
// (coalesced) and write them to [offsets[r], offsets[r+1]) of the batch CSR. `stored` is nullptr
// for Boolean data (every value 1).
template <typename T>
__global__ void sparse_batch_fill_kernel(SparseSource s, const T* stored, Denoise dn,
                                         const uint32_t* examples, int64_t rows,
                                         const int64_t* offsets, uint32_t* indices,
                                         float* values) {
  const unsigned int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp; r < rows;
       r += warps) {
    const uint32_t example = examples[r];
    const uint64_t u = record_of(s.index, example);
    const float w = s.weights != nullptr ? s.weights[example] : 1.0f;
    const uint64_t k0 = s.start[u];
    const int64_t out0 = offsets[r];
    // The host sized the row from sparse_row_counts; never write past it if the two disagree.
    const int64_t n = min(static_cast<int64_t>(s.end[u] - k0), offsets[r + 1] - out0);
    for (int64_t j = lane; j < n; j += kWarp) {
      const uint64_t k = k0 + static_cast<uint64_t>(j);
      indices[out0 + j] = s.indices[k];
      float v = (stored != nullptr ? element_to_float(stored[k]) : 1.0f) * w;
      if (dn.p > 0.0f) {
        // Counter k is the entry's position in the whole data set, as on the CPU.
        const bool dropped = random_uniform(dn.seed, dn.stream, k) < dn.p;
        v = dropped ? 0.0f : v * dn.keep_scale;
      }
      values[out0 + j] = v;
    }
  }
}

// out: rows × cols ← columns [col_begin, col_begin + cols) of each example's record (stride
// units each). Threads over columns (coalesced), blocks.y over rows.
template <typename T>
__global__ void dense_batch_fill_kernel(const T* data, int64_t stride, const uint32_t* index,
                                        const float* weights, const uint32_t* examples,
                                        int64_t rows, int64_t col_begin, int64_t cols,
                                        float* out) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const uint32_t example = examples[r];
    const uint64_t u = record_of(index, example);
    const float w = weights != nullptr ? weights[example] : 1.0f;
    out[r * cols + c] = element_to_float(data[static_cast<int64_t>(u) * stride + col_begin + c]) * w;
  }
}

// out: rows × cols; Boolean dense records store only their hot unit (uint32).
__global__ void one_hot_fill_kernel(const uint32_t* hot, const uint32_t* index,
                                    const float* weights, const uint32_t* examples, int64_t rows,
                                    int64_t col_begin, int64_t cols, float* out) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const uint32_t example = examples[r];
    const uint64_t u = record_of(index, example);
    const float w = weights != nullptr ? weights[example] : 1.0f;
    out[r * cols + c] = (col_begin + c == static_cast<int64_t>(hot[u]) ? 1.0f : 0.0f) * w;
  }
}

// out: rows; one thread per batch row.
__global__ void gather_weights_kernel(const float* weights, const uint32_t* examples,
                                      int64_t rows, float* out) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x)
    out[r] = weights[examples[r]];
}

unsigned int grid_1d(int64_t n) { return std::min(blocks_for(n, kThreads), kMaxBlocks1d); }

dim3 grid_2d(int64_t cols, int64_t rows) {
  return dim3(blocks_for(cols, kThreads),
              static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocksY)));
}

}  // namespace

void sparse_row_counts(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, int64_t* counts) {
  if (!checks::sparse_row_counts(ctx, s, examples, rows, counts)) return;
  const StreamScope on(ctx);
  sparse_row_counts_kernel<<<grid_1d(rows), kThreads, 0, on.stream()>>>(s.start, s.end, s.index,
                                                                        examples, rows, counts);
  DSSTNE_CHECK_LAST_KERNEL();
}

void sparse_batch_fill(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, const int64_t* offsets, bool apply_weights,
                       const DenoiseParams& dn, uint32_t* indices, float* values) {
  if (!checks::sparse_batch_fill(ctx, s, examples, rows, offsets, apply_weights, dn, indices,
                                 values))
    return;
  // The CPU also checks each row's room against its record; here offsets and records live on the
  // device, so the kernel clamps to the smaller of the two instead of raising.
  const StreamScope on(ctx);
  const bool denoise = dn.p > 0.0f;
  const Denoise d{dn.p, denoise ? 1.0f / (1.0f - dn.p) : 1.0f, dn.rs.seed, dn.rs.stream};
  const SparseSource src{s.start, s.end, s.indices, s.index,
                         apply_weights ? s.weights : nullptr};
  const unsigned int blocks = std::min(blocks_for(rows, kThreads / kWarp), kMaxBlocks1d);
  auto launch = [&](auto tag) {
    using T = typename decltype(tag)::type;
    sparse_batch_fill_kernel<T><<<blocks, kThreads, 0, on.stream()>>>(
        src, static_cast<const T*>(s.values), d, examples, rows, offsets, indices, values);
  };
  if (s.values == nullptr) {
    launch(cpu::TypeTag<float>{});  // Boolean: no stored values, the element type is irrelevant
  } else {
    cpu::visit_data_type(s.type, launch);
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

void dense_batch_fill(const Context& ctx, const DenseStorageView& s, const uint32_t* examples,
                      int64_t rows, int64_t col_begin, int64_t cols, bool apply_weights,
                      float* out) {
  if (!checks::dense_batch_fill(ctx, s, examples, rows, col_begin, cols, apply_weights, out))
    return;
  const StreamScope on(ctx);
  const float* weights = apply_weights ? s.weights : nullptr;
  const dim3 grid = grid_2d(cols, rows);
  if (s.one_hot) {
    one_hot_fill_kernel<<<grid, kThreads, 0, on.stream()>>>(
        static_cast<const uint32_t*>(s.data), s.index, weights, examples, rows, col_begin, cols,
        out);
  } else {
    cpu::visit_data_type(s.type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      dense_batch_fill_kernel<T><<<grid, kThreads, 0, on.stream()>>>(
          static_cast<const T*>(s.data), s.stride, s.index, weights, examples, rows, col_begin,
          cols, out);
    });
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

void gather_weights(const Context& ctx, const float* weights, const uint32_t* examples,
                    int64_t rows, float* out) {
  if (!checks::gather_weights(ctx, weights, examples, rows, out)) return;
  const StreamScope on(ctx);
  gather_weights_kernel<<<grid_1d(rows), kThreads, 0, on.stream()>>>(weights, examples, rows, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
