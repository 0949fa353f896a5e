// SPDX-License-Identifier: Apache-2.0
// Tests of cpu::output_error / output_delta: hand values, δ = ∂E/∂z by finite differences for
// every defined (loss, activation, targets) case, sparse raw+correction against materialised
// dense targets, SMCE margins, DeltaBoost, DSMCE rules and duplicate sparse indices.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

constexpr ErrorFunction kLosses[] = {ErrorFunction::L1,
                                     ErrorFunction::L2,
                                     ErrorFunction::CrossEntropy,
                                     ErrorFunction::ScaledMarginalCrossEntropy,
                                     ErrorFunction::DataScaledMarginalCrossEntropy,
                                     ErrorFunction::Hinge,
                                     ErrorFunction::L2Hinge};

constexpr Activation kActivations[] = {Activation::Sigmoid,
                                       Activation::Tanh,
                                       Activation::RectifiedLinear,
                                       Activation::Linear,
                                       Activation::ParametricRectifiedLinear,
                                       Activation::SoftPlus,
                                       Activation::SoftSign,
                                       Activation::SoftMax,
                                       Activation::RELUMax,
                                       Activation::LinearMax,
                                       Activation::ExponentialLinear,
                                       Activation::LeakyRectifiedLinear,
                                       Activation::ScaledExponentialLinear};

enum class Targets { Dense, Boolean, Analog, BooleanIgnoreZero, AnalogIgnoreZero };
constexpr Targets kTargets[] = {Targets::Dense, Targets::Boolean, Targets::Analog,
                                Targets::BooleanIgnoreZero, Targets::AnalogIgnoreZero};

LossParams loss_params(ErrorFunction f, Activation act) {
  LossParams p;
  p.function = f;
  p.activation.kind = act;
  p.activation.slope = 0.1f;
  p.activation.alpha = 1.3f;
  p.activation.lambda = 1.0507f;
  p.smce.one_target = 0.85f;
  p.smce.zero_target = 0.15f;
  p.smce.one_scale = 1.5f;
  p.smce.zero_scale = 0.7f;
  return p;
}

bool is_ce_family(ErrorFunction f) {
  return f == ErrorFunction::CrossEntropy || f == ErrorFunction::ScaledMarginalCrossEntropy ||
         f == ErrorFunction::DataScaledMarginalCrossEntropy;
}

/// Targets of one batch, owning their storage. The layer is global units [0, 10); this slice
/// holds units [2, 8), so some stored indices fall outside it.
struct Batch {
  int64_t rows = 4;
  int64_t cols = 6;
  int64_t col_begin = 2;
  bool sparse = false;
  bool ignore_zero = false;
  std::vector<float> dense;  ///< rows × cols
  std::vector<int64_t> offsets;
  std::vector<uint32_t> indices;
  std::vector<float> values;   ///< empty: Boolean
  std::vector<float> weights;  ///< empty: weight 1

  TargetView view() const {
    TargetView t;
    t.sparse = sparse;
    t.ignore_zero = ignore_zero;
    t.dense = dense.empty() ? nullptr : dense.data();
    t.csr.offsets = offsets.empty() ? nullptr : offsets.data();
    t.csr.indices = indices.empty() ? nullptr : indices.data();
    t.csr.values = values.empty() ? nullptr : values.data();
    t.csr.rows = sparse ? rows : 0;
    t.example_weights = weights.empty() ? nullptr : weights.data();
    return t;
  }
};

/// Sparse rows with a duplicate (row 0), an empty row, out-of-slice indices and an unsorted row.
void set_sparse_pattern(Batch& b) {
  const std::vector<std::vector<uint32_t>> pattern = {{3, 0, 7, 3}, {}, {9, 2, 5}, {6, 4, 5, 2, 7}};
  b.sparse = true;
  b.offsets = {0};
  b.indices.clear();
  for (const auto& row : pattern) {
    b.indices.insert(b.indices.end(), row.begin(), row.end());
    b.offsets.push_back(static_cast<int64_t>(b.indices.size()));
  }
}

