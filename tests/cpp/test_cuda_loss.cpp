// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of output_error / output_delta (cuda/src/loss_error.cu, loss_delta.cu against
// cpp/src/cpu/loss.cpp) on random data: every (error function × activation) pair the CPU accepts,
// dense and sparse targets (Boolean, analog, SparseIgnoreZero), example weights, sliced columns
// with stored indices outside the slice, empty rows, unsorted rows with duplicate indices, rows
// longer than the GPU's shared tile, DeltaBoost, and the DSMCE and offset rejections.
//
// Errors: the GPU sums each row in a different (fixed) order, in double like the CPU, so they
// agree to rounding (relative 1e-5 asked). Deltas: bitwise equal where both evaluate the same
// float operations (exact_delta below: no libm call, nothing nvcc can fuse into an FMA);
// otherwise relative 1e-5 with a tiny absolute floor at the scale of the deltas, plus, for Tanh,
// the rounding of a² that the GPU's fused 1 − a² skips (see slope_slack).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
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

constexpr ErrorFunction kLosses[] = {
    ErrorFunction::L1,           ErrorFunction::L2,
    ErrorFunction::CrossEntropy, ErrorFunction::ScaledMarginalCrossEntropy,
    ErrorFunction::DataScaledMarginalCrossEntropy, ErrorFunction::Hinge,
    ErrorFunction::L2Hinge};
constexpr Activation kActivations[] = {
    Activation::Sigmoid,          Activation::Tanh,
    Activation::RectifiedLinear,  Activation::Linear,
    Activation::ParametricRectifiedLinear, Activation::SoftPlus,
    Activation::SoftSign,         Activation::SoftMax,
    Activation::RELUMax,          Activation::LinearMax,
    Activation::ExponentialLinear, Activation::LeakyRectifiedLinear,
    Activation::ScaledExponentialLinear};

enum class Kind { Dense, Boolean, Analog, BooleanIgnoreZero, AnalogIgnoreZero };
constexpr Kind kKinds[] = {Kind::Dense, Kind::Boolean, Kind::Analog, Kind::BooleanIgnoreZero,
                           Kind::AnalogIgnoreZero};

bool ce_family(ErrorFunction f) {
  return f == ErrorFunction::CrossEntropy || f == ErrorFunction::ScaledMarginalCrossEntropy ||
         f == ErrorFunction::DataScaledMarginalCrossEntropy;
}

/// What the CPU accepts: DSMCE needs sparse targets and no SoftMax.
bool supported(ErrorFunction f, Activation act, Kind kind) {
  if (f != ErrorFunction::DataScaledMarginalCrossEntropy) return true;
  return kind != Kind::Dense && act != Activation::SoftMax;
}

/// Same float operations in the same order on both backends (so equality is exact).
bool exact_delta(ErrorFunction f, Activation act) {
  const bool piecewise = act == Activation::Linear || act == Activation::RectifiedLinear ||
                         act == Activation::LeakyRectifiedLinear ||
                         act == Activation::ParametricRectifiedLinear ||
                         act == Activation::RELUMax || act == Activation::LinearMax;
  const bool simple = f == ErrorFunction::L1 || f == ErrorFunction::L2 ||
                      f == ErrorFunction::L2Hinge || f == ErrorFunction::Hinge;
  const bool fused_sigmoid = act == Activation::Sigmoid &&
                             (f == ErrorFunction::CrossEntropy ||
                              f == ErrorFunction::DataScaledMarginalCrossEntropy);
  return (piecewise && simple) || fused_sigmoid;
}

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

/// One call's inputs on the host. Local column c is global unit col_begin + c of a layer of
/// `units` units; sparse indices are drawn from the whole layer.
struct Case {
  int64_t rows = 0, cols = 0, col_begin = 0, units = 0;
  bool sparse = false, ignore_zero = false;
  std::vector<float> a, dense, values, weights;
  std::vector<int64_t> offsets;
  std::vector<uint32_t> indices;

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

/// The same inputs in device memory.
struct DeviceCase {
  DeviceBuffer<float> a, dense, values, weights;
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<uint32_t> indices;
  TargetView t;

