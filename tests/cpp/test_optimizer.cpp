// SPDX-License-Identifier: Apache-2.0
// Tests of the CPU optimiser step (spec/math.md §5.2) against a double-precision
// reimplementation of the two tables (weights and biases) written independently here.

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

constexpr int64_t kN = 6;  // a 3 × 2 matrix, flattened
constexpr int kSteps = 3;

const TrainingMode kModes[] = {
    TrainingMode::SGD,     TrainingMode::Momentum, TrainingMode::Nesterov, TrainingMode::AdaGrad,
    TrainingMode::RMSProp, TrainingMode::AdaDelta, TrainingMode::Adam};

UpdateParams params(TrainingMode mode, int64_t step) {
  UpdateParams u;
  u.mode = mode;
  u.alpha = 0.05f;
  u.lambda = 0.01f;
  u.lambda1 = 0.002f;
  u.mu = 0.9f;
  u.mu1 = 0.999f;
  u.step = step;
  return u;
}

/// The input of step s (1-based) for element i: varied signs and sizes, never tiny.
float input_at(int s, int64_t i) {
  static const float base[kN] = {0.3f, -0.2f, 0.15f, -0.4f, 0.25f, 0.1f};
  return base[i] * (1.0f + 0.3f * float(s)) * (s == 2 && i % 2 ? -1.0f : 1.0f);
}

const float kInitial[kN] = {0.5f, -0.25f, 0.0f, 0.75f, -0.6f, 0.1f};  // one exact zero: sgn 0

struct State {
  std::vector<double> p, v, v2;
};

