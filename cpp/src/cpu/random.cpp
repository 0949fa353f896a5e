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

#include "dsstne/error.hpp"
#include "init_law.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"

namespace dsstne::cpu {

namespace {

using init::InitLaw;
using init::checked_init_law;

}  // namespace

void init_weights(WeightInit scheme, float scale, const RandomStream& rs, int64_t n_in,
                  int64_t n_out, const MatrixBlock& block, float* w) {
  const InitLaw law = checked_init_law(scheme, scale, n_in, n_out, block);
  const int64_t cols = block.cols;
  if (cols == 0 || block.rows == 0) return;
  DSSTNE_EXPECTS(w != nullptr, "init_weights: weight pointer is null");

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

void shuffle_permutation(const RandomStream& rs, int64_t n, uint32_t* perm) {
  DSSTNE_EXPECTS(n >= 0 && n <= (int64_t{1} << 32), "shuffle_permutation: example count ", n,
                 " outside [0, 2^32]");
  if (n == 0) return;
  DSSTNE_EXPECTS(perm != nullptr, "shuffle_permutation: permutation pointer is null");

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