Batch make_batch(ErrorFunction f, Targets kind, std::mt19937& gen) {
  Batch b;
  b.weights = {0.5f, 1.0f, 2.0f, 1.5f};
  if (kind == Targets::Dense) {
    const std::vector<float> choices = is_ce_family(f)
                                           ? std::vector<float>{0.0f, 0.25f, 0.6f, 1.0f}
                                           : std::vector<float>{-1.0f, 0.0f, 0.25f, 0.6f, 1.0f};
    std::uniform_int_distribution<size_t> pick(0, choices.size() - 1);
    b.dense.resize(b.rows * b.cols);
    for (float& t : b.dense) t = choices[pick(gen)];
    return b;
  }
  set_sparse_pattern(b);
  b.ignore_zero = kind == Targets::BooleanIgnoreZero || kind == Targets::AnalogIgnoreZero;
  if (kind == Targets::Analog || kind == Targets::AnalogIgnoreZero) {
    std::uniform_real_distribution<float> u(0.2f, 0.5f);
    for (size_t k = 0; k < b.indices.size(); ++k) b.values.push_back(u(gen));
  }
  return b;
}

/// The dense local target rows the sparse targets stand for (written independently of the
/// kernel): duplicates collapse (Boolean) or sum in stored order (analog); Boolean targets of a
/// SoftMax output are 1/(distinct stored indices of the row).
std::vector<float> materialise(const Batch& b, bool softmax) {
  if (!b.sparse) return b.dense;
  std::vector<float> out(b.rows * b.cols, 0.0f);
  for (int64_t r = 0; r < b.rows; ++r) {
    std::map<uint32_t, float> row;
    for (int64_t k = b.offsets[r]; k < b.offsets[r + 1]; ++k) {
      row[b.indices[k]] += b.values.empty() ? 1.0f : b.values[k];
    }
    for (const auto& [index, value] : row) {
      const int64_t col = static_cast<int64_t>(index) - b.col_begin;
      if (col < 0 || col >= b.cols) continue;
      float t = value;
      if (b.values.empty()) t = softmax ? 1.0f / static_cast<float>(row.size()) : 1.0f;
      out[r * b.cols + col] = t;
    }
  }
  return out;
}

std::vector<float> activate(const LossParams& p, std::vector<float> z, int64_t rows, int64_t cols) {
  cpu::activation_forward(host, p.activation, z.data(), rows, cols);
  return z;
}

double error_of(const LossParams& p, const Batch& b, const std::vector<float>& z) {
  const std::vector<float> a = activate(p, z, b.rows, b.cols);
  return cpu::output_error(host, p, a.data(), b.rows, b.cols, b.col_begin, b.view());
}

std::vector<float> delta_of(const LossParams& p, const Batch& b, const std::vector<float>& z) {
  const std::vector<float> a = activate(p, z, b.rows, b.cols);
  std::vector<float> d(a.size(), std::numeric_limits<float>::quiet_NaN());
  cpu::output_delta(host, p, a.data(), b.rows, b.cols, b.col_begin, b.view(), d.data());
  return d;
}

/// True when a unit is far from every kink or jump of the activation and the loss, so that a
/// central difference measures the derivative.
bool smooth_unit(const LossParams& p, float z, float a, float t) {
  const float m = 0.02f;
  const bool softmax = p.activation.kind == Activation::SoftMax;
  if (!softmax && (std::fabs(z) < m || std::fabs(z - 1.0f) < m || std::fabs(z + 1.0f) < m)) {
    return false;
  }
  const bool inside = softmax || (a > 0.1f && a < 0.9f);  // clear of the log floors
  switch (p.function) {
    case ErrorFunction::L1:
      return std::fabs(a - t) > m;
    case ErrorFunction::L2:
      return true;
    case ErrorFunction::L2Hinge:
      return std::fabs(a - t) > m && std::fabs(a) > m;
    case ErrorFunction::Hinge:
      return std::fabs(t * a - 1.0f) > m;
    case ErrorFunction::CrossEntropy:
      return inside;
    default:
      return inside && std::fabs(a - p.smce.one_target) > m &&
             std::fabs(a - p.smce.zero_target) > m;
  }
}

