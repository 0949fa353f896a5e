// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the batch-building kernels (cuda/src/gather.cu vs cpp/src/cpu/gather.cpp).
//
// Exact (bitwise) equality is required for everything: row counts, batch indices, and every value
// of every DataType (one round-to-nearest conversion, the power-of-two byte scaling, then at most
// the example weight and the 1/(1−p) denoising scale, each a single correctly rounded product),
// Indexed and Weighted data sets, denoising masks (the same Philox draws, counter = the entry's
// position in the data set), dense slices and one-hot records, and gathered example weights.
// Every CUDA kernel is also run twice and must give bitwise identical results.
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_bitwise;
using testing::on_device;

/// n stored elements of type T spread over the type's range (large integers need rounding when
/// converted to float; doubles carry more bits than a float).
template <typename T>
std::vector<T> random_elements(std::size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<T> x(n);
  for (T& v : x) {
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(std::uniform_real_distribution<double>(-100.0, 100.0)(gen));
    } else if constexpr (sizeof(T) == 1) {
      v = static_cast<T>(std::uniform_int_distribution<int>(std::numeric_limits<T>::min(),
                                                            std::numeric_limits<T>::max())(gen));
    } else {
      v = std::uniform_int_distribution<T>(std::numeric_limits<T>::min(),
                                           std::numeric_limits<T>::max())(gen);
    }
  }
  return x;
}

std::vector<float> weights_for(std::size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(0.1f, 3.0f);
  std::vector<float> w(n);
  for (float& v : w) v = dist(gen);
  return w;
}

/// Stored sparse records with gaps between them (start/end must be honoured), some empty and one
/// long record, an Indexed table mapping examples to records, and the batch's examples.
struct SparseData {
  std::vector<uint64_t> start, end;
  std::vector<uint32_t> indices, index, examples;
  std::vector<float> weights;  // per example
};

SparseData make_sparse(int64_t records, int64_t examples, int64_t rows, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> len(0, 40), gap(0, 2);
  std::uniform_int_distribution<uint32_t> unit(0, 99999);
  SparseData d;
  uint64_t pos = 0;
  for (int64_t u = 0; u < records; ++u) {
    pos += gap(gen);
    const int n = u % 7 == 5 ? 0 : (u == records / 2 ? 700 : len(gen));
    d.start.push_back(pos);
    d.end.push_back(pos + n);
    pos += n;
  }
  for (uint64_t k = 0; k < pos; ++k) d.indices.push_back(unit(gen));
  std::uniform_int_distribution<uint32_t> record(0, static_cast<uint32_t>(records - 1));
  for (int64_t e = 0; e < examples; ++e) d.index.push_back(record(gen));
  std::uniform_int_distribution<uint32_t> example(0, static_cast<uint32_t>(examples - 1));
  for (int64_t r = 0; r < rows; ++r) d.examples.push_back(example(gen));
  d.weights = weights_for(examples, seed + 5);
  return d;
}

struct Variant {
  bool indexed, weighted, apply_weights;
  float p;
};
const Variant kVariants[] = {{false, false, false, 0.0f}, {true, false, false, 0.0f},
                             {false, true, true, 0.0f},   {true, true, false, 0.0f},
                             {true, true, true, 0.3f},    {false, false, false, 0.5f}};

