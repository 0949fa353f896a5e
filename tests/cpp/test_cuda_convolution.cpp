// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of the convolution kernels (cuda/src/convolution.cu, cuDNN, against
// cpp/src/cpu/convolution.cpp) on random data in 1-D, 2-D and 3-D with strides, padding, kernels
// wider than the input and outputs smaller than cuDNN's own (the shortened and staged paths).
//
// Tolerances. Under ConvAlgorithms::GemmOrder the three passes are float sums of the same
// products in another order (cuDNN's implicit GEMM against OpenBLAS over an unfolded input), so
// each element agrees within 1e-5 of its Σ|terms| (computed by the CPU kernel on |x|, |w|, |δ|),
// plus 1e-5 of the |beta·old| it keeps. Where every partial sum is exact in float (values on a
// 2⁻¹⁰ grid times small integers) the order cannot matter and CPU and CUDA must agree bit for
// bit: TF32 or FFT/Winograd would break that. Under the default set cuDNN may pick FFT or
// Winograd, whose transforms spread each rounding error over the whole tile: 1e-4 of the
// element's own magnitude plus 1e-5 of the largest one's. add_channel_bias and channel_mean
// share the CPU's order and are bitwise. Running a pass twice, or on a second context with its
// own plans, gives the same bits under either set.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "conv_geometry_util.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using testing::host;
using testing::on_device;
using testing::uniform_values;

using testing::conv;
using testing::volume;

struct Case {
  const char* name;
  ConvGeometry g;
  int64_t rows;
};

std::vector<Case> cases() {
  ConvGeometry even_same = conv(2, 3, {6}, {4}, {1}, {2});
  even_same.out[0] = 6;  // staged: cuDNN computes 7
  ConvGeometry lone = conv(2, 2, {1}, {2}, {1}, {1});
  lone.out[0] = 1;  // staged: cuDNN computes 2
  ConvGeometry short_z = conv(2, 2, {4, 3, 7}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1});
  short_z.out[2] = 2;  // shortened: cuDNN sees 4 of the 7 planes
  ConvGeometry same_2d = conv(3, 4, {12, 10}, {4, 2}, {1, 1}, {2, 1});
  same_2d.out[0] = 12, same_2d.out[1] = 10;  // staged on both axes
  return {
      {"1-D same", conv(2, 3, {7}, {3}, {1}, {1}), 3},
      {"1-D stride 2", conv(1, 2, {9}, {3}, {2}, {0}), 1},
      {"1-D stride beyond the kernel (shortened)", conv(2, 1, {10}, {2}, {3}, {0}), 3},
      {"1-D even kernel, same size (staged)", even_same, 3},
      {"1-D kernel wider than the input", conv(3, 2, {2}, {5}, {2}, {2}), 3},
      {"1-D one input, even kernel (staged)", lone, 2},
      {"2-D", conv(2, 3, {5, 6}, {3, 2}, {2, 1}, {1, 0}), 3},
      {"2-D overlapping", conv(3, 4, {6, 5}, {3, 3}, {1, 2}, {1, 1}), 1},
      {"2-D even kernels, same size (staged)", same_2d, 4},
      {"2-D 32 × 32, 16 → 32 channels", conv(16, 32, {32, 32}, {3, 3}, {1, 1}, {1, 1}), 20},
      {"3-D", conv(2, 2, {4, 3, 5}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1}), 3},
      {"3-D shortened output", short_z, 2},
      {"3-D 8³, 4 → 8 channels", conv(4, 8, {8, 8, 8}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}), 5},
  };
}

/// Whether this build's CUDA convolutions have cuDNN (a probe call; NotSupported without).
std::string cudnn_missing(const Context& ctx) {
  const ConvGeometry g = conv(1, 1, {2}, {1}, {1}, {0});
  DeviceBuffer<float> buf(ctx, 8, "probe");  // x: 2, w: 1, y: 2, apart
  buf.zero();
  try {
    cuda::conv_forward(ctx, g, buf.data(), buf.data() + 2, 1, true, buf.data() + 4);
  } catch (const NotSupported& e) {
    return e.what();
  }
  return "";
}

#define DSSTNE_CUDNN_OR_SKIP(ctx)                                      \
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);                                    \
  if (const std::string why = cudnn_missing(ctx); !why.empty()) {      \
    if (testing::gpu_required()) FAIL() << why;                        \
    GTEST_SKIP() << why;                                               \
  }

std::vector<float> absolute(std::vector<float> v) {
  for (float& e : v) e = std::fabs(e);
  return v;
}

/// How closely CUDA must agree with the CPU (see the top).
enum class Agreement { Bitwise, SameProducts, Transformed };

