// SPDX-License-Identifier: Apache-2.0
// Tests of the vectorized CPU loss paths: the raw pass (cpu/loss_raw_pass.cpp) against the
// element formulas of loss_terms.hpp for every error function and activation, special and
// non-finite inputs and parameters included; its row sums wherever the row lies in memory; a
// diverged unit showing in the error; and output_pass against the separate kernels, bit for bit.

#include "cpu/loss_raw_pass.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/loss_terms.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

constexpr ErrorFunction kLosses[] = {
    ErrorFunction::L1, ErrorFunction::L2, ErrorFunction::CrossEntropy,
    ErrorFunction::ScaledMarginalCrossEntropy, ErrorFunction::DataScaledMarginalCrossEntropy,
    ErrorFunction::Hinge, ErrorFunction::L2Hinge};

/// Every activation but SoftMax (whose deltas couple a row and never take the raw pass).
constexpr Activation kElementwise[] = {
    Activation::Sigmoid, Activation::Tanh, Activation::RectifiedLinear, Activation::Linear,
    Activation::ParametricRectifiedLinear, Activation::SoftPlus, Activation::SoftSign,
    Activation::RELUMax, Activation::LinearMax, Activation::ExponentialLinear,
    Activation::LeakyRectifiedLinear, Activation::ScaledExponentialLinear};

/// Outputs at and around every threshold of the formulas, beyond [0, 1], and non-finite.
std::vector<float> probe_outputs() {
  std::vector<float> a = {0.0f, -0.0f, 1.0f, -1.0f, 0.15f, 0.85f, 1e-12f, 1.0f - 1e-7f, 0.5f,
                          2.0f, -3.0f, 1e-30f, std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          kInf, -kInf, kNaN};
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> u(-0.5f, 1.5f);
  for (int i = 0; i < 200; ++i) a.push_back(u(gen));
  return a;
}

/// The SMCE parameters of the tests, then non-finite scales and thresholds.
std::vector<SmceParams> probe_smce() {
  std::vector<SmceParams> all;
  for (float one_scale : {1.5f, kInf, kNaN}) {
    for (float zero_scale : {0.7f, -kInf, kNaN}) {
      SmceParams s;
      s.one_target = 0.85f;
      s.zero_target = 0.15f;
      s.one_scale = one_scale;
      s.zero_scale = zero_scale;
      all.push_back(s);
    }
  }
  SmceParams nan_thresholds;
  nan_thresholds.one_target = kNaN;
  nan_thresholds.zero_target = kNaN;
  all.push_back(nan_thresholds);
  return all;
}

LossParams loss_params(ErrorFunction f, Activation act, const SmceParams& s) {
  LossParams p;
  p.function = f;
  p.activation = ActivationParams{act, 0.1f, 1.3f, 1.0507f};  // kind, slope, alpha, lambda
  p.smce = s;
  return p;
}

uint32_t bits_of(float x) { return __builtin_bit_cast(uint32_t, x); }

bool same_bits_or_both_nan(float x, float y) {
  return bits_of(x) == bits_of(y) || (std::isnan(x) && std::isnan(y));
}

TEST(LossRawPass, ErrorOfEachUnitIsTheFormulaAtTargetZero) {
  for (ErrorFunction f : kLosses) {
    for (bool softmax : {false, true}) {
      for (const SmceParams& s : probe_smce()) {
        const LossParams p = loss_params(f, softmax ? Activation::SoftMax : Activation::Sigmoid, s);
        for (float a : probe_outputs()) {
          const double want = terms::loss_error(p, softmax, a, 0.0f);
          const double got = cpu::raw_row_error(p, softmax, &a, 1);
          ASSERT_TRUE(got == want || (std::isnan(got) && std::isnan(want)))
              << to_string(f) << (softmax ? " SoftMax" : "") << " a=" << a << " one_scale="
              << s.one_scale << " zero_scale=" << s.zero_scale << ": " << got << " vs " << want;
        }
      }
    }
  }
}

TEST(LossRawPass, DeltasAreTheFormulaAtTargetZeroBitForBit) {
  const std::vector<float> a = probe_outputs();
  for (ErrorFunction f : kLosses) {
    for (Activation act : kElementwise) {
      for (const SmceParams& s : probe_smce()) {
        const LossParams p = loss_params(f, act, s);
        const float w = 0.75f;
        // The whole row at once (the vectorized loop and its remainder) and one unit at a time.
        std::vector<float> row(a.size());
        cpu::raw_row_delta(p, a.data(), static_cast<int64_t>(a.size()), w, row.data());
        for (size_t j = 0; j < a.size(); ++j) {
          float one = 0.0f;
          cpu::raw_row_delta(p, &a[j], 1, w, &one);
          const float want = w * terms::delta_term(p, a[j], 0.0f);
          ASSERT_TRUE(same_bits_or_both_nan(row[j], want) && same_bits_or_both_nan(one, want))
              << to_string(f) << " " << to_string(act) << " a=" << a[j] << ": " << row[j]
              << " and " << one << " vs " << want;
        }
      }
    }
  }
}

