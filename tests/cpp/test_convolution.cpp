// SPDX-License-Identifier: Apache-2.0
// The CPU convolution kernels (cpu::conv_*, add_channel_bias, channel_mean): the three passes
// against the definition written as plain loops in double, in 1-D, 2-D and 3-D with strides,
// padding, kernels wider than the input, outputs smaller than the largest the rule allows,
// several channels, 1 and 3 rows, and one map large enough to be unfolded in several tiles; the
// adjoint identity ⟨x ⊛ w, δ⟩ = ⟨x, dx⟩ = ⟨w, dw⟩ tying the references together; accumulation,
// beta and scale; the bias helpers' exact values; the geometry checks; thread-count independence.
//
// Tolerances: every output is a float sum of K products (K up to 16384 here), so it is compared
// with the double loop within 1e-5 of Σ|terms| (the float rounding of a sum grows with K·2⁻²⁴
// at worst and √K·2⁻²⁴ typically) plus 1e-30 for empty sums. add_channel_bias is one float
// addition (exact comparison); channel_mean is exact where the double sums are exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "conv_geometry_util.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"
#include "refusal.hpp"

namespace dsstne {
namespace {

using testing::host;
using testing::refusal;
using testing::uniform_values;

using testing::conv;
using testing::volume;
std::size_t x_size(const ConvGeometry& g, int64_t rows) {
  return std::size_t(rows * g.in_channels * volume(g.in));
}
std::size_t y_size(const ConvGeometry& g, int64_t rows) {
  return std::size_t(rows * g.out_channels * volume(g.out));
}
std::size_t w_size(const ConvGeometry& g) {
  return std::size_t(g.out_channels * g.in_channels * volume(g.kernel));
}

/// Calls term(x index, w index, y index) for every product x·w of the definition.
void for_each_term(const ConvGeometry& g, int64_t rows,
                   const std::function<void(std::size_t, std::size_t, std::size_t)>& term) {
  const int64_t iv = volume(g.in), ov = volume(g.out), kv = volume(g.kernel);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t co = 0; co < g.out_channels; ++co)
      for (int64_t oz = 0; oz < g.out[2]; ++oz)
        for (int64_t oy = 0; oy < g.out[1]; ++oy)
          for (int64_t ox = 0; ox < g.out[0]; ++ox)
            for (int64_t ci = 0; ci < g.in_channels; ++ci)
              for (int64_t kz = 0; kz < g.kernel[2]; ++kz)
                for (int64_t ky = 0; ky < g.kernel[1]; ++ky)
                  for (int64_t kx = 0; kx < g.kernel[0]; ++kx) {
                    const int64_t ix = ox * g.stride[0] - g.pad[0] + kx;
                    const int64_t iy = oy * g.stride[1] - g.pad[1] + ky;
                    const int64_t iz = oz * g.stride[2] - g.pad[2] + kz;
                    if (ix < 0 || iy < 0 || iz < 0 || ix >= g.in[0] || iy >= g.in[1] ||
                        iz >= g.in[2])
                      continue;
                    term(std::size_t((r * g.in_channels + ci) * iv + (iz * g.in[1] + iy) * g.in[0] + ix),
                         std::size_t((co * g.in_channels + ci) * kv + (kz * g.kernel[1] + ky) * g.kernel[0] + kx),
                         std::size_t((r * g.out_channels + co) * ov + (oz * g.out[1] + oy) * g.out[0] + ox));
                  }
}

/// A result of the definition in double with Σ|terms| of each element (its error scale).
struct Reference {
  std::vector<double> value, magnitude;
};

enum class Pass { Forward, Data, Filter };

/// y = x ⊛ w, dx = the adjoint applied to δ, or dw = Σ δ·x, straight from the definition.
Reference reference(Pass pass, const ConvGeometry& g, int64_t rows, const std::vector<float>& x,
                    const std::vector<float>& w, const std::vector<float>& delta) {
  const std::size_t n = pass == Pass::Forward ? y_size(g, rows)
                        : pass == Pass::Data  ? x_size(g, rows)
                                              : w_size(g);
  Reference ref{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for_each_term(g, rows, [&](std::size_t xi, std::size_t wi, std::size_t yi) {
    double t;
    std::size_t at;
    if (pass == Pass::Forward) {
      t = double(x[xi]) * w[wi], at = yi;
    } else if (pass == Pass::Data) {
      t = double(w[wi]) * delta[yi], at = xi;
    } else {
      t = double(delta[yi]) * x[xi], at = wi;
    }
    ref.value[at] += t;
    ref.magnitude[at] += std::fabs(t);
  });
  return ref;
}

/// got[i] ≈ base[i]·beta + scale·ref[i], within 1e-5 of the terms' magnitude (see the top).
void expect_matches(const Reference& ref, const std::vector<float>& got, const char* what,
                    const std::vector<float>* base = nullptr, double beta = 0.0,
                    double scale = 1.0) {
  ASSERT_EQ(ref.value.size(), got.size()) << what;
  int shown = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double old = base != nullptr ? beta * (*base)[i] : 0.0;
    const double want = old + scale * ref.value[i];
    const double tol = 1e-5 * (std::fabs(scale) * ref.magnitude[i] + std::fabs(old)) + 1e-30;
    if (!(std::fabs(got[i] - want) <= tol) && shown++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want;
  }
}

struct Case {
  const char* name;
  ConvGeometry g;
};

std::vector<Case> cases() {
  ConvGeometry even_same = conv(2, 3, {6}, {4}, {1}, {2});
  even_same.out[0] = 6;  // the spec's size-keeping rule: one position fewer than the most
  ConvGeometry lone = conv(2, 2, {1}, {2}, {1}, {1});
  lone.out[0] = 1;  // in 1, kernel 2, pad 1: the only output reads the padding and x[0]
  ConvGeometry short_z = conv(2, 2, {4, 3, 7}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1});
  short_z.out[2] = 2;  // fewer than the 4 the rule allows
  return {
      {"1-D same", conv(2, 3, {7}, {3}, {1}, {1})},
      {"1-D stride 2", conv(1, 2, {9}, {3}, {2}, {0})},
      {"1-D stride beyond the kernel", conv(2, 1, {10}, {2}, {3}, {0})},
      {"1-D even kernel, same size", even_same},
      {"1-D kernel wider than the input", conv(3, 2, {2}, {5}, {2}, {2})},
      {"1-D one input, even kernel", lone},
      {"2-D", conv(2, 3, {5, 6}, {3, 2}, {2, 1}, {1, 0})},
      {"2-D overlapping", conv(3, 4, {6, 5}, {3, 3}, {1, 2}, {1, 1})},
      {"3-D", conv(2, 2, {4, 3, 5}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1})},
      {"3-D shortened output", short_z},
  };
}

