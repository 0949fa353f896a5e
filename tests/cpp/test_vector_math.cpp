// SPDX-License-Identifier: Apache-2.0
// Tests of cpu/vector_math.hpp: log and exp over every 97th float bit pattern (both signs, the
// denormals, infinities and NaNs included) against libm and against the double-precision
// values, the special values one by one, log_of_normal against log, and a vectorized loop
// against one call at a time.

#include "cpu/vector_math.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

namespace dsstne {
namespace {

namespace vm = cpu::vector_math;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float float_from_bits(uint32_t bits) { return __builtin_bit_cast(float, bits); }

uint32_t bits_of(float x) { return __builtin_bit_cast(uint32_t, x); }

/// Position of x on the line of floats ordered by value (−0 and +0 both at 0).
int64_t float_rank(float x) {
  const uint32_t bits = bits_of(x);
  const int64_t magnitude = bits & 0x7fffffffu;
  return (bits >> 31) != 0 ? -magnitude : magnitude;
}

/// Floats between got and want; 0 for two NaNs, a huge number for one NaN.
int64_t ulp_distance(float got, float want) {
  if (std::isnan(got) || std::isnan(want)) {
    return std::isnan(got) && std::isnan(want) ? 0 : 1LL << 40;
  }
  return std::llabs(float_rank(got) - float_rank(want));
}

/// |got − exact| in units of the float spacing at exact (the denormal spacing below 2^-126), for
/// a finite exact value in float range; 0 where got is exact or both overflow.
double ulps_from_exact(float got, double exact) {
  if (static_cast<double>(got) == exact) return 0.0;
  if (std::fabs(exact) > std::numeric_limits<float>::max()) return std::isinf(got) ? 0.0 : 1e9;
  const int exponent = std::max(std::ilogb(exact), -126);
  return std::fabs(static_cast<double>(got) - exact) / std::ldexp(1.0, exponent - 23);
}

struct Accuracy {
  int64_t max_ulps_vs_libm = 0;
  double max_ulps_vs_exact = 0.0;
  float worst_input = 0.0f;
};

/// Every 97th bit pattern: 44 million floats of every sign, exponent and class.
template <typename Ours, typename Libm, typename Exact>
Accuracy sweep(Ours ours, Libm libm, Exact exact) {
  Accuracy acc;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 97) {
    const float x = float_from_bits(static_cast<uint32_t>(bits));
    const float got = ours(x);
    const int64_t d = ulp_distance(got, libm(x));
    if (d > acc.max_ulps_vs_libm) {
      acc.max_ulps_vs_libm = d;
      acc.worst_input = x;
    }
    const double e = exact(static_cast<double>(x));
    if (std::isfinite(e)) {
      acc.max_ulps_vs_exact = std::max(acc.max_ulps_vs_exact, ulps_from_exact(got, e));
    }
  }
  return acc;
}

TEST(VectorMath, LogAndExpAreAccurateOverEveryFloat) {
  // Measured on the full 2^32 sweep: 1 ulp at most from glibc's logf and expf, 0.90 and 0.99 ulp
  // at most from the exact values.
  const Accuracy log = sweep([](float x) { return vm::log(x); },
                             [](float x) { return std::log(x); },
                             [](double x) { return std::log(x); });
  const Accuracy exp = sweep([](float x) { return vm::exp(x); },
                             [](float x) { return std::exp(x); },
                             [](double x) { return std::exp(x); });
  for (const auto& [name, acc] : {std::pair{"log", log}, std::pair{"exp", exp}}) {
    EXPECT_LE(acc.max_ulps_vs_libm, 2) << name << ": worst at " << acc.worst_input;
    EXPECT_LT(acc.max_ulps_vs_exact, 1.0) << name;
    std::printf("%s: %lld ulp at most from libm, %.3f from the exact value\n", name,
                static_cast<long long>(acc.max_ulps_vs_libm), acc.max_ulps_vs_exact);
  }
}

TEST(VectorMath, LogSpecialValues) {
  EXPECT_TRUE(std::isnan(vm::log(kNaN)));
  EXPECT_TRUE(std::isnan(vm::log(-kNaN)));
  EXPECT_EQ(vm::log(0.0f), -kInf);
  EXPECT_EQ(vm::log(-0.0f), -kInf);
  EXPECT_TRUE(std::isnan(vm::log(-1.0f)));
  EXPECT_TRUE(std::isnan(vm::log(-std::numeric_limits<float>::denorm_min())));
  EXPECT_TRUE(std::isnan(vm::log(-kInf)));
  EXPECT_EQ(vm::log(kInf), kInf);
  EXPECT_EQ(bits_of(vm::log(1.0f)), bits_of(0.0f));
  const float smallest = std::numeric_limits<float>::denorm_min();
  EXPECT_EQ(vm::log(smallest), std::log(smallest));
  EXPECT_LE(ulp_distance(vm::log(std::numeric_limits<float>::max()),
                         std::log(std::numeric_limits<float>::max())), 1);
  EXPECT_LE(ulp_distance(vm::log(std::numeric_limits<float>::min()),
                         std::log(std::numeric_limits<float>::min())), 1);
}

TEST(VectorMath, ExpSpecialValues) {
  EXPECT_TRUE(std::isnan(vm::exp(kNaN)));
  EXPECT_TRUE(std::isnan(vm::exp(-kNaN)));
  EXPECT_EQ(vm::exp(kInf), kInf);
  EXPECT_EQ(bits_of(vm::exp(-kInf)), bits_of(0.0f));
  EXPECT_EQ(vm::exp(0.0f), 1.0f);
  EXPECT_EQ(vm::exp(-0.0f), 1.0f);
  EXPECT_EQ(vm::exp(1000.0f), kInf);
  EXPECT_EQ(vm::exp(-1000.0f), 0.0f);
  // Every float where e^x overflows, and where it underflows through the denormals to zero.
  for (float x = 88.5f; x < 89.5f; x = std::nextafter(x, kInf)) {
    ASSERT_EQ(std::isinf(vm::exp(x)), std::isinf(std::exp(x))) << "e^" << x;
    ASSERT_LE(ulp_distance(vm::exp(x), std::exp(x)), 1) << "e^" << x;
  }
  for (float x = -105.0f; x < -87.0f; x = std::nextafter(x, kInf)) {
    ASSERT_LE(ulp_distance(vm::exp(x), std::exp(x)), 1) << "e^" << x;
  }
}

TEST(VectorMath, LogOfNormalIsLogFromTheSmallestNormalUp) {
  for (uint64_t bits = 0x00800000u; bits <= 0x7f800000u; bits += 97) {
    const float x = float_from_bits(static_cast<uint32_t>(bits));
    ASSERT_EQ(bits_of(vm::log_of_normal(x)), bits_of(vm::log(x))) << x;
  }
  EXPECT_EQ(vm::log_of_normal(std::numeric_limits<float>::min()),
            vm::log(std::numeric_limits<float>::min()));
  EXPECT_EQ(vm::log_of_normal(std::numeric_limits<float>::max()),
            vm::log(std::numeric_limits<float>::max()));
  EXPECT_EQ(vm::log_of_normal(kInf), kInf);
  EXPECT_TRUE(std::isnan(vm::log_of_normal(kNaN)));
}

TEST(VectorMath, SelectPicksBitsIncludingNaNAndSignedZero) {
  EXPECT_EQ(bits_of(vm::select(true, -0.0f, 1.0f)), bits_of(-0.0f));
  EXPECT_EQ(vm::select(false, -0.0f, 1.0f), 1.0f);
  EXPECT_TRUE(std::isnan(vm::select(true, kNaN, 1.0f)));
}

/// One call at a time, kept out of the caller's loop.
__attribute__((noinline)) float log_alone(float x) { return vm::log(x); }
__attribute__((noinline)) float exp_alone(float x) { return vm::exp(x); }

TEST(VectorMath, VectorizedLoopEqualsOneCallAtATime) {
  std::vector<float> x;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 65537) {
    x.push_back(float_from_bits(static_cast<uint32_t>(bits)));
  }
  std::vector<float> logs(x.size()), exps(x.size());
#pragma omp simd
  for (size_t i = 0; i < x.size(); ++i) logs[i] = vm::log(x[i]);
#pragma omp simd
  for (size_t i = 0; i < x.size(); ++i) exps[i] = vm::exp(x[i]);
  for (size_t i = 0; i < x.size(); ++i) {
    const float l = log_alone(x[i]), e = exp_alone(x[i]);
    ASSERT_TRUE(bits_of(logs[i]) == bits_of(l) || (std::isnan(logs[i]) && std::isnan(l))) << x[i];
    ASSERT_TRUE(bits_of(exps[i]) == bits_of(e) || (std::isnan(exps[i]) && std::isnan(e))) << x[i];
  }
}

}  // namespace
}  // namespace dsstne
