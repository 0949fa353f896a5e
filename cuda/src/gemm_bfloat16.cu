// SPDX-License-Identifier: Apache-2.0
// The bf16 GEMM: both operands rounded to bfloat16 into the workspace, then cuBLAS with bf16
// inputs and float32 sums (cuBLAS's COMPUTE_32F_FAST_16BF only allows bf16, and on Hopper it runs
// TF32 kernels instead). A 10M-wide layer's operand would take 5 GB of workspace rounded whole, so
// a product whose operands exceed kBfloat16PieceElements runs in pieces: tiles of C (rows m,
// columns n), and along k, where the first piece applies beta and the later ones add (beta 1).
// The pieces depend on the sizes alone, so the result is as repeatable as one call.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "dsstne/cuda/error.cuh"
#include "gemm_bfloat16.cuh"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocksY = 65535;  // gridDim.y limit; further rows are strided

// out (rows × cols, packed) ← m (rows × cols, row pitch ld) rounded to bfloat16, to nearest with
// ties to even as the CPU rounds.
__global__ void to_bfloat16_kernel(const float* m, int64_t rows, int64_t cols, int64_t ld,
                                   __nv_bfloat16* out) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    out[r * cols + col] = __float2bfloat16_rn(m[r * ld + col]);
}

// pair ← {*alpha, 1}: the scalars of the pieces after the first along k, whose beta is 1.
__global__ void alpha_and_one_kernel(const float* alpha, float* pair) {
  pair[0] = *alpha;
  pair[1] = 1.0f;
}

void round_to_bfloat16(const StreamScope& s, const float* m, int64_t rows, int64_t cols,
                       int64_t ld, __nv_bfloat16* out) {
  const dim3 grid(blocks_for(cols, kThreads),
                  static_cast<unsigned int>(std::min<int64_t>(rows, kMaxBlocksY)));
  to_bfloat16_kernel<<<grid, kThreads, 0, s.stream()>>>(m, rows, cols, ld, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

/// The sizes of a piece: op(A) is m × k, op(B) k × n.
struct Piece {
  int64_t m, n, k;
};

/// The piece whose rounded operands fit the budget: the whole product when they do. Else, when
/// every row of op(A) and column of op(B) fit beside a long enough stretch of k, pieces along k
/// alone, so that nothing is rounded twice (a batch's delta times a 10M-wide matrix). Else tiles
/// of C with k as long as half the budget allows (the other operand of a tile is rounded again
/// for each tile, which costs little when it is the batch-sized one).
Piece piece_of(int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kBudget = kBfloat16PieceElements;
  constexpr int64_t kLongK = 1024;
  if (m * k + k * n <= kBudget) return Piece{m, n, k};
  if ((m + n) * std::min(k, kLongK) <= kBudget) return Piece{m, n, std::min(k, kBudget / (m + n))};
  const int64_t half = kBudget / 2;
  const int64_t kc = std::min(k, half);
  return Piece{std::min(m, std::max<int64_t>(1, half / kc)),
               std::min(n, std::max<int64_t>(1, half / kc)), kc};
}

}  // namespace

void gemm_bfloat16(const StreamScope& s, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, const Scalars& scalars, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc) {
  const Piece p = piece_of(m, n, k);
  const auto a_n = static_cast<std::size_t>(p.m * p.k), b_n = static_cast<std::size_t>(p.k * p.n);
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
  if (p.k < k && scalars.on_device) {
    float* pair = scratch.take<float>(2);
    alpha_and_one_kernel<<<1, 1, 0, s.stream()>>>(scalars.alpha, pair);
    DSSTNE_CHECK_LAST_KERNEL();
    adding = Scalars{pair, pair + 1, true};
  }
  Resources& r = s.resources();
  DSSTNE_CUBLAS_TRY(cublasSetMathMode(r.blas, CUBLAS_DEFAULT_MATH));
  for (int64_t n0 = 0; n0 < n; n0 += p.n) {
    const int64_t nc = std::min(p.n, n - n0);
    for (int64_t m0 = 0; m0 < m; m0 += p.m) {
      const int64_t mc = std::min(p.m, m - m0);
      for (int64_t k0 = 0; k0 < k; k0 += p.k) {
        const int64_t kc = std::min(p.k, k - k0);
        // The stored pieces: A is m × k (k × m transposed), B k × n (n × k); packed, their pitch
        // is their width.
        if (trans_a) {
          round_to_bfloat16(s, a + k0 * lda + m0, kc, mc, lda, a16);
        } else {
          round_to_bfloat16(s, a + m0 * lda + k0, mc, kc, lda, a16);
        }
        if (trans_b) {
          round_to_bfloat16(s, b + n0 * ldb + k0, nc, kc, ldb, b16);
        } else {
          round_to_bfloat16(s, b + k0 * ldb + n0, kc, nc, ldb, b16);
        }
        const Scalars& use = k0 == 0 ? scalars : adding;
        const PointerMode mode(r.blas, use.on_device);
        // Column-major as in gemm: B first, m and n swapped.
        DSSTNE_CUBLAS_TRY(cublasGemmEx(
            r.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
            int(nc), int(mc), int(kc), use.alpha, b16, CUDA_R_16BF, int(trans_b ? kc : nc), a16,
            CUDA_R_16BF, int(trans_a ? mc : kc), use.beta, c + m0 * ldc + n0, CUDA_R_32F,
            int(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      }
    }
  }
}

}  // namespace dsstne::cuda
