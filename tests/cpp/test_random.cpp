// SPDX-License-Identifier: Apache-2.0
// Tests of the CPU random kernels: weight initialisation, the epoch shuffle and dropout.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

constexpr int64_t kIn = 200;
constexpr int64_t kOut = 300;

RandomStream init_stream(uint64_t seed = 12134) {
  return RandomStream{seed, make_stream(RandomPurpose::kInit, 3, 0)};
}

std::vector<float> init_full(WeightInit scheme, float scale, const RandomStream& rs) {
  std::vector<float> w(kIn * kOut);
  cpu::init_weights(host, scheme, scale, rs, kIn, kOut, MatrixBlock{0, kIn, 0, kOut}, w.data());
  return w;
}

struct Moments {
  double mean, stddev, min, max;
};

Moments moments(const std::vector<float>& x) {
  double sum = 0.0, sq = 0.0;
  for (float v : x) sum += v;
  const double mean = sum / x.size();
  for (float v : x) sq += (v - mean) * (v - mean);
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  return Moments{mean, std::sqrt(sq / x.size()), *lo, *hi};
}

void expect_uniform(const std::vector<float>& w, double lo, double hi) {
  const Moments m = moments(w);
  EXPECT_GT(m.min, lo);
  EXPECT_LE(m.max, hi);
  const double width = hi - lo;
  EXPECT_NEAR(m.mean, 0.5 * (lo + hi), 0.01 * width);
  EXPECT_NEAR(m.stddev, width / std::sqrt(12.0), 0.01 * width);
}

TEST(InitWeights, UniformSchemesHaveTheirRanges) {
  const RandomStream rs = init_stream();
  const double xavier = 0.5 * 2.0 * std::sqrt(6.0 / (kIn + kOut));  // s = 2
  expect_uniform(init_full(WeightInit::Xavier, 2.0f, rs), -xavier, xavier);
  const double caffe = 2.0 * std::sqrt(3.0 / kOut);
  expect_uniform(init_full(WeightInit::CaffeXavier, 2.0f, rs), -caffe, caffe);
  expect_uniform(init_full(WeightInit::Uniform, 0.3f, rs), -0.3, 0.3);
  expect_uniform(init_full(WeightInit::UnitBall, 0.7f, rs), 0.0, 0.7);
}

TEST(InitWeights, NormalSchemesHaveTheirMoments) {
  const RandomStream rs = init_stream();
  const Moments g = moments(init_full(WeightInit::Gaussian, 0.5f, rs));
  EXPECT_NEAR(g.mean, 0.0, 0.005);
  EXPECT_NEAR(g.stddev, 0.5, 0.005);
  const Moments s = moments(init_full(WeightInit::SELU, 2.0f, rs));
  EXPECT_NEAR(s.mean, 0.0, 0.002);
  EXPECT_NEAR(s.stddev, 2.0 / std::sqrt(double(kIn)), 0.002);
}

TEST(InitWeights, ConstantIsPlusScale) {
  for (float v : init_full(WeightInit::Constant, 0.25f, init_stream())) ASSERT_EQ(v, 0.25f);
}

TEST(InitWeights, ElementFormulaIsExact) {
  const RandomStream rs = init_stream(7);
  const std::vector<float> w = init_full(WeightInit::Uniform, 1.5f, rs);
  const int64_t i = 17, c = 123;
  const float u = random_uniform(rs.seed, rs.stream, uint64_t(i * kOut + c));
  EXPECT_EQ(w[i * kOut + c], 3.0f * (u - 0.5f));
  const std::vector<float> n = init_full(WeightInit::Gaussian, 1.0f, rs);
  EXPECT_EQ(n[i * kOut + c], random_normal(rs.seed, rs.stream, uint64_t(i * kOut + c)));
}

TEST(InitWeights, ReproducibleAndSeedDependent) {
  for (WeightInit scheme : {WeightInit::Xavier, WeightInit::Gaussian, WeightInit::SELU}) {
    const std::vector<float> a = init_full(scheme, 1.0f, init_stream(1));
    EXPECT_EQ(a, init_full(scheme, 1.0f, init_stream(1)));
    const std::vector<float> b = init_full(scheme, 1.0f, init_stream(2));
    int64_t same = 0;
    for (size_t k = 0; k < a.size(); ++k) same += a[k] == b[k];
    EXPECT_LT(same, int64_t(a.size() / 100));
  }
}

TEST(InitWeights, ColumnSliceMatchesTheWholeMatrix) {
  const RandomStream rs = init_stream();
  for (WeightInit scheme : {WeightInit::Xavier, WeightInit::Gaussian}) {
    const std::vector<float> full = init_full(scheme, 1.0f, rs);
    const int64_t begin = 100, cols = 200;
    std::vector<float> part(kIn * cols);
    cpu::init_weights(host, scheme, 1.0f, rs, kIn, kOut, MatrixBlock{0, kIn, begin, cols}, part.data());
    for (int64_t i = 0; i < kIn; ++i) {
      for (int64_t c = 0; c < cols; ++c) {
        ASSERT_EQ(part[i * cols + c], full[i * kOut + begin + c]) << i << "," << c;
      }
    }
  }
}

