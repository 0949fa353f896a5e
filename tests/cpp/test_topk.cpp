// SPDX-License-Identifier: Apache-2.0
// Tests of the CPU top-k kernel (cpp/src/cpu/topk.cpp) against a full std::sort of each row.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "cpu/topk_terms.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace {

using dsstne::testing::host;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

/// Exclusion lists in CSR form (global indices, any order).
struct Exclusions {
  std::vector<int64_t> offsets = {0};
  std::vector<uint32_t> indices;
  dsstne::CsrView view() const {
    return dsstne::CsrView{offsets.data(), indices.data(), nullptr,
                           static_cast<int64_t>(offsets.size()) - 1};
  }
};

/// Reference: sort every candidate of the row (descending, NaN last, ties by column).
void reference_topk(const std::vector<float>& scores, int64_t rows, int64_t cols,
                    int64_t col_begin, int64_t k, const Exclusions* ex, std::vector<float>& os,
                    std::vector<uint32_t>& oi) {
  os.assign(rows * k, -kInf);
  oi.assign(rows * k, 0xFFFFFFFFu);
  for (int64_t r = 0; r < rows; ++r) {
    std::set<int64_t> skip;
    if (ex) {
      for (int64_t e = ex->offsets[r]; e < ex->offsets[r + 1]; ++e) skip.insert(ex->indices[e]);
    }
    std::vector<int64_t> cand;
    for (int64_t c = 0; c < cols; ++c)
      if (!skip.count(col_begin + c)) cand.push_back(c);
    const float* row = scores.data() + r * cols;
    std::sort(cand.begin(), cand.end(), [&](int64_t a, int64_t b) {
      const bool na = std::isnan(row[a]), nb = std::isnan(row[b]);
      if (na != nb) return nb;
      if (!na && row[a] != row[b]) return row[a] > row[b];
      return a < b;
    });
    for (int64_t j = 0; j < std::min<int64_t>(k, cand.size()); ++j) {
      os[r * k + j] = row[cand[j]];
      oi[r * k + j] = static_cast<uint32_t>(col_begin + cand[j]);
    }
  }
}

void check_topk(const std::vector<float>& scores, int64_t rows, int64_t cols, int64_t col_begin,
                int64_t k, const Exclusions* ex) {
  SCOPED_TRACE(::testing::Message()
               << "rows=" << rows << " cols=" << cols << " k=" << k << " col_begin=" << col_begin);
  std::vector<float> want_s, got_s(rows * k, 123.0f);
  std::vector<uint32_t> want_i, got_i(rows * k, 77u);
  reference_topk(scores, rows, cols, col_begin, k, ex, want_s, want_i);
  dsstne::CsrView view;
  if (ex) view = ex->view();
  dsstne::cpu::topk(host, scores.data(), rows, cols, col_begin, k, ex ? &view : nullptr,
                    got_s.data(), got_i.data());
  for (int64_t j = 0; j < rows * k; ++j) {
    ASSERT_EQ(got_i[j], want_i[j]) << "row " << j / k << " rank " << j % k;
    // Bitwise: the kernel must report the stored score itself (−0 and NaN included).
    ASSERT_EQ(std::memcmp(&got_s[j], &want_s[j], sizeof(float)), 0)
        << "row " << j / k << " rank " << j % k << ": " << got_s[j] << " vs " << want_s[j];
  }
}

TEST(TopkKernels, ScoreOfOrderInvertsTheRankKeysScoreWord) {
  // The CUDA scan compares scores against score_of_order(thr's word): it must give back every
  // non-NaN score (−0 as +0), and its score must map to the same word.
  const float inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  std::vector<float> scores = {0.0f, -0.0f, 1.0f, -1.0f, inf, -inf, tiny, -tiny, 3.4e38f, -2e-38f};
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> dist(-1e6f, 1e6f);
  for (int i = 0; i < 1000; ++i) scores.push_back(dist(gen));
  for (float x : scores) {
    const auto order = static_cast<uint32_t>(dsstne::terms::rank_key(x, 5) >> 32);
    const float back = dsstne::terms::score_of_order(order);
    EXPECT_EQ(back, x) << x;
    EXPECT_FALSE(std::signbit(back) && back == 0.0f) << "−0 comes back as +0";
    EXPECT_EQ(static_cast<uint32_t>(dsstne::terms::rank_key(back, 9) >> 32), order) << x;
  }
}

