// SPDX-License-Identifier: Apache-2.0
// The CPU reference of the listed-rows kernels: the distinct rows a sparse batch touches, the
// clearing of listed rows, and the SGD step restricted to them, which must equal the whole-matrix
// step bit for bit on the listed rows and leave every other row's bits alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "random_values.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using testing::host;

UpdateParams sgd(float alpha) {
  UpdateParams u;
  u.mode = TrainingMode::SGD;
  u.alpha = alpha;
  return u;
}

uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

TEST(ListedRows, DistinctIndicesAreSortedUniqueAndInRange) {
  // Three rows; 9 and 5 repeat, 40 and 41 lie outside n_in = 40.
  const std::vector<int64_t> offsets{0, 3, 3, 8};
  const std::vector<uint32_t> indices{9, 5, 40, 5, 9, 0, 41, 39};
  CsrView x{offsets.data(), indices.data(), nullptr, 3, 8};
  std::vector<uint32_t> rows(8, 777);
  int64_t count = -1;
  cpu::sparse_distinct_indices(host, x, 40, rows.data(), &count);
  ASSERT_EQ(count, 4);
  EXPECT_EQ(std::vector<uint32_t>(rows.begin(), rows.begin() + 4),
            (std::vector<uint32_t>{0, 5, 9, 39}));
}

TEST(ListedRows, EmptyBatchListsNothing) {
  const std::vector<int64_t> offsets{0, 0};
  uint32_t rows[1] = {7};
  int64_t count = -1;
  cpu::sparse_distinct_indices(host, CsrView{offsets.data(), nullptr, nullptr, 1, 0}, 10, rows,
                               &count);
  EXPECT_EQ(count, 0);
  cpu::sparse_distinct_indices(host, CsrView{}, 10, rows, &count);
  EXPECT_EQ(count, 0);
}

TEST(ListedRows, ZeroClearsOnlyListedRowsThatExist) {
  const int64_t n_rows = 6, len = 5;
  std::vector<float> m = testing::uniform_values(std::size_t(n_rows * len), 3);
  const std::vector<float> before = m;
  const std::vector<uint32_t> rows{1, 4, 6};  // 6 is past the matrix: skipped
  const int64_t count = 3;
  cpu::zero_listed_rows(host, rows.data(), &count, 3, n_rows, len, m.data());
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t j = 0; j < len; ++j) {
      const float want = (r == 1 || r == 4) ? 0.0f : before[std::size_t(r * len + j)];
      EXPECT_EQ(bits(m[std::size_t(r * len + j)]), bits(want)) << "row " << r << " col " << j;
    }
  }
}

TEST(ListedRows, SgdOnListedRowsEqualsTheWholeStepThereAndKeepsTheRest) {
  const int64_t n_rows = 50, len = 12;
  std::vector<float> w = testing::uniform_values(std::size_t(n_rows * len), 11);
  w[3 * len + 2] = -0.0f;  // an unlisted −0 keeps its sign; a whole step would make it +0
  const std::vector<uint32_t> rows{2, 7, 8, 31, 49};
  std::vector<float> g(w.size(), 0.0f);
  const std::vector<float> noise = testing::uniform_values(w.size(), 12);
  for (uint32_t r : rows)
    for (int64_t j = 0; j < len; ++j) g[r * len + j] = noise[r * len + j];
  std::vector<float> whole = w, listed = w;
  cpu::update_weights(host, sgd(0.03f), g.data(), int64_t(g.size()), whole.data(), nullptr,
                      nullptr);
  const int64_t count = int64_t(rows.size());
  cpu::update_listed_rows(host, sgd(0.03f), g.data(), rows.data(), &count, count, n_rows, len,
                          listed.data());
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (i == std::size_t(3 * len + 2)) {
      EXPECT_EQ(bits(listed[i]), bits(-0.0f));
      EXPECT_EQ(bits(whole[i]), bits(0.0f));
      continue;
    }
    EXPECT_EQ(bits(listed[i]), bits(whole[i])) << "element " << i;
  }
  bool moved = false;
  for (uint32_t r : rows) moved = moved || listed[r * len] != w[r * len];
  EXPECT_TRUE(moved);
}

TEST(ListedRows, HaltedStepChangesNothing) {
  std::vector<float> w = testing::uniform_values(20, 4), g = testing::uniform_values(20, 5);
  const std::vector<float> before = w;
  int32_t halt = 1;
  UpdateParams u = sgd(0.1f);
  u.halt = &halt;
  const uint32_t rows[2] = {0, 3};
  const int64_t count = 2;
  cpu::update_listed_rows(host, u, g.data(), rows, &count, 2, 4, 5, w.data());
  EXPECT_EQ(w, before);
}

TEST(ListedRows, RefusesWhatWouldStepUnlistedRowsOrStepTwice) {
  std::vector<float> w(20, 1.0f), g(20, 0.5f);
  const uint32_t rows[2] = {1, 1};
  const int64_t count = 2, one = 1;
  UpdateParams decay = sgd(0.1f);
  decay.lambda = 0.01f;
  EXPECT_THROW(cpu::update_listed_rows(host, decay, g.data(), rows, &one, 1, 4, 5, w.data()),
               InvalidArgument);
  UpdateParams momentum = sgd(0.1f);
  momentum.mode = TrainingMode::Momentum;
  EXPECT_THROW(cpu::update_listed_rows(host, momentum, g.data(), rows, &one, 1, 4, 5, w.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::update_listed_rows(host, sgd(0.1f), g.data(), rows, &count, 2, 4, 5,
                                       w.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::update_listed_rows(host, sgd(0.1f), g.data(), rows, &count, 1, 4, 5,
                                       w.data()),
               InvalidArgument);  // more rows than the caller's bound
  EXPECT_THROW(cpu::zero_listed_rows(host, nullptr, &one, 1, 4, 5, w.data()), InvalidArgument);
  EXPECT_THROW(cpu::zero_listed_rows(host, rows, &one, -1, 4, 5, w.data()), InvalidArgument);
  int64_t c = 0;
  EXPECT_THROW(cpu::sparse_distinct_indices(host, CsrView{}, -1, nullptr, &c), InvalidArgument);
  EXPECT_EQ(w, std::vector<float>(20, 1.0f));
}

}  // namespace
}  // namespace dsstne
