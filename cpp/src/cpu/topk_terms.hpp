// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file topk_terms.hpp
/// @brief The top-k ranking key, shared by the CPU reference and the CUDA kernel so both rank
/// exactly alike.

#include <cstdint>
#include <cstring>

#include "dsstne/rng.hpp"  // DSSTNE_HOST_DEVICE

namespace dsstne::terms {

/// Index written for padding slots (fewer than k candidates in a row).
constexpr uint32_t kNoIndex = 0xFFFFFFFFu;

DSSTNE_HOST_DEVICE uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#endif
}

DSSTNE_HOST_DEVICE float float_of_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

/// Packs (score, local column) into one integer whose unsigned order is the ranking order:
/// the high word orders scores (NaN lowest, −0 equal to +0, −inf just above NaN), the low word
/// prefers low columns. All keys of a row are distinct, so selection needs no tie logic.
DSSTNE_HOST_DEVICE uint64_t rank_key(float score, uint32_t col) {
  uint32_t bits = float_bits(score);
  uint32_t order = 0;  // NaN
  if ((bits & 0x7FFFFFFFu) <= 0x7F800000u) {
    if ((bits & 0x7FFFFFFFu) == 0) bits = 0;  // fold −0 into +0 so both tie by column
    order = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  return (static_cast<uint64_t>(order) << 32) | (kNoIndex - col);
}

/// The score whose rank key has `order` as its high word: the inverse of rank_key's score
/// transform (+0 for the word of ±0). The NaN word 0 has no score; callers treat it apart.
DSSTNE_HOST_DEVICE float score_of_order(uint32_t order) {
  return float_of_bits((order & 0x80000000u) ? (order & 0x7FFFFFFFu) : ~order);
}

DSSTNE_HOST_DEVICE uint32_t column_of(uint64_t key) {
  return kNoIndex - static_cast<uint32_t>(key);
}

}  // namespace dsstne::terms
