// SPDX-License-Identifier: Apache-2.0
// The kernels of an SGD step taken inside the gradient's product (docs/design.md "SGD inside the
// backward pass"): sgd_step_scalars, zero_if_halted and gemm_device_scalars, on the CPU and
// against it on the GPU. The scalars and the zeroing are bitwise the CPU's; the product is
// cuBLAS's and compared to 1e-5 relative, as gemm is (TF32 and bf16: the step to 1%). A halted
// step leaves the matrix's bits. Their refusals are in test_kernel_checks.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using testing::expect_bitwise;
using testing::expect_close;
using testing::host;
using testing::on_device;
using testing::uniform_values;

UpdateParams sgd(float alpha, float lambda, const int32_t* halt) {
  UpdateParams u;
  u.mode = TrainingMode::SGD;
  u.alpha = alpha;
  u.lambda = lambda;
  u.halt = halt;
  return u;
}

TEST(SgdInProduct, ScalarsAreTheStepAndDecayOrZeroAndOneWhenHalted) {
  float scalars[2];
  int32_t running = 0, halted = 1;
  cpu::sgd_step_scalars(host, sgd(0.3f, 0.01f, &running), -0.25f, scalars);
  EXPECT_EQ(scalars[0], 0.3f * -0.25f);
  EXPECT_EQ(scalars[1], 1.0f - 0.3f * 0.01f);
  cpu::sgd_step_scalars(host, sgd(0.3f, 0.0f, nullptr), -0.25f, scalars);
  EXPECT_EQ(scalars[1], 1.0f);
  cpu::sgd_step_scalars(host, sgd(0.3f, 0.01f, &halted), -0.25f, scalars);
  EXPECT_EQ(scalars[0], 0.0f);
  EXPECT_EQ(scalars[1], 1.0f);
}

TEST(SgdInProduct, ZeroIfHaltedZeroesOnlyWhenHalted) {
  const std::vector<float> start = uniform_values(37, 4);
  std::vector<float> x = start;
  int32_t flag = 0;
  cpu::zero_if_halted(host, &flag, x.data(), int64_t(x.size()));
  expect_bitwise(start, x, "not halted");
  flag = 1;
  cpu::zero_if_halted(host, &flag, x.data(), int64_t(x.size()));
  for (float v : x) EXPECT_EQ(v, 0.0f);
}

TEST(SgdInProduct, DeviceScalarsGiveGemmsResultBitwiseOnTheCpu) {
  const int64_t m = 13, n = 21, k = 8;
  const auto a = uniform_values(k * m, 1), b = uniform_values(k * n, 2);
  const auto c0 = uniform_values(m * n, 3);
  std::vector<float> ref = c0, got = c0;
  const float scalars[2] = {-0.0625f, 0.999f};
  cpu::gemm(host, true, false, m, n, k, scalars[0], a.data(), m, b.data(), n, scalars[1],
            ref.data(), n);
  cpu::gemm_device_scalars(host, true, false, m, n, k, scalars, a.data(), m, b.data(), n,
                           got.data(), n);
  expect_bitwise(ref, got, "gemm_device_scalars");
}

TEST(CudaParitySgdInProduct, ScalarsAndZeroingAreBitwiseTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  for (int32_t flag : {0, 1}) {
    for (float lambda : {0.0f, 0.0001f, 0.37f}) {
      int32_t cpu_flag = flag;
      float ref[2];
      cpu::sgd_step_scalars(host, sgd(0.0123f, lambda, &cpu_flag), -1.0f / 256.0f, ref);
      const DeviceBuffer<int32_t> halt = on_device(ctx, std::vector<int32_t>{flag});
      DeviceBuffer<float> got(ctx, 2, "scalars");
      cuda::sgd_step_scalars(ctx, sgd(0.0123f, lambda, halt.data()), -1.0f / 256.0f, got.data());
      expect_bitwise({ref[0], ref[1]}, got.download(),
                     "scalars, halt " + std::to_string(flag) + ", lambda " +
                         std::to_string(lambda));
      // 300,001 floats: more than the kernel's 1,024 blocks cover in one stride.
      const std::vector<float> start = uniform_values(300001, 9);
      std::vector<float> cpu_x = start;
      cpu::zero_if_halted(host, &cpu_flag, cpu_x.data(), int64_t(cpu_x.size()));
      DeviceBuffer<float> x = on_device(ctx, start);
      cuda::zero_if_halted(ctx, halt.data(), x.data(), int64_t(start.size()));
      expect_bitwise(cpu_x, x.download(), "zero_if_halted, halt " + std::to_string(flag));
    }
  }
}