/// Runs the three passes on `c` for `rows` examples and checks them against the references.
void check_case(const ConvGeometry& g, int64_t rows, uint64_t seed) {
  const auto x = uniform_values(x_size(g, rows), seed);
  const auto w = uniform_values(w_size(g), seed + 1);
  const auto delta = uniform_values(y_size(g, rows), seed + 2);
  const float nan = std::numeric_limits<float>::quiet_NaN();

  std::vector<float> y(y_size(g, rows), nan);  // overwritten, NaN garbage included
  cpu::conv_forward(host, g, x.data(), w.data(), rows, false, y.data());
  const Reference fwd = reference(Pass::Forward, g, rows, x, w, delta);
  expect_matches(fwd, y, "forward");
  const auto y0 = uniform_values(y.size(), seed + 3);
  std::vector<float> acc = y0;
  cpu::conv_forward(host, g, x.data(), w.data(), rows, true, acc.data());
  expect_matches(fwd, acc, "accumulated forward", &y0, 1.0);

  std::vector<float> dx(x.size(), nan);
  cpu::conv_backward_data(host, g, w.data(), delta.data(), rows, false, dx.data());
  const Reference data = reference(Pass::Data, g, rows, x, w, delta);
  expect_matches(data, dx, "backward data");
  const auto dx0 = uniform_values(dx.size(), seed + 4);
  acc = dx0;
  cpu::conv_backward_data(host, g, w.data(), delta.data(), rows, true, acc.data());
  expect_matches(data, acc, "accumulated backward data", &dx0, 1.0);

  std::vector<float> dw(w.size(), nan);
  cpu::conv_backward_filter(host, g, x.data(), delta.data(), rows, 1.0f, 0.0f, dw.data());
  const Reference filter = reference(Pass::Filter, g, rows, x, w, delta);
  expect_matches(filter, dw, "backward filter");
  const auto dw0 = uniform_values(dw.size(), seed + 5);
  acc = dw0;
  cpu::conv_backward_filter(host, g, x.data(), delta.data(), rows, -0.25f, 0.5f, acc.data());
  expect_matches(filter, acc, "backward filter, scale −0.25, beta 0.5", &dw0, 0.5, -0.25);

  // The adjoint identity in double: ⟨y, δ⟩ = ⟨x, dx⟩ = ⟨w, dw⟩ (each the sum of x·w·δ).
  double yd = 0, xd = 0, wd = 0, scale = 0;
  for (std::size_t i = 0; i < y.size(); ++i) yd += fwd.value[i] * delta[i];
  for (std::size_t i = 0; i < x.size(); ++i) xd += data.value[i] * x[i];
  for (std::size_t i = 0; i < w.size(); ++i) wd += filter.value[i] * w[i];
  for (std::size_t i = 0; i < w.size(); ++i) scale += filter.magnitude[i];
  EXPECT_NEAR(xd, yd, 1e-12 * scale + 1e-30);
  EXPECT_NEAR(wd, yd, 1e-12 * scale + 1e-30);
}

