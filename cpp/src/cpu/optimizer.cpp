// SPDX-License-Identifier: Apache-2.0
/// @file optimizer.cpp
/// @brief CPU reference of the optimiser step (spec/math.md §5.2) for weights and biases.
///
/// Weights receive the negated gradient (plus weight decay) and move along it; biases receive
/// the positive mean delta and move against it. Both go through one element rule templated on
/// that direction, so the two tables of §5.2 cannot drift apart, and the stored optimiser state
/// (v, v2) is exactly the one the table names for each side.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "training_modes.hpp"

namespace dsstne::cpu {

namespace {

/// +1: the input is a descent direction (weights: g̃ = −∂E/∂w − decay); −1: the input is a
/// gradient (biases: ḡ = mean delta). Multiplying by ±1 is exact, so this costs no precision.
enum class Direction { kAlong = 1, kAgainst = -1 };

/// Per-call constants, formed once on the host.
struct StepConstants {
  float alpha, mu, mu1;
  float one_minus_mu, one_minus_mu1;
  float adam_c1, adam_c2;  ///< 1 − μ^t and 1 − μ1^t (Adam bias correction)
};

StepConstants step_constants(const UpdateParams& u) {
  StepConstants k{};
  k.alpha = u.alpha;
  k.mu = u.mu;
  k.mu1 = u.mu1;
  k.one_minus_mu = 1.0f - u.mu;
  k.one_minus_mu1 = 1.0f - u.mu1;
  // Powers in double, rounded once: t can be large and float pow loses bits there.
  const double t = static_cast<double>(u.step);
  k.adam_c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(u.mu), t));
  k.adam_c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(u.mu1), t));
  return k;
}

/// max(1e-9, x): the floor DSSTNE puts under every second-moment estimate.
inline float floored(float x) { return x > 1e-9f ? x : 1e-9f; }

/// Applies one step of `Mode` to element i. `x` is the element's input (g̃ or ḡ); the
/// parameter moves by sign·step, and velocity-style state accumulates sign·α·x.
template <TrainingMode Mode, Direction D>
inline void step_element(const StepConstants& k, float x, float& p, float* v, float* v2,
                         int64_t i) {
  constexpr float sign = static_cast<float>(static_cast<int>(D));
  if constexpr (Mode == TrainingMode::SGD) {
    p += sign * (k.alpha * x);
  } else if constexpr (Mode == TrainingMode::Momentum) {
    v[i] = k.mu * v[i] + sign * (k.alpha * x);
    p += v[i];
  } else if constexpr (Mode == TrainingMode::Nesterov) {
    const float v_old = v[i];
    const float v_new = k.mu * v_old + sign * (k.alpha * x);
    p += v_new + k.mu * (v_new - v_old);
    v[i] = v_new;
  } else if constexpr (Mode == TrainingMode::AdaGrad) {
    v[i] += x * x;
    p += sign * (k.alpha * x / std::sqrt(floored(v[i])));
  } else if constexpr (Mode == TrainingMode::RMSProp) {
    v[i] = k.mu * v[i] + k.one_minus_mu * (x * x);
    p += sign * (k.alpha * x / std::sqrt(floored(v[i])));
  } else if constexpr (Mode == TrainingMode::AdaDelta) {
    v[i] = k.mu * v[i] + k.one_minus_mu * (x * x);
    const float delta = std::sqrt(floored(v2[i]) / floored(v[i])) * x;
    v2[i] = k.mu * v2[i] + k.one_minus_mu * (delta * delta);
    p += sign * delta;
  } else if constexpr (Mode == TrainingMode::Adam) {
    v[i] = k.mu * v[i] + k.one_minus_mu * x;
    v2[i] = k.mu1 * v2[i] + k.one_minus_mu1 * (x * x);
    const float m_hat = v[i] / k.adam_c1;
    const float v_hat = v2[i] / k.adam_c2;
    p += sign * (k.alpha * m_hat / (std::sqrt(v_hat) + 1e-8f));
  }
}

/// sgn(x) with sgn(0) = sgn(NaN) = 0, from the two comparisons: GCC vectorizes this form, not
/// nested ternaries (a branch in the loop), so SGD, Momentum and Nesterov vectorize.
inline float sign_of(float x) {
  return static_cast<float>(x > 0.0f) - static_cast<float>(x < 0.0f);
}

template <TrainingMode Mode, Direction D>
void run_mode(const UpdateParams& u, const float* input, int64_t n, float* p, float* v, float* v2) {
  const StepConstants k = step_constants(u);
  const float lambda = u.lambda;
  const float lambda1 = u.lambda1;
  // p, input, v, v2: n elements, each independent of the others.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float x = input[i];
    if constexpr (D == Direction::kAlong) x = x - lambda * p[i] - lambda1 * sign_of(p[i]);
    step_element<Mode, D>(k, x, p[i], v, v2, i);
  }
}

template <Direction D>
void update(const UpdateParams& u, const float* input, int64_t n, float* p, float* v, float* v2) {
  terms::with_training_mode(u.mode, [&](auto mode) {
    run_mode<decltype(mode)::value, D>(u, input, n, p, v, v2);
  });
}

bool halted(const UpdateParams& u) { return u.halt != nullptr && *u.halt != 0; }

}  // namespace

void update_weights(const Context& ctx, const UpdateParams& u, const float* g, int64_t n, float* w,
                    float* v, float* v2) {
  if (checks::update_weights(ctx, u, g, n, w, v, v2) && !halted(u))
    update<Direction::kAlong>(u, g, n, w, v, v2);
}

void update_biases(const Context& ctx, const UpdateParams& u, const float* mean_delta, int64_t n,
                   float* b, float* v, float* v2) {
  if (checks::update_biases(ctx, u, mean_delta, n, b, v, v2) && !halted(u))
    update<Direction::kAgainst>(u, mean_delta, n, b, v, v2);
}

void watch_error(const Context& ctx, const double* error, double tolerance, int32_t* halt) {
  if (!checks::watch_error(ctx, error, tolerance, halt)) return;
  if (!std::isfinite(*error) || *error < -tolerance) *halt = 1;
}

void zero_if_halted(const Context& ctx, const int32_t* halt, float* x, int64_t n) {
  if (!checks::zero_if_halted(ctx, halt, x, n) || *halt == 0) return;
  std::fill(x, x + n, 0.0f);
}

void sgd_step_scalars(const Context& ctx, const UpdateParams& u, float scale, float* scalars) {
  if (!checks::sgd_step_scalars(ctx, u, scale, scalars)) return;
  const bool stop = halted(u);
  scalars[0] = stop ? 0.0f : u.alpha * scale;
  scalars[1] = stop ? 1.0f : 1.0f - u.alpha * u.lambda;
}

}  // namespace dsstne::cpu