TEST(CudaParitySgdInProduct, ProductStepsLikeTheCpuAndAHaltedOneKeepsTheBits) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // w (n_in × n_out) ← α·scale·xᵀδ + (1 − α·λ)·w, as the weight step of a batch of `rows`.
  const int64_t rows = 64, n_in = 129, n_out = 300;
  const auto x = uniform_values(rows * n_in, 11), delta = uniform_values(rows * n_out, 12);
  const auto w0 = uniform_values(n_in * n_out, 13);
  for (int32_t flag : {0, 1}) {
    for (GemmMath math : {GemmMath::Float32, GemmMath::TF32, GemmMath::BFloat16}) {
      const std::string what =
          "halt " + std::to_string(flag) + ", math " + std::to_string(static_cast<int>(math));
      Context dctx = ctx;
      dctx.set_gemm_math(math);
      Context hctx = host;
      hctx.set_gemm_math(math);
      const UpdateParams u = sgd(0.05f, 0.001f, nullptr);
      int32_t cpu_flag = flag;
      UpdateParams cu = u;
      cu.halt = &cpu_flag;
      std::vector<float> ref = w0, cpu_x = x, cpu_delta = delta;
      float scalars[2];
      cpu::zero_if_halted(hctx, &cpu_flag, cpu_x.data(), rows * n_in);
      cpu::zero_if_halted(hctx, &cpu_flag, cpu_delta.data(), rows * n_out);
      cpu::sgd_step_scalars(hctx, cu, -1.0f / float(rows), scalars);
      cpu::gemm_device_scalars(hctx, true, false, n_in, n_out, rows, scalars, cpu_x.data(), n_in,
                               cpu_delta.data(), n_out, ref.data(), n_out);
      const DeviceBuffer<int32_t> halt = on_device(ctx, std::vector<int32_t>{flag});
      UpdateParams du = u;
      du.halt = halt.data();
      DeviceBuffer<float> dx = on_device(ctx, x), dd = on_device(ctx, delta),
                          w = on_device(ctx, w0), s(ctx, 2, "scalars");
      cuda::zero_if_halted(dctx, halt.data(), dx.data(), rows * n_in);
      cuda::zero_if_halted(dctx, halt.data(), dd.data(), rows * n_out);
      cuda::sgd_step_scalars(dctx, du, -1.0f / float(rows), s.data());
      cuda::gemm_device_scalars(dctx, true, false, n_in, n_out, rows, s.data(), dx.data(), n_in,
                                dd.data(), n_out, w.data(), n_out);
      const std::vector<float> got = w.download();
      if (flag == 1) {
        expect_bitwise(w0, got, what);
        expect_bitwise(w0, ref, what + " (cpu)");
        continue;
      }
      if (math == GemmMath::Float32) {
        expect_close(ref, got, 1e-5, 1e-6, what);
      } else {
        // TF32 rounds the step's operands on the GPU alone (the CPU has no TF32), bf16 on both
        // in possibly different sums: compare the steps, to the rounding of a 10-bit mantissa.
        std::vector<float> ref_step(ref.size()), got_step(got.size());
        float largest = 0.0f;
        for (std::size_t i = 0; i < ref.size(); ++i) {
          ref_step[i] = ref[i] - w0[i];
          got_step[i] = got[i] - w0[i];
          largest = std::max(largest, std::fabs(ref_step[i]));
        }
        expect_close(ref_step, got_step, 1e-2, 1e-2 * largest, what + " step");
      }
      // The host's scalars in gemm give the same step up to the product's rounding.
      DeviceBuffer<float> w_host_scalars = on_device(ctx, w0);
      cuda::gemm(dctx, true, false, n_in, n_out, rows, scalars[0], dx.data(), n_in, dd.data(),
                 n_out, scalars[1], w_host_scalars.data(), n_out);
      expect_close(w_host_scalars.download(), got, 1e-6, 1e-7, what + " host scalars");
    }
  }
  // No product terms: w ← beta·w with beta read on the device.
  DeviceBuffer<float> w = on_device(ctx, w0), s = on_device(ctx, std::vector<float>{3.0f, 0.5f});
  cuda::gemm_device_scalars(ctx, true, false, n_in, n_out, 0, s.data(), nullptr, n_in, nullptr,
                            n_out, w.data(), n_out);
  std::vector<float> half = w0;
  for (float& v : half) v *= 0.5f;
  expect_bitwise(half, w.download(), "k = 0");
}

}  // namespace
}  // namespace dsstne