TEST(InitWeights, RowBlockMatchesTheWholeMatrix) {
  const RandomStream rs = init_stream();
  for (WeightInit scheme : {WeightInit::Xavier, WeightInit::Gaussian}) {
    const std::vector<float> full = init_full(scheme, 1.0f, rs);
    const MatrixBlock block{17, 40, 100, 200};
    std::vector<float> part(std::size_t(block.rows * block.cols));
    cpu::init_weights(host, scheme, 1.0f, rs, kIn, kOut, block, part.data());
    for (int64_t i = 0; i < block.rows; ++i)
      for (int64_t c = 0; c < block.cols; ++c)
        ASSERT_EQ(part[std::size_t(i * block.cols + c)],
                  full[std::size_t((block.row_begin + i) * kOut + block.col_begin + c)]);
  }
}

TEST(InitWeights, RejectsBadArguments) {
  std::vector<float> w(kIn * kOut);
  EXPECT_THROW(cpu::init_weights(host, static_cast<WeightInit>(42), 1.0f, init_stream(), kIn, kOut,
                                 MatrixBlock{0, kIn, 0, kOut}, w.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::init_weights(host, WeightInit::Xavier, 1.0f, init_stream(), kIn, kOut,
                                 MatrixBlock{0, kIn, 200, 101}, w.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::init_weights(host, WeightInit::Xavier, 1.0f, init_stream(), kIn, kOut,
                                 MatrixBlock{kIn - 1, 2, 0, kOut}, w.data()),
               InvalidArgument);
}

TEST(Shuffle, IsAReproduciblePermutationPerStream) {
  const int64_t n = 5000;
  const RandomStream rs{99, make_stream(RandomPurpose::kShuffle, 0, 4)};
  std::vector<uint32_t> a(n), b(n), c(n);
  cpu::shuffle_permutation(host, rs, n, a.data());
  cpu::shuffle_permutation(host, rs, n, b.data());
  EXPECT_EQ(a, b);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], uint32_t(i));

  cpu::shuffle_permutation(host, RandomStream{99, make_stream(RandomPurpose::kShuffle, 0, 5)}, n,
                           c.data());
  EXPECT_NE(a, c);
  int64_t fixed = 0;
  for (int64_t i = 0; i < n; ++i) fixed += a[i] == uint32_t(i);
  EXPECT_LT(fixed, 20);  // a random permutation has about one fixed point
}

TEST(Shuffle, IsTheStableArgsortOfTheKeys) {
  const int64_t n = 1000;
  const RandomStream rs{5, 77};
  std::vector<uint32_t> perm(n);
  cpu::shuffle_permutation(host, rs, n, perm.data());
  for (int64_t i = 1; i < n; ++i) {
    const uint32_t k0 = philox(rs.seed, rs.stream, perm[i - 1]).v[0];
    const uint32_t k1 = philox(rs.seed, rs.stream, perm[i]).v[0];
    ASSERT_TRUE(k0 < k1 || (k0 == k1 && perm[i - 1] < perm[i])) << i;
  }
}

// ---- dropout ----------------------------------------------------------------------------------

constexpr int64_t kRows = 64;
constexpr int64_t kCols = 500;
const RandomStream kDropStream{3, make_stream(RandomPurpose::kDropout, 2, 11)};

std::vector<float> standard_normal(int64_t n) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = random_normal(1, uint64_t(RandomPurpose::kTest), i);
  return x;
}

TEST(Dropout, InvertedDropoutKeepsAboutOneMinusPAndRescales) {
  const float p = 0.3f;
  ActivationParams relu{Activation::RectifiedLinear};
  std::vector<float> a = standard_normal(kRows * kCols), orig = a, saved(a.size());
  std::vector<uint8_t> mask(a.size());
  cpu::dropout_forward(host, relu, p, kDropStream, kCols, 0, kRows, kCols, a.data(), saved.data(),
                       mask.data());
  EXPECT_EQ(saved, orig);
  int64_t kept = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int64_t r = i / kCols, c = i % kCols;
    const bool drop = random_uniform(kDropStream.seed, kDropStream.stream, r * kCols + c) < p;
    ASSERT_EQ(mask[i], drop ? 0 : 1);
    ASSERT_EQ(a[i], drop ? 0.0f : orig[i] / (1.0f - p));
    kept += mask[i];
  }
  EXPECT_NEAR(double(kept) / a.size(), 1.0 - p, 0.01);
}