  DeviceCase(const Context& ctx, const Case& c)
      : a(on_device(ctx, c.a)), dense(on_device(ctx, c.dense)), values(on_device(ctx, c.values)),
        weights(on_device(ctx, c.weights)), offsets(on_device(ctx, c.offsets)),
        indices(on_device(ctx, c.indices)) {
    t = c.view();
    t.dense = dense.empty() ? nullptr : dense.data();
    t.csr.offsets = offsets.empty() ? nullptr : offsets.data();
    t.csr.indices = indices.empty() ? nullptr : indices.data();
    t.csr.values = values.empty() ? nullptr : values.data();
    t.example_weights = weights.empty() ? nullptr : weights.data();
  }
};

struct Options {
  int64_t rows, cols, col_begin, units;
  bool weighted = true;
  /// Entries of extra-long rows (the first rows of the batch): n > 0 strictly ascending,
  /// n < 0 unsorted with duplicates.
  std::vector<int64_t> long_rows;
};

/// Sparse rows: empty ones, short strictly ascending ones, and unsorted ones with duplicates,
/// after the long rows of the options.
void fill_sparse(Case& c, const Options& o, bool analog, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> short_len(1, 40);
  c.offsets = {0};
  for (int64_t r = 0; r < c.rows; ++r) {
    const bool is_long = r < static_cast<int64_t>(o.long_rows.size());
    const float style = u(gen);
    std::vector<uint32_t> row;
    if (is_long || style >= 0.1f) {
      const int64_t n = is_long ? std::abs(o.long_rows[r]) : short_len(gen);
      const bool ascending = is_long ? o.long_rows[r] > 0 : style < 0.55f;
      if (ascending) {
        std::vector<uint32_t> all(static_cast<size_t>(c.units));
        std::iota(all.begin(), all.end(), 0u);
        std::shuffle(all.begin(), all.end(), gen);
        all.resize(static_cast<size_t>(std::min<int64_t>(n, c.units)));
        std::sort(all.begin(), all.end());
        row = all;
      } else {
        // A small pool of units, so duplicates are common.
        const int64_t pool = std::max<int64_t>(1, std::min<int64_t>(c.units, n / 2 + 1));
        const int64_t start = std::uniform_int_distribution<int64_t>(0, c.units - pool)(gen);
        std::uniform_int_distribution<int64_t> pick(start, start + pool - 1);
        for (int64_t k = 0; k < n; ++k) row.push_back(static_cast<uint32_t>(pick(gen)));
      }
    }
    for (uint32_t index : row) {
      c.indices.push_back(index);
      if (analog) c.values.push_back(0.1f + 0.9f * u(gen));
    }
    c.offsets.push_back(static_cast<int64_t>(c.indices.size()));
  }
}

Case make_case(const LossParams& p, Kind kind, const Options& o, uint32_t seed) {
  std::mt19937 gen(seed);
  Case c;
  c.rows = o.rows;
  c.cols = o.cols;
  c.col_begin = o.col_begin;
  c.units = o.units;
  const bool softmax = p.activation.kind == Activation::SoftMax;
  std::uniform_real_distribution<float> z(softmax ? -3.0f : -4.0f, softmax ? 3.0f : 4.0f);
  c.a.resize(static_cast<size_t>(c.rows * c.cols));
  for (float& v : c.a) v = z(gen);
  cpu::activation_forward(host, p.activation, c.a.data(), c.rows, c.cols);
  if (o.weighted) {
    std::uniform_real_distribution<float> w(0.5f, 2.0f);
    for (int64_t r = 0; r < c.rows; ++r) c.weights.push_back(w(gen));
  }
  if (kind == Kind::Dense) {
    const std::vector<float> choices = ce_family(p.function)
                                           ? std::vector<float>{0.0f, 0.25f, 0.6f, 1.0f}
                                           : std::vector<float>{-1.0f, 0.0f, 0.25f, 0.6f, 1.0f};
    std::uniform_int_distribution<size_t> pick(0, choices.size() - 1);
    c.dense.resize(c.a.size());
    for (float& t : c.dense) t = choices[pick(gen)];
    return c;
  }
  c.sparse = true;
  c.ignore_zero = kind == Kind::BooleanIgnoreZero || kind == Kind::AnalogIgnoreZero;
  fill_sparse(c, o, kind == Kind::Analog || kind == Kind::AnalogIgnoreZero, gen);
  return c;
}

/// Extra relative slack of a delta for the FMA that nvcc forms in Tanh's slope 1 − a²: the CPU
/// rounds a² first, an error of up to half an ulp of a², relative ε/2·a²/(1 − a²) of the slope.
double slope_slack(Activation act, float a) {
  if (act != Activation::Tanh) return 0.0;
  const double a2 = double(a) * a;
  return 0.6e-7 * a2 / std::max(1e-30, 1.0 - a2);
}

/// |gpu − cpu| ≤ atol + (rtol + slope slack)·|cpu| per unit; prints the first mismatches.
void expect_delta_close(const LossParams& p, const Case& c, const std::vector<float>& ref,
                        const std::vector<float>& got, double rtol, double atol,
                        const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    if (std::isnan(r) && std::isnan(g)) continue;
    const double tol = atol + (rtol + slope_slack(p.activation.kind, c.a[i])) * std::fabs(r);
    if (std::fabs(r - g) <= tol) continue;
    if (bad++ < 5) ADD_FAILURE() << what << "[" << i << "]: cpu " << r << " cuda " << g;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << ref.size() << " differ";
}

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::isfinite(x) ? std::max(m, std::fabs(x)) : m;
  return m;
}

