// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the loss kernels of loss_error.cu and loss_delta.cu share: the targets as the kernels read
// them, the stored entries of a sparse row, the walk over its distinct indices, and the block's
// fixed-tree sum.
//
// Sparse targets are never materialised: a dense pass assumes t = 0, then one block per row
// corrects the units that hold a stored target. Duplicate indices of a row collapse like the
// CPU's sort-and-merge: the first occurrence of an index owns it, and (analog) sums the values
// of all its occurrences in stored order. Rows whose indices ascend strictly (the usual case)
// have no duplicates and need no search; other rows are scanned tile by tile through shared
// memory, so rows of any length work.
#include <cstdint>

#include "cpu/activation_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/kernel_types.hpp"

namespace dsstne::cuda::loss_rows {

constexpr unsigned int kThreads = 256;  // threads per block, a multiple of the warp size
constexpr int64_t kTile = 1024;         // stored entries per shared tile of the scan
constexpr int64_t kMaxGridY = 65535;

/// The fields of a TargetView that the kernels read (device pointers), passed by value.
struct Targets {
  bool sparse;
  bool ignore_zero;
  const float* dense;
  const int64_t* offsets;
  const uint32_t* indices;
  const float* values;  // nullptr: Boolean
  const float* weights;
};

inline Targets targets_of(const TargetView& t) {
  return Targets{t.sparse,        t.ignore_zero,  t.dense,           t.csr.offsets,
                 t.csr.indices,   t.csr.values,   t.example_weights};
}

__device__ inline float weight_of(const Targets& t, int64_t r) {
  return t.weights != nullptr ? t.weights[r] : 1.0f;
}

/// The output units a per-row kernel reads: the stored activations, or, after output_pass
/// (which stores none, saving a write of the whole output), z (+ bias) activated again exactly
/// as output_pass_kernel activates it, so both see the same a bit for bit.
struct Units {
  const float* a;     // rows × cols: the activations, or z when from_z
  const float* bias;  // cols, added to z when from_z; or null
  bool from_z;
};

/// a at column `col` of the row of `u.a` that starts at `row`.
__device__ inline float unit_at(const Units& u, const ActivationParams& act, const float* row,
                                int64_t col) {
  if (!u.from_z) return row[col];
  const float z = u.bias != nullptr ? __fadd_rn(row[col], u.bias[col]) : row[col];
  return terms::activate(act, z);
}

/// Stored entries [begin, begin + n) of row r. A row whose offsets are invalid is treated as
/// empty here, so no kernel reads out of bounds; output_error reports it like the CPU.
struct RowEntries {
  const uint32_t* index;
  const float* value;  // nullptr: Boolean
  int64_t n;
};

__device__ inline RowEntries row_entries(const Targets& t, int64_t r) {
  const int64_t begin = t.offsets[r], end = t.offsets[r + 1];
  if (begin < 0 || end <= begin || t.indices == nullptr) return RowEntries{nullptr, nullptr, 0};
  return RowEntries{t.indices + begin, t.values != nullptr ? t.values + begin : nullptr,
                    end - begin};
}

/// Sum over the block in a fixed tree (warp shuffles, then the warp sums): the same inputs and
/// block size give the same bits. Every thread of the block must call it; all get the sum.
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T warp_sums[32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const unsigned int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  T total = 0;
  for (unsigned int w = 0; w < blockDim.x / 32; ++w) total += warp_sums[w];
  __syncthreads();  // warp_sums is reused by the next call
  return total;
}

/// True when the row's indices ascend strictly (then every entry is a distinct index).
__device__ inline bool strictly_ascending(const RowEntries& e) {
  int ok = 1;
  for (int64_t k = 1 + threadIdx.x; k < e.n; k += blockDim.x) ok &= e.index[k] > e.index[k - 1];
  return __syncthreads_and(ok) != 0;
}

/// The shared tile of the duplicate scan: one per kernel, whichever callers instantiate the scan.
struct Tile {
  uint32_t index[kTile];
  float value[kTile];
};
__device__ inline Tile& shared_tile() {
  __shared__ Tile tile;
  return tile;
}

/// Calls f(index, t) once per distinct index of the row, by one thread of the block, with t the
/// CPU's merged target: 1 for Boolean rows, else 0 + the values of the index's occurrences in
/// stored order. Every thread of the block must call it. Unsorted rows: the thread of entry k
/// scans the whole row, a shared tile at a time: an earlier occurrence means k is not the owner,
/// later ones add their values. O(n²/threads) per row, only for rows that are not ascending.
template <typename F>
__device__ void for_each_distinct(const RowEntries& e, bool ascending, F f) {
  if (ascending) {
    for (int64_t k = threadIdx.x; k < e.n; k += blockDim.x) {
      f(e.index[k], e.value != nullptr ? 0.0f + e.value[k] : 1.0f);
    }
    return;
  }
  Tile& sh = shared_tile();
  for (int64_t base = 0; base < e.n; base += blockDim.x) {
    const int64_t k = base + threadIdx.x;
    const bool mine = k < e.n;
    const uint32_t key = mine ? e.index[k] : 0u;
    bool owner = mine;
    float t = 0.0f;
    for (int64_t tile = 0; tile < e.n; tile += kTile) {
      const int64_t len = min(kTile, e.n - tile);
      __syncthreads();  // the previous tile has been read by every thread
      for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        sh.index[j] = e.index[tile + j];
        if (e.value != nullptr) sh.value[j] = e.value[tile + j];
      }
      __syncthreads();
      if (!owner) continue;
      for (int64_t j = 0; j < len; ++j) {
        if (sh.index[j] != key) continue;
        if (tile + j < k) {
          owner = false;
          break;
        }
        if (e.value != nullptr) t += sh.value[j];
      }
    }
    if (owner) f(key, e.value != nullptr ? t : 1.0f);
  }
}

/// The number of distinct indices of the row (all of them, local or not).
__device__ inline int64_t count_distinct(const RowEntries& e, bool ascending) {
  if (ascending) return e.n;
  int64_t count = 0;
  for_each_distinct(RowEntries{e.index, nullptr, e.n}, false, [&](uint32_t, float) { ++count; });
  return block_sum(count);
}

/// SoftMax outputs with Boolean targets get t = 1/n, n the distinct indices of the whole row;
/// returns a negative value when the stored targets stand as they are.
__device__ inline float softmax_share(bool softmax, const RowEntries& e, bool ascending) {
  if (!softmax || e.value != nullptr) return -1.0f;
  return 1.0f / static_cast<float>(count_distinct(e, ascending));
}

inline dim3 row_grid(int64_t x_blocks, int64_t rows) {
  return dim3(static_cast<unsigned int>(x_blocks),
              static_cast<unsigned int>(rows < kMaxGridY ? rows : kMaxGridY));
}

/// delta_correction_kernel (loss_delta.cu) over `rows` rows: the delta of the stored units, after
/// the raw pass of delta_kernel or output_pass_kernel wrote every unit.
void launch_delta_correction(const StreamScope& s, const LossParams& p, const Targets& t,
                             const Units& units, int64_t rows, int64_t cols, int64_t col_begin,
                             bool boost, float* delta);

}  // namespace dsstne::cuda::loss_rows
