// SPDX-License-Identifier: Apache-2.0
#pragma once
// Random inputs of the benchmark, reproducible from the seed: sparse batches made on the host
// (rows of distinct items, as a recommender's interactions are) and copied to the device, and
// dense matrices drawn on the device itself by the engine's init_weights.
#include <cstdint>
#include <string>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne::bench {

/// A CSR batch on the kernel's device, with what the byte models need to know about it.
struct SparseBatch {
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<uint32_t> indices;
  DeviceBuffer<float> values;
  int64_t rows = 0;
  int64_t nnz = 0;
  int64_t distinct = 0;  ///< distinct items over the whole batch

  CsrView view() const { return {offsets.data(), indices.data(), values.data(), rows, nnz}; }
  /// The bytes of its offsets, indices and values: what a kernel reads of it at least.
  double bytes() const { return 8.0 * double(rows + 1) + 8.0 * double(nnz); }
};

/// `rows` rows over `items` items; row lengths uniform in [⌈mean/2⌉, ⌊3·mean/2⌋] (at most
/// `items`), each row's items distinct, uniform and ascending, every value 1 (the batch a
/// Boolean data set loads). `stream` separates the batches of one seed.
SparseBatch random_batch(const Context& ctx, int64_t rows, int64_t items, int64_t mean_per_row,
                         uint64_t seed, uint64_t stream, const std::string& name);

/// rows × cols floats uniform in [−scale, scale), drawn on the context's device.
DeviceBuffer<float> random_matrix(const Context& ctx, int64_t rows, int64_t cols, float scale,
                                  uint64_t seed, uint64_t stream, const std::string& name);

/// Bytes of rows × cols floats.
inline double float_bytes(int64_t rows, int64_t cols) { return 4.0 * double(rows) * double(cols); }

}  // namespace dsstne::bench
