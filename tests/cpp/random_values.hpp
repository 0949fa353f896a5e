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
/// enough for the gigabyte operands of the GEMM piece tests. The hash mixes every bit of the
/// index and the salt (splitmix64's finalizer), so two operands' values are independent and a
/// sum of 120M products stays a random walk of a few thousand, exact in float32 (a multiplicative
/// hash alone left the operands correlated: such sums drifted to millions and rounded).
inline std::vector<float> exact_sixteenths(int64_t n, uint32_t salt) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = (static_cast<uint64_t>(i) << 8 ^ salt) + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    v[static_cast<std::size_t>(i)] = (float(h & 15u) - 7.5f) / 8.0f;
  }
  return v;
}

}  // namespace dsstne::testing