TEST(Convolution, PassesMatchTheDefinition) {
  uint64_t seed = 1;
  for (const Case& c : cases()) {
    for (int64_t rows : {1, 3}) {
      SCOPED_TRACE(std::string(c.name) + ", rows " + std::to_string(rows));
      check_case(c.g, rows, seed += 10);
    }
  }
}

TEST(Convolution, LargeMapsAreUnfoldedInTiles) {
  // 16 channels × 5 × 5 = 400 window rows × 16384 positions exceed one tile (2²² floats).
  SCOPED_TRACE("2-D 128 × 128, two tiles");
  check_case(conv(16, 2, {128, 128}, {5, 5}, {1, 1}, {2, 2}), 1, 500);
}

TEST(Convolution, EmptyBatches) {
  const ConvGeometry g = conv(2, 3, {5}, {3}, {1}, {1});
  cpu::conv_forward(host, g, nullptr, nullptr, 0, false, nullptr);
  cpu::conv_backward_data(host, g, nullptr, nullptr, 0, true, nullptr);
  // No examples: dw ← beta·dw, and beta 0 overwrites (NaN included), as gemm with k = 0.
  std::vector<float> dw(w_size(g), std::numeric_limits<float>::quiet_NaN());
  cpu::conv_backward_filter(host, g, nullptr, nullptr, 0, 1.0f, 0.0f, dw.data());
  for (float v : dw) EXPECT_EQ(v, 0.0f);
  std::fill(dw.begin(), dw.end(), 3.0f);
  cpu::conv_backward_filter(host, g, nullptr, nullptr, 0, 1.0f, 0.5f, dw.data());
  for (float v : dw) EXPECT_EQ(v, 1.5f);
  cpu::add_channel_bias(host, nullptr, 0, 3, 4, nullptr);
  std::vector<float> mean(3, 7.0f);
  cpu::channel_mean(host, nullptr, 0, 3, 4, mean.data());
  EXPECT_EQ(mean, std::vector<float>(3, 0.0f));
}

TEST(Convolution, ChannelBiasAndMean) {
  const int64_t rows = 3, channels = 4, spatial = 37;
  const auto y0 = uniform_values(std::size_t(rows * channels * spatial), 900);
  const std::vector<float> b = {0.5f, -1.25f, 3.0f, 1e-3f};
  std::vector<float> y = y0;
  cpu::add_channel_bias(host, b.data(), rows, channels, spatial, y.data());
  for (std::size_t i = 0; i < y.size(); ++i)
    EXPECT_EQ(y[i], y0[i] + b[(i / spatial) % channels]) << i;

  // Multiples of 2⁻¹⁰ below 8: every double sum is exact, so the mean is the exact mean rounded
  // to float once, whatever the order.
  std::vector<float> x(y.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(int64_t(i * 7919 % 16384) - 8192) / 1024;
  std::vector<float> mean(channels);
  cpu::channel_mean(host, x.data(), rows, channels, spatial, mean.data());
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < spatial; ++s) sum += x[std::size_t((r * channels + c) * spatial + s)];
    EXPECT_EQ(mean[std::size_t(c)], float(sum / rows)) << c;
  }
  // Random values over more positions than the 256 lanes: within a float rounding of the mean.
  const int64_t big = 1000;
  const auto z = uniform_values(std::size_t(rows * channels * big), 901);
  cpu::channel_mean(host, z.data(), rows, channels, big, mean.data());
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < big; ++s) sum += z[std::size_t((r * channels + c) * big + s)];
    EXPECT_NEAR(mean[std::size_t(c)], sum / rows, 1e-7 * std::fabs(sum / rows) + 1e-12) << c;
  }
}

