// SPDX-License-Identifier: Apache-2.0
// The row-wise kernels of split layers (cpu::row_stats, transform_rows, column_square_sums,
// clip_columns, softmax_delta_sums, softmax_output_delta): a row cut into column blocks, each
// reduced on its own, the reductions combined as the ranks combine them, and the blocks
// transformed, equals the whole kernel on the whole row (SoftMax forward and backward, DeltaNorm,
// WeightNorm, the SoftMax output delta with dense and sparse targets).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;
using dsstne::testing::uniform_values;

constexpr int64_t kRows = 5, kCols = 23;
// Three uneven blocks of the 23 columns, as three ranks hold them.
const int64_t kBlocks[][2] = {{0, 7}, {7, 15}, {15, 23}};


/// Columns [begin, end) of a rows × kCols matrix, as a rows × (end − begin) block.
std::vector<float> block_of(const std::vector<float>& m, int64_t begin, int64_t end) {
  std::vector<float> b;
  for (int64_t r = 0; r < kRows; ++r)
    b.insert(b.end(), m.begin() + r * kCols + begin, m.begin() + r * kCols + end);
  return b;
}

void put_block(std::vector<float>& m, const std::vector<float>& b, int64_t begin, int64_t end) {
  const int64_t w = end - begin;
  for (int64_t r = 0; r < kRows; ++r)
    std::copy(b.begin() + r * w, b.begin() + (r + 1) * w, m.begin() + r * kCols + begin);
}

void expect_near_all(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], tol * std::max(1.0f, std::fabs(a[i]))) << i;
}

/// row_stats of each block (with the same block of `other` for Dot), the blocks' row values
/// combined with `combine` (max or sum) in block order, as the ranks combine them.
template <typename Combine>
std::vector<float> reduce_blocks(const std::vector<float>& m, RowStat stat,
                                 const std::vector<float>* other, Combine combine) {
  std::vector<float> total;
  for (const auto& b : kBlocks) {
    const std::vector<float> block = block_of(m, b[0], b[1]);
    std::vector<float> second = other ? block_of(*other, b[0], b[1]) : std::vector<float>();
    std::vector<float> v(kRows);
    cpu::row_stats(host, stat, block.data(), other ? second.data() : nullptr, kRows, b[1] - b[0],
                   v.data());
    if (total.empty()) {
      total = v;
    } else {
      for (int64_t r = 0; r < kRows; ++r) total[r] = combine(total[r], v[r]);
    }
  }
  return total;
}

float sum(float a, float b) { return a + b; }
float max(float a, float b) { return std::max(a, b); }

TEST(Rows, RowStatsOfOneBlock) {
  const std::vector<float> a = uniform_values(kRows * kCols, 1, -3.0f, 3.0f);
  const std::vector<float> b = uniform_values(kRows * kCols, 2, -3.0f, 3.0f);
  std::vector<float> out(kRows);
  for (RowStat stat : {RowStat::Max, RowStat::Sum, RowStat::SquareSum, RowStat::Dot}) {
    cpu::row_stats(host, stat, a.data(), b.data(), kRows, kCols, out.data());
    for (int64_t r = 0; r < kRows; ++r) {
      double expected = stat == RowStat::Max ? -INFINITY : 0.0;
      for (int64_t j = 0; j < kCols; ++j) {
        const double x = a[r * kCols + j], y = b[r * kCols + j];
        if (stat == RowStat::Max) expected = std::max(expected, x);
        if (stat == RowStat::Sum) expected += x;
        if (stat == RowStat::SquareSum) expected += x * x;
        if (stat == RowStat::Dot) expected += x * y;
      }
      EXPECT_FLOAT_EQ(out[r], float(expected)) << int(stat) << " row " << r;
    }
  }
}

TEST(Rows, SoftmaxOfBlocksEqualsTheWholeSoftmax) {
  std::vector<float> whole = uniform_values(kRows * kCols, 3, -8.0f, 8.0f), split = whole;
  ActivationParams softmax;
  softmax.kind = Activation::SoftMax;
  cpu::activation_forward(host, softmax, whole.data(), kRows, kCols);
  const std::vector<float> m = reduce_blocks(split, RowStat::Max, nullptr, max);
  for (const auto& b : kBlocks) {
    std::vector<float> block = block_of(split, b[0], b[1]);
    cpu::transform_rows(host, RowOp::SubtractExp, block.data(), nullptr, kRows, b[1] - b[0],
                        m.data(), 0.0f);
    put_block(split, block, b[0], b[1]);
  }
  const std::vector<float> s = reduce_blocks(split, RowStat::Sum, nullptr, sum);
  for (const auto& b : kBlocks) {
    std::vector<float> block = block_of(split, b[0], b[1]);
    cpu::transform_rows(host, RowOp::Divide, block.data(), nullptr, kRows, b[1] - b[0], s.data(),
                        0.0f);
    put_block(split, block, b[0], b[1]);
  }
  expect_near_all(whole, split, 1e-6f);
}

