// SPDX-License-Identifier: Apache-2.0
// Weight initialisation and the epoch shuffle on the GPU (spec/math.md §7, §8.2), drawing from the
// same counter-based generator as the CPU reference (cpp/src/cpu/random.cpp, dsstne/rng.hpp): an
// element depends only on (seed, stream, counter), so any thread layout gives the CPU's values.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/init_law.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocksY = 65535;  // gridDim.y limit; rows beyond it are strided

// The law of each scheme comes from the CPU reference's own init_law (cpu/init_law.hpp).
using init::InitLaw;

// w: n_in × cols (local columns). Threads walk a row's columns (coalesced), blocks in y walk
// rows; element (i, c) draws counter i·n_out + col_begin + c, as on the CPU. u − ½ is exact and
// __fmul_rn keeps the single rounding of the CPU's factor·draw.
__global__ void init_weights_kernel(InitLaw law, RandomStream rs, int64_t n_out, MatrixBlock b,
                                    float* w) {
  const int64_t cols = b.cols;
  const int64_t c0 = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t c_stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.y; i < b.rows; i += gridDim.y) {
    float* row = w + i * cols;
    const uint64_t base = static_cast<uint64_t>((b.row_begin + i) * n_out + b.col_begin);
    for (int64_t c = c0; c < cols; c += c_stride) {
      const uint64_t counter = base + static_cast<uint64_t>(c);
      float value;
      if (law.constant) {
        value = law.factor;
      } else if (law.normal) {
        value = __fmul_rn(law.factor, random_normal(rs.seed, rs.stream, counter));
      } else {
        const float u = random_uniform(rs.seed, rs.stream, counter);
        value = __fmul_rn(law.factor, law.centred ? u - 0.5f : u);
      }
      row[c] = value;
    }
  }
}

// keys[i] = the first Philox word of counter i, perm[i] = i: the (key, index) pairs to sort.
__global__ void shuffle_keys_kernel(RandomStream rs, int64_t n, uint32_t* keys, uint32_t* perm) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    keys[i] = philox(rs.seed, rs.stream, static_cast<uint64_t>(i)).v[0];
    perm[i] = static_cast<uint32_t>(i);
  }
}

}  // namespace

void init_weights(const Context& ctx, WeightInit scheme, float scale, const RandomStream& rs,
                  int64_t n_in, int64_t n_out, const MatrixBlock& block, float* w) {
  if (!checks::init_weights(ctx, scheme, scale, rs, n_in, n_out, block, w)) return;
  const InitLaw law = init::init_law(scheme, scale, n_in, n_out);
  const int64_t cols = block.cols;
  const StreamScope s(ctx);

  // Blocks as wide as a row (whole warps, at most kThreads) so narrow slices do not idle most
  // threads; enough x-blocks to cover a row (capped: the column loop strides past the cap), one
  // y-block per row up to the grid limit.
  const unsigned int threads =
      cols >= kThreads ? kThreads : static_cast<unsigned int>((cols + 31) / 32 * 32);
  const unsigned int bx = std::min(blocks_for(cols, threads), 1u << 16);
  const unsigned int by = static_cast<unsigned int>(std::min<int64_t>(block.rows, kMaxBlocksY));
  init_weights_kernel<<<dim3(bx, by), threads, 0, s.stream()>>>(law, rs, n_out, block, w);
  DSSTNE_CHECK_LAST_KERNEL();
}

void shuffle_permutation(const Context& ctx, const RandomStream& rs, int64_t n, uint32_t* perm) {
  if (!checks::shuffle_permutation(ctx, rs, n, perm)) return;
  const StreamScope s(ctx);

  // LSD radix sort is stable, so sorting (key, index) pairs by key alone orders equal keys by
  // index: exactly the CPU's sort of key·2^32 + index. The double-buffer form needs only one
  // extra key and value array; perm itself is the first value buffer. Scratch comes from the
  // context's workspace (once an epoch, but no cudaMalloc/cudaFree on the training path).
  const auto count = static_cast<std::size_t>(n);
  const std::size_t array = Scratch::round_up(count * sizeof(uint32_t));
  cub::DoubleBuffer<uint32_t> keys(nullptr, nullptr);
  cub::DoubleBuffer<uint32_t> values(nullptr, nullptr);
  std::size_t temp_bytes = 0;
  DSSTNE_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, values, n, 0, 32,
                                                  s.stream()));
  Scratch scratch(s, 3 * array + Scratch::round_up(temp_bytes), "shuffle_permutation");
  uint32_t* keys_a = scratch.take<uint32_t>(count);
  uint32_t* keys_b = scratch.take<uint32_t>(count);
  uint32_t* values_b = scratch.take<uint32_t>(count);
  void* temp = scratch.take<unsigned char>(temp_bytes);
  const unsigned int blocks = std::min(blocks_for(n, kThreads), 1u << 20);
  shuffle_keys_kernel<<<blocks, kThreads, 0, s.stream()>>>(rs, n, keys_a, perm);
  DSSTNE_CHECK_LAST_KERNEL();

  keys = cub::DoubleBuffer<uint32_t>(keys_a, keys_b);
  values = cub::DoubleBuffer<uint32_t>(perm, values_b);
  DSSTNE_CUDA_TRY(
      cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, values, n, 0, 32, s.stream()));
  if (values.Current() != perm) {
    DSSTNE_CUDA_TRY(cudaMemcpyAsync(perm, values.Current(), count * sizeof(uint32_t),
                                    cudaMemcpyDeviceToDevice, s.stream()));
  }
}

}  // namespace dsstne::cuda
