// SPDX-License-Identifier: Apache-2.0
// Tests of the sparse CPU kernels (cpp/src/cpu/sparse.cpp) against dense products of the
// materialised batch.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace {

using dsstne::testing::host;

/// A random CSR batch (with empty rows and duplicate indices) and its dense form.
struct Batch {
  int64_t rows = 0, n_in = 0;
  std::vector<int64_t> offsets;
  std::vector<uint32_t> indices;
  std::vector<float> values;
  std::vector<float> dense;  // rows × n_in, duplicates summed

  dsstne::CsrView view(bool boolean) const {
    dsstne::CsrView v;
    v.rows = rows;
    v.offsets = offsets.data();
    v.indices = indices.data();
    v.values = boolean ? nullptr : values.data();
    return v;
  }
};

Batch make_batch(int64_t rows, int64_t n_in, bool boolean, std::mt19937& gen) {
  Batch b;
  b.rows = rows;
  b.n_in = n_in;
  b.dense.assign(rows * n_in, 0.0f);
  b.offsets.push_back(0);
  std::uniform_int_distribution<int> count(0, 9);
  std::uniform_int_distribution<uint32_t> column(0, static_cast<uint32_t>(n_in - 1));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const int n = r % 5 == 3 ? 0 : count(gen);  // some empty rows
    for (int e = 0; e < n; ++e) {
      // Every third entry repeats the previous index: duplicates must be summed.
      const uint32_t i = (e % 3 == 2) ? b.indices.back() : column(gen);
      const float v = boolean ? 1.0f : value(gen);
      b.indices.push_back(i);
      b.values.push_back(v);
      b.dense[r * n_in + i] += v;
    }
    b.offsets.push_back(static_cast<int64_t>(b.indices.size()));
  }
  return b;
}

std::vector<float> random_floats(size_t n, std::mt19937& gen) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

/// Sets the OpenMP thread count and returns the previous one.
int set_threads(int n) {
#ifdef _OPENMP
  const int previous = omp_get_max_threads();
  omp_set_num_threads(n);
  return previous;
#else
  (void)n;
  return 1;
#endif
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(SparseKernels, ProductMatchesDenseGemm) {
  for (bool boolean : {false, true}) {
    SCOPED_TRACE(boolean ? "boolean" : "analog");
    std::mt19937 gen(boolean ? 21 : 22);
    const int64_t rows = 23, n_in = 40, n_out = 13;
    const Batch b = make_batch(rows, n_in, boolean, gen);
    const std::vector<float> w = random_floats(n_in * n_out, gen);
    const std::vector<float> z0 = random_floats(rows * n_out, gen);  // e.g. the biases

    std::vector<float> z = z0;
    dsstne::cpu::sparse_product(host, b.view(boolean), w.data(), n_out, z.data());
    std::vector<float> want = z0;
    dsstne::cpu::gemm(host, false, false, rows, n_out, n_in, 1.0f, b.dense.data(), n_in, w.data(),
                      n_out, 1.0f, want.data(), n_out);
    for (size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(z[i], want[i], 1e-5) << "element " << i;
  }
}

TEST(SparseKernels, ProductSumsInStorageOrder) {
  // Row 0 = entries (2, 1e8), (0, 1), (2, −1e8): in storage order the 1 is lost to rounding.
  const std::vector<int64_t> offsets = {0, 3};
  const std::vector<uint32_t> indices = {2, 0, 2};
  const std::vector<float> values = {1e8f, 1.0f, -1e8f};
  dsstne::CsrView x{offsets.data(), indices.data(), values.data(), 1};
  const std::vector<float> w = {1.0f, 0.0f, 1.0f};  // n_in 3 × n_out 1
  float z = 0.0f;
  dsstne::cpu::sparse_product(host, x, w.data(), 1, &z);
  EXPECT_EQ(z, ((0.0f + 1e8f) + 1.0f) + -1e8f);
}

TEST(SparseKernels, TransposedProductMatchesDenseAndIsThreadCountInvariant) {
  for (bool boolean : {false, true}) {
    SCOPED_TRACE(boolean ? "boolean" : "analog");
    std::mt19937 gen(boolean ? 31 : 32);
    const int64_t rows = 29, n_in = 35, n_out = 300;  // several column blocks
    const Batch b = make_batch(rows, n_in, boolean, gen);
    const std::vector<float> delta = random_floats(rows * n_out, gen);
    const std::vector<float> g0 = random_floats(n_in * n_out, gen);
    const float alpha = -1.0f / rows;

    for (float beta : {0.0f, 1.0f, 0.5f}) {
      SCOPED_TRACE(::testing::Message() << "beta=" << beta);
      std::vector<float> want = g0;
      dsstne::cpu::gemm(host, true, false, n_in, n_out, rows, alpha, b.dense.data(), n_in,
                        delta.data(), n_out, beta, want.data(), n_out);

      std::vector<float> results[2];
      const int saved = set_threads(1);
      for (int threads : {1, 2}) {
        set_threads(threads);
        std::vector<float> g = g0;
        if (beta == 0.0f) g.assign(g.size(), std::numeric_limits<float>::quiet_NaN());
        dsstne::cpu::sparse_transposed_product(host, b.view(boolean), delta.data(), n_in, n_out,
                                               alpha, beta, g.data());
        results[threads - 1] = g;
      }
      set_threads(saved);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(results[0][i], want[i], 1e-5) << "element " << i;
      EXPECT_TRUE(bitwise_equal(results[0], results[1]));
    }
  }
}

TEST(SparseKernels, TransposedProductRejectsIndexBeyondInputs) {
  const std::vector<int64_t> offsets = {0, 1};
  const std::vector<uint32_t> indices = {5};
  dsstne::CsrView x{offsets.data(), indices.data(), nullptr, 1};
  std::vector<float> delta(2), grad(5 * 2);
  EXPECT_THROW(
      dsstne::cpu::sparse_transposed_product(host, x, delta.data(), 5, 2, 1.0f, 0.0f, grad.data()),
      dsstne::InvalidArgument);
}

TEST(SparseKernels, CsrToDenseSlicesAndSumsDuplicates) {
  std::mt19937 gen(41);
  const int64_t rows = 17, n_in = 50;
  const Batch b = make_batch(rows, n_in, false, gen);
  const int64_t col_begin = 12, cols = 20;
  std::vector<float> out(rows * cols, 5.0f);
  dsstne::cpu::csr_to_dense(host, b.view(false), col_begin, cols, out.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_NEAR(out[r * cols + c], b.dense[r * n_in + col_begin + c], 1e-6);

  out.assign(rows * n_in, 5.0f);
  dsstne::cpu::csr_to_dense(host, b.view(true), 0, n_in, out.data());  // Boolean: counts
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < n_in; ++c) {
      float count = 0.0f;
      for (int64_t e = b.offsets[r]; e < b.offsets[r + 1]; ++e) count += b.indices[e] == c;
      EXPECT_EQ(out[r * n_in + c], count);
    }
  }
}

}  // namespace
