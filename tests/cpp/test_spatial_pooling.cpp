// SPDX-License-Identifier: Apache-2.0
// The CPU spatial pooling kernels (cpu::max_pool_*, average_pool_*, lrn_*; spec/math.md §9.2):
// forward passes against plain loops over the padded windows in 1-D, 2-D and 3-D with strides
// and padding; Max's ties and NaN; each backward pass against central differences of a double
// forward; accumulation; empty batches; every geometry spec/formats.md §1.9 derives is accepted.
//
// Tolerances: Max is exact (a copy). Average is a float sum, so within 1e-6 relative + 1e-7
// absolute of the double loop. LRN is computed in double and rounded once: 1e-6 relative. The
// finite differences (h = 1e-3 on a double forward) check the gradients to 1e-4 absolute + 1e-3
// relative; Max's inputs are distinct multiples of 0.01, so no step of h changes a winner.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;
using dsstne::testing::uniform_values;

/// A geometry with out from the usual rule ⌊(in + 2·pad − kernel)/stride⌋ + 1.
PoolGeometry geometry(int64_t channels, std::vector<int64_t> in, std::vector<int64_t> kernel,
                      std::vector<int64_t> stride, std::vector<int64_t> pad) {
  PoolGeometry g;
  g.channels = channels;
  for (std::size_t a = 0; a < in.size(); ++a) {
    g.in[a] = in[a];
    g.kernel[a] = kernel[a];
    g.stride[a] = stride[a];
    g.pad[a] = pad[a];
    g.out[a] = (in[a] + 2 * pad[a] - kernel[a]) / stride[a] + 1;
  }
  return g;
}

int64_t volume(const int64_t e[3]) { return e[0] * e[1] * e[2]; }

enum class Pool { Max, Average };

/// Pooling straight from the definition: every kernel offset, padded positions skipped. Max
/// returns NaN if any value is NaN.
std::vector<double> reference_pool(Pool kind, const PoolGeometry& g, const std::vector<double>& x,
                                   int64_t rows) {
  const int64_t maps = rows * g.channels, iv = volume(g.in), ov = volume(g.out);
  std::vector<double> y(std::size_t(maps * ov));
  for (int64_t m = 0; m < maps; ++m)
    for (int64_t oz = 0; oz < g.out[2]; ++oz)
      for (int64_t oy = 0; oy < g.out[1]; ++oy)
        for (int64_t ox = 0; ox < g.out[0]; ++ox) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
          int64_t count = 0;
          bool nan = false;
          for (int64_t kz = 0; kz < g.kernel[2]; ++kz)
            for (int64_t ky = 0; ky < g.kernel[1]; ++ky)
              for (int64_t kx = 0; kx < g.kernel[0]; ++kx) {
                const int64_t ix = ox * g.stride[0] - g.pad[0] + kx;
                const int64_t iy = oy * g.stride[1] - g.pad[1] + ky;
                const int64_t iz = oz * g.stride[2] - g.pad[2] + kz;
                if (ix < 0 || iy < 0 || iz < 0 || ix >= g.in[0] || iy >= g.in[1] ||
                    iz >= g.in[2])
                  continue;
                const double v = x[std::size_t(m * iv + (iz * g.in[1] + iy) * g.in[0] + ix)];
                nan = nan || std::isnan(v);
                best = std::max(best, v);
                sum += v;
                ++count;
              }
          const double value = kind == Pool::Max ? (nan ? std::nan("") : best) : sum / count;
          y[std::size_t(m * ov + (oz * g.out[1] + oy) * g.out[0] + ox)] = value;
        }
  return y;
}

std::vector<double> reference_lrn(const LrnParams& p, const std::vector<double>& x, int64_t rows,
                                  int64_t channels, int64_t spatial) {
  std::vector<double> y(x.size());
  const int64_t below = (p.n - 1) / 2, above = p.n - 1 - below;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t q = 0; q < spatial; ++q) {
        double squares = 0.0;
        for (int64_t j = std::max<int64_t>(0, c - below); j <= std::min(channels - 1, c + above);
             ++j) {
          const double v = x[std::size_t((r * channels + j) * spatial + q)];
          squares += v * v;
        }
        const std::size_t at = std::size_t((r * channels + c) * spatial + q);
        y[at] = x[at] * std::pow(double(p.k) + double(p.alpha) / double(p.n) * squares,
                                 -double(p.beta));
      }
  return y;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

void expect_near_all(const std::vector<double>& ref, const std::vector<float>& got, double rtol,
                     double atol, const char* what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(ref[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " [" << i << "]";
      continue;
    }
    EXPECT_NEAR(got[i], ref[i], atol + rtol * std::fabs(ref[i])) << what << " [" << i << "]";
  }
}

