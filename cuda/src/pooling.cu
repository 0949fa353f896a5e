// SPDX-License-Identifier: Apache-2.0
// The pooling functions of several same-sized sources: maxout, dot product and cosine, forward
// and backward (reference: cpp/src/cpu/pooling.cpp). The list of source pointers travels by
// value in the launch arguments (at most kMaxPoolingSources), so a call allocates and uploads
// nothing. Row sums run one block of kPoolingLanes threads per row, thread t being the lane t of
// pooling_terms.hpp, and the lanes meet in the same halving tree as on the CPU: the results are
// the CPU's bit for bit.
#include <algorithm>
#include <cstdint>

#include "cpu/pooling_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kLanes = terms::kPoolingLanes;
constexpr unsigned int kMaxBlocks = 65535;

struct SourceList {
  const float* at[kMaxPoolingSources];
};
struct DeltaList {
  float* at[kMaxPoolingSources];
};

SourceList source_list(const float* const* sources, int64_t count) {
  SourceList list{};
  std::copy(sources, sources + count, list.at);
  return list;
}

DeltaList delta_list(float* const* deltas, int64_t count) {
  DeltaList list{};
  std::copy(deltas, deltas + count, list.at);
  return list;
}

__device__ float unit_maximum(const SourceList& s, int count, int64_t e) {
  float y = s.at[0][e];
  for (int k = 1; k < count; ++k) y = terms::maxout_step(y, s.at[k][e]);
  return y;
}

/// The block's lanes joined in the CPU's halving tree (reduce.cuh).
__device__ double lane_sum(double value, double* shared) {
  return lane_tree_sum<kLanes>(value, shared);
}

/// Σ_j x[j]·z[j] over one row, lane by lane.
__device__ double row_dot(const float* x, const float* z, int64_t cols, double* shared) {
  double local = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += kLanes)
    local = terms::add_d(local, terms::mul_d(x[j], z[j]));
  return lane_sum(local, shared);
}

__global__ void maxout_forward_kernel(SourceList s, int count, int64_t n, float* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    y[e] = unit_maximum(s, count, e);
}

__global__ void maxout_backward_kernel(SourceList s, int count, int64_t n, const float* delta,
                                       bool accumulate, DeltaList deltas) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float m = unit_maximum(s, count, e);
    const float d = delta[e];
    for (int k = 0; k < count; ++k) {
      float* out = deltas.at[k];
      if (out == nullptr) continue;
      const bool wins = s.at[k][e] == m;
      if (accumulate) {
        if (wins) out[e] = __fadd_rn(out[e], d);
      } else {
        out[e] = wins ? d : 0.0f;
      }
    }
  }
}

// Blocks over rows (x) and pairs (y: pair i − 1 is source 0 with source i); the dot product,
// or with `cosine` the cosine.
__global__ void pair_forward_kernel(SourceList s, int count, int64_t rows, int64_t cols,
                                    bool cosine, float* y) {
  __shared__ double shared[kLanes];
  const int i = int(blockIdx.y) + 1;
  const int64_t pairs = count - 1;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* x0 = s.at[0] + r * cols;
    const float* xi = s.at[i] + r * cols;
    double result = row_dot(x0, xi, cols, shared);
    if (cosine) {  // the same for the whole block, so every thread meets the barriers
      const double square_sum_0 = row_dot(x0, x0, cols, shared);
      const double square_sum_i = row_dot(xi, xi, cols, shared);
      result = terms::cosine_pair(result, square_sum_0, square_sum_i).cosine;
    }
    if (threadIdx.x == 0) y[r * pairs + i - 1] = static_cast<float>(result);
  }
}

__global__ void dot_product_backward_kernel(SourceList s, int count, int64_t rows, int64_t cols,
                                            const float* delta, bool accumulate,
                                            DeltaList deltas) {
  const int64_t pairs = count - 1;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < rows * cols;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float* d = delta + (e / cols) * pairs;
    const double x0 = s.at[0][e];
    double sum = 0.0;
    for (int i = 1; i < count; ++i) {
      sum = terms::add_d(sum, terms::mul_d(d[i - 1], s.at[i][e]));
      float* out = deltas.at[i];
      if (out != nullptr)
        out[e] = terms::delta_result(accumulate, out[e], terms::mul_d(d[i - 1], x0));
    }
    if (deltas.at[0] != nullptr)
      deltas.at[0][e] = terms::delta_result(accumulate, deltas.at[0][e], sum);
  }
}

