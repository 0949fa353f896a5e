// SPDX-License-Identifier: Apache-2.0
#pragma once
// Random inputs of the kernel tests, reproducible from a seed on every platform.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace dsstne::testing {

/// n values uniform in [lo, hi) from a 64-bit Mersenne Twister seeded with `seed`.
inline std::vector<float> uniform_values(std::size_t n, uint64_t seed, float lo = -1.0f,
                                         float hi = 1.0f) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

/// n values (j − 7.5)/8, j in [0, 16), from a hash of the index and `salt`: mean 0, exact in
/// bf16, and their products and modest sums exact in float, whatever the order of the sum. Cheap
/// enough for the gigabyte operands of the GEMM piece tests.
inline std::vector<float> exact_sixteenths(int64_t n, uint32_t salt) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = (static_cast<uint32_t>(i) ^ salt) * 2654435761u;
    v[static_cast<std::size_t>(i)] = (float((h >> 20) & 15u) - 7.5f) / 8.0f;
  }
  return v;
}

}  // namespace dsstne::testing