/// The agreement a context's convolution algorithms promise on random data.
Agreement agreement_of(const Context& ctx) {
  return ctx.conv_algorithms() == ConvAlgorithms::GemmOrder ? Agreement::SameProducts
                                                            : Agreement::Transformed;
}

/// |got − ref| within the bound of `how` (not Bitwise) elementwise.
void expect_within(const std::vector<float>& ref, const std::vector<float>& got,
                   const std::vector<float>& magnitude, const std::vector<float>& kept,
                   Agreement how, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  const double relative = how == Agreement::SameProducts ? 1e-5 : 1e-4;
  double largest = 0.0;
  if (how == Agreement::Transformed)
    for (float m : magnitude) largest = std::max(largest, double(m));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double tol =
        relative * (double(magnitude[i]) + (kept.empty() ? 0.0 : std::fabs(kept[i]))) +
        1e-5 * largest;
    if (!(std::fabs(double(got[i]) - ref[i]) <= tol + 1e-30) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: cpu " << ref[i] << " cuda " << got[i];
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << ref.size() << " differ";
}

/// n values k/1024 for integers k in [−4096, 4096) (`fine`), else integers in [−3, 3].
std::vector<float> grid_values(std::size_t n, uint64_t seed, bool fine) {
  std::vector<float> v = uniform_values(n, seed, 0.0f, 1.0f);
  for (float& e : v) e = fine ? std::floor(e * 8192.0f - 4096.0f) / 1024.0f : std::floor(e * 7.0f) - 3.0f;
  return v;
}

/// Runs the three passes of `c` on both backends (contexts `cpu_ctx`, `gpu`) and compares them;
/// `how` says how closely. Returns the CUDA results, concatenated, for determinism checks.
std::vector<float> compare(const Context& cpu_ctx, const Context& gpu, const Case& c,
                           const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& delta, Agreement how) {
  const bool exact = how == Agreement::Bitwise;
  const ConvGeometry& g = c.g;
  const std::size_t yn = delta.size();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto d_x = on_device(gpu, x), d_w = on_device(gpu, w), d_delta = on_device(gpu, delta);
  std::vector<float> all;
  // What accumulating calls add to: on the exact grid too when the sums must be exact (then
  // every partial sum of either backend is exact, however it is split).
  const auto old_values = [exact](std::size_t n, uint64_t seed) {
    return exact ? grid_values(n, seed, true) : uniform_values(n, seed);
  };
  const auto check = [&](const std::vector<float>& ref, const std::vector<float>& got,
                         const std::vector<float>& magnitude, const std::vector<float>& kept,
                         const std::string& what) {
    if (exact) {
      testing::expect_bitwise(ref, got, what);
    } else {
      expect_within(ref, got, magnitude, kept, how, what);
    }
    all.insert(all.end(), got.begin(), got.end());
  };
  for (bool accumulate : {false, true}) {
    const std::string how = accumulate ? " accumulated" : " written";
    // Forward: y (+)= x ⊛ w; written over NaN garbage.
    const auto y0 = accumulate ? old_values(yn, 5) : std::vector<float>(yn, nan);
    std::vector<float> ref = y0, mag(yn);
    cpu::conv_forward(cpu_ctx, g, x.data(), w.data(), c.rows, accumulate, ref.data());
    cpu::conv_forward(host, g, absolute(x).data(), absolute(w).data(), c.rows, false, mag.data());
    auto d_y = on_device(gpu, y0);
    cuda::conv_forward(gpu, g, d_x.data(), d_w.data(), c.rows, accumulate, d_y.data());
    check(ref, d_y.download(), mag, accumulate ? y0 : std::vector<float>{}, "forward" + how);
    // Backward data: dx (+)= the adjoint of δ.
    const auto dx0 = accumulate ? old_values(x.size(), 6) : std::vector<float>(x.size(), nan);
    ref = dx0, mag.assign(x.size(), 0.0f);
    cpu::conv_backward_data(cpu_ctx, g, w.data(), delta.data(), c.rows, accumulate, ref.data());
    cpu::conv_backward_data(host, g, absolute(w).data(), absolute(delta).data(), c.rows, false,
                            mag.data());
    auto d_dx = on_device(gpu, dx0);
    cuda::conv_backward_data(gpu, g, d_w.data(), d_delta.data(), c.rows, accumulate, d_dx.data());
    check(ref, d_dx.download(), mag, accumulate ? dx0 : std::vector<float>{},
          "backward data" + how);
    // Backward filter: dw ← beta·dw + scale·Σ; beta 0 over NaN garbage, then 0.5 and −0.25.
    const float scale = accumulate ? -0.25f : 1.0f, beta = accumulate ? 0.5f : 0.0f;
    const auto dw0 = accumulate ? old_values(w.size(), 7) : std::vector<float>(w.size(), nan);
    ref = dw0, mag.assign(w.size(), 0.0f);
    cpu::conv_backward_filter(cpu_ctx, g, x.data(), delta.data(), c.rows, scale, beta, ref.data());
    cpu::conv_backward_filter(host, g, absolute(x).data(), absolute(delta).data(), c.rows,
                              std::fabs(scale), 0.0f, mag.data());
    std::vector<float> kept(w.size(), 0.0f);
    if (accumulate)
      for (std::size_t i = 0; i < w.size(); ++i) kept[i] = beta * dw0[i];
    auto d_dw = on_device(gpu, dw0);
    cuda::conv_backward_filter(gpu, g, d_x.data(), d_delta.data(), c.rows, scale, beta,
                               d_dw.data());
    check(ref, d_dw.download(), mag, kept, "backward filter" + how);
  }
  return all;
}

/// Every case on random data under `set`, twice on one context and once on another.
void passes_match_the_cpu(const Context& ctx, ConvAlgorithms set) {
  Context gpu = ctx;
  gpu.set_conv_algorithms(set);
  Context second(Device::CUDA, 0, 12134);  // its own cuDNN handle and plans
  second.set_conv_algorithms(set);
  const Agreement how = agreement_of(gpu);
  uint64_t seed = 100;
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.name) + ", rows " + std::to_string(c.rows));
    const auto x = uniform_values(std::size_t(c.rows * c.g.in_channels * volume(c.g.in)), ++seed);
    const auto w = uniform_values(std::size_t(c.g.out_channels * c.g.in_channels *
                                              volume(c.g.kernel)), ++seed);
    const auto delta =
        uniform_values(std::size_t(c.rows * c.g.out_channels * volume(c.g.out)), ++seed);
    const auto first = compare(host, gpu, c, x, w, delta, how);
    // Deterministic: the same call again, and on another context, gives the same bits.
    testing::expect_bitwise(first, compare(host, gpu, c, x, w, delta, how), "second run");
    testing::expect_bitwise(first, compare(host, second, c, x, w, delta, how), "second context");
  }
}