TEST(Rows, SoftmaxJacobianOfBlocksEqualsTheWhole) {
  std::vector<float> a = uniform_values(kRows * kCols, 4, 0.0f, 1.0f);
  std::vector<float> whole = uniform_values(kRows * kCols, 5, -3.0f, 3.0f), split = whole;
  ActivationParams softmax;
  softmax.kind = Activation::SoftMax;
  cpu::activation_backward(host, softmax, a.data(), whole.data(), kRows, kCols);
  const std::vector<float> dot = reduce_blocks(split, RowStat::Dot, &a, sum);
  for (const auto& b : kBlocks) {
    std::vector<float> block = block_of(split, b[0], b[1]), ab = block_of(a, b[0], b[1]);
    cpu::transform_rows(host, RowOp::SoftmaxBackward, block.data(), ab.data(), kRows, b[1] - b[0],
                        dot.data(), 0.0f);
    put_block(split, block, b[0], b[1]);
  }
  expect_near_all(whole, split, 1e-6f);
}

TEST(Rows, DeltaNormOfBlocksEqualsTheWhole) {
  std::vector<float> whole = uniform_values(kRows * kCols, 6, -3.0f, 3.0f), split = whole;
  cpu::clip_row_norms(host, whole.data(), kRows, kCols, 2.0f);
  const std::vector<float> sq = reduce_blocks(split, RowStat::SquareSum, nullptr, sum);
  for (const auto& b : kBlocks) {
    std::vector<float> block = block_of(split, b[0], b[1]);
    cpu::transform_rows(host, RowOp::ClipNorm, block.data(), nullptr, kRows, b[1] - b[0],
                        sq.data(), 2.0f);
    put_block(split, block, b[0], b[1]);
  }
  expect_near_all(whole, split, 1e-6f);
}

TEST(Rows, WeightNormOfRowBlocksEqualsTheWhole) {
  // A 23 × 5 weight split by rows: each rank sums its rows' squares; the sums are added.
  const int64_t n_in = kCols, n_out = kRows;
  std::vector<float> whole = uniform_values(n_in * n_out, 7, -3.0f, 3.0f), split = whole;
  cpu::clip_column_norms(host, whole.data(), n_in, n_out, 1.5f);
  std::vector<float> sq(n_out, 0.0f), part(n_out);
  for (const auto& b : kBlocks) {
    cpu::column_square_sums(host, split.data() + b[0] * n_out, b[1] - b[0], n_out, part.data());
    for (int64_t c = 0; c < n_out; ++c) sq[c] += part[c];
  }
  for (const auto& b : kBlocks)
    cpu::clip_columns(host, split.data() + b[0] * n_out, b[1] - b[0], n_out, sq.data(), 1.5f);
  expect_near_all(whole, split, 1e-6f);
}

/// The SoftMax output delta of the whole row against blocks with the row sums combined.
void expect_split_softmax_delta(const LossParams& p, const TargetView& whole_targets,
                                bool dense) {
  const std::vector<float> z = uniform_values(kRows * kCols, 8, -4.0f, 4.0f);
  std::vector<float> a = z;
  ActivationParams softmax;
  softmax.kind = Activation::SoftMax;
  cpu::activation_forward(host, softmax, a.data(), kRows, kCols);
  std::vector<float> whole(kRows * kCols), split(kRows * kCols);
  cpu::output_delta(host, p, a.data(), kRows, kCols, 0, whole_targets, whole.data());
  std::vector<float> q(kRows, 0.0f), part(kRows);
  std::vector<std::vector<float>> dense_blocks;
  auto targets_of = [&](int i) {
    TargetView t = whole_targets;
    if (dense) t.dense = dense_blocks[std::size_t(i)].data();
    return t;
  };
  for (const auto& b : kBlocks)
    dense_blocks.push_back(dense ? block_of(std::vector<float>(whole_targets.dense,
                                                               whole_targets.dense +
                                                                   kRows * kCols),
                                            b[0], b[1])
                                 : std::vector<float>());
  for (int i = 0; i < 3; ++i) {
    const auto& b = kBlocks[i];
    const std::vector<float> ab = block_of(a, b[0], b[1]);
    cpu::softmax_delta_sums(host, p, ab.data(), kRows, b[1] - b[0], b[0], targets_of(i),
                            part.data());
    for (int64_t r = 0; r < kRows; ++r) q[r] += part[r];
  }
  for (int i = 0; i < 3; ++i) {
    const auto& b = kBlocks[i];
    const std::vector<float> ab = block_of(a, b[0], b[1]);
    std::vector<float> d((b[1] - b[0]) * kRows);
    cpu::softmax_output_delta(host, p, ab.data(), kRows, b[1] - b[0], b[0], targets_of(i),
                              q.data(), d.data());
    put_block(split, d, b[0], b[1]);
  }
  expect_near_all(whole, split, 1e-5f);
}