TEST(Dropout, ColumnSliceUsesGlobalCounters) {
  const float p = 0.5f;
  ActivationParams tanh_act{Activation::Tanh};
  std::vector<float> a(kRows * kCols, 1.0f), saved(a.size());
  std::vector<uint8_t> full(a.size()), part(kRows * 100);
  cpu::dropout_forward(host, tanh_act, p, kDropStream, kCols, 0, kRows, kCols, a.data(),
                       saved.data(), full.data());
  std::vector<float> b(kRows * 100, 1.0f), saved_b(b.size());
  cpu::dropout_forward(host, tanh_act, p, kDropStream, kCols, 200, kRows, 100, b.data(),
                       saved_b.data(), part.data());
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < 100; ++c) ASSERT_EQ(part[r * 100 + c], full[r * kCols + 200 + c]);
  }
}

TEST(Dropout, AlphaDropoutKeepsZeroMeanUnitVariance) {
  const float p = 0.2f;
  ActivationParams selu{Activation::ScaledExponentialLinear};
  selu.lambda = 1.0507f;
  selu.alpha = 1.67326f;
  std::vector<float> a = standard_normal(kRows * kCols), saved(a.size());
  std::vector<uint8_t> mask(a.size());
  cpu::dropout_forward(host, selu, p, kDropStream, kCols, 0, kRows, kCols, a.data(), saved.data(),
                       mask.data());
  const Moments m = moments(a);
  EXPECT_NEAR(m.mean, 0.0, 0.03);
  EXPECT_NEAR(m.stddev, 1.0, 0.03);
  // Every dropped unit takes the same value a_s·α' + b_s.
  float dropped = NAN;
  for (size_t i = 0; i < a.size(); ++i) {
    if (mask[i] != 0) continue;
    if (std::isnan(dropped)) dropped = a[i];
    ASSERT_EQ(a[i], dropped);
  }
  const double ap = -1.0507 * 1.67326;
  const double as = 1.0 / std::sqrt(1.0 - p + ap * ap * p * (1.0 - p));
  EXPECT_NEAR(dropped, as * ap - as * p * ap, 1e-5);
}

// The backward pass is the exact slope of the forward map (which is affine per unit).
void expect_backward_matches_forward(const ActivationParams& act, float p) {
  const int64_t n = kRows * kCols;
  std::vector<float> a = standard_normal(n), b = a, saved(n);
  const float h = 0.01f;
  for (float& x : b) x += h;
  std::vector<uint8_t> mask(n), mask_b(n);
  cpu::dropout_forward(host, act, p, kDropStream, kCols, 0, kRows, kCols, a.data(), saved.data(),
                       mask.data());
  cpu::dropout_forward(host, act, p, kDropStream, kCols, 0, kRows, kCols, b.data(), saved.data(),
                       mask_b.data());
  ASSERT_EQ(mask, mask_b);
  std::vector<float> g(n, 1.0f);
  cpu::dropout_backward(host, act, p, mask.data(), kRows, kCols, g.data());
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR((b[i] - a[i]) / h, g[i], 2e-3) << i;
}

TEST(Dropout, BackwardMatchesForwardSlope) {
  expect_backward_matches_forward(ActivationParams{Activation::Sigmoid}, 0.25f);
  ActivationParams selu{Activation::ScaledExponentialLinear};
  selu.lambda = 1.0507f;
  selu.alpha = 1.67326f;
  expect_backward_matches_forward(selu, 0.1f);
  ActivationParams elu{Activation::ExponentialLinear};
  elu.alpha = 0.8f;
  expect_backward_matches_forward(elu, 0.4f);
}

TEST(Dropout, ZeroProbabilityIsTheIdentity) {
  std::vector<float> a = standard_normal(100), orig = a, saved(100), g(100, 2.0f);
  std::vector<uint8_t> mask(100, 7);
  ActivationParams elu{Activation::ExponentialLinear};
  cpu::dropout_forward(host, elu, 0.0f, kDropStream, 10, 0, 10, 10, a.data(), saved.data(),
                       mask.data());
  EXPECT_EQ(a, orig);
  EXPECT_EQ(saved, orig);
  for (uint8_t m : mask) ASSERT_EQ(m, 1);
  cpu::dropout_backward(host, elu, 0.0f, mask.data(), 10, 10, g.data());
  for (float x : g) ASSERT_EQ(x, 2.0f);
}

TEST(Dropout, RejectsProbabilityOne) {
  std::vector<float> a(4), saved(4);
  std::vector<uint8_t> mask(4);
  EXPECT_THROW(cpu::dropout_forward(host, ActivationParams{}, 1.0f, kDropStream, 2, 0, 2, 2,
                                    a.data(), saved.data(), mask.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::dropout_backward(host, ActivationParams{}, 1.0f, mask.data(), 2, 2, a.data()),
               InvalidArgument);
}

}  // namespace
}  // namespace dsstne
