// SPDX-License-Identifier: Apache-2.0
// The CPU batch normalization kernels (cpu::batch_norm_*): the forward passes against plain
// double loops on fully-connected (spatial 1) and convolutional (spatial > 1) shapes, the
// running averages for factors 0, 0.1 and 1, one value per feature (m = 1), empty batches, the
// backward pass against central differences, the documented lane order of the sums, results
// that do not depend on the thread count, and the argument checks.
//
// Tolerances: each output is a double computation rounded to float once, so it sits within
// 2^-24 (relative) of the double loops, plus 1e-12 for the double roundings where an output is
// near 0. The finite differences run on a double forward (h = 1e-5, error ~1e-10); the kernel's
// gradients carry float rounding of the saved statistics and of the result (~1e-7 relative),
// hence 1e-5 absolute + 1e-5 relative.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"
#include "refusal.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;
using dsstne::testing::refusal;
using dsstne::testing::uniform_values;

constexpr float kEpsilon = 1e-3f;

/// A batch, its parameters, and every output of the three kernels.
struct Batch {
  Batch(BatchNormShape shape, uint64_t seed) : s(shape) {
    const std::size_t n = std::size_t(s.rows * s.features * s.spatial);
    const auto F = std::size_t(s.features);
    z = uniform_values(n, seed, 1.0f, 4.0f);  // mean 2.5: a mean the variance must not leak
    gamma = uniform_values(F, seed + 1, 0.5f, 1.5f);
    beta = uniform_values(F, seed + 2);
    running_mean = uniform_values(F, seed + 3);
    running_var = uniform_values(F, seed + 4, 0.5f, 2.0f);
    dy = uniform_values(n, seed + 5);
    y.assign(n, 0.0f);
    dz.assign(n, 0.0f);
    saved_mean.assign(F, 0.0f);
    saved_inv_std.assign(F, 0.0f);
    dgamma.assign(F, 0.0f);
    dbeta.assign(F, 0.0f);
  }
  void train(float factor) {
    cpu::batch_norm_forward_training(host, s, z.data(), gamma.data(), beta.data(), kEpsilon, factor,
                                     y.data(), saved_mean.data(), saved_inv_std.data(),
                                     running_mean.data(), running_var.data());
  }
  void backward() {
    cpu::batch_norm_backward(host, s, z.data(), dy.data(), gamma.data(), saved_mean.data(),
                             saved_inv_std.data(), dz.data(), dgamma.data(), dbeta.data());
  }
  int64_t at(int64_t r, int64_t f, int64_t j) const { return (r * s.features + f) * s.spatial + j; }
  BatchNormShape s;
  std::vector<float> z, gamma, beta, running_mean, running_var, dy;
  std::vector<float> y, dz, saved_mean, saved_inv_std, dgamma, dbeta;
};

/// Mean and biased variance of each feature, straight from the definitions.
struct Moments {
  std::vector<double> mean, var;
};
Moments moments(const BatchNormShape& s, const std::vector<double>& z) {
  Moments mo{std::vector<double>(std::size_t(s.features)),
             std::vector<double>(std::size_t(s.features))};
  const double m = double(s.rows * s.spatial);
  for (int64_t f = 0; f < s.features; ++f) {
    double sum = 0.0, sq = 0.0;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t j = 0; j < s.spatial; ++j)
        sum += z[std::size_t((r * s.features + f) * s.spatial + j)];
    const double mean = sum / m;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t j = 0; j < s.spatial; ++j) {
        const double d = z[std::size_t((r * s.features + f) * s.spatial + j)] - mean;
        sq += d * d;
      }
    mo.mean[std::size_t(f)] = mean;
    mo.var[std::size_t(f)] = sq / m;
  }
  return mo;
}

/// The training forward in double.
std::vector<double> reference_y(const BatchNormShape& s, const std::vector<double>& z,
                                const std::vector<double>& gamma, const std::vector<double>& beta) {
  const Moments mo = moments(s, z);
  std::vector<double> y(z.size());
  for (std::size_t e = 0; e < z.size(); ++e) {
    const auto f = std::size_t((int64_t(e) / s.spatial) % s.features);
    y[e] = gamma[f] * (z[e] - mo.mean[f]) / std::sqrt(mo.var[f] + double(kEpsilon)) + beta[f];
  }
  return y;
}

std::vector<double> to_double(const std::vector<float>& x) { return {x.begin(), x.end()}; }

void expect_near_rounded(float got, double ref, const std::string& what) {
  EXPECT_NEAR(got, ref, 6e-8 * std::fabs(ref) + 1e-12) << what;
}

constexpr BatchNormShape kShapes[] = {{7, 5, 1},    {300, 3, 1}, {4, 3, 49},
                                      {2, 2, 1000}, {3, 1, 300}, {1, 4, 7}};

