// SPDX-License-Identifier: Apache-2.0
// The execution context on any machine: copies share one state, buffers know their device, the
// argument checks are one front for both backends, and a build without CUDA raises one message
// from stubs generated out of kernels.inc.
#include <gtest/gtest.h>

#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "copy_rows_check.hpp"
#include "dsstne/context.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using testing::host;

TEST(Context, CopiesShareOneState) {
  const Context a(Device::CPU, 0, 7);
  Context b = a;
  EXPECT_TRUE(b.shares_state_with(a));
  EXPECT_EQ(&b.comm(), &a.comm());
  EXPECT_TRUE(b.same_device(a));
  // The seed and the GEMM math are each copy's own.
  b.set_seed(8);
  b.set_tf32(true);
  EXPECT_EQ(a.seed(), 7u);
  EXPECT_FALSE(a.tf32());
  EXPECT_EQ(b.seed(), 8u);
  EXPECT_TRUE(b.tf32());
  // A context made separately shares nothing, even on the same device.
  const Context c(Device::CPU, 0, 7);
  EXPECT_FALSE(c.shares_state_with(a));
  EXPECT_NE(&c.comm(), &a.comm());
  EXPECT_TRUE(c.same_device(a));
  EXPECT_EQ(a.device_string(), "cpu");
  EXPECT_EQ(b.describe(), "cpu seed=8 ranks=1 (local) tf32");
  b.set_gemm_math(GemmMath::BFloat16);
  EXPECT_FALSE(b.tf32());
  EXPECT_EQ(a.gemm_math(), GemmMath::Float32);
  EXPECT_EQ(b.describe(), "cpu seed=8 ranks=1 (local) bf16");
  b.set_tf32(false);
  EXPECT_EQ(b.gemm_math(), GemmMath::Float32);
}

TEST(Context, ACpuContextHasNoCudaResources) {
  EXPECT_EQ(host.cuda_resources_if_made(), nullptr);
  try {
    host.cuda_resources();
    ADD_FAILURE() << "a CPU context handed out CUDA resources";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("context cpu"), std::string::npos) << e.what();
  }
}

TEST(DeviceBuffer, KnowsItsContext) {
  const Context ctx(Device::CPU, 0, 1);
  DeviceBuffer<float> a(ctx, 4, "a");
  EXPECT_EQ(a.device(), Device::CPU);
  EXPECT_EQ(a.device_ordinal(), 0);
  EXPECT_TRUE(a.context().shares_state_with(ctx));
  const DeviceBuffer<float> b = std::move(a);
  EXPECT_TRUE(b.context().shares_state_with(ctx));
  EXPECT_TRUE(a.context().shares_state_with(ctx));  // an emptied buffer stays on its device
  EXPECT_EQ(b.size(), 4u);
  EXPECT_TRUE(a.empty());
}

TEST(DeviceBuffer, CopiesRowsBetweenPitches) {
  const Context ctx;
  testing::expect_rows_copied_between_pitches(ctx);
}

TEST(MemoryUsage, CountsAllocations) {
  const int64_t before = memory_usage().cpu_allocations;
  DeviceBuffer<float> a(host, 16, "a");
  EXPECT_EQ(memory_usage().cpu_allocations, before + 1);
  a.resize(8);  // within the capacity
  EXPECT_EQ(memory_usage().cpu_allocations, before + 1);
}

// ---- the build without CUDA ---------------------------------------------------------------------

/// The message of the NotSupported that `f` raises, or "" (with a failure) for anything else.
template <typename F>
std::string not_supported(F&& f) {
  try {
    f();
  } catch (const NotSupported& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected NotSupported, got " << typeid(e).name() << ": " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected NotSupported, nothing was raised";
  return "";
}

void expect_no_backend(const std::string& message, const std::string& what) {
  EXPECT_NE(message.find("this build of dsstne has no CUDA backend"), std::string::npos) << message;
  EXPECT_NE(message.find("built without CUDA"), std::string::npos) << message;
  EXPECT_NE(message.find(what + " is unavailable"), std::string::npos) << message;
}

TEST(CudaStubs, RaiseTheOneMessage) {
  if (Context::cuda_built()) GTEST_SKIP() << "this libdsstne has the CUDA backend";
  expect_no_backend(not_supported([] { Context(Device::CUDA, 1, 5); }), "cuda:1");
  expect_no_backend(not_supported([] { Context::from_string("cuda", 5); }), "cuda:0");
  EXPECT_EQ(cuda::device_count(), 0);
  expect_no_backend(not_supported([] { cuda::check_device(0); }), "cuda::check_device");
  expect_no_backend(not_supported([] { cuda::allocate(host, 8); }), "cuda::allocate");
  expect_no_backend(not_supported([] { cuda::memory_info(host, nullptr, nullptr); }),
                    "cuda::memory_info");

  // Generated kernel stubs: valid calls pass the checks, then raise naming the kernel.
  std::vector<float> x(12, 0.5f), y(12, 0.0f);
  expect_no_backend(not_supported([&] { cuda::fill(host, x.data(), 12, 1.0f); }), "cuda::fill");
  expect_no_backend(not_supported([&] {
                      cuda::gemm(host, false, false, 3, 4, 2, 1.0f, x.data(), 2, x.data(), 4,
                                 0.0f, y.data(), 4);
                    }),
                    "cuda::gemm");
  expect_no_backend(
      not_supported([&] { cuda::regularization_error(host, x.data(), 12, 0.1f, 0.0f); }),
      "cuda::regularization_error");
  const LossParams loss;
  TargetView t;
  t.dense = x.data();
  expect_no_backend(
      not_supported([&] { cuda::output_error(host, loss, x.data(), 3, 4, 0, t); }),
      "cuda::output_error");
  std::vector<float> scores(12);
  std::vector<uint32_t> indices(6);
  expect_no_backend(not_supported([&] {
                      cuda::topk(host, x.data(), 3, 4, 0, 2, nullptr, scores.data(),
                                 indices.data());
                    }),
                    "cuda::topk");
  // A call with nothing to compute still says the backend is missing.
  expect_no_backend(not_supported([&] { cuda::add(host, x.data(), 0, y.data()); }), "cuda::add");
}

}  // namespace
}  // namespace dsstne
