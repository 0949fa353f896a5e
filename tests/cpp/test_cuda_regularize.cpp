// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the regularisers. sparseness_penalty must be BITWISE the CPU's (the column
// sums run over the rows in the CPU's order, one thread per column). regularization_error keeps
// the CPU's 65,536-weight chunks and adds the chunk sums in chunk order, but sums inside a chunk
// in a fixed tree rather than sequentially: it must agree to 1e-12 relative. Both must give
// bitwise identical results on two CUDA runs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_bitwise;
using testing::on_device;

/// Activations in [0, 1), with column 0 all zeros and column 1 all ones (both clamps hit).
std::vector<float> activations(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> a(static_cast<std::size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      a[r * cols + c] = c == 0 ? 0.0f : (c == 1 ? 1.0f : unit(gen));
    }
  }
  return a;
}

std::vector<float> normal_values(std::size_t n, uint64_t seed, float stddev) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

TEST(CudaParitySparsenessPenalty, IsBitwiseTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  struct Shape {
    int64_t rows, cols;
  };
  uint64_t seed = 2024;
  for (Shape s : {Shape{1, 1}, Shape{2, 3}, Shape{7, 333}, Shape{1000, 17}, Shape{300, 5000},
                  Shape{64, 70001}}) {
    ++seed;
    const std::string what = "sparseness_penalty " + std::to_string(s.rows) + "x" +
                             std::to_string(s.cols) + " seed " + std::to_string(seed);
    const std::vector<float> a = activations(s.rows, s.cols, seed);
    const std::vector<float> g0 = normal_values(a.size(), seed + 1, 1.0f);
    std::vector<float> ref = g0;
    cpu::sparseness_penalty(host, a.data(), s.rows, s.cols, 0.05f, 0.5f, ref.data());
    const DeviceBuffer<float> da = on_device(ctx, a);
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
      DeviceBuffer<float> dg = on_device(ctx, g0);
      cuda::sparseness_penalty(ctx, da.data(), s.rows, s.cols, 0.05f, 0.5f, dg.data());
      if (run == 0) {
        first = dg.download();
        expect_bitwise(ref, first, what);
      } else {
        expect_bitwise(first, dg.download(), what + " (second CUDA run)");
      }
    }
  }
}

TEST(CudaParitySparsenessPenalty, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  EXPECT_THROW(cuda::sparseness_penalty(ctx, nullptr, -1, 3, 0.05f, 1.0f, nullptr),
               InvalidArgument);
  EXPECT_THROW(cuda::sparseness_penalty(ctx, nullptr, 2, 3, 0.05f, 1.0f, nullptr), InvalidArgument);
  EXPECT_NO_THROW(cuda::sparseness_penalty(ctx, nullptr, 0, 3, 0.05f, 1.0f, nullptr));
}

TEST(CudaParityRegularizationError, AgreesWithTheCpuTo1e12) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 99;
  // Below, at and just past one chunk; many chunks with a ragged last one.
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{65536}, int64_t{65537},
                    int64_t{300 * 5000 + 17}, int64_t{5000000}}) {
    ++seed;
    const std::vector<float> w = normal_values(static_cast<std::size_t>(n), seed, 0.3f);
    const DeviceBuffer<float> dw = on_device(ctx, w);
    for (auto [lambda, lambda1] : {std::pair{0.2f, 0.05f}, std::pair{0.0f, 0.01f},
                                   std::pair{1e-4f, 0.0f}}) {
      const std::string what = "regularization_error n=" + std::to_string(n) + " lambda=" +
                               std::to_string(lambda) + " lambda1=" + std::to_string(lambda1) +
                               " seed " + std::to_string(seed);
      const double ref = cpu::regularization_error(host, w.data(), n, lambda, lambda1);
      const double got = cuda::regularization_error(ctx, dw.data(), n, lambda, lambda1);
      EXPECT_LE(std::fabs(got - ref), 1e-12 * std::fabs(ref)) << what << ": cpu " << ref
                                                              << " cuda " << got;
      const double again = cuda::regularization_error(ctx, dw.data(), n, lambda, lambda1);
      EXPECT_EQ(std::memcmp(&got, &again, sizeof(double)), 0) << what << " (second CUDA run)";
      // The _sum forms add exactly those values to what the slot holds.
      DeviceBuffer<double> slot = on_device(ctx, std::vector<double>{2.5});
      cuda::regularization_error_sum(ctx, dw.data(), n, lambda, lambda1, slot.data());
      EXPECT_EQ(slot.download()[0], 2.5 + got) << what << " (regularization_error_sum)";
      double host_slot = 2.5;
      cpu::regularization_error_sum(host, w.data(), n, lambda, lambda1, &host_slot);
      EXPECT_EQ(host_slot, 2.5 + ref) << what << " (CPU regularization_error_sum)";
    }
  }
  const DeviceBuffer<float> dw = on_device(ctx, std::vector<float>(10, 1.5f));
  EXPECT_EQ(cuda::regularization_error(ctx, dw.data(), 10, 0.0f, 0.0f), 0.0);
}

TEST(CudaParityRegularizationError, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  EXPECT_THROW(cuda::regularization_error(ctx, nullptr, -1, 0.1f, 0.0f), InvalidArgument);
  EXPECT_THROW(cuda::regularization_error(ctx, nullptr, 5, 0.1f, 0.0f), InvalidArgument);
  EXPECT_EQ(cuda::regularization_error(ctx, nullptr, 0, 0.1f, 0.0f), 0.0);
}

}  // namespace
}  // namespace dsstne