TEST(Rows, SoftmaxOutputDeltaOfBlocksEqualsTheWhole) {
  LossParams p;
  p.activation.kind = Activation::SoftMax;
  std::vector<float> dense = uniform_values(kRows * kCols, 9, 0.0f, 1.0f);
  TargetView t;
  t.dense = dense.data();
  for (ErrorFunction f : {ErrorFunction::CrossEntropy, ErrorFunction::L2,
                          ErrorFunction::ScaledMarginalCrossEntropy}) {
    p.function = f;
    expect_split_softmax_delta(p, t, true);
  }
  // Sparse Boolean targets (the distribution 1/n of each row's items), with and without
  // IgnoreZero, and DeltaBoost.
  std::vector<int64_t> offsets = {0, 3, 3, 7, 9, 12};
  std::vector<uint32_t> indices = {1, 9, 20, 0, 6, 14, 22, 7, 7, 3, 16, 11};
  TargetView s;
  s.sparse = true;
  s.csr = CsrView{offsets.data(), indices.data(), nullptr, kRows};
  p.function = ErrorFunction::CrossEntropy;
  for (bool ignore_zero : {false, true}) {
    s.ignore_zero = ignore_zero;
    expect_split_softmax_delta(p, s, false);
  }
  p.delta_boost_one = 3.0f;
  p.delta_boost_zero = 0.5f;
  expect_split_softmax_delta(p, s, false);
}

TEST(Rows, SumBlocksAddsInBlockOrder) {
  // 1e8 + 1 − 1e8 is 0 in float left to right, 1 in any other order.
  const std::vector<float> blocks = {1e8f, 2.0f, 1.0f, 3.0f, -1e8f, 4.0f};
  std::vector<float> out(2);
  cpu::sum_blocks(host, blocks.data(), 3, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{0.0f, 9.0f}));
  std::vector<float> in_place = blocks;
  cpu::sum_blocks(host, in_place.data(), 3, 2, in_place.data());
  EXPECT_EQ(std::vector<float>(in_place.begin(), in_place.begin() + 2), out);
  cpu::sum_blocks(host, blocks.data(), 1, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{1e8f, 2.0f}));
}

TEST(Rows, BadArgumentsAreRefused) {
  std::vector<float> x(10), v(2);
  EXPECT_THROW(cpu::row_stats(host, RowStat(9), x.data(), nullptr, 2, 5, v.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::row_stats(host, RowStat::Dot, x.data(), nullptr, 2, 5, v.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::transform_rows(host, RowOp::ClipNorm, x.data(), nullptr, 2, 5, v.data(), 0),
               InvalidArgument);
  EXPECT_THROW(cpu::transform_rows(host, RowOp::SoftmaxBackward, x.data(), nullptr, 2, 5,
                                   v.data(), 0),
               InvalidArgument);
  EXPECT_THROW(cpu::clip_columns(host, x.data(), 2, 5, v.data(), -1.0f), InvalidArgument);
  LossParams p;  // not a SoftMax
  TargetView t;
  t.dense = x.data();
  EXPECT_THROW(cpu::softmax_delta_sums(host, p, x.data(), 2, 5, 0, t, v.data()), InvalidArgument);
  EXPECT_THROW(cpu::sum_blocks(host, x.data(), 0, 5, v.data()), InvalidArgument);
  EXPECT_THROW(cpu::sum_blocks(host, nullptr, 2, 5, v.data()), InvalidArgument);
}

}  // namespace
}  // namespace dsstne