TEST(CudaParityConvolution, PassesMatchTheCpu) {
  DSSTNE_CUDNN_OR_SKIP(ctx);
  passes_match_the_cpu(ctx, ConvAlgorithms::Deterministic);
}

TEST(CudaParityConvolution, GemmOrderPassesMatchTheCpuCloser) {
  DSSTNE_CUDNN_OR_SKIP(ctx);
  passes_match_the_cpu(ctx, ConvAlgorithms::GemmOrder);
}

TEST(CudaParityConvolution, TheSetIsPartOfThePlan) {
  // One context's plans: the same shape under the two sets gets a plan each, so switching back
  // and forth gives each set's own bits.
  DSSTNE_CUDNN_OR_SKIP(ctx);
  const Case c{"2-D 32 × 32", conv(16, 32, {32, 32}, {3, 3}, {1, 1}, {1, 1}), 20};
  const auto x = uniform_values(std::size_t(c.rows * 16 * 1024), 61);
  const auto w = uniform_values(std::size_t(32 * 16 * 9), 62);
  const auto delta = uniform_values(std::size_t(c.rows * 32 * 1024), 63);
  Context gemm_order = ctx;
  gemm_order.set_conv_algorithms(ConvAlgorithms::GemmOrder);
  const auto fast = compare(host, ctx, c, x, w, delta, Agreement::Transformed);
  const auto plain = compare(host, gemm_order, c, x, w, delta, Agreement::SameProducts);
  testing::expect_bitwise(fast, compare(host, ctx, c, x, w, delta, Agreement::Transformed),
                          "default set again");
  testing::expect_bitwise(plain,
                          compare(host, gemm_order, c, x, w, delta, Agreement::SameProducts),
                          "GemmOrder again");
}

TEST(CudaParityConvolution, ExactSumsAreBitwiseSoNoTf32) {
  // Products of a 12-bit value and a 2-bit integer, summed over at most 27 (forward), 36 (data) or
  // 3·72 (filter) terms, need fewer than 24 bits: every order gives the exact sum. TF32 keeps
  // 11 bits of each input, so it would lose the finest bits of the 2⁻¹⁰ grid.
  DSSTNE_CUDNN_OR_SKIP(any_set);
  Context ctx = any_set;
  ctx.set_conv_algorithms(ConvAlgorithms::GemmOrder);
  const Case c{"2-D exact", conv(3, 4, {9, 8}, {3, 3}, {1, 1}, {1, 1}), 3};
  const std::size_t xn = std::size_t(c.rows * 3 * 72), wn = 4 * 3 * 9, yn = std::size_t(c.rows * 4 * 72);
  // Every product is fine × integer: fine x (forward and filter see TF32 there), then fine w
  // (forward and data see it).
  compare(host, ctx, c, grid_values(xn, 1, true), grid_values(wn, 2, false),
          grid_values(yn, 3, false), Agreement::Bitwise);
  compare(host, ctx, c, grid_values(xn, 4, false), grid_values(wn, 5, true),
          grid_values(yn, 6, false), Agreement::Bitwise);
}

