// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of activation_forward / activation_backward (cuda/src/activation.cu against
// cpp/src/cpu/activation.cpp) for every activation, SoftMax included, on random inputs.
//
// Exact equality is expected where both backends evaluate the same float operations in the same
// order: the piecewise-linear activations and SoftSign forward, and their slopes (plus Sigmoid's
// a·(1−a) and ELU's a + α) backward. Elsewhere the GPU's libm (expf, tanhf, expm1f, log1pf), FMA
// contraction (Tanh's 1 − a², SELU's a + λα) and SoftMax's float tree sums stand against the CPU's
// double sums: relative error ≤ 1e-5, with an absolute floor at the scale of the row for SoftMax
// backward, whose a ⊙ (g − Σg·a) cancels where g ≈ Σg·a.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_close;
using testing::on_device;

constexpr Activation kAll[] = {
    Activation::Sigmoid,          Activation::Tanh,
    Activation::RectifiedLinear,  Activation::Linear,
    Activation::ParametricRectifiedLinear, Activation::SoftPlus,
    Activation::SoftSign,         Activation::SoftMax,
    Activation::RELUMax,          Activation::LinearMax,
    Activation::ExponentialLinear, Activation::LeakyRectifiedLinear,
    Activation::ScaledExponentialLinear};

struct Shape {
  int64_t rows, cols;
};
// One unit, one row, non-multiples of the block size (256), and a large-ish matrix.
constexpr Shape kShapes[] = {{1, 1}, {1, 7}, {3, 256}, {37, 1001}, {300, 5000}};

ActivationParams params(Activation kind) {
  ActivationParams p;
  p.kind = kind;
  p.slope = 0.07f;
  p.alpha = 1.3f;
  p.lambda = 1.0507f;
  return p;
}

bool exact_forward(Activation k) {
  return k == Activation::RectifiedLinear || k == Activation::Linear ||
         k == Activation::ParametricRectifiedLinear || k == Activation::SoftSign ||
         k == Activation::RELUMax || k == Activation::LinearMax ||
         k == Activation::LeakyRectifiedLinear;
}

bool exact_backward(Activation k) {
  return exact_forward(k) || k == Activation::Sigmoid || k == Activation::ExponentialLinear;
}

std::vector<float> uniform(size_t n, float lo, float hi, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

std::string describe(Activation k, const Shape& s, uint32_t seed) {
  return "activation " + std::to_string(static_cast<int>(k)) + " " + std::to_string(s.rows) +
         "x" + std::to_string(s.cols) + " seed " + std::to_string(seed);
}

void expect_equal(const std::vector<float>& ref, const std::vector<float>& got,
                  const std::string& what) {
  expect_close(ref, got, 0.0, 0.0, what + " (exact)");
}

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

TEST(CudaParityActivation, ForwardMatchesCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint32_t seed = 100;
  for (Activation kind : kAll) {
    for (const Shape& s : kShapes) {
      const std::string what = "forward " + describe(kind, s, ++seed);
      std::mt19937 gen(seed);
      const ActivationParams p = params(kind);
      // Around every kink (0, ±1) and into the saturated tails.
      const std::vector<float> z = uniform(size_t(s.rows * s.cols), -6.0f, 6.0f, gen);
      std::vector<float> ref = z;
      cpu::activation_forward(host, p, ref.data(), s.rows, s.cols);
      DeviceBuffer<float> dz = on_device(ctx, z);
      cuda::activation_forward(ctx, p, dz.data(), s.rows, s.cols);
      const std::vector<float> got = dz.download();
      if (exact_forward(kind)) {
        expect_equal(ref, got, what);
      } else {
        expect_close(ref, got, 1e-5, 1e-7, what);
      }
      // Determinism: a second run gives the same bits.
      dz.upload(z);
      cuda::activation_forward(ctx, p, dz.data(), s.rows, s.cols);
      EXPECT_TRUE(dz.download() == got) << what << ": two CUDA runs differ";
    }
  }
}

TEST(CudaParityActivation, BackwardMatchesCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint32_t seed = 500;
  for (Activation kind : kAll) {
    for (const Shape& s : kShapes) {
      const std::string what = "backward " + describe(kind, s, ++seed);
      std::mt19937 gen(seed);
      const ActivationParams p = params(kind);
      const size_t n = size_t(s.rows * s.cols);
      std::vector<float> a = uniform(n, -4.0f, 4.0f, gen);
      cpu::activation_forward(host, p, a.data(), s.rows, s.cols);  // activations in f's range
      const std::vector<float> g = uniform(n, -1.0f, 1.0f, gen);
      std::vector<float> ref = g;
      cpu::activation_backward(host, p, a.data(), ref.data(), s.rows, s.cols);
      const DeviceBuffer<float> da = on_device(ctx, a);
      DeviceBuffer<float> dg = on_device(ctx, g);
      cuda::activation_backward(ctx, p, da.data(), dg.data(), s.rows, s.cols);
      const std::vector<float> got = dg.download();
      if (exact_backward(kind)) {
        expect_equal(ref, got, what);
      } else if (kind == Activation::SoftMax) {
        // |error| ≲ a_j·(float rounding of Σ g·a): an absolute floor at the row's scale.
        expect_close(ref, got, 1e-5, 2e-6 * max_abs(a), what);
      } else {
        expect_close(ref, got, 1e-5, 1e-7, what);
      }
      dg.upload(g);
      cuda::activation_backward(ctx, p, da.data(), dg.data(), s.rows, s.cols);
      EXPECT_TRUE(dg.download() == got) << what << ": two CUDA runs differ";
    }
  }
}

TEST(CudaParityActivation, SoftMaxLargeLogitsAndSingleColumn) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const uint32_t seed = 77;
  std::mt19937 gen(seed);
  const ActivationParams p = params(Activation::SoftMax);
  for (const Shape& s : {Shape{5, 1}, Shape{4, 300}, Shape{2, 70000}}) {
    const std::string what = "softmax large logits " + describe(p.kind, s, seed);
    // Logits of ±1e4: the max must be subtracted before exp on both backends.
    const std::vector<float> z = uniform(size_t(s.rows * s.cols), -1e4f, 1e4f, gen);
    std::vector<float> ref = z;
    cpu::activation_forward(host, p, ref.data(), s.rows, s.cols);
    DeviceBuffer<float> dz = on_device(ctx, z);
    cuda::activation_forward(ctx, p, dz.data(), s.rows, s.cols);
    const std::vector<float> got = dz.download();
    expect_close(ref, got, 1e-5, 1e-30, what);
    for (float x : got) ASSERT_TRUE(std::isfinite(x)) << what;
  }
}

TEST(CudaParityActivation, EmptyAndUnknown) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  for (Activation kind : kAll) {
    EXPECT_NO_THROW(cuda::activation_forward(ctx, params(kind), nullptr, 0, 5));
    EXPECT_NO_THROW(cuda::activation_backward(ctx, params(kind), nullptr, nullptr, 3, 0));
  }
  ActivationParams bad;
  bad.kind = static_cast<Activation>(99);
  std::vector<float> z(4, 0.0f);
  DeviceBuffer<float> dz = on_device(ctx, z);
  EXPECT_THROW(cpu::activation_forward(host, bad, z.data(), 1, 4), InvalidArgument);
  EXPECT_THROW(cuda::activation_forward(ctx, bad, dz.data(), 1, 4), InvalidArgument);
  EXPECT_THROW(cuda::activation_backward(ctx, bad, dz.data(), dz.data(), 1, 4), InvalidArgument);
}

}  // namespace
}  // namespace dsstne
