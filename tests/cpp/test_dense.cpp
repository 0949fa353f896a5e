// SPDX-License-Identifier: Apache-2.0
// Tests of the dense CPU kernels (cpp/src/cpu/dense.cpp) against naive double-precision loops.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace {

using dsstne::testing::host;

using dsstne::cpu::gemm;

std::vector<float> random_floats(size_t n, std::mt19937& gen, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

void check_gemm(bool ta, bool tb) {
  SCOPED_TRACE(testing::Message() << "trans_a=" << ta << " trans_b=" << tb);
  std::mt19937 gen(1234 + 2 * ta + tb);
  const int64_t m = 7, n = 11, k = 5;
  // Leading dimensions larger than needed; the padding holds NaN so any stray read shows.
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 4;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a(a_rows * lda, nan), b(b_rows * ldb, nan), c(m * ldc, -7.0f);
  std::vector<float> vals = random_floats(a_rows * a_cols + b_rows * b_cols + m * n, gen);
  size_t next = 0;
  for (int64_t i = 0; i < a_rows; ++i)
    for (int64_t j = 0; j < a_cols; ++j) a[i * lda + j] = vals[next++];
  for (int64_t i = 0; i < b_rows; ++i)
    for (int64_t j = 0; j < b_cols; ++j) b[i * ldb + j] = vals[next++];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = vals[next++];
  const std::vector<float> c0 = c;
  const float alpha = 0.75f, beta = -1.5f;
  gemm(host, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);

  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      if (j >= n) {  // padding of C is never written
        EXPECT_EQ(c[i * ldc + j], c0[i * ldc + j]);
        continue;
      }
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      const double want = alpha * sum + beta * c0[i * ldc + j];
      EXPECT_NEAR(c[i * ldc + j], want, 1e-5) << "at (" << i << ", " << j << ")";
    }
  }
}

TEST(DenseKernels, GemmAllTransposeCombinations) {
  check_gemm(false, false);
  check_gemm(true, false);
  check_gemm(false, true);
  check_gemm(true, true);
}

TEST(DenseKernels, GemmEmptyInnerDimensionScalesC) {
  std::vector<float> c = {1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), 4.0f};
  gemm(host, false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 2.0f, c.data(), 2);
  EXPECT_EQ(c[0], 2.0f);
  EXPECT_EQ(c[1], 4.0f);
  EXPECT_TRUE(std::isnan(c[2]));
  EXPECT_EQ(c[3], 8.0f);
  gemm(host, false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  for (float v : c) EXPECT_EQ(v, 0.0f);  // beta 0 overwrites, NaN included
  gemm(host, false, false, 0, 2, 3, 1.0f, nullptr, 3, nullptr, 2, 0.0f, nullptr, 2);  // no-op
}

/// x rounded to the nearest bfloat16 (8 significant bits), ties to the even one, found by
/// comparing the two neighbours in double (independent of the bit trick the kernel uses).
double nearest_bfloat16(float x) {
  if (x == 0.0f || !std::isfinite(x)) return x;
  int exp = 0;
  std::frexp(double(x), &exp);                   // |x| in [2^(exp−1), 2^exp)
  const double ulp = std::ldexp(1.0, exp - 8);   // spacing of 8-bit significands there
  const double down = std::floor(double(x) / ulp) * ulp, up = down + ulp;
  const double dd = double(x) - down, du = up - double(x);
  if (dd != du) return dd < du ? down : up;
  return std::fmod(down / ulp, 2.0) == 0.0 ? down : up;
}

TEST(DenseKernels, GemmBFloat16RoundsBothInputsAndSumsInFloat32) {
  dsstne::Context bf16;
  bf16.set_gemm_math(dsstne::GemmMath::BFloat16);
  std::mt19937 gen(77);
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const int64_t m = 6, n = 9, k = 40;
    const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, lda = a_cols + 2;
    const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n, ldb = b_cols + 1;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> a(a_rows * lda, nan), b(b_rows * ldb, nan);
    for (int64_t i = 0; i < a_rows; ++i)
      for (int64_t j = 0; j < a_cols; ++j) a[i * lda + j] = random_floats(1, gen)[0];
    for (int64_t i = 0; i < b_rows; ++i)
      for (int64_t j = 0; j < b_cols; ++j) b[i * ldb + j] = random_floats(1, gen)[0];
    a[ta ? lda : 1] = 1.0f + 0x1p-8f;   // a tie: to even, 1
    b[tb ? 1 : ldb] = 1.0f + 0x3p-8f;   // a tie: to even, 1 + 2^-6
    std::vector<float> c(m * n, 0.0f), exact(m * n, 0.0f);
    gemm(bf16, ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
    gemm(host, ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, exact.data(), n);
    double moved = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0, mag = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          const double av = nearest_bfloat16(ta ? a[p * lda + i] : a[i * lda + p]);
          const double bv = nearest_bfloat16(tb ? b[j * ldb + p] : b[p * ldb + j]);
          sum += av * bv;
          mag += std::abs(av * bv);
        }
        // Products of bf16 values are exact in float32; only the float32 sums round.
        EXPECT_NEAR(c[i * n + j], sum, 1e-6 * mag) << "t=" << t << " at (" << i << ", " << j << ")";
        moved = std::max(moved, std::abs(double(c[i * n + j]) - exact[i * n + j]));
      }
    }
    EXPECT_GT(moved, 1e-4) << "t=" << t << ": BFloat16 gave the float32 product";
  }
  // 1 + 2^-9 rounds to 1 in bfloat16: 512 such products sum to 512, not 513.
  const std::vector<float> ones(512, 1.0f), near_one(512, 1.0f + 0x1p-9f);
  float dot = 0.0f;
  gemm(bf16, false, false, 1, 1, 512, 1.0f, near_one.data(), 512, ones.data(), 1, 0.0f, &dot, 1);
  EXPECT_EQ(dot, 512.0f);
  EXPECT_EQ(nearest_bfloat16(1.0f + 0x1p-8f), 1.0);
  EXPECT_EQ(nearest_bfloat16(1.0f + 0x3p-8f), 1.0 + 0x1p-6);
}

