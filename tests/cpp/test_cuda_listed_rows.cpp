// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the listed-rows kernels on random batches: the same distinct rows and
// count, the same cleared matrix, and the same SGD step on the listed rows, all bit for bit.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "random_values.hpp"

namespace dsstne {
namespace {

using testing::expect_bitwise;
using testing::host;
using testing::on_device;

/// A random CSR batch over n_in features, a few entries per row, some ≥ n_in.
struct Batch {
  std::vector<int64_t> offsets{0};
  std::vector<uint32_t> indices;
};

Batch random_batch(int64_t rows, int64_t n_in, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> per_row(0, 9);
  std::uniform_int_distribution<uint32_t> feature(0, uint32_t(n_in + n_in / 20));
  Batch b;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = per_row(gen);
    for (int64_t e = 0; e < n; ++e) b.indices.push_back(feature(gen));
    b.offsets.push_back(int64_t(b.indices.size()));
  }
  return b;
}

TEST(CudaListedRows, MatchCpuBitwise) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t n_in = 3000, len = 70;  // 70: no 16-byte row accesses
  for (uint64_t seed : {1, 2, 3}) {
    const Batch b = random_batch(64, n_in, seed);
    const auto nnz = int64_t(b.indices.size());
    CsrView hx{b.offsets.data(), b.indices.data(), nullptr, 64, nnz};
    std::vector<uint32_t> h_rows(std::size_t(nnz), 0);
    int64_t h_count = -1;
    cpu::sparse_distinct_indices(host, hx, n_in, h_rows.data(), &h_count);

    auto d_offsets = on_device(ctx, b.offsets);
    auto d_indices = on_device(ctx, b.indices);
    DeviceBuffer<uint32_t> d_rows(ctx, std::size_t(nnz), "rows");
    DeviceBuffer<int64_t> d_count(ctx, 1, "count");
    const CsrView dx{d_offsets.data(), d_indices.data(), nullptr, 64, nnz};
    cuda::sparse_distinct_indices(ctx, dx, n_in, d_rows.data(), d_count.data());
    ASSERT_EQ(d_count.download()[0], h_count) << "seed " << seed;
    const std::vector<uint32_t> got = d_rows.download();
    ASSERT_TRUE(std::equal(h_rows.begin(), h_rows.begin() + h_count, got.begin()));

    for (int64_t row_len : {len, int64_t(64)}) {  // 64: the 16-byte path
      std::vector<float> m = testing::uniform_values(std::size_t(n_in * row_len), seed + 10);
      auto d_m = on_device(ctx, m);
      cpu::zero_listed_rows(host, h_rows.data(), &h_count, nnz, n_in, row_len, m.data());
      cuda::zero_listed_rows(ctx, d_rows.data(), d_count.data(), nnz, n_in, row_len, d_m.data());
      expect_bitwise(m, d_m.download(), "zero_listed_rows");

      std::vector<float> w = testing::uniform_values(m.size(), seed + 20);
      const std::vector<float> g = testing::uniform_values(m.size(), seed + 30);
      auto d_w = on_device(ctx, w);
      auto d_g = on_device(ctx, g);
      UpdateParams u;
      u.mode = TrainingMode::SGD;
      u.alpha = 0.02f;
      cpu::update_listed_rows(host, u, g.data(), h_rows.data(), &h_count, nnz, n_in, row_len,
                              w.data());
      cuda::update_listed_rows(ctx, u, d_g.data(), d_rows.data(), d_count.data(), nnz, n_in,
                               row_len, d_w.data());
      expect_bitwise(w, d_w.download(), "update_listed_rows");
    }
  }
}

TEST(CudaListedRows, HaltAndEmptyBatch) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::vector<int64_t> offsets{0, 0, 0};
  auto d_offsets = on_device(ctx, offsets);
  DeviceBuffer<uint32_t> d_rows(ctx, 4, "rows");
  auto d_count = on_device(ctx, std::vector<int64_t>{99});
  cuda::sparse_distinct_indices(ctx, CsrView{d_offsets.data(), nullptr, nullptr, 2, 0}, 10,
                                d_rows.data(), d_count.data());
  EXPECT_EQ(d_count.download()[0], 0);

  const std::vector<float> w0 = testing::uniform_values(40, 7);
  auto d_w = on_device(ctx, w0);
  auto d_g = on_device(ctx, testing::uniform_values(40, 8));
  auto d_list = on_device(ctx, std::vector<uint32_t>{0, 3});
  auto d_two = on_device(ctx, std::vector<int64_t>{2});
  auto d_halt = on_device(ctx, std::vector<int32_t>{1});
  UpdateParams u;
  u.mode = TrainingMode::SGD;
  u.alpha = 0.5f;
  u.halt = d_halt.data();
  cuda::update_listed_rows(ctx, u, d_g.data(), d_list.data(), d_two.data(), 2, 4, 10, d_w.data());
  expect_bitwise(w0, d_w.download(), "halted update_listed_rows");
}

}  // namespace
}  // namespace dsstne