TEST(BatchNorm, TrainingMatchesDoubleLoops) {
  for (const BatchNormShape& s : kShapes)
    for (float factor : {0.0f, 0.1f, 1.0f}) {
      SCOPED_TRACE(::testing::Message()
                   << s.rows << "x" << s.features << "x" << s.spatial << " factor " << factor);
      Batch b(s, uint64_t(s.rows * 1000 + s.spatial));
      const std::vector<float> old_mean = b.running_mean, old_var = b.running_var;
      b.train(factor);
      const Moments mo = moments(s, to_double(b.z));
      const std::vector<double> y =
          reference_y(s, to_double(b.z), to_double(b.gamma), to_double(b.beta));
      for (std::size_t e = 0; e < y.size(); ++e) expect_near_rounded(b.y[e], y[e], "y");
      const double m = double(s.rows * s.spatial);
      for (std::size_t f = 0; f < std::size_t(s.features); ++f) {
        expect_near_rounded(b.saved_mean[f], mo.mean[f], "saved mean");
        expect_near_rounded(b.saved_inv_std[f], 1.0 / std::sqrt(mo.var[f] + double(kEpsilon)),
                            "saved inv std");
        const double unbiased = mo.var[f] * m / (m - 1.0);
        const double f64 = factor;
        expect_near_rounded(b.running_mean[f], (1.0 - f64) * old_mean[f] + f64 * mo.mean[f],
                            "running mean");
        expect_near_rounded(b.running_var[f], (1.0 - f64) * old_var[f] + f64 * unbiased,
                            "running var");
      }
      if (factor == 0.0f) {
        EXPECT_EQ(b.running_mean, old_mean) << "factor 0 leaves the running averages alone";
        EXPECT_EQ(b.running_var, old_var);
      }
    }
}

TEST(BatchNorm, FactorOneOverwritesEvenNaN) {
  Batch b({6, 3, 2}, 5);
  std::fill(b.running_mean.begin(), b.running_mean.end(), std::numeric_limits<float>::quiet_NaN());
  std::fill(b.running_var.begin(), b.running_var.end(), std::numeric_limits<float>::infinity());
  b.train(1.0f);
  for (int f = 0; f < 3; ++f) {
    EXPECT_EQ(b.running_mean[f], b.saved_mean[f]);
    EXPECT_TRUE(std::isfinite(b.running_var[f]));
  }
}

TEST(BatchNorm, OneValuePerFeature) {
  // m = 1: μ = z, σ² = 0, so y = beta exactly and the unbiased variance is σ² = 0.
  Batch b({1, 4, 1}, 6);
  const std::vector<float> old_var = b.running_var;
  b.train(0.1f);
  EXPECT_EQ(b.y, b.beta);
  EXPECT_EQ(b.saved_mean, b.z);
  for (int f = 0; f < 4; ++f) {
    EXPECT_EQ(b.saved_inv_std[f], float(1.0 / std::sqrt(double(kEpsilon))));
    EXPECT_EQ(b.running_var[f], float(0.9 * double(old_var[f])));
  }
  // y does not depend on z: dz = 0, dbeta = dy (one row: its mean), dgamma = Σ dy·ẑ = 0.
  b.backward();
  EXPECT_EQ(b.dz, std::vector<float>(4, 0.0f));
  EXPECT_EQ(b.dbeta, b.dy);
  EXPECT_EQ(b.dgamma, std::vector<float>(4, 0.0f));
}

TEST(BatchNorm, EmptyBatchIsANoOp) {
  for (BatchNormShape s : {BatchNormShape{0, 3, 2}, BatchNormShape{0, 0, 1}}) {
    std::vector<float> v(3, 7.0f);
    float* p = v.data();
    cpu::batch_norm_forward_training(host, s, nullptr, nullptr, nullptr, kEpsilon, 0.5f, nullptr, p,
                                     p, p, p);
    cpu::batch_norm_forward_inference(host, s, nullptr, nullptr, nullptr, nullptr, nullptr,
                                      kEpsilon, nullptr);
    cpu::batch_norm_backward(host, s, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, p, p);
    EXPECT_EQ(v, std::vector<float>(3, 7.0f)) << "the running averages stay as they are";
  }
}

TEST(BatchNorm, InferenceUsesTheRunningAverages) {
  for (const BatchNormShape& s : kShapes) {
    Batch b(s, uint64_t(s.features * 77 + s.spatial));
    cpu::batch_norm_forward_inference(host, s, b.z.data(), b.gamma.data(), b.beta.data(),
                                      b.running_mean.data(), b.running_var.data(), kEpsilon,
                                      b.y.data());
    for (std::size_t e = 0; e < b.y.size(); ++e) {
      const auto f = std::size_t((int64_t(e) / s.spatial) % s.features);
      const double ref = double(b.gamma[f]) * (double(b.z[e]) - b.running_mean[f]) /
                             std::sqrt(double(b.running_var[f]) + double(kEpsilon)) +
                         double(b.beta[f]);
      expect_near_rounded(b.y[e], ref, "inference y");
    }
  }
}