TEST(TopkKernels, TiesNaNAndExclusions) {
  std::mt19937 gen(5);
  const int64_t rows = 8, cols = 50, col_begin = 1000;
  // Few distinct values so ties are common; some NaN, ±inf and −0.
  const std::vector<float> palette = {1.0f, 2.0f, 2.0f, 3.0f, -1.0f, 0.0f, -0.0f,
                                      kNaN, kInf, -kInf, 3.0f, 1.0f};
  std::uniform_int_distribution<size_t> pick(0, palette.size() - 1);
  std::vector<float> scores(rows * cols);
  for (float& s : scores) s = palette[pick(gen)];
  for (int64_t c = 0; c < cols; ++c) scores[c] = kNaN;  // row 0 is all NaN

  Exclusions ex;
  std::uniform_int_distribution<uint32_t> global(990, 1060);  // partly outside the slice
  for (int64_t r = 0; r < rows; ++r) {
    const int n = static_cast<int>(r * 3);
    for (int e = 0; e < n; ++e) ex.indices.push_back(global(gen));
    if (n > 0) ex.indices.push_back(ex.indices.back());  // a duplicate
    ex.offsets.push_back(static_cast<int64_t>(ex.indices.size()));
  }
  for (int64_t k : {1, 5, 17}) {
    check_topk(scores, rows, cols, col_begin, k, nullptr);
    check_topk(scores, rows, cols, col_begin, k, &ex);
  }
}

TEST(TopkKernels, PadsWhenFewerCandidatesThanK) {
  const int64_t rows = 2, cols = 6;
  const std::vector<float> scores = {0.5f, -kInf, 2.0f, kNaN, 1.0f, 0.5f,
                                     4.0f, 3.0f, 2.0f, 1.0f, 0.0f, -1.0f};
  Exclusions ex;
  ex.indices = {4, 0, 5, 1, 3, 2};  // row 1 excludes everything
  ex.offsets = {0, 0, 6};
  check_topk(scores, rows, cols, 0, 9, nullptr);
  check_topk(scores, rows, cols, 0, 9, &ex);

  std::vector<float> s(rows * 9);
  std::vector<uint32_t> i(rows * 9);
  const dsstne::CsrView view = ex.view();
  dsstne::cpu::topk(host, scores.data(), rows, cols, 0, 9, &view, s.data(), i.data());
  // Row 0: 2, 1, 0.5 (col 0), 0.5 (col 5), −inf (a real candidate), NaN, then padding.
  EXPECT_EQ(i[0], 2u);
  EXPECT_EQ(i[2], 0u);
  EXPECT_EQ(i[3], 5u);
  EXPECT_EQ(i[4], 1u);
  EXPECT_EQ(s[4], -kInf);
  EXPECT_EQ(i[5], 3u);
  EXPECT_TRUE(std::isnan(s[5]));
  for (int j = 6; j < 9; ++j) {
    EXPECT_EQ(s[j], -kInf);
    EXPECT_EQ(i[j], 0xFFFFFFFFu);
  }
  for (int j = 9; j < 18; ++j) EXPECT_EQ(i[j], 0xFFFFFFFFu);
}

TEST(TopkKernels, LargeKOnWideRows) {
  std::mt19937 gen(9);
  const int64_t rows = 3, cols = 5000, col_begin = 20000;
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> scores(rows * cols);
  for (float& s : scores) s = dist(gen);
  for (int64_t c = 0; c < cols; c += 7) scores[c] = 1.5f;              // row 0: many ties
  for (int64_t c = 0; c < cols; ++c) scores[2 * cols + c] = static_cast<float>(c);  // ascending
  Exclusions ex;
  for (int64_t r = 0; r < rows; ++r) {
    for (int e = 0; e < 300; ++e) ex.indices.push_back(static_cast<uint32_t>(col_begin + 4999 - e * 3));
    ex.offsets.push_back(static_cast<int64_t>(ex.indices.size()));
  }
  for (int64_t k : {200, 1000}) {
    check_topk(scores, rows, cols, col_begin, k, nullptr);
    check_topk(scores, rows, cols, col_begin, k, &ex);
  }
}

TEST(TopkKernels, ZeroKAndBadArguments) {
  const std::vector<float> scores = {1.0f, 2.0f};
  float s = 9.0f;
  uint32_t i = 9;
  dsstne::cpu::topk(host, scores.data(), 1, 2, 0, 0, nullptr, &s, &i);
  EXPECT_EQ(s, 9.0f);
  Exclusions ex;  // zero rows, but the scores have one
  const dsstne::CsrView view = ex.view();
  EXPECT_THROW(dsstne::cpu::topk(host, scores.data(), 1, 2, 0, 1, &view, &s, &i),
               dsstne::InvalidArgument);
}

}  // namespace
