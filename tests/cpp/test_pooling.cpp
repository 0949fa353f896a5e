// SPDX-License-Identifier: Apache-2.0
// The CPU pooling kernels (cpu::maxout_*, dot_product_*, cosine_*; spec/math.md §9.2):
// forward passes against plain double-precision loops, maxout's ties and NaN, the backward
// passes against central differences of the double forward, accumulation, skipped sources,
// empty shapes, and results that do not depend on the thread count.
//
// Tolerances: maxout is exact. The dot products and cosines are a double sum rounded once to
// float, so they sit within 1e-7 of the double loops (relative), plus 1e-12 of the terms'
// magnitudes for cancellation. The finite differences (h = 1e-3 on a double forward) check the
// gradients to 1e-5 absolute + 1e-5 relative: the double rounding of the differences, h² and
// the 1e−8 the spec's cosine gradient drops are far below that.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;
using dsstne::testing::uniform_values;

/// `count` random sources of rows × cols and the pointer list the kernels take.
struct Sources {
  Sources(int64_t count, int64_t rows, int64_t cols, uint64_t seed) : rows(rows), cols(cols) {
    for (int64_t k = 0; k < count; ++k)
      data.push_back(uniform_values(std::size_t(rows * cols), seed + uint64_t(k)));
  }
  std::vector<const float*> list() const {
    std::vector<const float*> p;
    for (const auto& d : data) p.push_back(d.data());
    return p;
  }
  int64_t count() const { return int64_t(data.size()); }
  std::vector<std::vector<float>> data;
  int64_t rows, cols;
};

using Pointers = std::vector<float*>;
Pointers pointers(std::vector<std::vector<float>>& buffers) {
  Pointers p;
  for (auto& b : buffers) p.push_back(b.data());
  return p;
}

enum class Kind { Maxout, Dot, Cosine };
int64_t out_cols(Kind kind, const Sources& s) {
  return kind == Kind::Maxout ? s.cols : s.count() - 1;
}

/// The layer's output in double, straight from the definitions.
std::vector<double> reference(Kind kind, const Sources& s) {
  const int64_t oc = out_cols(kind, s);
  std::vector<double> y(std::size_t(s.rows * oc));
  for (int64_t r = 0; r < s.rows; ++r) {
    if (kind == Kind::Maxout) {
      for (int64_t j = 0; j < s.cols; ++j) {
        double m = s.data[0][r * s.cols + j];
        for (const auto& x : s.data) m = std::max(m, double(x[r * s.cols + j]));
        y[r * oc + j] = m;
      }
      continue;
    }
    auto dot = [&](int64_t a, int64_t b) {
      double sum = 0.0;
      for (int64_t j = 0; j < s.cols; ++j)
        sum += double(s.data[a][r * s.cols + j]) * double(s.data[b][r * s.cols + j]);
      return sum;
    };
    for (int64_t i = 1; i < s.count(); ++i)
      y[r * oc + i - 1] = kind == Kind::Dot ? dot(0, i)
                                            : dot(0, i) / ((std::sqrt(dot(0, 0)) + 1e-8) *
                                                           (std::sqrt(dot(i, i)) + 1e-8));
  }
  return y;
}

void forward(Kind kind, const Sources& s, float* y) {
  const auto list = s.list();
  const int64_t n = s.count();
  switch (kind) {
    case Kind::Maxout: return cpu::maxout_forward(host, list.data(), n, s.rows, s.cols, y);
    case Kind::Dot: return cpu::dot_product_forward(host, list.data(), n, s.rows, s.cols, y);
    case Kind::Cosine: return cpu::cosine_forward(host, list.data(), n, s.rows, s.cols, y);
  }
}

void backward(Kind kind, const Sources& s, const float* delta, bool accumulate, float* const* d) {
  const auto list = s.list();
  const int64_t n = s.count();
  switch (kind) {
    case Kind::Maxout:
      return cpu::maxout_backward(host, list.data(), n, s.rows, s.cols, delta, accumulate, d);
    case Kind::Dot:
      return cpu::dot_product_backward(host, list.data(), n, s.rows, s.cols, delta, accumulate, d);
    case Kind::Cosine:
      return cpu::cosine_backward(host, list.data(), n, s.rows, s.cols, delta, accumulate, d);
  }
}