/// Runs counts + fill on both backends for stored values `values` (empty: Boolean) of type T.
template <typename T>
void check_sparse(const Context& ctx, DataType type, bool boolean, int64_t rows, uint64_t seed) {
  // Without Indexed, examples are records: as many records as examples.
  const int64_t records = 50, examples = 50;
  const SparseData d = make_sparse(records, examples, rows, seed);
  const std::vector<T> values = boolean ? std::vector<T>{} : random_elements<T>(d.indices.size(), seed + 1);
  const auto ds = on_device(ctx, d.start), de = on_device(ctx, d.end);
  const auto di = on_device(ctx, d.indices), dx = on_device(ctx, d.index);
  const auto dex = on_device(ctx, d.examples);
  const auto dw = on_device(ctx, d.weights);
  const auto dv = on_device(ctx, values);
  for (const Variant& v : kVariants) {
    const std::string what = "type " + std::to_string(static_cast<uint32_t>(type)) +
                             (boolean ? " boolean" : "") + " rows " + std::to_string(rows) +
                             " indexed " + std::to_string(v.indexed) + " weighted " +
                             std::to_string(v.weighted) + " apply " +
                             std::to_string(v.apply_weights) + " p " + std::to_string(v.p) +
                             " seed " + std::to_string(seed);
    SparseStorageView hs{type,
                         d.start.data(),
                         d.end.data(),
                         d.indices.data(),
                         boolean ? nullptr : values.data(),
                         v.indexed ? d.index.data() : nullptr,
                         v.weighted ? d.weights.data() : nullptr};
    SparseStorageView gs{type,
                         ds.data(),
                         de.data(),
                         di.data(),
                         boolean ? nullptr : dv.data(),
                         v.indexed ? dx.data() : nullptr,
                         v.weighted ? dw.data() : nullptr};
    const DenoiseParams dn{v.p, RandomStream{seed, make_stream(RandomPurpose::kDenoise, 2, 9)}};

    std::vector<int64_t> counts(rows);
    cpu::sparse_row_counts(host, hs, d.examples.data(), rows, counts.data());
    DeviceBuffer<int64_t> dcounts(ctx, rows, "counts");
    cuda::sparse_row_counts(ctx, gs, dex.data(), rows, dcounts.data());
    expect_bitwise(counts, dcounts.download(), "sparse_row_counts " + what);

    std::vector<int64_t> offsets(rows + 1, 0);
    for (int64_t r = 0; r < rows; ++r) offsets[r + 1] = offsets[r] + counts[r];
    const std::size_t nnz = static_cast<std::size_t>(offsets.back());
    std::vector<uint32_t> ref_indices(nnz);
    std::vector<float> ref_values(nnz);
    cpu::sparse_batch_fill(host, hs, d.examples.data(), rows, offsets.data(), v.apply_weights, dn,
                           ref_indices.data(), ref_values.data());
    const auto doff = on_device(ctx, offsets);
    DeviceBuffer<uint32_t> got_indices(ctx, nnz, "indices");
    DeviceBuffer<float> got_values(ctx, nnz, "values");
    for (int run = 0; run < 2; ++run) {
      const std::string w = what + (run ? " (second CUDA run)" : "");
      cuda::sparse_batch_fill(ctx, gs, dex.data(), rows, doff.data(), v.apply_weights, dn,
                              got_indices.data(), got_values.data());
      expect_bitwise(ref_indices, got_indices.download(), "sparse_batch_fill indices " + w);
      expect_bitwise(ref_values, got_values.download(), "sparse_batch_fill values " + w);
    }
  }
}

/// dense_batch_fill of `records` records of `stride` units, for several column slices.
template <typename T>
void check_dense(const Context& ctx, DataType type, int64_t rows, int64_t stride, uint64_t seed) {
  const int64_t records = 40;
  const std::vector<T> data = random_elements<T>(records * stride, seed);
  const SparseData d = make_sparse(records, records, rows, seed + 1);  // index, examples, weights
  const auto dd = on_device(ctx, data), dx = on_device(ctx, d.index);
  const auto dex = on_device(ctx, d.examples);
  const auto dw = on_device(ctx, d.weights);
  struct Slice {
    int64_t begin, cols;
  };
  for (const Slice& s : {Slice{0, stride}, Slice{stride / 3, stride - stride / 3}, Slice{stride - 1, 1}}) {
    for (const Variant& v : kVariants) {
      const std::string what = "dense_batch_fill type " + std::to_string(static_cast<uint32_t>(type)) +
                               " rows " + std::to_string(rows) + " stride " + std::to_string(stride) +
                               " cols [" + std::to_string(s.begin) + "+" + std::to_string(s.cols) +
                               ") indexed " + std::to_string(v.indexed) + " weighted " +
                               std::to_string(v.weighted) + " apply " +
                               std::to_string(v.apply_weights) + " seed " + std::to_string(seed);
      DenseStorageView hs{type, data.data(), false, stride, v.indexed ? d.index.data() : nullptr,
                          v.weighted ? d.weights.data() : nullptr};
      DenseStorageView gs{type, dd.data(), false, stride, v.indexed ? dx.data() : nullptr,
                          v.weighted ? dw.data() : nullptr};
      std::vector<float> ref(rows * s.cols);
      cpu::dense_batch_fill(host, hs, d.examples.data(), rows, s.begin, s.cols, v.apply_weights,
                            ref.data());
      DeviceBuffer<float> got(ctx, ref.size(), "out");
      for (int run = 0; run < 2; ++run) {
        cuda::dense_batch_fill(ctx, gs, dex.data(), rows, s.begin, s.cols, v.apply_weights,
                               got.data());
        expect_bitwise(ref, got.download(), what + (run ? " (second CUDA run)" : ""));
      }
    }
  }
}