/// Pre-activations whose units are all smooth: element-wise outputs redraw one unit, SoftMax
/// outputs a whole row (its units are coupled).
std::vector<float> draw_z(const LossParams& p, const Batch& b, const std::vector<float>& t,
                          std::mt19937& gen) {
  const bool softmax = p.activation.kind == Activation::SoftMax;
  std::uniform_real_distribution<float> u(softmax ? -1.5f : -3.0f, softmax ? 1.5f : 3.0f);
  const int64_t cols = b.cols;
  std::vector<float> z(b.rows * cols);
  for (int64_t r = 0; r < b.rows; ++r) {
    float* zr = z.data() + r * cols;
    const float* tr = t.data() + r * cols;
    for (int tries = 0;; ++tries) {
      if (tries == 100000) {
        ADD_FAILURE() << "no smooth sample for row " << r;
        return z;
      }
      for (int64_t j = 0; j < cols; ++j) {
        if (softmax) {
          zr[j] = u(gen);
          continue;
        }
        do zr[j] = u(gen);
        while (!smooth_unit(p, zr[j], activate(p, {zr[j]}, 1, 1)[0], tr[j]));
      }
      const std::vector<float> a = activate(p, std::vector<float>(zr, zr + cols), 1, cols);
      bool ok = true;
      for (int64_t j = 0; j < cols; ++j) ok = ok && smooth_unit(p, zr[j], a[j], tr[j]);
      if (ok) break;
    }
  }
  return z;
}