/// dz, dgamma, dbeta against central differences of L = Σ dy·y on the double forward.
void expect_gradients_match(BatchNormShape s, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.features << "x" << s.spatial);
  Batch b(s, seed);
  b.train(0.0f);
  b.backward();
  std::vector<double> z = to_double(b.z), gamma = to_double(b.gamma), beta = to_double(b.beta);
  auto loss = [&] {
    const std::vector<double> y = reference_y(s, z, gamma, beta);
    double sum = 0.0;
    for (std::size_t e = 0; e < y.size(); ++e) sum += double(b.dy[e]) * y[e];
    return sum;
  };
  auto numeric = [&](double& x) {
    const double h = 1e-5, saved = x;
    x = saved + h;
    const double up = loss();
    x = saved - h;
    const double down = loss();
    x = saved;
    return (up - down) / (2.0 * h);
  };
  auto expect_close = [](float got, double want, const char* what, std::size_t i) {
    EXPECT_NEAR(got, want, 1e-5 + 1e-5 * std::fabs(want)) << what << "[" << i << "]";
  };
  for (std::size_t e = 0; e < z.size(); ++e) expect_close(b.dz[e], numeric(z[e]), "dz", e);
  for (std::size_t f = 0; f < gamma.size(); ++f) {
    // The parameter gradients are batch means.
    expect_close(b.dgamma[f], numeric(gamma[f]) / double(s.rows), "dgamma", f);
    expect_close(b.dbeta[f], numeric(beta[f]) / double(s.rows), "dbeta", f);
  }
}

TEST(BatchNorm, BackwardMatchesFiniteDifferences) {
  expect_gradients_match({5, 3, 1}, 20);
  expect_gradients_match({2, 4, 1}, 21);  // m = 2
  expect_gradients_match({3, 2, 4}, 22);
  expect_gradients_match({40, 2, 9}, 23);  // m = 360: more than one lane sweep
}

/// Feature f's sum of x in the lane order of batch_norm_terms.hpp, written out again, or with
/// `lanes` = 1 in plain sequential order. Additions only, so no contraction can differ.
double ordered_sum(const Batch& b, const std::vector<float>& x, int64_t f, int lanes = 256) {
  std::vector<double> lane(std::size_t(lanes), 0.0);
  int64_t i = 0;
  for (int64_t r = 0; r < b.s.rows; ++r)
    for (int64_t j = 0; j < b.s.spatial; ++j, ++i)
      lane[std::size_t(i % lanes)] += x[std::size_t(b.at(r, f, j))];
  for (int stride = lanes / 2; stride > 0; stride /= 2)
    for (int t = 0; t < stride; ++t) lane[std::size_t(t)] += lane[std::size_t(t + stride)];
  return lane[0];
}

/// Small values with pairs of huge ones, ±B, that cancel within each feature: the huge ones
/// swallow different low bits of the small ones in different orders, by far more than a float
/// ulp of the total.
void add_cancelling_pairs(const Batch& b, std::vector<float>& x, uint64_t seed) {
  std::mt19937_64 gen(seed);
  for (int64_t f = 0; f < b.s.features; ++f) {
    std::vector<std::size_t> at;
    for (int64_t r = 0; r < b.s.rows; ++r)
      for (int64_t j = 0; j < b.s.spatial; ++j) at.push_back(std::size_t(b.at(r, f, j)));
    std::shuffle(at.begin(), at.end(), gen);
    for (std::size_t k = 0; k + 1 < at.size() / 8; k += 2) {  // disjoint pairs, 1 value in 8
      x[at[k]] = std::ldexp(1.0f + x[at[k]], 36);
      x[at[k + 1]] = -x[at[k]];
    }
  }
}

TEST(BatchNorm, SumsFollowTheLaneOrder) {
  Batch b({37, 3, 29}, 30);
  add_cancelling_pairs(b, b.z, 31);
  add_cancelling_pairs(b, b.dy, 32);
  b.train(0.5f);
  b.backward();
  const double m = double(b.s.rows * b.s.spatial);
  int order_matters = 0;
  for (int64_t f = 0; f < 3; ++f) {
    EXPECT_EQ(b.saved_mean[f], float(ordered_sum(b, b.z, f) / m)) << f;
    const double rows = double(b.s.rows);
    EXPECT_EQ(b.dbeta[f], float(ordered_sum(b, b.dy, f) / rows)) << f;
    for (int lanes : {1, 128})
      order_matters += float(ordered_sum(b, b.dy, f, lanes) / rows) != b.dbeta[f];
  }
  EXPECT_GT(order_matters, 0) << "the data do not tell one summation order from another";
}

