// SPDX-License-Identifier: Apache-2.0
// The bf16 GEMM: both operands rounded to bfloat16 into the workspace, then cuBLAS with bf16
// inputs and float32 sums (cuBLAS's COMPUTE_32F_FAST_16BF only allows bf16, and on Hopper it runs
// TF32 kernels instead). A 10M-wide layer's operand would take 5 GB of workspace rounded whole, so
// a product whose operands exceed kBfloat16PieceElements runs in the pieces of
// cpu/gemm_pieces.hpp (tiles of C, or pieces along k that add with beta 1 after the first). The
// pieces depend on the sizes alone, so the result is as repeatable as one call.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/gemm_pieces.hpp"
#include "dsstne/cuda/error.cuh"
#include "gemm_bfloat16.cuh"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 1u << 20;  // further elements are strided

// out (rows × cols, packed) ← m (rows × cols, row pitch ld) rounded to bfloat16, to nearest with
// ties to even as the CPU rounds. One flat index over the rows' elements, so a narrow operand
// (256 columns of a million rows) still fills the blocks.
__global__ void to_bfloat16_kernel(const float* m, int64_t rows, int64_t cols, int64_t ld,
                                   __nv_bfloat16* out) {
  const int64_t n = rows * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, col = i - r * cols;
    out[i] = __float2bfloat16_rn(m[r * ld + col]);
  }
}

// The same rounding four columns a thread (one 16-byte load, one 8-byte store), where every row
// of m starts on 16 bytes and has a multiple of four columns: quads = cols / 4, ld_quads = ld / 4.
// The rounding is a bandwidth-bound sweep that the bf16 product runs on both operands of every
// call; narrower accesses left it well below the card's bandwidth.
__global__ void to_bfloat16_quads_kernel(const float4* m, int64_t rows, int64_t quads,
                                         int64_t ld_quads, uint2* out) {
  const int64_t n = rows * quads;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / quads, q = i - r * quads;
    const float4 v = m[r * ld_quads + q];
    const __nv_bfloat162 low = __floats2bfloat162_rn(v.x, v.y);
    const __nv_bfloat162 high = __floats2bfloat162_rn(v.z, v.w);
    uint2 bits;
    memcpy(&bits.x, &low, sizeof(bits.x));
    memcpy(&bits.y, &high, sizeof(bits.y));
    out[i] = bits;
  }
}

// pair ← {*alpha, 1}: the scalars of the pieces after the first along k, whose beta is 1.
__global__ void alpha_and_one_kernel(const float* alpha, float* pair) {
  pair[0] = *alpha;
  pair[1] = 1.0f;
}

unsigned int blocks_of(int64_t n) { return std::min(blocks_for(n, kThreads), kMaxBlocks); }

void round_to_bfloat16(const StreamScope& s, const float* m, int64_t rows, int64_t cols,
                       int64_t ld, __nv_bfloat16* out) {
  if (rows == 0 || cols == 0) return;
  const bool quads = cols % 4 == 0 && ld % 4 == 0 &&
                     reinterpret_cast<std::uintptr_t>(m) % alignof(float4) == 0 &&
                     reinterpret_cast<std::uintptr_t>(out) % alignof(uint2) == 0;
  if (quads) {
    to_bfloat16_quads_kernel<<<blocks_of(rows * cols / 4), kThreads, 0, s.stream()>>>(
        reinterpret_cast<const float4*>(m), rows, cols / 4, ld / 4, reinterpret_cast<uint2*>(out));
  } else {
    to_bfloat16_kernel<<<blocks_of(rows * cols), kThreads, 0, s.stream()>>>(m, rows, cols, ld,
                                                                           out);
  }
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace

void gemm_bfloat16(const StreamScope& s, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, const Scalars& scalars, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc) {
  const terms::GemmPiece size = terms::piece_size(m, n, k, kBfloat16PieceElements);
  const auto a_n = static_cast<std::size_t>(size.m * size.k);
  const auto b_n = static_cast<std::size_t>(size.k * size.n);
  // The scratch holds the context's lock until the last piece is queued, as the float32 path's
  // lock_guard does.
  Scratch scratch(s,
                  Scratch::round_up(a_n * sizeof(__nv_bfloat16)) +
                      Scratch::round_up(b_n * sizeof(__nv_bfloat16)) +
                      Scratch::round_up(2 * sizeof(float)),
                  "gemm (bfloat16 operands)");
  __nv_bfloat16* a16 = scratch.take<__nv_bfloat16>(a_n);
  __nv_bfloat16* b16 = scratch.take<__nv_bfloat16>(b_n);
  // The scalars of the pieces after the first along k: alpha as given, beta 1.
  static const float kOne = 1.0f;
  Scalars adding{scalars.alpha, &kOne, false};
  if (size.k < k && scalars.on_device) {
    float* pair = scratch.take<float>(2);
    alpha_and_one_kernel<<<1, 1, 0, s.stream()>>>(scalars.alpha, pair);
    DSSTNE_CHECK_LAST_KERNEL();
    adding = Scalars{pair, pair + 1, true};
  }
  Resources& r = s.resources();
  DSSTNE_CUBLAS_TRY(cublasSetMathMode(r.blas, CUBLAS_DEFAULT_MATH));
  terms::for_each_gemm_piece(m, n, k, kBfloat16PieceElements, [&](const terms::GemmPiece& p) {
    // The stored parts: A is m × k (k × m transposed), B k × n (n × k); packed, their pitch is
    // their width.
    const int64_t a_rows = trans_a ? p.k : p.m, a_cols = trans_a ? p.m : p.k;
    const int64_t b_rows = trans_b ? p.n : p.k, b_cols = trans_b ? p.k : p.n;
    round_to_bfloat16(s, a + terms::piece_offset_a(p, trans_a, lda), a_rows, a_cols, lda, a16);
    round_to_bfloat16(s, b + terms::piece_offset_b(p, trans_b, ldb), b_rows, b_cols, ldb, b16);
    const Scalars& use = p.k0 == 0 ? scalars : adding;
    const PointerMode mode(r.blas, use.on_device);
    // Column-major as in gemm: B first, m and n swapped.
    DSSTNE_CUBLAS_TRY(cublasGemmEx(r.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(p.n), int(p.m),
                                   int(p.k), use.alpha, b16, CUDA_R_16BF, int(b_cols), a16,
                                   CUDA_R_16BF, int(a_cols), use.beta, c + p.m0 * ldc + p.n0,
                                   CUDA_R_32F, int(ldc), CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
  });
}

}  // namespace dsstne::cuda
