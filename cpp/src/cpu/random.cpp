// SPDX-License-Identifier: Apache-2.0
/// @file random.cpp
/// @brief CPU reference of the random kernels: weight initialisation and the epoch shuffle
/// (spec/math.md §7, §8.2). Dropout lives in dropout.cpp.
///
/// Every value comes from the counter-based generator of rng.hpp, so an element depends only on
/// (seed, stream, counter): slices, threads and backends all agree.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "init_law.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cpu {

void init_weights(const Context& ctx, WeightInit scheme, float scale, const RandomStream& rs,
                  int64_t n_in, int64_t n_out, const MatrixBlock& block, float* w) {
  if (!checks::init_weights(ctx, scheme, scale, rs, n_in, n_out, block, w)) return;
  const init::InitLaw law = init::init_law(scheme, scale, n_in, n_out);
  const int64_t cols = block.cols;

  // w: rows × cols; element (i, c) is global element (row_begin + i)·n_out + col_begin + c.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < block.rows; ++i) {
    float* row = w + i * cols;
    const uint64_t base = static_cast<uint64_t>((block.row_begin + i) * n_out + block.col_begin);
    for (int64_t c = 0; c < cols; ++c) {
      const uint64_t counter = base + static_cast<uint64_t>(c);
      if (law.constant) {
        row[c] = law.factor;
      } else if (law.normal) {
        row[c] = law.factor * random_normal(rs.seed, rs.stream, counter);
      } else {
        const float u = random_uniform(rs.seed, rs.stream, counter);
        row[c] = law.factor * (law.centred ? u - 0.5f : u);
      }
    }
  }
}

void shuffle_permutation(const Context& ctx, const RandomStream& rs, int64_t n, uint32_t* perm) {
  if (!checks::shuffle_permutation(ctx, rs, n, perm)) return;

  // Packing (key, index) into one word makes a plain sort equal to the stable argsort: equal
  // keys are ordered by index.
  std::vector<uint64_t> packed(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t key = philox(rs.seed, rs.stream, static_cast<uint64_t>(i)).v[0];
    packed[static_cast<size_t>(i)] = (key << 32) | static_cast<uint64_t>(i);
  }
  std::sort(packed.begin(), packed.end());
  for (int64_t i = 0; i < n; ++i) {
    perm[i] = static_cast<uint32_t>(packed[static_cast<size_t>(i)] & 0xFFFFFFFFull);
  }
}

}  // namespace dsstne::cpu