TEST(BatchNorm, ResultsDoNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int previous = omp_get_max_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    Batch b({64, 40, 50}, 40);  // 128000 values: above the parallel threshold
    b.train(0.1f);
    b.backward();
    std::vector<float> all = b.y;
    for (const auto* v : {&b.saved_mean, &b.saved_inv_std, &b.running_mean, &b.running_var, &b.dz,
                          &b.dgamma, &b.dbeta})
      all.insert(all.end(), v->begin(), v->end());
    runs.push_back(all);
  }
  omp_set_num_threads(previous);
  ASSERT_EQ(runs[0].size(), runs[1].size());
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4), 0);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

/// A call on the CPU and the same call through dsstne::cuda (the real kernel or the stub of a
/// build without CUDA, both of which check before anything else) raise the same message, which
/// names the kernel and holds `needle`.
template <typename Cpu, typename Cuda>
void expect_refused(Cpu&& on_cpu, Cuda&& on_cuda, const char* kernel, const char* needle) {
  const std::string message = refusal(on_cpu);
  EXPECT_EQ(message.rfind(kernel, 0), 0u) << message;
  EXPECT_NE(message.find(needle), std::string::npos) << message;
  EXPECT_EQ(refusal(on_cuda), message);
}

TEST(BatchNorm, ChecksRefuseBadArguments) {
  Batch b({2, 3, 4}, 50);
  float* y = b.y.data();
  auto train = [&](auto backend, BatchNormShape s, float eps, float factor, const float* z,
                   float* run) {
    return [=, &b] {
      backend(host, s, z, b.gamma.data(), b.beta.data(), eps, factor, y, b.saved_mean.data(),
              b.saved_inv_std.data(), run, b.running_var.data());
    };
  };
  const auto cpu_train = &cpu::batch_norm_forward_training;
  const auto gpu_train = &cuda::batch_norm_forward_training;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float* z = b.z.data();
  float* rm = b.running_mean.data();
  struct Case {
    BatchNormShape s;
    float eps, factor;
    bool null_z, null_running;
    const char* needle;
  };
  const Case cases[] = {
      {{-1, 3, 4}, kEpsilon, 0.1f, false, false, "bad shape rows=-1"},
      {{2, 0, 4}, kEpsilon, 0.1f, false, false, "features=0"},
      {{2, 3, 0}, kEpsilon, 0.1f, false, false, "spatial=0"},
      {{2, 3, 4}, 0.0f, 0.1f, false, false, "epsilon = 0"},
      {{2, 3, 4}, nan, 0.1f, false, false, "epsilon = nan"},
      {{0, 3, 4}, -1.0f, 0.1f, false, false, "epsilon = -1"},  // checked even with no rows
      {{2, 3, 4}, kEpsilon, 1.5f, false, false, "factor = 1.5"},
      {{2, 3, 4}, kEpsilon, nan, false, false, "factor = nan"},
      {{2, 3, 4}, kEpsilon, 0.1f, true, false, "input pointer is null"},
      {{2, 3, 4}, kEpsilon, 0.1f, false, true, "running mean pointer is null"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    const float* zc = c.null_z ? nullptr : z;
    float* rc = c.null_running ? nullptr : rm;
    expect_refused(train(cpu_train, c.s, c.eps, c.factor, zc, rc),
                   train(gpu_train, c.s, c.eps, c.factor, zc, rc), "batch_norm_forward_training",
                   c.needle);
  }
  const BatchNormShape s = b.s;
  expect_refused(
      [&] {
        cpu::batch_norm_forward_inference(host, s, z, b.gamma.data(), b.beta.data(), rm,
                                          b.running_var.data(), 0.0f, y);
      },
      [&] {
        cuda::batch_norm_forward_inference(host, s, z, b.gamma.data(), b.beta.data(), rm,
                                           b.running_var.data(), 0.0f, y);
      },
      "batch_norm_forward_inference", "epsilon = 0");
  expect_refused(
      [&] {
        cpu::batch_norm_backward(host, s, z, b.dy.data(), b.gamma.data(), b.saved_mean.data(),
                                 b.saved_inv_std.data(), b.dz.data(), nullptr, b.dbeta.data());
      },
      [&] {
        cuda::batch_norm_backward(host, s, z, b.dy.data(), b.gamma.data(), b.saved_mean.data(),
                                  b.saved_inv_std.data(), b.dz.data(), nullptr, b.dbeta.data());
      },
      "batch_norm_backward", "the gamma gradient pointer is null");
}

}  // namespace
}  // namespace dsstne