TEST(Convolution, ChecksRefuseBadCalls) {
  std::vector<float> buf(4096, 0.0f);
  float* p = buf.data();
  const ConvGeometry good = conv(2, 3, {6, 5, 4}, {3, 3, 2}, {1, 2, 1}, {1, 1, 0});
  struct Bad {
    std::function<void(ConvGeometry&)> edit;
    std::vector<std::string> words;  // in the message
  };
  const std::vector<Bad> bad = {
      {[](ConvGeometry& g) { g.in_channels = 0; }, {"conv_forward", "0 input"}},
      {[](ConvGeometry& g) { g.stride[0] = 0; }, {"axis x", "stride 0"}},
      {[](ConvGeometry& g) { g.pad[1] = 3; }, {"axis y", "pad 3", "kernel 3"}},
      {[](ConvGeometry& g) { g.kernel[2] = 9; }, {"axis z", "kernel 9", "padded input 4"}},
      {[](ConvGeometry& g) { g.out[1] = 4; }, {"axis y", "output 4", "[1, 3]"}},
      {[](ConvGeometry& g) { g.out[0] = 0; }, {"axis x", "output 0"}},
      {[](ConvGeometry& g) { g.in[2] = -1; }, {"axis z", "input -1"}},
      {[](ConvGeometry& g) { g.in_channels = 1 << 20; g.in[0] = 1 << 12; g.out[0] = 1 << 12; },
       {"input of one example", "elements"}},
  };
  for (const Bad& b : bad) {
    ConvGeometry g = good;
    b.edit(g);
    const std::string cpu_msg = refusal([&] { cpu::conv_forward(host, g, p, p, 1, false, p); });
    for (const std::string& word : b.words)
      EXPECT_NE(cpu_msg.find(word), std::string::npos) << "'" << word << "' not in: " << cpu_msg;
    // The CUDA kernels run the same checks before anything else (a CPU context never reaches
    // a device), so they refuse with the same message, with or without a GPU or cuDNN.
    EXPECT_EQ(refusal([&] { cuda::conv_forward(host, g, p, p, 1, false, p); }), cpu_msg);
  }
  EXPECT_NE(refusal([&] { cpu::conv_forward(host, good, p, p, -1, false, p); }).find("negative"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              cpu::conv_backward_data(host, good, p, nullptr, 2, false, p);
            }).find("delta pointer is null"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              cpu::conv_backward_filter(host, good, p, p, 0, 1.0f, 0.0f, nullptr);
            }).find("filter gradient pointer"),
            std::string::npos);
  EXPECT_NE(refusal([&] { cpu::add_channel_bias(host, nullptr, 1, 2, 3, p); }).find("bias"),
            std::string::npos);
  EXPECT_NE(refusal([&] { cpu::channel_mean(host, p, 1, -2, 3, p); }).find("channels=-2"),
            std::string::npos);
}

TEST(Convolution, ResultsDoNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int previous = omp_get_max_threads();
  // Big enough for every OpenMP loop and for OpenBLAS to split the products.
  const ConvGeometry g = conv(4, 8, {32, 32}, {3, 3}, {1, 1}, {1, 1});
  const int64_t rows = 3;
  const auto x = uniform_values(x_size(g, rows), 70);
  const auto w = uniform_values(w_size(g), 71);
  const auto delta = uniform_values(y_size(g, rows), 72);
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    std::vector<float> y(y_size(g, rows)), dx(x.size()), dw(w.size()), mean(8);
    cpu::conv_forward(host, g, x.data(), w.data(), rows, false, y.data());
    cpu::conv_backward_data(host, g, w.data(), delta.data(), rows, false, dx.data());
    cpu::conv_backward_filter(host, g, x.data(), delta.data(), rows, 1.0f, 0.0f, dw.data());
    cpu::channel_mean(host, delta.data(), rows, 8, 1024, mean.data());
    for (auto* part : {&dx, &dw, &mean}) y.insert(y.end(), part->begin(), part->end());
    runs.push_back(y);
  }
  omp_set_num_threads(previous);
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4), 0);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace
}  // namespace dsstne