/// CPU and CUDA error and delta of one case, twice on the GPU for determinism.
void compare(const Context& ctx, const LossParams& p, const Case& c, const std::string& what) {
  SCOPED_TRACE(what);
  const double e_cpu =
      cpu::output_error(host, p, c.a.data(), c.rows, c.cols, c.col_begin, c.view());
  std::vector<float> d_cpu(c.a.size(), std::numeric_limits<float>::quiet_NaN());
  cpu::output_delta(host, p, c.a.data(), c.rows, c.cols, c.col_begin, c.view(), d_cpu.data());

  const DeviceCase dc(ctx, c);
  // NaN everywhere before each run, so units the kernels leave unwritten show.
  const std::vector<float> nan(c.a.size(), std::numeric_limits<float>::quiet_NaN());
  DeviceBuffer<float> delta = on_device(ctx, nan);
  const double e_gpu = cuda::output_error(ctx, p, dc.a.data(), c.rows, c.cols, c.col_begin, dc.t);
  cuda::output_delta(ctx, p, dc.a.data(), c.rows, c.cols, c.col_begin, dc.t, delta.data());
  const std::vector<float> d_gpu = delta.download();

  EXPECT_NEAR(e_gpu, e_cpu, 1e-5 * std::fabs(e_cpu) + 1e-6) << what << ": error";
  if (exact_delta(p.function, p.activation.kind)) {
    expect_close(d_cpu, d_gpu, 0.0, 0.0, what + ": delta (exact)");
  } else {
    expect_delta_close(p, c, d_cpu, d_gpu, 1e-5, 1e-6 * std::max(1.0f, max_abs(d_cpu)),
                       what + ": delta");
  }

  // output_error_sum adds exactly output_error's value to what the slot holds, on each device.
  const double start = 0.375;
  DeviceBuffer<double> slot = on_device(ctx, std::vector<double>{start});
  cuda::output_error_sum(ctx, p, dc.a.data(), c.rows, c.cols, c.col_begin, dc.t, slot.data());
  EXPECT_EQ(slot.download()[0], start + e_gpu) << what << ": output_error_sum on the GPU";
  double host_slot = start;
  cpu::output_error_sum(host, p, c.a.data(), c.rows, c.cols, c.col_begin, c.view(), &host_slot);
  EXPECT_EQ(host_slot, start + e_cpu) << what << ": output_error_sum on the CPU";

  if (p.activation.kind != Activation::SoftMax) {
    // output_pass gives the error and delta of activation_forward, output_error_sum and
    // output_delta in turn, bit for bit, and leaves z as it was (here taking the case's
    // activations as the pre-activations z). With a bias every other seed: output_pass adds it
    // as broadcast_rows does.
    DeviceBuffer<float> z_fused = on_device(ctx, c.a), z_apart = on_device(ctx, c.a);
    DeviceBuffer<float> d_fused = on_device(ctx, nan), d_apart = on_device(ctx, nan);
    DeviceBuffer<double> e_fused = on_device(ctx, std::vector<double>{start}),
                         e_apart = on_device(ctx, std::vector<double>{start});
    std::vector<float> bias(static_cast<size_t>(c.cols));
    for (int64_t j = 0; j < c.cols; ++j) bias[size_t(j)] = 0.125f * float(j % 7) - 0.375f;
    const DeviceBuffer<float> d_bias = on_device(ctx, bias);
    const float* pass_bias = c.cols % 2 == 0 ? d_bias.data() : nullptr;
    cuda::output_pass(ctx, p, pass_bias, z_fused.data(), c.rows, c.cols, c.col_begin, dc.t,
                      e_fused.data(), d_fused.data());
    if (pass_bias != nullptr)
      cuda::broadcast_rows(ctx, pass_bias, c.rows, c.cols, true, z_apart.data());
    cuda::activation_forward(ctx, p.activation, z_apart.data(), c.rows, c.cols);
    cuda::output_error_sum(ctx, p, z_apart.data(), c.rows, c.cols, c.col_begin, dc.t,
                           e_apart.data());
    cuda::output_delta(ctx, p, z_apart.data(), c.rows, c.cols, c.col_begin, dc.t,
                       d_apart.data());
    testing::expect_bitwise(c.a, z_fused.download(), what + ": output_pass left z");
    testing::expect_bitwise(d_apart.download(), d_fused.download(), what + ": output_pass delta");
    testing::expect_bitwise(e_apart.download(), e_fused.download(), what + ": output_pass error");
  }

  delta.upload(nan);
  const double e_again = cuda::output_error(ctx, p, dc.a.data(), c.rows, c.cols, c.col_begin, dc.t);
  cuda::output_delta(ctx, p, dc.a.data(), c.rows, c.cols, c.col_begin, dc.t, delta.data());
  EXPECT_EQ(e_again, e_gpu) << what << ": two CUDA error runs differ";
  EXPECT_TRUE(delta.download() == d_gpu) << what << ": two CUDA delta runs differ";
}

