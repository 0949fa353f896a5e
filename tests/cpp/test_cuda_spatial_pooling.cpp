// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of the spatial pooling kernels (cuda/src/spatial_pooling.cu against
// cpp/src/cpu/spatial_pooling.cpp) on random data in 1-D, 2-D and 3-D, with strides, padding,
// ties, NaNs and accumulation.
//
// Max and Average are bitwise (except that any NaN matches any NaN: a sum reaching a NaN gives
// the GPU's canonical NaN, the CPU's the input's): both backends scan the same windows in the
// same order with the formulas of cpu/spatial_pooling_terms.hpp, every float operation rounded
// on its own. LRN is computed in double and rounded once, but CUDA's pow is not libm's: within
// 2e-6 relative + 1e-6 absolute (a float ulp or two of a result or of an accumulated sum, far
// above a double pow's error).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

/// One axis of a geometry; its output extent follows ⌊(in + 2·pad − kernel)/stride⌋ + 1.
struct Axis {
  int64_t in, kernel, stride, pad;
};

PoolGeometry geometry(int64_t channels, std::initializer_list<Axis> axes) {
  PoolGeometry g;
  g.channels = channels;
  int a = 0;
  for (const Axis& axis : axes) {
    g.in[a] = axis.in;
    g.kernel[a] = axis.kernel;
    g.stride[a] = axis.stride;
    g.pad[a] = axis.pad;
    g.out[a] = (axis.in + 2 * axis.pad - axis.kernel) / axis.stride + 1;
    ++a;
  }
  return g;
}

int64_t volume(const int64_t e[3]) { return e[0] * e[1] * e[2]; }

struct Case {
  PoolGeometry g;
  int64_t rows;
};

// Small maps; a batch larger than one grid of 65535 × 256 threads covers in one pass.
const Case kCases[] = {
    {geometry(3, {{7, 3, 1, 1}}), 5},
    {geometry(2, {{10, 2, 3, 0}}), 4},
    {geometry(4, {{13, 3, 2, 1}, {11, 3, 2, 1}}), 6},
    {geometry(2, {{6, 2, 2, 1}, {5, 3, 1, 1}, {7, 3, 2, 0}}), 3},
    {geometry(16, {{28, 2, 2, 0}, {28, 2, 2, 0}}), 1400},
};

/// Uniform values with every 7th a copy of its neighbour (ties) and every 131st NaN.
std::vector<float> pool_input(std::size_t n, uint64_t seed) {
  std::vector<float> x = testing::uniform_values(n, seed);
  for (std::size_t i = 1; i < n; i += 7) x[i] = x[i - 1];
  for (std::size_t i = 5; i < n; i += 131) x[i] = std::numeric_limits<float>::quiet_NaN();
  return x;
}

TEST(CudaParitySpatialPooling, MaxAndAverageBitwise) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 70;
  for (const Case& c : kCases) {
    const std::string what = std::to_string(c.rows) + " rows of " +
                             std::to_string(c.g.channels) + " maps " +
                             std::to_string(volume(c.g.in)) + " → " +
                             std::to_string(volume(c.g.out));
    SCOPED_TRACE(what);
    const std::size_t in_n = std::size_t(c.rows * c.g.channels * volume(c.g.in));
    const std::size_t out_n = std::size_t(c.rows * c.g.channels * volume(c.g.out));
    const auto x = pool_input(in_n, ++seed);
    const auto delta = testing::uniform_values(out_n, ++seed);
    const auto d_x = testing::on_device(ctx, x);
    const auto d_delta = testing::on_device(ctx, delta);
    for (bool max : {true, false}) {
      std::vector<float> ref(out_n);
      DeviceBuffer<float> y(ctx, out_n, "y");
      if (max) {
        cpu::max_pool_forward(testing::host, c.g, x.data(), c.rows, ref.data());
        cuda::max_pool_forward(ctx, c.g, d_x.data(), c.rows, y.data());
      } else {
        cpu::average_pool_forward(testing::host, c.g, x.data(), c.rows, ref.data());
        cuda::average_pool_forward(ctx, c.g, d_x.data(), c.rows, y.data());
      }
      testing::expect_bitwise_any_nan(ref, y.download(), what + (max ? " max" : " average"));
      for (bool accumulate : {false, true}) {
        std::vector<float> ref_dx = testing::uniform_values(in_n, ++seed);
        auto gpu_dx = testing::on_device(ctx, ref_dx);
        if (max) {
          cpu::max_pool_backward(testing::host, c.g, x.data(), delta.data(), c.rows, accumulate,
                                 ref_dx.data());
          cuda::max_pool_backward(ctx, c.g, d_x.data(), d_delta.data(), c.rows, accumulate,
                                  gpu_dx.data());
        } else {
          cpu::average_pool_backward(testing::host, c.g, delta.data(), c.rows, accumulate,
                                     ref_dx.data());
          cuda::average_pool_backward(ctx, c.g, d_delta.data(), c.rows, accumulate,
                                      gpu_dx.data());
        }
        testing::expect_bitwise_any_nan(ref_dx, gpu_dx.download(),
                                        what + (max ? " max" : " average") +
                                            (accumulate ? " accumulated" : " written") +
                                            " delta");
      }
    }
  }
}

