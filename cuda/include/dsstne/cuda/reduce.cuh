// SPDX-License-Identifier: Apache-2.0
#pragma once
// Block-wide reductions in a fixed tree over shared memory: deterministic, no atomics.
#include <cuda_runtime.h>

#include <cstdint>

namespace dsstne::cuda {

/// Reduces one value per thread of the block with `op`; every thread gets the result. `shared`
/// holds blockDim.x floats (a power of two).
template <typename Op>
__device__ float block_reduce(float value, float* shared, Op op) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  const float result = shared[0];
  __syncthreads();
  return result;
}

/// The halving tree that joins the double lanes of a block of `kLanes` threads (thread t holds
/// lane t): lane t += lane t + kLanes/2, then + kLanes/4, … down to 1, each addition rounded
/// explicitly, the order the CPU twins' fixed-lane sums spell out. Every thread gets the total.
/// Call it from every thread of the block (it holds barriers); `shared` holds kLanes doubles.
template <unsigned int kLanes>
__device__ double lane_tree_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (unsigned int stride = kLanes / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride)
      shared[threadIdx.x] = __dadd_rn(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();  // shared[] may be refilled by the next call
  return total;
}

/// *total += (x[0] + x[1] + ... + x[n−1]), the sum formed from 0 in index order by one thread:
/// the host's loop over downloaded partial sums, bit for bit, without the download. Launch it
/// with one block of one thread; n is small (rows of a batch, chunks of a weight matrix).
template <typename T>
__global__ void add_in_order_kernel(const T* x, int64_t n, T* total) {
  T sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  *total += sum;
}

struct MaxOp {
  __device__ float operator()(float x, float y) const { return fmaxf(x, y); }
};
struct SumOp {
  __device__ float operator()(float x, float y) const { return x + y; }
};

}  // namespace dsstne::cuda