/// Σ_j |a_0[j]·a_i[j]| of each output unit: the scale below which a sum may cancel.
double term_scale(const Sources& s, int64_t r) {
  double m = 0.0;
  for (const auto& x : s.data)
    for (int64_t j = 0; j < s.cols; ++j)
      m += std::fabs(double(s.data[0][r * s.cols + j]) * x[r * s.cols + j]);
  return m;
}

TEST(Pooling, ForwardMatchesDoubleLoops) {
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine})
    for (int64_t count : {2, 3, 7})
      for (int64_t cols : {1, 5, 255, 256, 257, 1000}) {
        SCOPED_TRACE(::testing::Message() << "kind " << int(kind) << " sources " << count
                                          << " cols " << cols);
        const Sources s(count, 6, cols, uint64_t(100 * count + cols));
        const std::vector<double> ref = reference(kind, s);
        std::vector<float> y(ref.size());
        forward(kind, s, y.data());
        for (std::size_t e = 0; e < y.size(); ++e) {
          if (kind == Kind::Maxout) {
            ASSERT_EQ(double(y[e]), ref[e]) << e;
            continue;
          }
          const double scale = kind == Kind::Dot ? term_scale(s, int64_t(e) / (count - 1)) : 1.0;
          ASSERT_NEAR(y[e], ref[e], 1e-7 * std::fabs(ref[e]) + 1e-12 * scale) << e;
        }
      }
}

TEST(Pooling, MaxoutSingleSourceIsACopy) {
  const Sources s(1, 3, 4, 7);
  std::vector<float> y(12), d(12, 5.0f);
  forward(Kind::Maxout, s, y.data());
  EXPECT_EQ(y, s.data[0]);
  const std::vector<float> delta = uniform_values(12, 8);
  float* deltas[] = {d.data()};
  backward(Kind::Maxout, s, delta.data(), false, deltas);
  EXPECT_EQ(d, delta);
}

TEST(Pooling, MaxoutTiesGiveEveryTiedSourceTheDelta) {
  Sources s(3, 1, 3, 1);
  s.data[0] = {1.0f, -0.0f, 2.0f};
  s.data[1] = {1.0f, 0.0f, 3.0f};
  s.data[2] = {0.5f, -1.0f, 3.0f};
  std::vector<float> y(3);
  forward(Kind::Maxout, s, y.data());
  EXPECT_EQ(y, (std::vector<float>{1.0f, -0.0f, 3.0f}));
  EXPECT_TRUE(std::signbit(y[1])) << "-0 first, +0 not greater: the first stays";
  std::vector<std::vector<float>> d(3, std::vector<float>(3, 10.0f));
  const std::vector<float> delta{2.0f, 3.0f, 4.0f};
  backward(Kind::Maxout, s, delta.data(), true, pointers(d).data());
  EXPECT_EQ(d[0], (std::vector<float>{12.0f, 13.0f, 10.0f}));
  EXPECT_EQ(d[1], (std::vector<float>{12.0f, 13.0f, 14.0f}));
  EXPECT_EQ(d[2], (std::vector<float>{10.0f, 10.0f, 14.0f}));
  backward(Kind::Maxout, s, delta.data(), false, pointers(d).data());
  EXPECT_EQ(d[0], (std::vector<float>{2.0f, 3.0f, 0.0f}));
  EXPECT_EQ(d[2], (std::vector<float>{0.0f, 0.0f, 4.0f}));
}

TEST(Pooling, MaxoutNanWinsAndTheFirstStays) {
  const float first_nan = std::numeric_limits<float>::quiet_NaN();
  const float other_nan = -std::numeric_limits<float>::quiet_NaN();
  Sources s(3, 1, 3, 1);
  s.data[0] = {1.0f, first_nan, 0.0f};
  s.data[1] = {first_nan, 5.0f, 1.0f};
  s.data[2] = {other_nan, other_nan, 2.0f};
  std::vector<float> y(3);
  forward(Kind::Maxout, s, y.data());
  EXPECT_EQ(std::memcmp(&y[0], &first_nan, 4), 0);
  EXPECT_EQ(std::memcmp(&y[1], &first_nan, 4), 0);
  EXPECT_EQ(y[2], 2.0f);
  // Where the maximum is NaN nothing is equal to it: no source takes the delta.
  std::vector<std::vector<float>> d(3, std::vector<float>(3, 7.0f));
  const std::vector<float> delta{1.0f, 1.0f, 1.0f};
  backward(Kind::Maxout, s, delta.data(), false, pointers(d).data());
  for (const auto& dk : d) EXPECT_EQ(dk[0] + dk[1], 0.0f);
  EXPECT_EQ(d[2][2], 1.0f);
}

