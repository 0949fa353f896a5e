// SPDX-License-Identifier: Apache-2.0
#include "inputs.hpp"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne::bench {

SparseBatch random_batch(const Context& ctx, int64_t rows, int64_t items, int64_t mean_per_row,
                         uint64_t seed, uint64_t stream, const std::string& name) {
  DSSTNE_EXPECTS(rows > 0 && items > 0 && mean_per_row > 0 && mean_per_row <= items,
                 "random_batch '", name, "': bad shape rows=", rows, " items=", items,
                 " entries per row=", mean_per_row);
  std::mt19937_64 gen(seed ^ (stream * 0x9E3779B97F4A7C15ull));
  const int64_t shortest = (mean_per_row + 1) / 2;
  const int64_t longest = std::min(items, mean_per_row + mean_per_row / 2);
  std::uniform_int_distribution<int64_t> length(shortest, longest);

  std::vector<int64_t> offsets{0};
  std::vector<uint32_t> indices;
  std::unordered_set<int64_t> row_items;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t k = length(gen);
    // Floyd's sampling: k distinct items in k draws, however close k comes to `items`.
    row_items.clear();
    for (int64_t j = items - k; j < items; ++j) {
      const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(gen);
      row_items.insert(row_items.count(t) != 0 ? j : t);
    }
    const std::size_t first = indices.size();
    for (int64_t i : row_items) indices.push_back(static_cast<uint32_t>(i));
    std::sort(indices.begin() + std::ptrdiff_t(first), indices.end());
    offsets.push_back(static_cast<int64_t>(indices.size()));
  }
  std::vector<uint32_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());

  SparseBatch b;
  b.rows = rows;
  b.nnz = offsets.back();
  b.distinct = std::unique(sorted.begin(), sorted.end()) - sorted.begin();
  b.offsets = DeviceBuffer<int64_t>(ctx, offsets.size(), name + " offsets");
  b.offsets.upload(offsets);
  b.indices = DeviceBuffer<uint32_t>(ctx, indices.size(), name + " indices");
  b.indices.upload(indices);
  b.values = DeviceBuffer<float>(ctx, indices.size(), name + " values");
  b.values.upload(std::vector<float>(indices.size(), 1.0f));
  return b;
}

DeviceBuffer<float> random_matrix(const Context& ctx, int64_t rows, int64_t cols, float scale,
                                  uint64_t seed, uint64_t stream, const std::string& name) {
  DeviceBuffer<float> m(ctx, static_cast<std::size_t>(rows * cols), name);
  const MatrixBlock whole{0, rows, 0, cols};
  DSSTNE_DISPATCH(ctx, init_weights, WeightInit::Uniform, scale, RandomStream{seed, stream}, rows,
                  cols, whole, m.data());
  return m;
}

}  // namespace dsstne::bench