double sgn(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

/// One weight step, the weights column of §5.2, in double.
void ref_weight_step(const UpdateParams& u, int s, State& st) {
  const double a = u.alpha, l = u.lambda, l1 = u.lambda1, mu = u.mu, mu1 = u.mu1;
  for (int64_t i = 0; i < kN; ++i) {
    double& w = st.p[i];
    double& v = st.v[i];
    double& v2 = st.v2[i];
    const double g = double(input_at(s, i)) - l * w - l1 * sgn(w);
    switch (u.mode) {
      case TrainingMode::SGD:
        w += a * g;
        break;
      case TrainingMode::Momentum:
        v = mu * v + a * g;
        w += v;
        break;
      case TrainingMode::Nesterov: {
        const double vn = mu * v + a * g;
        w += vn + mu * (vn - v);
        v = vn;
        break;
      }
      case TrainingMode::AdaGrad:
        v += g * g;
        w += a * g / std::sqrt(std::max(1e-9, v));
        break;
      case TrainingMode::RMSProp:
        v = mu * v + (1 - mu) * g * g;
        w += a * g / std::sqrt(std::max(1e-9, v));
        break;
      case TrainingMode::AdaDelta: {
        v = mu * v + (1 - mu) * g * g;
        const double d = std::sqrt(std::max(1e-9, v2) / std::max(1e-9, v)) * g;
        v2 = mu * v2 + (1 - mu) * d * d;
        w += d;
        break;
      }
      case TrainingMode::Adam: {
        v = mu * v + (1 - mu) * g;
        v2 = mu1 * v2 + (1 - mu1) * g * g;
        const double t = double(u.step);
        const double mh = v / (1 - std::pow(mu, t)), vh = v2 / (1 - std::pow(mu1, t));
        w += a * mh / (std::sqrt(vh) + 1e-8);
        break;
      }
    }
  }
}

/// One bias step, the biases column of §5.2, in double.
void ref_bias_step(const UpdateParams& u, int s, State& st) {
  const double a = u.alpha, mu = u.mu, mu1 = u.mu1;
  for (int64_t i = 0; i < kN; ++i) {
    double& b = st.p[i];
    double& v = st.v[i];
    double& v2 = st.v2[i];
    const double g = input_at(s, i);
    switch (u.mode) {
      case TrainingMode::SGD:
        b -= a * g;
        break;
      case TrainingMode::Momentum:
        v = mu * v - a * g;
        b += v;
        break;
      case TrainingMode::Nesterov: {
        const double vn = mu * v - a * g;
        b += vn + mu * (vn - v);
        v = vn;
        break;
      }
      case TrainingMode::AdaGrad:
        v += g * g;
        b -= a * g / std::sqrt(std::max(1e-9, v));
        break;
      case TrainingMode::RMSProp:
        v = mu * v + (1 - mu) * g * g;
        b -= a * g / std::sqrt(std::max(1e-9, v));
        break;
      case TrainingMode::AdaDelta: {
        v = mu * v + (1 - mu) * g * g;
        const double d = std::sqrt(std::max(1e-9, v2) / std::max(1e-9, v)) * g;
        v2 = mu * v2 + (1 - mu) * d * d;
        b -= d;
        break;
      }
      case TrainingMode::Adam: {
        v = mu * v + (1 - mu) * g;
        v2 = mu1 * v2 + (1 - mu1) * g * g;
        const double t = double(u.step);
        const double mh = v / (1 - std::pow(mu, t)), vh = v2 / (1 - std::pow(mu1, t));
        b -= a * mh / (std::sqrt(vh) + 1e-8);
        break;
      }
    }
  }
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, const char* what,
                  TrainingMode mode, int step) {
  for (int64_t i = 0; i < kN; ++i) {
    EXPECT_NEAR(got[i], ref[i], 1e-6 * std::fabs(ref[i]) + 1e-12)
        << what << "[" << i << "] mode " << uint32_t(mode) << " step " << step;
  }
}

template <typename Kernel, typename Ref>
void check_three_steps(TrainingMode mode, Kernel kernel, Ref ref) {
  std::vector<float> p(kInitial, kInitial + kN), v(kN, 0.0f), v2(kN, 0.0f), in(kN);
  State st{std::vector<double>(kInitial, kInitial + kN), std::vector<double>(kN, 0.0),
           std::vector<double>(kN, 0.0)};
  for (int s = 1; s <= kSteps; ++s) {
    const UpdateParams u = params(mode, s);
    for (int64_t i = 0; i < kN; ++i) in[i] = input_at(s, i);
    kernel(host, u, in.data(), kN, p.data(), v.data(), v2.data());
    ref(u, s, st);
    expect_close(p, st.p, "param", mode, s);
    expect_close(v, st.v, "v", mode, s);
    expect_close(v2, st.v2, "v2", mode, s);
  }
}

TEST(UpdateWeights, EveryModeMatchesTheDoubleReference) {
  for (TrainingMode mode : kModes) check_three_steps(mode, cpu::update_weights, ref_weight_step);
}

TEST(UpdateBiases, EveryModeMatchesTheDoubleReference) {
  for (TrainingMode mode : kModes) check_three_steps(mode, cpu::update_biases, ref_bias_step);
}

TEST(UpdateWeights, SgdMovesAlongTheNegatedGradientWithDecay) {
  std::vector<float> w = {1.0f, -1.0f, 0.0f};
  const std::vector<float> g = {0.0f, 0.0f, 0.0f};
  UpdateParams u = params(TrainingMode::SGD, 1);
  cpu::update_weights(host, u, g.data(), 3, w.data(), nullptr, nullptr);
  // Pure decay shrinks towards 0; the zero weight stays (sgn 0 = 0).
  EXPECT_FLOAT_EQ(w[0], 1.0f - 0.05f * (0.01f + 0.002f));
  EXPECT_FLOAT_EQ(w[1], -1.0f + 0.05f * (0.01f + 0.002f));
  EXPECT_EQ(w[2], 0.0f);
}

// Without decay, a bias step on ḡ equals a weight step on −ḡ bit for bit (Adam's stored first
// moment is then negated, every other state identical).
TEST(UpdateBiases, AgreeBitwiseWithWeightsOnTheNegatedInput) {
  for (TrainingMode mode : kModes) {
    std::vector<float> b(kInitial, kInitial + kN), w = b, vb(kN, 0.0f), vw(kN, 0.0f);
    std::vector<float> v2b(kN, 0.0f), v2w(kN, 0.0f), in(kN), neg(kN);
    for (int s = 1; s <= kSteps; ++s) {
      UpdateParams u = params(mode, s);
      u.lambda = 0.0f;
      u.lambda1 = 0.0f;
      for (int64_t i = 0; i < kN; ++i) {
        in[i] = input_at(s, i);
        neg[i] = -in[i];
      }
      cpu::update_biases(host, u, in.data(), kN, b.data(), vb.data(), v2b.data());
      cpu::update_weights(host, u, neg.data(), kN, w.data(), vw.data(), v2w.data());
    }
    const float m_sign = mode == TrainingMode::Adam ? -1.0f : 1.0f;
    for (int64_t i = 0; i < kN; ++i) {
      EXPECT_EQ(b[i], w[i]) << "mode " << uint32_t(mode) << " element " << i;
      EXPECT_EQ(vb[i], m_sign * vw[i]) << "mode " << uint32_t(mode) << " element " << i;
      EXPECT_EQ(v2b[i], v2w[i]) << "mode " << uint32_t(mode) << " element " << i;
    }
  }
}

TEST(UpdateWeights, RejectsMissingStateAndBadArguments) {
  std::vector<float> w(kN, 0.5f), g(kN, 0.1f), v(kN, 0.0f);
  for (TrainingMode mode : {TrainingMode::Momentum, TrainingMode::Nesterov, TrainingMode::AdaGrad,
                            TrainingMode::RMSProp}) {
    EXPECT_THROW(
        cpu::update_weights(host, params(mode, 1), g.data(), kN, w.data(), nullptr, nullptr),
        InvalidArgument);
  }
  for (TrainingMode mode : {TrainingMode::AdaDelta, TrainingMode::Adam}) {
    EXPECT_THROW(
        cpu::update_biases(host, params(mode, 1), g.data(), kN, w.data(), v.data(), nullptr),
        InvalidArgument);
  }
  EXPECT_THROW(cpu::update_weights(host, params(TrainingMode::Adam, 0), g.data(), kN, w.data(),
                                   v.data(), v.data()),
               InvalidArgument);
  EXPECT_THROW(cpu::update_weights(host, params(static_cast<TrainingMode>(17), 1), g.data(), kN,
                                   w.data(), v.data(), v.data()),
               InvalidArgument);
  // SGD needs no state.
  EXPECT_NO_THROW(cpu::update_weights(host, params(TrainingMode::SGD, 1), g.data(), kN, w.data(),
                                      nullptr, nullptr));
}

}  // namespace
}  // namespace dsstne
