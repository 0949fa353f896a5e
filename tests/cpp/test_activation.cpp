// SPDX-License-Identifier: Apache-2.0
// Tests of cpu::activation_forward / activation_backward: hand values, finite differences and
// SoftMax robustness.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

constexpr Activation kElementWise[] = {Activation::Sigmoid,
                                       Activation::Tanh,
                                       Activation::RectifiedLinear,
                                       Activation::Linear,
                                       Activation::ParametricRectifiedLinear,
                                       Activation::SoftPlus,
                                       Activation::SoftSign,
                                       Activation::RELUMax,
                                       Activation::LinearMax,
                                       Activation::ExponentialLinear,
                                       Activation::LeakyRectifiedLinear,
                                       Activation::ScaledExponentialLinear};

ActivationParams params(Activation kind) {
  ActivationParams p;
  p.kind = kind;
  p.slope = 0.1f;
  p.alpha = 1.3f;
  p.lambda = 1.0507f;
  return p;
}

float forward1(const ActivationParams& p, float z) {
  cpu::activation_forward(host, p, &z, 1, 1);
  return z;
}

std::vector<float> forward(const ActivationParams& p, std::vector<float> z, int64_t rows,
                           int64_t cols) {
  cpu::activation_forward(host, p, z.data(), rows, cols);
  return z;
}

/// Far from the kinks of every activation (0 and ±1).
bool smooth_at(float z) {
  return std::fabs(z) > 0.02f && std::fabs(z - 1.0f) > 0.02f && std::fabs(z + 1.0f) > 0.02f;
}

TEST(ActivationForward, HandValues) {
  struct Case {
    Activation kind;
    float z;
    double a;
  };
  const double elu_m1 = 1.3 * std::expm1(-1.0);
  const Case cases[] = {
      {Activation::Sigmoid, 0.0f, 0.5},
      {Activation::Sigmoid, 2.0f, 1.0 / (1.0 + std::exp(-2.0))},
      {Activation::Sigmoid, -200.0f, 0.0},
      {Activation::Tanh, 0.5f, std::tanh(0.5)},
      {Activation::Linear, -3.5f, -3.5},
      {Activation::RectifiedLinear, -2.0f, 0.0},
      {Activation::RectifiedLinear, 1.5f, 1.5},
      {Activation::LeakyRectifiedLinear, -2.0f, -0.2},
      {Activation::LeakyRectifiedLinear, 3.0f, 3.0},
      {Activation::ParametricRectifiedLinear, -2.0f, -0.2},
      {Activation::ExponentialLinear, -1.0f, elu_m1},
      {Activation::ExponentialLinear, 2.0f, 2.0},
      {Activation::ScaledExponentialLinear, -1.0f, 1.0507 * elu_m1},
      {Activation::ScaledExponentialLinear, 2.0f, 1.0507 * 2.0},
      {Activation::SoftPlus, 0.0f, std::log(2.0)},
      {Activation::SoftPlus, 100.0f, 100.0},
      {Activation::SoftPlus, -20.0f, std::log1p(std::exp(-20.0))},
      {Activation::SoftSign, 3.0f, 0.75},
      {Activation::SoftSign, -1.0f, -0.5},
      {Activation::RELUMax, -0.5f, 0.0},
      {Activation::RELUMax, 0.3f, 0.3},
      {Activation::RELUMax, 4.0f, 1.0},
      {Activation::LinearMax, -4.0f, -1.0},
      {Activation::LinearMax, -0.3f, -0.3},
      {Activation::LinearMax, 2.0f, 1.0},
  };
  for (const Case& c : cases) {
    const float a = forward1(params(c.kind), c.z);
    EXPECT_NEAR(a, c.a, 1e-6 * std::max(1.0, std::fabs(c.a)))
        << "activation " << static_cast<int>(c.kind) << " z=" << c.z;
  }
  // SoftPlus keeps its digits far on the negative side.
  const float tiny = forward1(params(Activation::SoftPlus), -20.0f);
  EXPECT_NEAR(tiny / std::exp(-20.0), 1.0, 1e-5);
}

TEST(ActivationBackward, MatchesFiniteDifferences) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> uz(-3.0f, 3.0f);
  std::uniform_real_distribution<float> ug(-1.0f, 1.0f);
  const int64_t rows = 4, cols = 9;
  for (Activation kind : kElementWise) {
    SCOPED_TRACE(::testing::Message() << "activation " << static_cast<int>(kind));
    const ActivationParams p = params(kind);
    std::vector<float> z(rows * cols), g(rows * cols);
    for (float& v : z) {
      do v = uz(gen);
      while (!smooth_at(v));
    }
    for (float& v : g) v = ug(gen);
    const std::vector<float> a = forward(p, z, rows, cols);
    std::vector<float> dz = g;
    cpu::activation_backward(host, p, a.data(), dz.data(), rows, cols);
    const float h = 1e-3f;
    for (size_t i = 0; i < z.size(); ++i) {
      const float zp = z[i] + h, zm = z[i] - h;
      const double slope =
          (static_cast<double>(forward1(p, zp)) - forward1(p, zm)) / (static_cast<double>(zp) - zm);
      const double expect = g[i] * slope;
      EXPECT_NEAR(dz[i], expect, 1e-3 * std::fabs(expect) + 2e-4) << "z=" << z[i];
    }
  }
}