TEST(CudaParitySpatialPooling, LrnWithinTolerance) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  struct LrnCase {
    LrnParams p;
    int64_t rows, channels, spatial;
  };
  const LrnCase cases[] = {{LrnParams{}, 3, 8, 49},
                           {LrnParams{1.0f, 4, 2.0f, 0.6f}, 2, 5, 30},
                           {LrnParams{0.5f, 9, 1.0f, 1.2f}, 4, 3, 17},
                           {LrnParams{2.0f, 5, 1e-4f, 0.75f}, 600, 16, 196},
                           // Several runs of 32 channels per thread, with even and wide windows.
                           {LrnParams{2.0f, 5, 1e-4f, 0.75f}, 3, 96, 29},
                           {LrnParams{1.0f, 4, 0.5f, 0.6f}, 2, 70, 11},
                           {LrnParams{1.5f, 40, 0.3f, 0.9f}, 2, 75, 5},
                           // A window too wide for the shared rings: one element per thread.
                           {LrnParams{1.0f, 97, 0.2f, 0.75f}, 2, 130, 3}};
  uint64_t seed = 900;
  for (const LrnCase& c : cases) {
    SCOPED_TRACE("n " + std::to_string(c.p.n) + " rows " + std::to_string(c.rows));
    const std::size_t n = std::size_t(c.rows * c.channels * c.spatial);
    const auto x = testing::uniform_values(n, ++seed, -2.0f, 2.0f);
    const auto delta = testing::uniform_values(n, ++seed);
    const auto d_x = testing::on_device(ctx, x);
    const auto d_delta = testing::on_device(ctx, delta);
    std::vector<float> ref(n);
    DeviceBuffer<float> y(ctx, n, "y");
    cpu::lrn_forward(testing::host, c.p, x.data(), c.rows, c.channels, c.spatial, ref.data());
    cuda::lrn_forward(ctx, c.p, d_x.data(), c.rows, c.channels, c.spatial, y.data());
    testing::expect_close(ref, y.download(), 2e-6, 1e-6, "lrn forward");
    for (bool accumulate : {false, true}) {
      std::vector<float> ref_dx = testing::uniform_values(n, ++seed);
      auto gpu_dx = testing::on_device(ctx, ref_dx);
      cpu::lrn_backward(testing::host, c.p, x.data(), delta.data(), c.rows, c.channels,
                        c.spatial, accumulate, ref_dx.data());
      cuda::lrn_backward(ctx, c.p, d_x.data(), d_delta.data(), c.rows, c.channels, c.spatial,
                         accumulate, gpu_dx.data());
      testing::expect_close(ref_dx, gpu_dx.download(), 2e-6, 1e-6,
                            accumulate ? "lrn accumulated delta" : "lrn written delta");
    }
  }
}

}  // namespace
}  // namespace dsstne
