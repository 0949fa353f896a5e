// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file gemm_pieces.hpp
/// @brief How a row-major C = alpha·op(A)·op(B) + beta·C too large to round whole into bf16
/// scratch is cut into pieces (cuda/src/gemm_bfloat16.cu), kept here so that the CPU tests check
/// the cuts and the offsets of every piece against one whole product.
#include <algorithm>
#include <cstdint>

namespace dsstne::terms {

/// One piece: rows [m0, m0 + m) of op(A) and C, columns [n0, n0 + n) of op(B) and C, terms
/// [k0, k0 + k) of the sum. The piece at k0 = 0 applies beta; the later ones add (beta 1).
struct GemmPiece {
  int64_t m0, n0, k0, m, n, k;
};

/// The size of every piece (the last ones along each axis are shorter) whose op(A) and op(B)
/// parts hold at most `budget` elements together: the whole product when it fits. Else pieces
/// along k alone when every row and column fit beside a long stretch of it (nothing is read
/// twice: a batch's delta times a 10M-wide matrix). Else tiles of C with k as long as half the
/// budget allows beside one row (the other operand is read again for each tile, cheap when it is
/// the batch-sized one).
inline GemmPiece piece_size(int64_t m, int64_t n, int64_t k, int64_t budget) {
  constexpr int64_t kLongK = 1024;
  if (m * k + k * n <= budget) return GemmPiece{0, 0, 0, m, n, k};
  if ((m + n) * std::min(k, kLongK) <= budget)
    return GemmPiece{0, 0, 0, m, n, std::max<int64_t>(1, std::min(k, budget / (m + n)))};
  const int64_t half = std::max<int64_t>(1, budget / 2);
  const int64_t kc = std::min(k, half);
  return GemmPiece{0, 0, 0, std::min(m, std::max<int64_t>(1, half / kc)),
                   std::min(n, std::max<int64_t>(1, half / kc)), kc};
}

/// Calls f(piece) for every piece of the product in a fixed order (n, then m, then k).
template <typename F>
void for_each_gemm_piece(int64_t m, int64_t n, int64_t k, int64_t budget, F&& f) {
  const GemmPiece size = piece_size(m, n, k, budget);
  for (int64_t n0 = 0; n0 < n; n0 += size.n)
    for (int64_t m0 = 0; m0 < m; m0 += size.m)
      for (int64_t k0 = 0; k0 < k; k0 += size.k)
        f(GemmPiece{m0, n0, k0, std::min(size.m, m - m0), std::min(size.n, n - n0),
                    std::min(size.k, k - k0)});
}

/// Where a piece's part of the stored A (m × k, or k × m when transposed; row pitch lda) starts.
inline int64_t piece_offset_a(const GemmPiece& p, bool trans_a, int64_t lda) {
  return trans_a ? p.k0 * lda + p.m0 : p.m0 * lda + p.k0;
}

/// Where a piece's part of the stored B (k × n, or n × k when transposed; row pitch ldb) starts.
inline int64_t piece_offset_b(const GemmPiece& p, bool trans_b, int64_t ldb) {
  return trans_b ? p.n0 * ldb + p.k0 : p.k0 * ldb + p.n0;
}

}  // namespace dsstne::terms
