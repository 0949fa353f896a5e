// SPDX-License-Identifier: Apache-2.0
// Training-time dropout on the GPU (spec/math.md §6.1), bit for bit the CPU reference
// (cpp/src/cpu/dropout.cpp): the same counter-based draws give the same mask, the per-call
// constants are formed on the host the same way, and every element operation is an explicitly
// rounded intrinsic so nvcc cannot fuse a·x + b into an FMA the CPU does not perform.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocksY = 65535;  // gridDim.y limit; rows beyond it are strided

bool uses_alpha_dropout(const ActivationParams& act) {
  return act.kind == Activation::ExponentialLinear ||
         act.kind == Activation::ScaledExponentialLinear;
}

/// Alpha-dropout constants, formed in double and rounded once exactly as the CPU does.
struct AlphaDropout {
  float a_s = 1.0f;
  float b_s = 0.0f;
  float dropped = 0.0f;  ///< a_s·α' + b_s
};

AlphaDropout alpha_dropout(const ActivationParams& act, float p) {
  const double lambda_d =
      act.kind == Activation::ScaledExponentialLinear ? static_cast<double>(act.lambda) : 1.0;
  const double alpha_prime = -lambda_d * static_cast<double>(act.alpha);
  const double q = p;
  const double a_s = 1.0 / std::sqrt(1.0 - q + alpha_prime * alpha_prime * q * (1.0 - q));
  const double b_s = -a_s * q * alpha_prime;
  return AlphaDropout{static_cast<float>(a_s), static_cast<float>(b_s),
                      static_cast<float>(a_s * alpha_prime + b_s)};
}

// a, saved, mask: rows × cols. Threads walk a row's columns (coalesced), blocks in y walk rows.
// One pass: saves a, draws unit (r, c) from counter r·row_pitch + col_begin + c, writes the mask
// and the dropped-out activation.
__global__ void dropout_forward_kernel(RandomStream rs, float p, bool alpha, AlphaDropout ad,
                                       float keep, int64_t row_pitch, int64_t col_begin,
                                       int64_t rows, int64_t cols, float* a, float* saved,
                                       uint8_t* mask) {
  const int64_t c0 = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t c_stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const uint64_t base = static_cast<uint64_t>(r * row_pitch + col_begin);
    const int64_t offset = r * cols;
    for (int64_t c = c0; c < cols; c += c_stride) {
      const float x = a[offset + c];
      saved[offset + c] = x;
      const float u = random_uniform(rs.seed, rs.stream, base + static_cast<uint64_t>(c));
      const bool dropped = u < p;
      mask[offset + c] = dropped ? 0 : 1;
      float y;
      if (alpha) {
        y = dropped ? ad.dropped : __fadd_rn(__fmul_rn(ad.a_s, x), ad.b_s);
      } else {
        y = dropped ? 0.0f : __fdiv_rn(x, keep);
      }
      a[offset + c] = y;
    }
  }
}

/// One element of the backward pass: dropped units get slope 0; kept ones 1/(1 − p) (the
/// forward's division) or the alpha-dropout slope (1 when p ≤ 0: the forward was the identity).
__device__ __forceinline__ float dropout_slope_times(uint8_t m, float g, bool inverted, float keep,
                                                    float slope) {
  if (m == 0) return 0.0f;
  return inverted ? __fdiv_rn(g, keep) : __fmul_rn(g, slope);
}

// g, mask: n elements, one per thread (any alignment).
__global__ void dropout_backward_kernel(const uint8_t* mask, bool inverted, float keep,
                                        float slope, int64_t n, float* g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    g[i] = dropout_slope_times(mask[i], g[i], inverted, keep, slope);
  }
}