/// Checks dx = ∂(Σ_o delta_o·y_o)/∂x by central differences of the double forward `f`.
void expect_gradient(const std::function<std::vector<double>(const std::vector<double>&)>& f,
                     const std::vector<float>& x, const std::vector<float>& delta,
                     const std::vector<float>& dx, const char* what) {
  const double h = 1e-3;
  std::vector<double> probe = widen(x);
  auto energy = [&](const std::vector<double>& at) {
    const std::vector<double> y = f(at);
    double e = 0.0;
    for (std::size_t o = 0; o < y.size(); ++o) e += double(delta[o]) * y[o];
    return e;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    probe[i] = double(x[i]) + h;
    const double up = energy(probe);
    probe[i] = double(x[i]) - h;
    const double down = energy(probe);
    probe[i] = x[i];
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(dx[i], numeric, 1e-4 + 1e-3 * std::fabs(numeric)) << what << " [" << i << "]";
  }
}

/// Distinct values (shuffled multiples of 0.01 around 0), so a maximum has one winner.
std::vector<float> distinct_values(std::size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.01f * (float(i) - float(n) / 2);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

struct Case {
  const char* name;
  PoolGeometry g;
  int64_t rows;
};

std::vector<Case> cases() {
  PoolGeometry even_same = geometry(2, {6}, {4}, {1}, {2});
  even_same.out[0] = 6;  // §1.9: stride 1 keeps the size, pad kernel/2
  return {
      {"1-D same", geometry(2, {7}, {3}, {1}, {1}), 3},
      {"1-D stride 2", geometry(1, {9}, {3}, {2}, {0}), 2},
      {"1-D stride beyond the kernel", geometry(1, {10}, {2}, {3}, {0}), 2},
      {"1-D even kernel, same size", even_same, 2},
      {"1-D input narrower than the kernel", geometry(3, {2}, {5}, {2}, {2}), 2},
      {"2-D", geometry(2, {5, 6}, {3, 2}, {2, 1}, {1, 0}), 2},
      {"2-D overlapping", geometry(1, {6, 5}, {3, 3}, {1, 2}, {1, 1}), 3},
      {"3-D", geometry(2, {4, 3, 5}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1}), 2},
  };
}

TEST(SpatialPooling, ForwardMatchesPlainLoops) {
  uint64_t seed = 1;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto x = uniform_values(std::size_t(c.rows * c.g.channels * volume(c.g.in)), ++seed);
    std::vector<float> y(std::size_t(c.rows * c.g.channels * volume(c.g.out)), -7.0f);
    cpu::max_pool_forward(host, c.g, x.data(), c.rows, y.data());
    expect_near_all(reference_pool(Pool::Max, c.g, widen(x), c.rows), y, 0.0, 0.0, "max");
    cpu::average_pool_forward(host, c.g, x.data(), c.rows, y.data());
    expect_near_all(reference_pool(Pool::Average, c.g, widen(x), c.rows), y, 1e-6, 1e-7,
                    "average");
  }
}

TEST(SpatialPooling, MaxTiesGoToTheFirstAndNaNWins) {
  // One 1-D map, kernel 3 stride 1 no pad: windows [0,3), [1,4), [2,5), [3,6).
  const PoolGeometry g = geometry(1, {6}, {3}, {1}, {0});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {2.0f, 5.0f, 5.0f, 1.0f, nan, 3.0f};
  std::vector<float> y(4);
  cpu::max_pool_forward(host, g, x.data(), 1, y.data());
  EXPECT_EQ(y[0], 5.0f);
  EXPECT_EQ(y[1], 5.0f);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_TRUE(std::isnan(y[3]));
  const std::vector<float> delta = {1.0f, 10.0f, 100.0f, 1000.0f};
  std::vector<float> dx(6, -1.0f);
  cpu::max_pool_backward(host, g, x.data(), delta.data(), 1, false, dx.data());
  // Windows 0 and 1 tie between positions 1 and 2: the first (1) takes both; windows 2 and 3
  // go to the NaN at 4; positions no window picks get +0.
  EXPECT_EQ(dx, (std::vector<float>{0.0f, 11.0f, 0.0f, 0.0f, 1100.0f, 0.0f}));
  // A NaN after a larger value still wins; the first of two NaNs is the winner.
  const std::vector<float> two_nans = {9.0f, nan, nan};
  const PoolGeometry whole = geometry(1, {3}, {3}, {1}, {0});
  std::vector<float> d3(3);
  const float one = 1.0f;
  cpu::max_pool_backward(host, whole, two_nans.data(), &one, 1, false, d3.data());
  EXPECT_EQ(d3, (std::vector<float>{0.0f, 1.0f, 0.0f}));
}