TEST(LossGradient, DeltaMatchesFiniteDifferences) {
  std::mt19937 gen(2024);
  int cases = 0;
  for (ErrorFunction f : kLosses) {
    for (Activation act : kActivations) {
      for (Targets kind : kTargets) {
        const bool dsmce = f == ErrorFunction::DataScaledMarginalCrossEntropy;
        if (dsmce && (kind == Targets::Dense || act == Activation::SoftMax)) continue;
        SCOPED_TRACE(::testing::Message()
                     << "loss " << static_cast<int>(f) << " activation " << static_cast<int>(act)
                     << " targets " << static_cast<int>(kind));
        const LossParams p = loss_params(f, act);
        const Batch b = make_batch(f, kind, gen);
        const std::vector<float> t = materialise(b, act == Activation::SoftMax);
        const std::vector<float> z = draw_z(p, b, t, gen);
        const std::vector<float> delta = delta_of(p, b, z);
        const float h = 2e-3f;
        int bad = 0;
        for (size_t i = 0; i < z.size() && bad < 3; ++i) {
          std::vector<float> zp = z, zm = z;
          zp[i] += h;
          zm[i] -= h;
          const double fd =
              (error_of(p, b, zp) - error_of(p, b, zm)) / (static_cast<double>(zp[i]) - zm[i]);
          const double tol = 2e-3 * std::max(std::fabs(fd), std::fabs(double(delta[i]))) + 1e-3;
          if (!(std::fabs(delta[i] - fd) <= tol)) ++bad;
          EXPECT_NEAR(delta[i], fd, tol) << "unit " << i << " z=" << z[i] << " t=" << t[i];
        }
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 7 * 13 * 5 - 13 - 4 * 1);  // DSMCE: no dense targets, no SoftMax
}

TEST(LossSparse, RawPlusCorrectionEqualsDense) {
  std::mt19937 gen(99);
  std::uniform_real_distribution<float> u(-2.5f, 2.5f);
  const ErrorFunction losses[] = {ErrorFunction::L1,
                                  ErrorFunction::L2,
                                  ErrorFunction::L2Hinge,
                                  ErrorFunction::CrossEntropy,
                                  ErrorFunction::ScaledMarginalCrossEntropy,
                                  ErrorFunction::Hinge};
  for (ErrorFunction f : losses) {
    for (Activation act : kActivations) {
      for (Targets kind : {Targets::Boolean, Targets::Analog}) {
        SCOPED_TRACE(::testing::Message()
                     << "loss " << static_cast<int>(f) << " activation " << static_cast<int>(act)
                     << " targets " << static_cast<int>(kind));
        const LossParams p = loss_params(f, act);
        const bool softmax = act == Activation::SoftMax;
        const Batch sparse = make_batch(f, kind, gen);
        Batch dense;
        dense.weights = sparse.weights;
        dense.dense = materialise(sparse, softmax);
        std::vector<float> z(sparse.rows * sparse.cols);
        for (float& v : z) v = u(gen);

        const double e_sparse = error_of(p, sparse, z), e_dense = error_of(p, dense, z);
        EXPECT_NEAR(e_sparse, e_dense, 1e-9 * (1.0 + std::fabs(e_dense)));
        const std::vector<float> d_sparse = delta_of(p, sparse, z), d_dense = delta_of(p, dense, z);
        for (size_t i = 0; i < z.size(); ++i) {
          if (softmax) {
            EXPECT_NEAR(d_sparse[i], d_dense[i], 1e-6 * (1.0 + std::fabs(d_dense[i])));
          } else {
            EXPECT_EQ(d_sparse[i], d_dense[i]) << "unit " << i;
          }
        }
      }
    }
  }
}

TEST(LossValues, HandComputed) {
  // One unit, Linear output (a = z), weight 2.
  auto error1 = [](ErrorFunction f, float a, float t) {
    LossParams p = loss_params(f, Activation::Linear);
    Batch b;
    b.rows = b.cols = 1;
    b.col_begin = 0;
    b.dense = {t};
    b.weights = {2.0f};
    return cpu::output_error(host, p, &a, 1, 1, 0, b.view());
  };
  EXPECT_NEAR(error1(ErrorFunction::L1, 0.3f, 1.0f), 1.4, 1e-6);
  EXPECT_NEAR(error1(ErrorFunction::L2, 0.3f, 1.0f), 0.49, 1e-6);
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, 1.3f, 1.0f), 0.0, 1e-12);
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, 0.3f, 1.0f), 0.49, 1e-6);
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, -0.2f, 0.0f), 0.0, 1e-12);
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, 0.4f, 0.0f), 0.16, 1e-6);
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, -0.5f, -1.0f), 0.25, 1e-6);  // d = max(0, a − t)
  EXPECT_NEAR(error1(ErrorFunction::L2Hinge, -1.5f, -1.0f), 0.0, 1e-12);
  EXPECT_NEAR(error1(ErrorFunction::Hinge, 0.3f, -1.0f), 2.6, 1e-6);
  EXPECT_NEAR(error1(ErrorFunction::Hinge, 2.0f, 1.0f), 0.0, 1e-12);
  EXPECT_NEAR(error1(ErrorFunction::CrossEntropy, 0.3f, 1.0f), -2.0 * std::log(0.3), 1e-5);
  EXPECT_NEAR(error1(ErrorFunction::CrossEntropy, 0.6f, 0.25f),
              -2.0 * (0.25 * std::log(0.6) + 0.75 * std::log(0.4)), 1e-5);
  EXPECT_NEAR(error1(ErrorFunction::CrossEntropy, 0.0f, 1.0f), -2.0 * std::log(1e-12), 1e-3);
  EXPECT_NEAR(error1(ErrorFunction::ScaledMarginalCrossEntropy, 0.3f, 1.0f),
              -2.0 * 1.5 * std::log(0.3), 1e-5);
  EXPECT_NEAR(error1(ErrorFunction::ScaledMarginalCrossEntropy, 0.5f, 0.0f),
              -2.0 * 0.7 * std::log(0.5), 1e-5);

  // SoftMax CE is multinomial: a = (1/4, 3/4), t = (0, 1) gives −log(3/4), δ = a − t.
  LossParams sm = loss_params(ErrorFunction::CrossEntropy, Activation::SoftMax);
  Batch b;
  b.rows = 1;
  b.cols = 2;
  b.col_begin = 0;
  b.dense = {0.0f, 1.0f};
  const std::vector<float> z = {0.0f, std::log(3.0f)};
  EXPECT_NEAR(error_of(sm, b, z), -std::log(0.75), 1e-6);
  const std::vector<float> d = delta_of(sm, b, z);
  EXPECT_NEAR(d[0], 0.25, 1e-6);
  EXPECT_NEAR(d[1], -0.25, 1e-6);

  // Sigmoid CE delta is the fused w·(a − t).
  LossParams sg = loss_params(ErrorFunction::CrossEntropy, Activation::Sigmoid);
  b.dense = {1.0f, 0.25f};
  b.weights = {3.0f};
  const std::vector<float> zs = {0.0f, 2.0f};
  const std::vector<float> ds = delta_of(sg, b, zs);
  EXPECT_NEAR(ds[0], 3.0 * (0.5 - 1.0), 1e-6);
  EXPECT_NEAR(ds[1], 3.0 * (1.0 / (1.0 + std::exp(-2.0)) - 0.25), 1e-6);
}