// g, mask: n elements, four per thread through 16-byte and 4-byte loads (single-byte mask loads
// alone leave the pass well short of the memory bandwidth); the n % 4 tail goes to the first
// threads.
__global__ void dropout_backward_vec4_kernel(const uchar4* mask, bool inverted, float keep,
                                             float slope, int64_t n, float4* g) {
  const int64_t quads = n / 4;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t q = first; q < quads; q += stride) {
    const uchar4 m = mask[q];
    float4 x = g[q];
    x.x = dropout_slope_times(m.x, x.x, inverted, keep, slope);
    x.y = dropout_slope_times(m.y, x.y, inverted, keep, slope);
    x.z = dropout_slope_times(m.z, x.z, inverted, keep, slope);
    x.w = dropout_slope_times(m.w, x.w, inverted, keep, slope);
    g[q] = x;
  }
  const int64_t i = quads * 4 + first;
  if (i < n) {
    float* gs = reinterpret_cast<float*>(g);
    gs[i] = dropout_slope_times(reinterpret_cast<const uint8_t*>(mask)[i], gs[i], inverted, keep,
                                slope);
  }
}

}  // namespace

void dropout_forward(const Context& ctx, const ActivationParams& act, float p,
                     const RandomStream& rs, int64_t row_pitch, int64_t col_begin, int64_t rows,
                     int64_t cols, float* a, float* saved, uint8_t* mask) {
  if (!checks::dropout_forward(ctx, act, p, rs, row_pitch, col_begin, rows, cols, a, saved, mask))
    return;
  const StreamScope s(ctx);
  const int64_t n = rows * cols;
  if (p <= 0.0f) {  // nothing dropped and nothing rescaled
    DSSTNE_CUDA_TRY(cudaMemcpyAsync(saved, a, static_cast<size_t>(n) * sizeof(float),
                                    cudaMemcpyDeviceToDevice, s.stream()));
    DSSTNE_CUDA_TRY(cudaMemsetAsync(mask, 1, static_cast<size_t>(n), s.stream()));
    return;
  }
  const bool alpha = uses_alpha_dropout(act);
  const AlphaDropout ad = alpha ? alpha_dropout(act, p) : AlphaDropout{};
  const float keep = 1.0f - p;

  // Blocks as wide as a row (whole warps, at most kThreads), capped x-blocks with a strided
  // column loop, one y-block per row up to the grid limit.
  const unsigned int threads =
      cols >= kThreads ? kThreads : static_cast<unsigned int>((cols + 31) / 32 * 32);
  const unsigned int bx = std::min(blocks_for(cols, threads), 1u << 16);
  const unsigned int by = static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocksY));
  dropout_forward_kernel<<<dim3(bx, by), threads, 0, s.stream()>>>(
      rs, p, alpha, ad, keep, row_pitch, col_begin, rows, cols, a, saved, mask);
  DSSTNE_CHECK_LAST_KERNEL();
}

void dropout_backward(const Context& ctx, const ActivationParams& act, float p,
                      const uint8_t* mask, int64_t rows, int64_t cols, float* g) {
  if (!checks::dropout_backward(ctx, act, p, mask, rows, cols, g)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * cols;
  const bool alpha = p > 0.0f && uses_alpha_dropout(act);
  const bool inverted = p > 0.0f && !alpha;
  const float slope = alpha ? alpha_dropout(act, p).a_s : 1.0f;
  const float keep = 1.0f - p;
  if (reinterpret_cast<uintptr_t>(g) % 16 == 0 && reinterpret_cast<uintptr_t>(mask) % 4 == 0) {
    const unsigned int blocks = std::min(blocks_for((n + 3) / 4, kThreads), 1u << 20);
    dropout_backward_vec4_kernel<<<blocks, kThreads, 0, s.stream()>>>(
        reinterpret_cast<const uchar4*>(mask), inverted, keep, slope, n,
        reinterpret_cast<float4*>(g));
  } else {
    const unsigned int blocks = std::min(blocks_for(n, kThreads), 1u << 20);
    dropout_backward_kernel<<<blocks, kThreads, 0, s.stream()>>>(mask, inverted, keep, slope, n,
                                                                 g);
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