TEST(SpatialPooling, BackwardMatchesFiniteDifferences) {
  uint64_t seed = 100;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::size_t in_n = std::size_t(c.rows * c.g.channels * volume(c.g.in));
    const std::size_t out_n = std::size_t(c.rows * c.g.channels * volume(c.g.out));
    const auto x = distinct_values(in_n, ++seed);
    const auto delta = uniform_values(out_n, ++seed);
    std::vector<float> dx(in_n, 7.0f);
    for (Pool kind : {Pool::Max, Pool::Average}) {
      if (kind == Pool::Max)
        cpu::max_pool_backward(host, c.g, x.data(), delta.data(), c.rows, false, dx.data());
      else
        cpu::average_pool_backward(host, c.g, delta.data(), c.rows, false, dx.data());
      expect_gradient([&](const std::vector<double>& at) {
        return reference_pool(kind, c.g, at, c.rows);
      }, x, delta, dx, kind == Pool::Max ? "max" : "average");
      // Accumulating adds the same gradient to what is there, one float addition.
      std::vector<float> acc = uniform_values(in_n, ++seed);
      const std::vector<float> before = acc;
      if (kind == Pool::Max)
        cpu::max_pool_backward(host, c.g, x.data(), delta.data(), c.rows, true, acc.data());
      else
        cpu::average_pool_backward(host, c.g, delta.data(), c.rows, true, acc.data());
      for (std::size_t i = 0; i < in_n; ++i) {
        if (dx[i] != 0.0f) {
          EXPECT_EQ(acc[i], before[i] + dx[i]) << i;
        }
      }
    }
  }
}

TEST(SpatialPooling, LrnForwardAndBackward) {
  uint64_t seed = 300;
  const LrnParams defaults{};
  const LrnParams odd{1.0f, 3, 0.5f, 0.75f};
  const LrnParams even{0.5f, 4, 2.0f, 0.6f};
  const LrnParams wider_than_channels{1.5f, 9, 1.0f, 1.2f};
  for (const LrnParams& p : {defaults, odd, even, wider_than_channels}) {
    SCOPED_TRACE(p.n);
    const int64_t rows = 2, channels = 6, spatial = 5;
    const std::size_t n = std::size_t(rows * channels * spatial);
    const auto x = uniform_values(n, ++seed, -1.5f, 1.5f);
    std::vector<float> y(n);
    cpu::lrn_forward(host, p, x.data(), rows, channels, spatial, y.data());
    expect_near_all(reference_lrn(p, widen(x), rows, channels, spatial), y, 1e-6, 1e-7, "lrn");
    const auto delta = uniform_values(n, ++seed);
    std::vector<float> dx(n);
    cpu::lrn_backward(host, p, x.data(), delta.data(), rows, channels, spatial, false, dx.data());
    expect_gradient([&](const std::vector<double>& at) {
      return reference_lrn(p, at, rows, channels, spatial);
    }, x, delta, dx, "lrn backward");
    std::vector<float> acc = uniform_values(n, ++seed);
    const std::vector<float> before = acc;
    cpu::lrn_backward(host, p, x.data(), delta.data(), rows, channels, spatial, true, acc.data());
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(acc[i], before[i] + dx[i]) << i;
  }
}

TEST(SpatialPooling, EmptyBatchesTouchNothing) {
  const PoolGeometry g = geometry(1, {4}, {2}, {2}, {0});
  cpu::max_pool_forward(host, g, nullptr, 0, nullptr);
  cpu::max_pool_backward(host, g, nullptr, nullptr, 0, true, nullptr);
  cpu::average_pool_forward(host, g, nullptr, 0, nullptr);
  cpu::average_pool_backward(host, g, nullptr, 0, false, nullptr);
  cpu::lrn_forward(host, LrnParams{}, nullptr, 0, 3, 4, nullptr);
  cpu::lrn_backward(host, LrnParams{}, nullptr, nullptr, 3, 0, 4, false, nullptr);
}

/// spec/formats.md §1.9's derived size and padding of one axis.
void spec_axis(int64_t in, int64_t k, int64_t s, int64_t& out, int64_t& pad) {
  out = in <= k ? 1 : s == 1 ? in : (in - k) / s + 1;
  pad = in < k ? (k - in + 1) / 2 : s == 1 ? k / 2 : 0;
}

TEST(SpatialPooling, AcceptsEveryGeometryTheSpecDerives) {
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t k = 1; k <= 6; ++k)
      for (int64_t s = 1; s <= 4; ++s) {
        PoolGeometry g;
        spec_axis(in, k, s, g.out[0], g.pad[0]);
        g.in[0] = in;
        g.kernel[0] = k;
        g.stride[0] = s;
        const auto x = uniform_values(std::size_t(in), uint64_t(in * 100 + k * 10 + s));
        std::vector<float> y(std::size_t(g.out[0]));
        EXPECT_NO_THROW(cpu::max_pool_forward(host, g, x.data(), 1, y.data()))
            << "in " << in << " kernel " << k << " stride " << s;
        expect_near_all(reference_pool(Pool::Max, g, widen(x), 1), y, 0.0, 0.0, "spec geometry");
      }
}

}  // namespace
}  // namespace dsstne