TEST(CudaParityConvolution, OtherGemmMaths) {
  DSSTNE_CUDNN_OR_SKIP(exact);
  const Case c{"2-D", conv(3, 5, {11, 9}, {3, 3}, {2, 1}, {1, 1}), 4};
  const auto x = uniform_values(std::size_t(c.rows * 3 * 99), 40);
  const auto w = uniform_values(std::size_t(5 * 3 * 9), 41);
  const auto delta = uniform_values(std::size_t(c.rows * 5 * volume(c.g.out)), 42);
  // BFloat16: both backends round the operands to bfloat16, whose products are exact in float.
  Context gpu_bf16 = exact, cpu_bf16;
  gpu_bf16.set_gemm_math(GemmMath::BFloat16);
  cpu_bf16.set_gemm_math(GemmMath::BFloat16);
  compare(cpu_bf16, gpu_bf16, c, x, w, delta, agreement_of(gpu_bf16));
  // TF32 (the CPU stays exact): an input keeps 10 mantissa bits (within 2⁻¹⁰ of itself, rounded
  // or truncated), so a product is within 2⁻⁹ of itself: 4e-3 of the terms' magnitude.
  Context tf32 = exact;
  tf32.set_tf32(true);
  std::vector<float> ref(delta.size()), mag(delta.size());
  cpu::conv_forward(host, c.g, x.data(), w.data(), c.rows, false, ref.data());
  cpu::conv_forward(host, c.g, absolute(x).data(), absolute(w).data(), c.rows, false, mag.data());
  const auto d_x = on_device(tf32, x), d_w = on_device(tf32, w);
  DeviceBuffer<float> y(tf32, ref.size(), "y");
  cuda::conv_forward(tf32, c.g, d_x.data(), d_w.data(), c.rows, false, y.data());
  const auto got = y.download();
  for (std::size_t i = 0; i < ref.size(); ++i)
    EXPECT_NEAR(got[i], ref[i], 4e-3 * mag[i] + 1e-30) << i;
}

/// Bitwise equality, except that any NaN matches any NaN (the GPU's arithmetic returns its
/// canonical NaN, the CPU's the NaN operand).
void expect_same_bits(const std::vector<float>& ref, const std::vector<float>& got,
                      const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  std::vector<float> a = ref, b = got;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::isnan(a[i]) && std::isnan(b[i])) a[i] = b[i] = 0.0f;
  testing::expect_bitwise(a, b, what);
}

TEST(CudaParityConvolution, ChannelBiasAndMeanBitwise) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);  // own kernels: no cuDNN needed
  struct Shape {
    int64_t rows, channels, spatial;
  };
  uint64_t seed = 300;
  for (const Shape& s : {Shape{3, 4, 37}, Shape{7, 16, 1000}, Shape{130, 3, 5},
                         Shape{2, 70000, 1}, Shape{0, 5, 9}}) {
    SCOPED_TRACE(std::to_string(s.rows) + " × " + std::to_string(s.channels) + " × " +
                 std::to_string(s.spatial));
    const std::size_t n = std::size_t(s.rows * s.channels * s.spatial);
    auto x = uniform_values(n, ++seed, -3.0f, 5.0f);
    if (n > 11) x[11] = std::numeric_limits<float>::quiet_NaN();  // reaches its channel's mean
    const auto b = uniform_values(std::size_t(s.channels), ++seed);
    std::vector<float> ref(std::size_t(s.channels), 9.0f);
    cpu::channel_mean(host, x.data(), s.rows, s.channels, s.spatial, ref.data());
    const auto d_x = on_device(ctx, x);
    DeviceBuffer<float> mean(ctx, ref.size(), "mean");
    cuda::channel_mean(ctx, d_x.data(), s.rows, s.channels, s.spatial, mean.data());
    expect_same_bits(ref, mean.download(), "channel_mean");
    std::vector<float> y = x;
    cpu::add_channel_bias(host, b.data(), s.rows, s.channels, s.spatial, y.data());
    auto d_y = on_device(ctx, x);
    const auto d_b = on_device(ctx, b);
    cuda::add_channel_bias(ctx, d_b.data(), s.rows, s.channels, s.spatial, d_y.data());
    expect_same_bits(y, d_y.download(), "add_channel_bias");
  }
}

}  // namespace
}  // namespace dsstne
