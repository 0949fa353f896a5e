// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers of the CUDA-vs-CPU parity tests: a CUDA context (or a skip, which becomes a failure
// under DSSTNE_REQUIRE_GPU=1), device copies of host vectors, and a comparison that prints the
// first mismatches and the largest errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/device_buffer.hpp"
#include "host_context.hpp"
#include "random_values.hpp"

namespace dsstne::testing {

inline bool gpu_required() {
  const char* v = std::getenv("DSSTNE_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

/// Why no CUDA context can be made here, or "" when one can.
inline std::string cuda_unavailable_reason() {
  if (!Context::cuda_built()) return "this libdsstne has no CUDA backend";
  if (cuda::device_count() == 0) return "no CUDA device is visible";
  return "";
}

/// Skips the test without a GPU; fails instead when DSSTNE_REQUIRE_GPU=1.
#define DSSTNE_CUDA_CONTEXT_OR_SKIP(name)                                         \
  const std::string name##_reason = ::dsstne::testing::cuda_unavailable_reason(); \
  if (!name##_reason.empty()) {                                                   \
    if (::dsstne::testing::gpu_required()) FAIL() << name##_reason;               \
    GTEST_SKIP() << name##_reason;                                                \
  }                                                                               \
  const ::dsstne::Context name(::dsstne::Device::CUDA, 0, 12134)

/// A device copy of a host vector.
template <typename T>
DeviceBuffer<T> on_device(const Context& ctx, const std::vector<T>& host, const char* name = "test") {
  DeviceBuffer<T> buffer(ctx, host.size(), name);
  buffer.upload(host);
  return buffer;
}

/// Checks |got − ref| ≤ atol + rtol·|ref| elementwise; prints the first mismatches.
inline void expect_close(const std::vector<float>& ref, const std::vector<float>& got,
                         double rtol, double atol, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what << ": sizes differ";
  int shown = 0;
  std::size_t bad = 0;
  double max_abs = 0.0, max_rel = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    const double diff = std::fabs(r - g);
    const bool both_nan = std::isnan(r) && std::isnan(g);
    const bool same_inf = std::isinf(r) && r == g;
    if (both_nan || same_inf) continue;
    max_abs = std::max(max_abs, diff);
    if (r != 0.0) max_rel = std::max(max_rel, diff / std::fabs(r));
    if (!(diff <= atol + rtol * std::fabs(r))) {
      ++bad;
      if (shown++ < 5) ADD_FAILURE() << what << "[" << i << "]: cpu " << r << " cuda " << g;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << ref.size()
                     << " differ; max abs error " << max_abs << ", max rel error " << max_rel;
}

/// Bitwise equality (NaN payloads and the sign of zero included); prints the first mismatches.
template <typename T>
void expect_bitwise(const std::vector<T>& ref, const std::vector<T>& got, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what << ": sizes differ";
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (std::memcmp(&ref[i], &got[i], sizeof(T)) == 0) continue;
    if (bad++ < 5) ADD_FAILURE() << what << "[" << i << "]: cpu " << +ref[i] << " cuda " << +got[i];
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << ref.size() << " differ";
}

/// expect_bitwise, except that any NaN matches any NaN: the GPU's arithmetic returns its
/// canonical NaN where the CPU's returns the NaN operand.
inline void expect_bitwise_any_nan(const std::vector<float>& ref, const std::vector<float>& got,
                                   const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what << ": sizes differ";
  std::vector<float> a = ref, b = got;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::isnan(a[i]) && std::isnan(b[i])) a[i] = b[i] = 0.0f;
  expect_bitwise(a, b, what);
}

}  // namespace dsstne::testing