// One block per row: the row's pairs first (into shared memory), then its units.
__global__ void cosine_backward_kernel(SourceList s, int count, int64_t rows, int64_t cols,
                                       const float* delta, bool accumulate, DeltaList deltas) {
  __shared__ double shared[kLanes];
  __shared__ terms::CosinePair pair[kMaxPoolingSources];
  const int64_t pairs = count - 1;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* x0 = s.at[0] + r * cols;
    const double square_sum_0 = row_dot(x0, x0, cols, shared);
    for (int i = 1; i < count; ++i) {
      const float* xi = s.at[i] + r * cols;
      const double dot = row_dot(x0, xi, cols, shared);
      const double square_sum_i = row_dot(xi, xi, cols, shared);
      if (threadIdx.x == 0) pair[i] = terms::cosine_pair(dot, square_sum_0, square_sum_i);
    }
    __syncthreads();  // pair[] complete; the next row's first lane_sum fences its reuse
    const float* d = delta + r * pairs;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const int64_t e = r * cols + j;
      double sum = 0.0;
      for (int i = 1; i < count; ++i) {
        const terms::CosinePair p = pair[i];
        const float xi = s.at[i][e];
        sum = terms::add_d(sum, terms::cosine_gradient(d[i - 1], x0[j], xi, p.inv_ab,
                                                       p.c_over_a_sq));
        float* out = deltas.at[i];
        if (out != nullptr)
          out[e] = terms::delta_result(
              accumulate, out[e],
              terms::cosine_gradient(d[i - 1], xi, x0[j], p.inv_ab, p.c_over_b_sq));
      }
      if (deltas.at[0] != nullptr)
        deltas.at[0][e] = terms::delta_result(accumulate, deltas.at[0][e], sum);
    }
  }
}

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kLanes), kMaxBlocks));
}

/// Rows in x, one pair per y.
dim3 row_pair_grid(int64_t rows, int64_t count) {
  return dim3(static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocks)),
              static_cast<unsigned int>(count - 1));
}

}  // namespace

void maxout_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  if (!checks::maxout_forward(ctx, sources, count, rows, cols, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * cols;
  maxout_forward_kernel<<<element_blocks(n), kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void maxout_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas) {
  if (!checks::maxout_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas))
    return;
  const StreamScope s(ctx);
  const int64_t n = rows * cols;
  maxout_backward_kernel<<<element_blocks(n), kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), n, delta, accumulate, delta_list(deltas, count));
  DSSTNE_CHECK_LAST_KERNEL();
}

void dot_product_forward(const Context& ctx, const float* const* sources, int64_t count,
                         int64_t rows, int64_t cols, float* y) {
  if (!checks::dot_product_forward(ctx, sources, count, rows, cols, y)) return;
  const StreamScope s(ctx);
  pair_forward_kernel<<<row_pair_grid(rows, count), kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), rows, cols, false, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void dot_product_backward(const Context& ctx, const float* const* sources, int64_t count,
                          int64_t rows, int64_t cols, const float* delta, bool accumulate,
                          float* const* deltas) {
  if (!checks::dot_product_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas))
    return;
  const StreamScope s(ctx);
  dot_product_backward_kernel<<<element_blocks(rows * cols), kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), rows, cols, delta, accumulate,
      delta_list(deltas, count));
  DSSTNE_CHECK_LAST_KERNEL();
}

void cosine_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  if (!checks::cosine_forward(ctx, sources, count, rows, cols, y)) return;
  const StreamScope s(ctx);
  pair_forward_kernel<<<row_pair_grid(rows, count), kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), rows, cols, true, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void cosine_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas) {
  if (!checks::cosine_backward(ctx, sources, count, rows, cols, delta, accumulate, deltas)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocks));
  cosine_backward_kernel<<<blocks, kLanes, 0, s.stream()>>>(
      source_list(sources, count), int(count), rows, cols, delta, accumulate,
      delta_list(deltas, count));
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