template <typename T>
void check_type(const Context& ctx, DataType type, uint64_t seed) {
  for (int64_t rows : {1, 7, 300}) {
    check_sparse<T>(ctx, type, false, rows, seed + rows);
    check_dense<T>(ctx, type, rows, 37, seed + rows);
  }
  check_dense<T>(ctx, type, 300, 5000, seed + 1);  // wide records: several column tiles
}

TEST(CudaParityGather, EveryDataTypeIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  check_type<uint32_t>(ctx, DataType::UInt, 1000);
  check_type<int32_t>(ctx, DataType::Int, 2000);
  check_type<int64_t>(ctx, DataType::LLInt, 3000);
  check_type<uint64_t>(ctx, DataType::ULLInt, 4000);
  check_type<float>(ctx, DataType::Float, 5000);
  check_type<double>(ctx, DataType::Double, 6000);
  check_type<uint8_t>(ctx, DataType::RGB8, 7000);
  check_type<uint16_t>(ctx, DataType::RGB16, 8000);
  check_type<uint8_t>(ctx, DataType::UChar, 9000);
  check_type<int8_t>(ctx, DataType::Char, 10000);
}

TEST(CudaParityGather, BooleanSparseIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  for (int64_t rows : {1, 7, 300}) check_sparse<float>(ctx, DataType::Float, true, rows, 11000 + rows);
}

TEST(CudaParityGather, OneHotDenseIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const uint64_t seed = 12000;
  const int64_t records = 40, units = 1000, rows = 300;
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<uint32_t> unit(0, units - 1);
  std::vector<uint32_t> hot(records);
  for (uint32_t& h : hot) h = unit(gen);
  const SparseData d = make_sparse(records, records, rows, seed + 1);
  const auto dh = on_device(ctx, hot), dx = on_device(ctx, d.index);
  const auto dex = on_device(ctx, d.examples);
  const auto dw = on_device(ctx, d.weights);
  for (int64_t begin : {int64_t(0), int64_t(333)}) {
    const int64_t cols = begin == 0 ? units : 400;
    for (const Variant& v : kVariants) {
      const std::string what = "one-hot cols [" + std::to_string(begin) + "+" +
                               std::to_string(cols) + ") indexed " + std::to_string(v.indexed) +
                               " weighted " + std::to_string(v.weighted) + " apply " +
                               std::to_string(v.apply_weights) + " seed " + std::to_string(seed);
      DenseStorageView hs{DataType::UInt, hot.data(), true, units,
                          v.indexed ? d.index.data() : nullptr,
                          v.weighted ? d.weights.data() : nullptr};
      DenseStorageView gs{DataType::UInt, dh.data(), true, units, v.indexed ? dx.data() : nullptr,
                          v.weighted ? dw.data() : nullptr};
      std::vector<float> ref(rows * cols);
      cpu::dense_batch_fill(host, hs, d.examples.data(), rows, begin, cols, v.apply_weights,
                            ref.data());
      DeviceBuffer<float> got(ctx, ref.size(), "out");
      cuda::dense_batch_fill(ctx, gs, dex.data(), rows, begin, cols, v.apply_weights, got.data());
      expect_bitwise(ref, got.download(), what);
    }
  }
}

TEST(CudaParityGather, GatherWeightsAndArgumentChecks) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const SparseData d = make_sparse(50, 50, 300, 13000);
  std::vector<float> ref(300);
  cpu::gather_weights(host, d.weights.data(), d.examples.data(), 300, ref.data());
  DeviceBuffer<float> got(ctx, 300, "out");
  cuda::gather_weights(ctx, on_device(ctx, d.weights).data(), on_device(ctx, d.examples).data(),
                       300, got.data());
  expect_bitwise(ref, got.download(), "gather_weights seed 13000");

  // The same host-side checks as the CPU; nothing is launched for an empty batch.
  const SparseStorageView s{};
  const DenoiseParams bad{1.0f, {}};
  EXPECT_THROW(cuda::sparse_batch_fill(ctx, s, nullptr, 0, nullptr, false, bad, nullptr, nullptr),
               InvalidArgument);
  EXPECT_THROW(cuda::sparse_row_counts(ctx, s, nullptr, -1, nullptr), InvalidArgument);
  DenseStorageView dense{};
  dense.stride = 10;
  EXPECT_THROW(cuda::dense_batch_fill(ctx, dense, nullptr, 1, 5, 6, false, nullptr),
               InvalidArgument);
  EXPECT_NO_THROW(
      cuda::sparse_batch_fill(ctx, s, nullptr, 0, nullptr, false, {}, nullptr, nullptr));
  EXPECT_NO_THROW(cuda::gather_weights(ctx, nullptr, nullptr, 0, nullptr));
}

}  // namespace
}  // namespace dsstne