TEST(ActivationSoftMax, RowsSumToOneAndMatchExp) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> uz(-5.0f, 5.0f);
  const int64_t rows = 5, cols = 7;
  std::vector<float> z(rows * cols);
  for (float& v : z) v = uz(gen);
  const std::vector<float> a = forward(params(Activation::SoftMax), z, rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0, norm = 0.0;
    for (int64_t j = 0; j < cols; ++j) norm += std::exp(static_cast<double>(z[r * cols + j]));
    for (int64_t j = 0; j < cols; ++j) {
      sum += a[r * cols + j];
      EXPECT_NEAR(a[r * cols + j], std::exp(static_cast<double>(z[r * cols + j])) / norm, 1e-6);
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
}

TEST(ActivationSoftMax, SurvivesHugeLogits) {
  const std::vector<float> z = {1e4f,  -1e4f, 0.0f,  1e4f,  // two tied maxima
                                -1e4f, -1e4f, -1e4f, -1e4f};
  const std::vector<float> a = forward(params(Activation::SoftMax), z, 2, 4);
  const std::vector<float> expect = {0.5f, 0.0f, 0.0f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f};
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::isfinite(a[i]));
    EXPECT_FLOAT_EQ(a[i], expect[i]);
  }
}

TEST(ActivationSoftMax, BackwardIsTheJacobianProduct) {
  // The gradient of L(z) = Σ_j c_j·softmax(z)_j is softmax's Jacobian applied to c.
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const ActivationParams p = params(Activation::SoftMax);
  const int64_t rows = 3, cols = 5;
  std::vector<float> z(rows * cols), c(rows * cols);
  for (float& v : z) v = u(gen);
  for (float& v : c) v = u(gen);
  const std::vector<float> a = forward(p, z, rows, cols);
  std::vector<float> g = c;
  cpu::activation_backward(host, p, a.data(), g.data(), rows, cols);
  const float h = 1e-3f;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < cols; ++k) {
      std::vector<float> zp(z.begin() + r * cols, z.begin() + (r + 1) * cols), zm = zp;
      zp[k] += h;
      zm[k] -= h;
      const std::vector<float> ap = forward(p, zp, 1, cols), am = forward(p, zm, 1, cols);
      double lp = 0.0, lm = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        lp += static_cast<double>(c[r * cols + j]) * ap[j];
        lm += static_cast<double>(c[r * cols + j]) * am[j];
      }
      const double fd = (lp - lm) / (static_cast<double>(zp[k]) - zm[k]);
      EXPECT_NEAR(g[r * cols + k], fd, 2e-3 * std::fabs(fd) + 2e-4);
    }
  }
}

TEST(ActivationForward, LargeInputMatchesElementwise) {
  // Big enough for the parallel path; must agree bit for bit with one-element calls.
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  const int64_t rows = 300, cols = 200;
  std::vector<float> z(rows * cols);
  for (float& v : z) v = u(gen);
  for (Activation kind :
       {Activation::Sigmoid, Activation::SoftPlus, Activation::ExponentialLinear}) {
    const ActivationParams p = params(kind);
    const std::vector<float> a = forward(p, z, rows, cols);
    for (size_t i = 0; i < z.size(); i += 97) ASSERT_EQ(a[i], forward1(p, z[i]));
  }
  const ActivationParams sm = params(Activation::SoftMax);
  const std::vector<float> a = forward(sm, z, rows, cols);
  const std::vector<float> row7 =
      forward(sm, std::vector<float>(z.begin() + 7 * cols, z.begin() + 8 * cols), 1, cols);
  for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(a[7 * cols + j], row7[j]);
}

TEST(ActivationForward, RejectsBadArguments) {
  float z = 0.0f;
  EXPECT_THROW(cpu::activation_forward(host, params(Activation::Sigmoid), &z, -1, 1),
               InvalidArgument);
  EXPECT_THROW(cpu::activation_forward(host, params(Activation::Sigmoid), nullptr, 1, 1),
               InvalidArgument);
  ActivationParams bad;
  bad.kind = static_cast<Activation>(99);
  EXPECT_THROW(cpu::activation_forward(host, bad, &z, 1, 1), InvalidArgument);
  EXPECT_THROW(cpu::activation_backward(host, bad, &z, &z, 1, 1), InvalidArgument);
  EXPECT_NO_THROW(cpu::activation_forward(host, params(Activation::Sigmoid), nullptr, 0, 5));
}

}  // namespace
}  // namespace dsstne
