// SPDX-License-Identifier: Apache-2.0
// Tests of the batch-building CPU kernels (cpp/src/cpu/gather.cpp): element conversion, Indexed
// and Weighted data sets, denoising and one-hot dense records.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "host_context.hpp"

namespace {

using dsstne::testing::host;

using dsstne::DataType;

/// Loads `data` as 2 dense records of 3 units and as 1 sparse record of 6 entries, and checks
/// both batches against `want` (the converted values).
template <typename T>
void check_conversion(DataType type, const std::vector<T>& data, const std::vector<float>& want) {
  SCOPED_TRACE(::testing::Message() << "data type code " << static_cast<uint32_t>(type));
  ASSERT_EQ(data.size(), 6u);
  dsstne::DenseStorageView d;
  d.type = type;
  d.data = data.data();
  d.stride = 3;
  const std::vector<uint32_t> examples = {1, 0};
  std::vector<float> out(6, -1.0f);
  dsstne::cpu::dense_batch_fill(host, d, examples.data(), 2, 0, 3, false, out.data());
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(out[c], want[3 + c]);
    EXPECT_EQ(out[3 + c], want[c]);
  }

  const std::vector<uint64_t> start = {0}, end = {6};
  const std::vector<uint32_t> indices = {4, 1, 9, 2, 0, 7};
  dsstne::SparseStorageView s;
  s.type = type;
  s.start = start.data();
  s.end = end.data();
  s.indices = indices.data();
  s.values = data.data();
  const uint32_t example = 0;
  const std::vector<int64_t> offsets = {0, 6};
  std::vector<uint32_t> got_indices(6);
  std::vector<float> got(6);
  dsstne::cpu::sparse_batch_fill(host, s, &example, 1, offsets.data(), false, {},
                                 got_indices.data(), got.data());
  EXPECT_EQ(got_indices, indices);
  EXPECT_EQ(got, want);
}

TEST(GatherKernels, ConvertsEveryDataType) {
  check_conversion<uint8_t>(DataType::UChar, {0, 128, 255, 1, 64, 32},
                            {0.0f, 0.5f, 255.0f / 256, 1.0f / 256, 0.25f, 0.125f});
  check_conversion<uint8_t>(DataType::RGB8, {0, 128, 255, 1, 64, 32},
                            {0.0f, 0.5f, 255.0f / 256, 1.0f / 256, 0.25f, 0.125f});
  check_conversion<int8_t>(DataType::Char, {-128, 64, 127, -1, 0, 32},
                           {-1.0f, 0.5f, 127.0f / 128, -1.0f / 128, 0.0f, 0.25f});
  check_conversion<uint16_t>(DataType::RGB16, {65535, 2, 0, 256, 7, 1},
                             {65535.0f, 2.0f, 0.0f, 256.0f, 7.0f, 1.0f});
  check_conversion<uint32_t>(DataType::UInt, {4000000000u, 7, 0, 1, 2, 3},
                             {4e9f, 7.0f, 0.0f, 1.0f, 2.0f, 3.0f});
  check_conversion<int32_t>(DataType::Int, {-5, 3, 2000000, -1, 0, 9},
                            {-5.0f, 3.0f, 2e6f, -1.0f, 0.0f, 9.0f});
  check_conversion<int64_t>(DataType::LLInt, {-(int64_t(1) << 40), 3, 9, -2, 0, 1},
                            {-1099511627776.0f, 3.0f, 9.0f, -2.0f, 0.0f, 1.0f});
  check_conversion<uint64_t>(DataType::ULLInt, {uint64_t(1) << 40, 3, 9, 2, 0, 1},
                             {1099511627776.0f, 3.0f, 9.0f, 2.0f, 0.0f, 1.0f});
  check_conversion<float>(DataType::Float, {0.5f, -2.25f, 1e-3f, 3.0f, 0.0f, -1.0f},
                          {0.5f, -2.25f, 1e-3f, 3.0f, 0.0f, -1.0f});
  check_conversion<double>(DataType::Double, {0.1, -2.25, 1e10, 3.0, 1e-3, -1.0},
                           {0.1f, -2.25f, 1e10f, 3.0f, 1e-3f, -1.0f});
}