TEST(LossSmce, BeyondMarginsIsZero) {
  // Sigmoid outputs: t = 1 above τ1 = 0.85 and t = 0 below τ0 = 0.15 are "good enough".
  const LossParams p = loss_params(ErrorFunction::ScaledMarginalCrossEntropy, Activation::Sigmoid);
  Batch dense;
  dense.rows = 1;
  dense.cols = 4;
  dense.col_begin = 0;
  dense.dense = {1.0f, 0.0f, 1.0f, 0.0f};
  const std::vector<float> z = {3.0f, -3.0f, 2.5f, -2.0f};  // a ≈ 0.95, 0.05, 0.92, 0.12
  EXPECT_EQ(error_of(p, dense, z), 0.0);
  for (float d : delta_of(p, dense, z)) EXPECT_EQ(d, 0.0f);

  Batch sparse = dense;
  sparse.dense.clear();
  sparse.sparse = true;
  sparse.offsets = {0, 2};
  sparse.indices = {2, 0};
  EXPECT_EQ(error_of(p, sparse, z), 0.0);
  for (float d : delta_of(p, sparse, z)) EXPECT_EQ(d, 0.0f);

  // Inside the margins both terms are live.
  const std::vector<float> inside = {1.0f, -1.0f, 0.0f, 0.5f};
  EXPECT_GT(error_of(p, dense, inside), 0.0);
  for (float d : delta_of(p, dense, inside)) EXPECT_NE(d, 0.0f);

  // SoftMax: a stored unit with a > τ1 gives neither error nor delta.
  const LossParams ps = loss_params(ErrorFunction::ScaledMarginalCrossEntropy, Activation::SoftMax);
  Batch one;
  one.rows = 1;
  one.cols = 3;
  one.col_begin = 0;
  one.dense = {1.0f, 0.0f, 0.0f};
  const std::vector<float> zs = {5.0f, 0.0f, 0.0f};  // a0 ≈ 0.987
  EXPECT_EQ(error_of(ps, one, zs), 0.0);
  for (float d : delta_of(ps, one, zs)) EXPECT_EQ(d, 0.0f);
}

TEST(LossDeltaBoost, ScalesStoredAndOtherUnits) {
  std::mt19937 gen(8);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (Activation act : {Activation::Sigmoid, Activation::Tanh, Activation::SoftMax}) {
    for (Targets kind : {Targets::Boolean, Targets::AnalogIgnoreZero}) {
      LossParams p = loss_params(ErrorFunction::L2, act);
      const Batch b = make_batch(p.function, kind, gen);
      std::vector<float> z(b.rows * b.cols);
      for (float& v : z) v = u(gen);
      const std::vector<float> plain = delta_of(p, b, z);
      p.delta_boost_one = 3.0f;
      p.delta_boost_zero = 0.5f;
      const std::vector<float> boosted = delta_of(p, b, z);
      // Stored = nonzero materialised target, which holds for this pattern's values.
      const std::vector<float> t = materialise(b, act == Activation::SoftMax);
      for (size_t i = 0; i < z.size(); ++i) {
        EXPECT_EQ(boosted[i], plain[i] * (t[i] != 0.0f ? 3.0f : 0.5f)) << "unit " << i;
      }
      EXPECT_EQ(error_of(p, b, z), error_of(loss_params(ErrorFunction::L2, act), b, z));
    }
  }
  // Dense targets are never boosted.
  LossParams p = loss_params(ErrorFunction::L2, Activation::Sigmoid);
  const Batch dense = make_batch(p.function, Targets::Dense, gen);
  std::vector<float> z(dense.rows * dense.cols, 0.3f);
  const std::vector<float> plain = delta_of(p, dense, z);
  p.delta_boost_one = 3.0f;
  p.delta_boost_zero = 0.5f;
  EXPECT_EQ(delta_of(p, dense, z), plain);
}