TEST(LossRawPass, RowErrorIsTheSameWhereverTheRowLies) {
  // The partial sums follow the column, not the address: every alignment of the row in memory
  // gives the same bits, close to the plain sum in column order.
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int64_t cols = 1237;
  std::vector<float> row(cols);
  for (float& v : row) v = u(gen);
  for (ErrorFunction f : kLosses) {
    const LossParams p = loss_params(f, Activation::Sigmoid, probe_smce()[0]);
    const double first = cpu::raw_row_error(p, false, row.data(), cols);
    double in_order = 0.0;
    for (float a : row) in_order += terms::loss_error(p, false, a, 0.0f);
    EXPECT_NEAR(first, in_order, 1e-12 * std::fabs(in_order)) << to_string(f);
    for (int64_t shift = 1; shift < 8; ++shift) {
      std::vector<float> moved(cols + shift);
      std::copy(row.begin(), row.end(), moved.begin() + shift);
      EXPECT_EQ(cpu::raw_row_error(p, false, moved.data() + shift, cols), first)
          << to_string(f) << " shifted by " << shift;
    }
  }
}

TEST(LossRawPass, ADivergedUnitMakesTheErrorNaN) {
  for (ErrorFunction f : kLosses) {
    for (float bad : {kNaN, kInf, -kInf}) {
      std::vector<float> row(100, 0.4f);
      row[37] = bad;
      const LossParams p = loss_params(f, Activation::Sigmoid, probe_smce()[0]);
      EXPECT_TRUE(std::isnan(cpu::raw_row_error(p, false, row.data(), 100)))
          << to_string(f) << " with " << bad;
    }
  }
}

/// Sparse targets of `rows` rows over units [0, units): a few stored units per row, some rows
/// empty, with values when `analog`.
struct SparseTargets {
  std::vector<int64_t> offsets{0};
  std::vector<uint32_t> indices;
  std::vector<float> values;
};

SparseTargets sparse_targets(int64_t rows, int64_t units, bool analog, std::mt19937& gen) {
  SparseTargets s;
  std::uniform_int_distribution<int64_t> count(0, 12);
  std::uniform_int_distribution<uint32_t> unit(0, static_cast<uint32_t>(units - 1));
  std::uniform_real_distribution<float> value(0.1f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = count(gen); k > 0; --k) {
      s.indices.push_back(unit(gen));
      if (analog) s.values.push_back(value(gen));
    }
    s.offsets.push_back(static_cast<int64_t>(s.indices.size()));
  }
  return s;
}

TEST(LossOutputPass, EqualsTheSeparateKernelsBitForBit) {
  // rows·cols above the kernels' parallel threshold; the slice starts at unit 3 of 303.
  const int64_t rows = 64, cols = 300, col_begin = 3, units = 303;
  std::mt19937 gen(29);
  std::uniform_real_distribution<float> z(-5.0f, 5.0f), t01(0.0f, 1.0f), weight(0.5f, 2.0f);
  std::vector<float> logits(rows * cols), dense(rows * cols), weights(rows);
  for (float& v : logits) v = z(gen);
  for (float& v : dense) v = t01(gen) < 0.8f ? 0.0f : t01(gen);
  for (float& v : weights) v = weight(gen);
  logits[5] = kNaN;  // a diverged unit
  const SparseTargets boolean = sparse_targets(rows, units, false, gen);
  const SparseTargets analog = sparse_targets(rows, units, true, gen);
  for (ErrorFunction f : kLosses) {
    for (Activation act : kElementwise) {
      for (int kind = 0; kind < 4; ++kind) {  // dense, Boolean, analog, analog ignoring zeros
        if (kind == 0 && f == ErrorFunction::DataScaledMarginalCrossEntropy) continue;
        const SparseTargets& s = kind == 1 ? boolean : analog;
        TargetView t;
        t.sparse = kind != 0;
        t.ignore_zero = kind == 3;
        t.dense = dense.data();
        t.csr = CsrView{s.offsets.data(), s.indices.data(), kind == 1 ? nullptr : s.values.data(),
                        rows};
        t.example_weights = weights.data();
        const LossParams p = loss_params(f, act, probe_smce()[0]);
        std::vector<float> z_pass = logits, z_apart = logits;
        std::vector<float> d_pass(logits.size()), d_apart(logits.size());
        double e_pass = 0.25, e_apart = 0.25;
        // Odd kinds add a bias in the pass (broadcast_rows apart).
        std::vector<float> bias(static_cast<size_t>(cols));
        for (int64_t j = 0; j < cols; ++j) bias[size_t(j)] = 0.125f * float(j % 7) - 0.375f;
        const float* pass_bias = kind % 2 == 1 ? bias.data() : nullptr;
        cpu::output_pass(host, p, pass_bias, z_pass.data(), rows, cols, col_begin, t, &e_pass,
                         d_pass.data());
        if (pass_bias != nullptr)
          cpu::broadcast_rows(host, pass_bias, rows, cols, true, z_apart.data());
        cpu::activation_forward(host, p.activation, z_apart.data(), rows, cols);
        cpu::output_error_sum(host, p, z_apart.data(), rows, cols, col_begin, t, &e_apart);
        cpu::output_delta(host, p, z_apart.data(), rows, cols, col_begin, t, d_apart.data());
        const std::string what = to_string(f) + " " + to_string(act) + " targets " +
                                 std::to_string(kind);
        ASSERT_TRUE(std::memcmp(&e_pass, &e_apart, sizeof e_pass) == 0)
            << what << ": " << e_pass << " vs " << e_apart;
        // The pass leaves z as it found it, the NaN's bits included.
        ASSERT_TRUE(std::memcmp(z_pass.data(), logits.data(), logits.size() * sizeof(float)) == 0)
            << what << ": output_pass changed z";
        for (size_t i = 0; i < logits.size(); ++i)
          ASSERT_TRUE(same_bits_or_both_nan(d_pass[i], d_apart[i])) << what << " delta " << i;
      }
    }
  }
}

}  // namespace
}  // namespace dsstne