/// Three stored sparse records; examples 0..3 map to records {2, 0, 2, 1} (Indexed).
struct SparseFixture {
  std::vector<uint64_t> start = {0, 3, 3};
  std::vector<uint64_t> end = {3, 3, 5};
  std::vector<uint32_t> indices = {5, 1, 5, 8, 0};
  std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  std::vector<uint32_t> index = {2, 0, 2, 1};
  std::vector<float> weights = {0.5f, 2.0f, 3.0f, 4.0f};

  dsstne::SparseStorageView view(bool boolean) const {
    dsstne::SparseStorageView s;
    s.start = start.data();
    s.end = end.data();
    s.indices = indices.data();
    s.values = boolean ? nullptr : values.data();
    s.index = index.data();
    s.weights = weights.data();
    return s;
  }
};

TEST(GatherKernels, IndexedWeightedSparseBatch) {
  const SparseFixture f;
  const std::vector<uint32_t> examples = {3, 0, 1, 2};  // records 1 (empty), 2, 0, 2
  std::vector<int64_t> counts(4);
  dsstne::cpu::sparse_row_counts(host, f.view(false), examples.data(), 4, counts.data());
  EXPECT_EQ(counts, (std::vector<int64_t>{0, 2, 3, 2}));
  const std::vector<int64_t> offsets = {0, 0, 2, 5, 7};

  std::vector<uint32_t> idx(7);
  std::vector<float> val(7);
  dsstne::cpu::sparse_batch_fill(host, f.view(false), examples.data(), 4, offsets.data(), true, {},
                                 idx.data(), val.data());
  EXPECT_EQ(idx, (std::vector<uint32_t>{8, 0, 5, 1, 5, 8, 0}));
  EXPECT_EQ(val, (std::vector<float>{4.0f * 0.5f, 5.0f * 0.5f, 1.0f * 2.0f, 2.0f * 2.0f,
                                     3.0f * 2.0f, 4.0f * 3.0f, 5.0f * 3.0f}));

  dsstne::cpu::sparse_batch_fill(host, f.view(true), examples.data(), 4, offsets.data(), true, {},
                                 idx.data(), val.data());
  EXPECT_EQ(val, (std::vector<float>{0.5f, 0.5f, 2.0f, 2.0f, 2.0f, 3.0f, 3.0f}));
  dsstne::cpu::sparse_batch_fill(host, f.view(true), examples.data(), 4, offsets.data(), false, {},
                                 idx.data(), val.data());
  EXPECT_EQ(val, std::vector<float>(7, 1.0f));

  const std::vector<int64_t> wrong = {0, 1, 3, 6, 8};
  EXPECT_THROW(dsstne::cpu::sparse_batch_fill(host, f.view(false), examples.data(), 4, wrong.data(),
                                              true, {}, idx.data(), val.data()),
               dsstne::InvalidArgument);

  std::vector<float> w(4);
  dsstne::cpu::gather_weights(host, f.weights.data(), examples.data(), 4, w.data());
  EXPECT_EQ(w, (std::vector<float>{4.0f, 0.5f, 2.0f, 3.0f}));
}