TEST(LossDsmce, NeedsSparseTargetsAndNoSoftMax) {
  std::mt19937 gen(1);
  const Batch dense = make_batch(ErrorFunction::L2, Targets::Dense, gen);
  const std::vector<float> a(dense.rows * dense.cols, 0.5f);
  std::vector<float> d(a.size());
  const LossParams p =
      loss_params(ErrorFunction::DataScaledMarginalCrossEntropy, Activation::Sigmoid);
  try {
    cpu::output_error(host, p, a.data(), dense.rows, dense.cols, dense.col_begin, dense.view());
    ADD_FAILURE() << "dense targets accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("DataScaledMarginalCrossEntropy needs sparse targets"),
              std::string::npos);
  }
  EXPECT_THROW(cpu::output_delta(host, p, a.data(), dense.rows, dense.cols, dense.col_begin,
                                 dense.view(), d.data()),
               InvalidArgument);
  const Batch sparse = make_batch(ErrorFunction::L2, Targets::Analog, gen);
  const LossParams ps =
      loss_params(ErrorFunction::DataScaledMarginalCrossEntropy, Activation::SoftMax);
  EXPECT_THROW(cpu::output_error(host, ps, a.data(), sparse.rows, sparse.cols, sparse.col_begin,
                                 sparse.view()),
               InvalidArgument);
  EXPECT_THROW(cpu::output_delta(host, ps, a.data(), sparse.rows, sparse.cols, sparse.col_begin,
                                 sparse.view(), d.data()),
               InvalidArgument);
  EXPECT_NO_THROW(cpu::output_error(host, p, a.data(), sparse.rows, sparse.cols, sparse.col_begin,
                                    sparse.view()));
}

TEST(LossSparse, DuplicateIndices) {
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  auto one_row = [](std::vector<uint32_t> indices, std::vector<float> values) {
    Batch b;
    b.rows = 1;
    b.cols = 6;
    b.col_begin = 2;
    b.sparse = true;
    b.offsets = {0, static_cast<int64_t>(indices.size())};
    b.indices = std::move(indices);
    b.values = std::move(values);
    return b;
  };
  auto dense_row = [](std::vector<float> t) {
    Batch b;
    b.rows = 1;
    b.cols = 6;
    b.col_begin = 2;
    b.dense = std::move(t);
    return b;
  };
  std::vector<float> z(6);
  for (float& v : z) v = u(gen);

  // Boolean duplicates collapse to one t = 1 (order does not matter either).
  const LossParams l2 = loss_params(ErrorFunction::L2, Activation::Sigmoid);
  const Batch dup = one_row({3, 3, 5}, {}), plain = one_row({5, 3}, {});
  EXPECT_EQ(error_of(l2, dup, z), error_of(l2, plain, z));
  EXPECT_EQ(delta_of(l2, dup, z), delta_of(l2, plain, z));
  const Batch as_dense = dense_row({0, 1, 0, 1, 0, 0});
  EXPECT_NEAR(error_of(l2, dup, z), error_of(l2, as_dense, z), 1e-12);

  // Analog duplicates sum.
  const Batch analog = one_row({3, 5, 3}, {0.2f, 0.4f, 0.3f});
  const Batch analog_dense = dense_row({0, 0.5f, 0, 0.4f, 0, 0});
  EXPECT_NEAR(error_of(l2, analog, z), error_of(l2, analog_dense, z), 1e-12);
  EXPECT_EQ(delta_of(l2, analog, z), delta_of(l2, analog_dense, z));

  // SoftMax with Boolean targets: t = 1/(distinct indices of the row), counting index 0 that
  // lies outside this slice: 1/3 at local columns 1 and 3.
  const LossParams ce = loss_params(ErrorFunction::CrossEntropy, Activation::SoftMax);
  const Batch sm = one_row({3, 0, 3, 5}, {});
  const Batch sm_dense = dense_row({0, 1.0f / 3, 0, 1.0f / 3, 0, 0});
  EXPECT_NEAR(error_of(ce, sm, z), error_of(ce, sm_dense, z), 1e-12);
  const std::vector<float> ds = delta_of(ce, sm, z), dd = delta_of(ce, sm_dense, z);
  for (size_t i = 0; i < ds.size(); ++i) EXPECT_NEAR(ds[i], dd[i], 1e-7);
}

