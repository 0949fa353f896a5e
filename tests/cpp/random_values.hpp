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

}  // namespace dsstne::testing