TEST(GatherKernels, DenoisingDropsAboutPAndSharesTheMaskOfARecord) {
  // One stored Boolean record of n entries, read by two examples through the index.
  const int64_t n = 20000;
  std::vector<uint64_t> start = {0}, end = {static_cast<uint64_t>(n)};
  std::vector<uint32_t> indices(n);
  for (int64_t i = 0; i < n; ++i) indices[i] = static_cast<uint32_t>(i);
  const std::vector<uint32_t> index = {0, 0};
  dsstne::SparseStorageView s;
  s.start = start.data();
  s.end = end.data();
  s.indices = indices.data();
  s.index = index.data();
  const std::vector<uint32_t> examples = {0, 1};
  const std::vector<int64_t> offsets = {0, n, 2 * n};

  dsstne::DenoiseParams dn;
  dn.p = 0.3f;
  dn.rs = {42, dsstne::make_stream(dsstne::RandomPurpose::kDenoise, 0, 7)};
  auto run = [&](const dsstne::DenoiseParams& params) {
    std::vector<uint32_t> idx(2 * n);
    std::vector<float> val(2 * n);
    dsstne::cpu::sparse_batch_fill(host, s, examples.data(), 2, offsets.data(), false, params,
                                   idx.data(), val.data());
    return val;
  };
  const std::vector<float> a = run(dn);
  const float kept_value = 1.0f / (1.0f - dn.p);
  int64_t dropped = 0;
  for (int64_t k = 0; k < n; ++k) {
    ASSERT_EQ(a[k], a[n + k]) << "both examples share record entry " << k;
    const bool drop = dsstne::random_uniform(dn.rs.seed, dn.rs.stream, k) < dn.p;
    ASSERT_EQ(a[k], drop ? 0.0f : kept_value) << "entry " << k;
    dropped += drop;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.3, 0.02);
  EXPECT_EQ(run(dn), a);  // same stream: same mask

  dsstne::DenoiseParams other = dn;
  other.rs.stream = dsstne::make_stream(dsstne::RandomPurpose::kDenoise, 0, 8);
  const std::vector<float> b = run(other);
  int64_t differ = 0;
  for (int64_t k = 0; k < n; ++k) differ += a[k] != b[k];
  EXPECT_GT(differ, n / 5);  // independent masks differ in 2·0.3·0.7 = 42% of the entries

  dsstne::DenoiseParams bad = dn;
  bad.p = 1.0f;
  EXPECT_THROW(run(bad), dsstne::InvalidArgument);
}

TEST(GatherKernels, DenseIndexedWeightedSlice) {
  // Two stored records of 5 units, examples through the index, columns [1, 4).
  const std::vector<float> data = {0, 1, 2, 3, 4, 10, 11, 12, 13, 14};
  const std::vector<uint32_t> index = {1, 0, 1};
  const std::vector<float> weights = {2.0f, 3.0f, 0.5f};
  dsstne::DenseStorageView d;
  d.data = data.data();
  d.stride = 5;
  d.index = index.data();
  d.weights = weights.data();
  const std::vector<uint32_t> examples = {2, 1};
  std::vector<float> out(6);
  dsstne::cpu::dense_batch_fill(host, d, examples.data(), 2, 1, 3, true, out.data());
  EXPECT_EQ(out, (std::vector<float>{5.5f, 6.0f, 6.5f, 3.0f, 6.0f, 9.0f}));
  dsstne::cpu::dense_batch_fill(host, d, examples.data(), 2, 1, 3, false, out.data());
  EXPECT_EQ(out, (std::vector<float>{11, 12, 13, 1, 2, 3}));
  EXPECT_THROW(dsstne::cpu::dense_batch_fill(host, d, examples.data(), 2, 3, 3, false, out.data()),
               dsstne::InvalidArgument);
}

TEST(GatherKernels, OneHotDense) {
  // Hot units of 4 records; the batch reads local columns [2, 6) of an 8-unit layer.
  const std::vector<uint32_t> hot = {3, 0, 7, 5};
  const std::vector<float> weights = {1.0f, 1.0f, 1.0f, 4.0f};
  dsstne::DenseStorageView d;
  d.type = DataType::UInt;
  d.data = hot.data();
  d.one_hot = true;
  d.stride = 8;
  d.weights = weights.data();
  const std::vector<uint32_t> examples = {0, 1, 3};
  std::vector<float> out(3 * 4, -1.0f);
  dsstne::cpu::dense_batch_fill(host, d, examples.data(), 3, 2, 4, true, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 1, 0, 0,  // hot 3
                                     0, 0, 0, 0,  // hot 0 is outside the slice
                                     0, 0, 0, 4}));  // hot 5, weight 4
}

}  // namespace