std::string describe(ErrorFunction f, Activation act, Kind kind, const Options& o,
                     uint32_t seed) {
  return "loss " + std::to_string(int(f)) + " activation " + std::to_string(int(act)) +
         " targets " + std::to_string(int(kind)) + " " + std::to_string(o.rows) + "x" +
         std::to_string(o.cols) + " col_begin " + std::to_string(o.col_begin) + " of " +
         std::to_string(o.units) + (o.weighted ? " weighted" : "") + " seed " +
         std::to_string(seed);
}

TEST(CudaParityLoss, EveryLossActivationAndTargetKind) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint32_t seed = 1000;
  int cases = 0;
  for (ErrorFunction f : kLosses) {
    for (Activation act : kActivations) {
      for (Kind kind : kKinds) {
        if (!supported(f, act, kind)) continue;
        // A slice [50, 383) of 450 units: stored indices fall on both sides of it.
        const Options o{19, 333, 50, 450, (++seed) % 2 == 0, {}};
        const LossParams p = loss_params(f, act);
        compare(ctx, p, make_case(p, kind, o, seed), describe(f, act, kind, o, seed));
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 7 * 13 * 5 - 13 - 4);
}

TEST(CudaParityLoss, ShapesAndLongRows) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::vector<Options> shapes = {
      {1, 1, 0, 1, true, {}},                  // one unit; every stored index duplicates it
      {1, 300, 0, 300, false, {-2600}},  // one unsorted row longer than two shared tiles
      {7, 4097, 1000, 6000, true, {3000, -2500}},  // one column past a raw-error chunk
      {300, 5000, 0, 5000, true, {4000, -3100, 1500, -1025}},
      {2, 300000, 200000, 600000, true, {5000, -5000}},  // wide rows: many chunks per row
  };
  const std::pair<ErrorFunction, Activation> pairs[] = {
      {ErrorFunction::ScaledMarginalCrossEntropy, Activation::Sigmoid},
      {ErrorFunction::CrossEntropy, Activation::SoftMax},
      {ErrorFunction::ScaledMarginalCrossEntropy, Activation::SoftMax},
      {ErrorFunction::DataScaledMarginalCrossEntropy, Activation::Sigmoid},
      {ErrorFunction::L2, Activation::Tanh},
      {ErrorFunction::L1, Activation::RectifiedLinear}};
  uint32_t seed = 5000;
  for (const Options& o : shapes) {
    for (const auto& [f, act] : pairs) {
      for (Kind kind : kKinds) {
        if (!supported(f, act, kind)) continue;
        const LossParams p = loss_params(f, act);
        ++seed;
        compare(ctx, p, make_case(p, kind, o, seed), describe(f, act, kind, o, seed));
      }
    }
  }
}