TEST(LossSparse, LargeBatchMatchesRowByRow) {
  // Big enough for the parallel path; the total must equal the row-by-row sums added in row
  // order, bit for bit, whatever the thread count.
  std::mt19937 gen(6);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::uniform_int_distribution<uint32_t> pick(0, 39);
  const int64_t rows = 1500, cols = 32, col_begin = 4;
  std::vector<float> a(rows * cols), w(rows), values;
  for (float& v : a) v = u(gen);
  for (float& v : w) v = 1.0f + 0.5f * u(gen);
  std::vector<int64_t> offsets = {0};
  std::vector<uint32_t> indices;
  for (int64_t r = 0; r < rows; ++r) {
    for (int k = 0; k < r % 7; ++k) {
      indices.push_back(pick(gen));
      values.push_back(0.5f + 0.1f * u(gen));
    }
    offsets.push_back(static_cast<int64_t>(indices.size()));
  }
  for (Activation act : {Activation::Tanh, Activation::SoftMax}) {
    const LossParams p = loss_params(ErrorFunction::L2, act);
    cpu::activation_forward(host, p.activation, a.data(), rows, cols);
    TargetView t;
    t.sparse = true;
    t.csr = CsrView{offsets.data(), indices.data(), values.data(), rows};
    t.example_weights = w.data();
    const double total = cpu::output_error(host, p, a.data(), rows, cols, col_begin, t);
    std::vector<float> delta(rows * cols);
    cpu::output_delta(host, p, a.data(), rows, cols, col_begin, t, delta.data());
    double by_rows = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      TargetView tr = t;
      tr.csr = CsrView{offsets.data() + r, indices.data(), values.data(), 1};
      tr.example_weights = w.data() + r;
      by_rows += cpu::output_error(host, p, a.data() + r * cols, 1, cols, col_begin, tr);
      std::vector<float> d(cols);
      cpu::output_delta(host, p, a.data() + r * cols, 1, cols, col_begin, tr, d.data());
      for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(delta[r * cols + j], d[j]);
    }
    EXPECT_EQ(total, by_rows);
  }
}

TEST(LossArguments, RejectsBadInputs) {
  std::mt19937 gen(2);
  const LossParams p = loss_params(ErrorFunction::L2, Activation::Sigmoid);
  Batch b = make_batch(p.function, Targets::Boolean, gen);
  const std::vector<float> a(b.rows * b.cols, 0.5f);
  EXPECT_THROW(cpu::output_error(host, p, a.data(), -1, b.cols, 0, b.view()), InvalidArgument);
  TargetView short_csr = b.view();
  short_csr.csr.rows = b.rows - 1;
  EXPECT_THROW(cpu::output_error(host, p, a.data(), b.rows, b.cols, b.col_begin, short_csr),
               InvalidArgument);
  b.offsets[2] = b.offsets[3] + 1;  // decreasing offsets
  EXPECT_THROW(cpu::output_error(host, p, a.data(), b.rows, b.cols, b.col_begin, b.view()),
               InvalidArgument);
  Batch dense;
  EXPECT_THROW(cpu::output_error(host, p, a.data(), 1, 1, 0, dense.view()), InvalidArgument);
  EXPECT_EQ(cpu::output_error(host, p, nullptr, 0, 6, 0, dense.view()), 0.0);
}

}  // namespace
}  // namespace dsstne