/// Central differences of Σ w·y (the double reference) against the kernel's backward with
/// delta = w, one unit of one source at a time.
void expect_gradients_match(Kind kind, Sources s) {
  const std::vector<float> w = uniform_values(std::size_t(s.rows * out_cols(kind, s)), 99);
  std::vector<std::vector<float>> d(std::size_t(s.count()),
                                    std::vector<float>(std::size_t(s.rows * s.cols)));
  backward(kind, s, w.data(), false, pointers(d).data());
  auto objective = [&] {
    const std::vector<double> y = reference(kind, s);
    double e = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) e += w[i] * y[i];
    return e;
  };
  const float h = 1e-3f;
  for (int64_t k = 0; k < s.count(); ++k)
    for (std::size_t e = 0; e < d[k].size(); ++e) {
      float& x = s.data[k][e];
      const float saved = x;
      x = saved + h;
      const double up = objective();
      x = saved - h;
      const double down = objective();
      x = saved;
      const double numeric = (up - down) / (double(saved + h) - double(saved - h));
      EXPECT_NEAR(d[k][e], numeric, 1e-5 + 1e-5 * std::fabs(numeric))
          << "source " << k << " unit " << e;
    }
}

TEST(Pooling, BackwardMatchesFiniteDifferences) {
  for (int64_t count : {2, 4}) {
    SCOPED_TRACE(count);
    expect_gradients_match(Kind::Dot, Sources(count, 3, 5, 40));
    expect_gradients_match(Kind::Cosine, Sources(count, 3, 5, 50));
    // Sources spread apart, so that a step of h never changes which one is the maximum.
    Sources spread(count, 3, 5, 60);
    for (int64_t k = 0; k < count; ++k)
      for (float& v : spread.data[k]) v = std::round(v * 8.0f) + 0.1f * float(k);
    expect_gradients_match(Kind::Maxout, spread);
  }
}

TEST(Pooling, AccumulateAddsAndNullDeltasAreSkipped) {
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine}) {
    SCOPED_TRACE(int(kind));
    const Sources s(4, 5, 9, 70);
    const std::vector<float> delta = uniform_values(std::size_t(5 * out_cols(kind, s)), 71);
    std::vector<std::vector<float>> fresh(4, std::vector<float>(45, -1.0f));
    backward(kind, s, delta.data(), false, pointers(fresh).data());
    std::vector<std::vector<float>> added(4, uniform_values(45, 72));
    const std::vector<float> before = added[0];
    Pointers p = pointers(added);
    p[2] = nullptr;
    backward(kind, s, delta.data(), true, p.data());
    for (int64_t k : {0, 1, 3})
      for (std::size_t e = 0; e < 45; ++e)
        EXPECT_NEAR(added[k][e], before[e] + fresh[k][e], 2e-6) << k << " " << e;
    EXPECT_EQ(added[2], before) << "a null entry's buffer is not touched";
  }
}

TEST(Pooling, EmptyShapes) {
  // Rows without units: a dot product and a cosine of 0; maxout writes nothing.
  const Sources empty_rows(3, 2, 0, 1);
  for (Kind kind : {Kind::Dot, Kind::Cosine}) {
    std::vector<float> y(4, 9.0f);
    forward(kind, empty_rows, y.data());
    EXPECT_EQ(y, std::vector<float>(4, 0.0f));
  }
  const Sources no_rows(3, 0, 5, 1);
  std::vector<float> y(1, 9.0f);
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine}) forward(kind, no_rows, y.data());
  EXPECT_EQ(y[0], 9.0f);
}

TEST(Pooling, ResultsDoNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int previous = omp_get_max_threads();
  const Sources s(3, 400, 300, 80);
  const std::vector<float> delta = uniform_values(400 * 300, 81);
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine}) {
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 3}) {
      omp_set_num_threads(threads);
      std::vector<float> y(std::size_t(400 * out_cols(kind, s)));
      forward(kind, s, y.data());
      std::vector<std::vector<float>> d(3, std::vector<float>(400 * 300));
      backward(kind, s, delta.data(), false, pointers(d).data());
      for (auto& dk : d) y.insert(y.end(), dk.begin(), dk.end());
      runs.push_back(y);
    }
    EXPECT_EQ(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4), 0) << int(kind);
  }
  omp_set_num_threads(previous);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace
}  // namespace dsstne