TEST(CudaParityLoss, DeltaBoost) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint32_t seed = 9000;
  for (ErrorFunction f : {ErrorFunction::L2, ErrorFunction::ScaledMarginalCrossEntropy}) {
    for (Activation act : {Activation::Sigmoid, Activation::Tanh, Activation::Linear,
                           Activation::SoftMax}) {
      for (Kind kind : kKinds) {
        LossParams p = loss_params(f, act);
        p.delta_boost_one = 3.0f;
        p.delta_boost_zero = 0.25f;
        const Options o{23, 700, 100, 1000, true, {-1500}};
        ++seed;
        compare(ctx, p, make_case(p, kind, o, seed), "boost " + describe(f, act, kind, o, seed));
      }
    }
  }
}

TEST(CudaParityLoss, RejectsWhatTheCpuRejects) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const Options o{4, 10, 0, 10, false, {}};
  const uint32_t seed = 31;
  // DSMCE with dense targets, and with a SoftMax output.
  for (const auto& [act, kind] : {std::pair{Activation::Sigmoid, Kind::Dense},
                                  std::pair{Activation::SoftMax, Kind::Boolean}}) {
    const LossParams p = loss_params(ErrorFunction::DataScaledMarginalCrossEntropy, act);
    const Case c = make_case(p, kind, o, seed);
    const DeviceCase dc(ctx, c);
    DeviceBuffer<float> delta(ctx, c.a.size(), "delta");
    std::vector<float> d(c.a.size());
    EXPECT_THROW(cpu::output_error(host, p, c.a.data(), c.rows, c.cols, 0, c.view()),
                 InvalidArgument);
    EXPECT_THROW(cuda::output_error(ctx, p, dc.a.data(), c.rows, c.cols, 0, dc.t), InvalidArgument);
    EXPECT_THROW(cpu::output_delta(host, p, c.a.data(), c.rows, c.cols, 0, c.view(), d.data()),
                 InvalidArgument);
    EXPECT_THROW(cuda::output_delta(ctx, p, dc.a.data(), c.rows, c.cols, 0, dc.t, delta.data()),
                 InvalidArgument);
  }
  // Decreasing sparse offsets: output_error raises the CPU's error, message included.
  const LossParams p = loss_params(ErrorFunction::L2, Activation::Sigmoid);
  Case c = make_case(p, Kind::Analog, o, seed);
  c.offsets = {0, 3, 5, 4, 6};
  c.indices = {1, 2, 3, 4, 5, 6};
  c.values.assign(6, 0.5f);
  const DeviceCase dc(ctx, c);
  std::string cpu_message, cuda_message;
  try {
    cpu::output_error(host, p, c.a.data(), c.rows, c.cols, 0, c.view());
  } catch (const InvalidArgument& e) {
    cpu_message = e.what();
  }
  try {
    cuda::output_error(ctx, p, dc.a.data(), c.rows, c.cols, 0, dc.t);
  } catch (const InvalidArgument& e) {
    cuda_message = e.what();
  }
  EXPECT_FALSE(cpu_message.empty());
  EXPECT_EQ(cuda_message, cpu_message);
  // Fewer sparse rows than the batch.
  TargetView short_t = dc.t;
  short_t.csr.rows = 2;
  EXPECT_THROW(cuda::output_error(ctx, p, dc.a.data(), c.rows, c.cols, 0, short_t),
               InvalidArgument);
}

TEST(CudaParityLoss, EmptyShapes) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const LossParams p = loss_params(ErrorFunction::CrossEntropy, Activation::SoftMax);
  TargetView t;
  t.sparse = true;
  EXPECT_EQ(cuda::output_error(ctx, p, nullptr, 0, 10, 0, t), 0.0);
  EXPECT_EQ(cuda::output_error(ctx, p, nullptr, 5, 0, 0, t), 0.0);
  EXPECT_NO_THROW(cuda::output_delta(ctx, p, nullptr, 0, 10, 0, t, nullptr));
  EXPECT_THROW(cuda::output_error(ctx, p, nullptr, -1, 10, 0, t), InvalidArgument);
}

}  // namespace
}  // namespace dsstne
