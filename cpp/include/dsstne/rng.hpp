// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file rng.hpp
/// @brief The counter-based random generator shared by the CPU and CUDA backends.
///
/// Philox4x32-10 (Salmon et al., SC'11): value = f(key = seed, counter = (stream, index)).
/// No state is kept, so any element of any stream can be drawn independently and in any order,
/// and the CPU and the GPU produce the same numbers for the same seed.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DSSTNE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DSSTNE_HOST_DEVICE inline
#endif

namespace dsstne {

/// What a stream of random numbers is used for; the top byte of the stream id.
enum class RandomPurpose : uint64_t {
  kInit = 1, kShuffle = 2, kDropout = 3, kDenoise = 4, kTest = 255
};

/// Builds a stream id from a purpose, an object id (weight or layer, < 2^16) and a sequence
/// number (epoch or step, < 2^40).
DSSTNE_HOST_DEVICE uint64_t make_stream(RandomPurpose purpose, uint64_t object, uint64_t sequence) {
  return (static_cast<uint64_t>(purpose) << 56) | ((object & 0xFFFFull) << 40) |
         (sequence & 0xFFFFFFFFFFull);
}

struct Philox4 {
  uint32_t v[4];
};

/// Philox4x32 with 10 rounds.
DSSTNE_HOST_DEVICE Philox4 philox(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t c0 = static_cast<uint32_t>(index), c1 = static_cast<uint32_t>(index >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

/// Maps 32 random bits to a float uniform on (0, 1], never 0.
DSSTNE_HOST_DEVICE float bits_to_uniform(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

/// Uniform on (0, 1] for element `index` of the stream.
DSSTNE_HOST_DEVICE float random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return bits_to_uniform(philox(seed, stream, index).v[0]);
}

/// Standard normal for element `index` of the stream (Box-Muller on two words of one draw).
/// Evaluated in double and rounded once: float logf/cosf differ in the last bit between glibc and
/// CUDA, the double functions agree after rounding, so CPU and GPU draw the same normals.
DSSTNE_HOST_DEVICE float random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const Philox4 r = philox(seed, stream, index);
  const double u1 = bits_to_uniform(r.v[0]);
  const double u2 = bits_to_uniform(r.v[1]);
  return static_cast<float>(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

}  // namespace dsstne