TEST(DenseKernels, GemmRejectsBadLeadingDimension) {
  std::vector<float> a(6), b(6), c(4);
  EXPECT_THROW(gemm(host, false, false, 2, 2, 3, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2),
               dsstne::InvalidArgument);
}

TEST(DenseKernels, GemmWithNoColumnsTouchesNothing) {
  // A rank that owns none of a layer's units multiplies into a C with no columns.
  float a[6] = {1, 2, 3, 4, 5, 6};
  float c = -7.0f;
  gemm(host, false, false, 2, 0, 3, 1.0f, a, 3, a, 0, 0.0f, &c, 0);
  EXPECT_EQ(c, -7.0f);
  EXPECT_THROW(gemm(host, false, false, 2, 3, 3, 1.0f, a, 3, a, 3, 0.0f, &c, 0),
               dsstne::InvalidArgument);
}

TEST(DenseKernels, BroadcastAddFill) {
  const std::vector<float> v = {1.0f, -2.0f, 3.5f};
  std::vector<float> z(4 * 3, 9.0f);
  dsstne::cpu::broadcast_rows(host, v.data(), 4, 3, false, z.data());
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(z[r * 3 + c], v[c]);
  dsstne::cpu::broadcast_rows(host, v.data(), 4, 3, true, z.data());
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(z[r * 3 + c], 2.0f * v[c]);

  std::vector<float> y = {1.0f, 2.0f, 3.0f};
  dsstne::cpu::add(host, v.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{2.0f, 0.0f, 6.5f}));
  dsstne::cpu::fill(host, y.data(), 3, -0.25f);
  EXPECT_EQ(y, (std::vector<float>{-0.25f, -0.25f, -0.25f}));
}

TEST(DenseKernels, ColumnMeanSumsRowsInOrder) {
  std::mt19937 gen(7);
  const int64_t rows = 37, cols = 300;  // more than one column block
  const std::vector<float> x = random_floats(rows * cols, gen);
  std::vector<float> out(cols, 123.0f);
  dsstne::cpu::column_mean(host, x.data(), rows, cols, out.data());
  for (int64_t c = 0; c < cols; ++c) {
    float sum = 0.0f;
    for (int64_t r = 0; r < rows; ++r) sum += x[r * cols + c];
    EXPECT_EQ(out[c], sum / static_cast<float>(rows)) << "column " << c;
  }
  dsstne::cpu::column_mean(host, x.data(), 0, cols, out.data());
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(DenseKernels, ClipRowNorms) {
  // Row 0 has norm 5 (clipped to 2), row 1 norm 1 (kept).
  std::vector<float> x = {3.0f, 4.0f, 0.0f, 1.0f};
  dsstne::cpu::clip_row_norms(host, x.data(), 2, 2, 2.0f);
  EXPECT_FLOAT_EQ(x[0], 1.2f);
  EXPECT_FLOAT_EQ(x[1], 1.6f);
  EXPECT_EQ(x[2], 0.0f);
  EXPECT_EQ(x[3], 1.0f);
  std::vector<float> y = {30.0f, 40.0f};
  dsstne::cpu::clip_row_norms(host, y.data(), 1, 2, 0.0f);  // disabled
  EXPECT_EQ(y, (std::vector<float>{30.0f, 40.0f}));
}

TEST(DenseKernels, ClipColumnNorms) {
  std::mt19937 gen(11);
  const int64_t n_in = 9, n_out = 600;  // several column blocks
  std::vector<float> w = random_floats(n_in * n_out, gen, -2.0f, 2.0f);
  const std::vector<float> w0 = w;
  const float max_norm = 3.4f;
  dsstne::cpu::clip_column_norms(host, w.data(), n_in, n_out, max_norm);
  int clipped = 0;
  for (int64_t o = 0; o < n_out; ++o) {
    double before = 0.0, after = 0.0;
    for (int64_t i = 0; i < n_in; ++i) {
      before += double(w0[i * n_out + o]) * w0[i * n_out + o];
      after += double(w[i * n_out + o]) * w[i * n_out + o];
    }
    if (std::sqrt(before) > max_norm * 1.0001) {
      ++clipped;
      EXPECT_NEAR(std::sqrt(after), max_norm, 1e-4) << "column " << o;
      const double ratio = w[o] / double(w0[o]);
      for (int64_t i = 0; i < n_in; ++i)
        EXPECT_NEAR(w[i * n_out + o], ratio * w0[i * n_out + o], 1e-5);
    } else if (std::sqrt(before) < max_norm * 0.9999) {
      for (int64_t i = 0; i < n_in; ++i) EXPECT_EQ(w[i * n_out + o], w0[i * n_out + o]);
    }
  }
  EXPECT_GT(clipped, 10);
  EXPECT_LT(clipped, n_out - 10);
}

}  // namespace
