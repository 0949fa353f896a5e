// SPDX-License-Identifier: Apache-2.0
// Tests of the CPU regularisers: KL sparseness penalty and the weight-decay error.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

TEST(SparsenessPenalty, HandCase) {
  // a: 2 × 3. Column means 0.2, 0.6, and 0 (clamped to 1e-6).
  const std::vector<float> a = {0.1f, 0.5f, 0.0f,  //
                                0.3f, 0.7f, 0.0f};
  std::vector<float> g = {1.0f, 2.0f, 3.0f,  //
                          4.0f, 5.0f, 6.0f};
  const float p = 0.1f, beta = 0.5f;
  cpu::sparseness_penalty(host, a.data(), 2, 3, p, beta, g.data());
  const double rho[3] = {0.2, 0.6, 1e-6};
  for (int r = 0; r < 2; ++r) {
    for (int o = 0; o < 3; ++o) {
      const double pi = 0.5 * (-0.1 / rho[o] + 0.9 / (1.0 - rho[o]));
      const double base = 1.0 + 3 * r + o;
      EXPECT_NEAR(g[r * 3 + o], base + pi, 1e-5 * std::fabs(base + pi)) << r << "," << o;
    }
  }
}

TEST(SparsenessPenalty, ClampsSaturatedUnitsAtTheTop) {
  const std::vector<float> a = {1.0f, 1.0f, 1.0f};  // 3 × 1, mean 1 → 0.999999
  std::vector<float> g(3, 0.0f);
  cpu::sparseness_penalty(host, a.data(), 3, 1, 0.05f, 1.0f, g.data());
  const double rho = 0.999999f;  // the clamp is a float constant; 1 − ρ̂ is exact in float
  const double pi = -double(0.05f) / rho + double(0.95f) / (1.0 - rho);
  for (float x : g) EXPECT_NEAR(x, pi, 1e-5 * pi);
  EXPECT_EQ(g[0], g[1]);
  EXPECT_EQ(g[1], g[2]);
}

TEST(RegularizationError, HandCase) {
  const std::vector<float> w = {0.5f, -2.0f, 0.0f, 1.0f};
  // ½·0.1·(0.25 + 4 + 0 + 1) + 0.01·(0.5 + 2 + 0 + 1)
  const double expected = 0.05 * 5.25 + 0.01 * 3.5;
  EXPECT_NEAR(cpu::regularization_error(host, w.data(), 4, 0.1f, 0.01f), expected, 1e-8);
  EXPECT_EQ(cpu::regularization_error(host, w.data(), 0, 0.1f, 0.01f), 0.0);
}

TEST(RegularizationError, LargeInputMatchesIndexOrderSumClosely) {
  const int64_t n = 300000;  // several chunks
  std::vector<float> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = std::sin(0.001f * float(i));
  double expected = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    expected += 0.5 * double(0.2f) * double(w[i]) * w[i] + double(0.05f) * std::fabs(w[i]);
  }
  const double got = cpu::regularization_error(host, w.data(), n, 0.2f, 0.05f);
  EXPECT_NEAR(got, expected, 1e-10 * expected);
  EXPECT_EQ(got, cpu::regularization_error(host, w.data(), n, 0.2f, 0.05f));
}

}  // namespace
}  // namespace dsstne
