// SPDX-License-Identifier: Apache-2.0
// CUDA contexts on a GPU: each has its own stream, cuBLAS handle, TF32 choice and workspace, and
// every call runs on its stream. Skipped without a GPU (failed with DSSTNE_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "copy_rows_check.hpp"
#include "cuda_parity.hpp"
#include "dataset_util.hpp"
#include "dsstne/config.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/dataset.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

using testing::on_device;
using testing::uniform_values;

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(CudaContext, TwoContextsOnOneDeviceKeepTheirTf32) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(exact);
  Context fast(Device::CUDA, 0, 12134);
  fast.set_tf32(true);
  ASSERT_FALSE(fast.shares_state_with(exact));
  // A copy of the TF32 context shares its handle but asks for float32.
  Context exact_copy = fast;
  exact_copy.set_tf32(false);

  const int64_t n = 512;  // square; inputs with full mantissas, so TF32 rounding shows
  const std::vector<float> a = uniform_values(n * n, 1), b = uniform_values(n * n, 2);
  std::vector<float> ref(n * n);
  cpu::gemm(testing::host, false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, ref.data(),
            n);
  const DeviceBuffer<float> da = on_device(exact, a), db = on_device(exact, b);
  DeviceBuffer<float> c32(exact, n * n, "c32"), ctf(fast, n * n, "ctf"),
      ccopy(exact_copy, n * n, "ccopy");
  std::vector<float> first_exact, first_fast;
  for (int round = 0; round < 3; ++round) {  // interleaved: no call changes another's mode
    cuda::gemm(exact, false, false, n, n, n, 1.0f, da.data(), n, db.data(), n, 0.0f, c32.data(), n);
    cuda::gemm(fast, false, false, n, n, n, 1.0f, da.data(), n, db.data(), n, 0.0f, ctf.data(), n);
    cuda::gemm(exact_copy, false, false, n, n, n, 1.0f, da.data(), n, db.data(), n, 0.0f,
               ccopy.data(), n);
    const std::vector<float> e = c32.download(), f = ctf.download(), g = ccopy.download();
    // float32 sums of 512 products agree with the CPU to about 1e-5; TF32's 10-bit mantissa
    // products miss by about 1e-3, but stay close.
    EXPECT_LT(max_abs_diff(e, ref), 2e-4) << "round " << round;
    EXPECT_LT(max_abs_diff(g, ref), 2e-4) << "round " << round;
    const double tf32_error = max_abs_diff(f, ref);
    EXPECT_GT(tf32_error, 1e-3) << "round " << round << ": no sign of TF32";
    EXPECT_LT(tf32_error, 0.1) << "round " << round;
    if (round == 0) {
      first_exact = e;
      first_fast = f;
    } else {
      testing::expect_bitwise(first_exact, e, "float32 GEMM again");
      testing::expect_bitwise(first_fast, f, "TF32 GEMM again");
    }
  }
}

TEST(CudaContext, CopiesRowsBetweenPitches) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  testing::expect_rows_copied_between_pitches(ctx);
}

TEST(CudaContext, KernelsRunOnTheContextsStream) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const Context reader(Device::CUDA, 0, 1);  // another stream, used only to read the results
  const int64_t n = 2048;
  const DeviceBuffer<float> a = on_device(ctx, std::vector<float>(n * n, 0.5f));
  const DeviceBuffer<float> b = on_device(ctx, std::vector<float>(n * n, 0.25f));
  DeviceBuffer<float> c(ctx, n * n, "c"), total(ctx, n * n, "total");
  // Keep the stream busy for a while: each product overwrites c with the same 2048·⅛ = 256.
  for (int i = 0; i < 20; ++i)
    cuda::gemm(ctx, false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  // Kernels queued behind the products must see their result: total = 0 + 256, then each row
  // clipped to norm 1 (2048 values of 256 → 1/√2048 each).
  cuda::add(ctx, c.data(), n * n, total.data());
  cuda::clip_row_norms(ctx, total.data(), n, n, 1.0f);
  cuda::synchronize(ctx);
  std::vector<float> got(n * n);
  cuda::copy_to_host(reader, got.data(), total.data(), got.size() * sizeof(float));
  const float expected = 1.0f / std::sqrt(float(n));
  std::size_t bad = 0;
  for (float x : got) bad += std::fabs(x - expected) > 1e-5f;
  EXPECT_EQ(bad, 0u) << "of " << got.size() << " values, expected " << expected;
}

TEST(CudaContext, ScratchKernelsAllocateOnlyWhenTheWorkspaceGrows) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // A batch of 64 rows × 20 entries over 5000 features, its delta and gradient.
  const int64_t rows = 64, per_row = 20, n_in = 5000, n_out = 96;
  std::vector<int64_t> offsets(rows + 1);
  std::vector<uint32_t> indices;
  for (int64_t r = 0; r < rows; ++r) {
    offsets[r] = int64_t(indices.size());
    for (int64_t j = 0; j < per_row; ++j) indices.push_back(uint32_t((r * 37 + j * 101) % n_in));
  }
  offsets[rows] = int64_t(indices.size());
  const std::vector<float> values = uniform_values(indices.size(), 3);
  const DeviceBuffer<int64_t> d_offsets = on_device(ctx, offsets);
  const DeviceBuffer<uint32_t> d_indices = on_device(ctx, indices);
  const DeviceBuffer<float> d_values = on_device(ctx, values);
  const CsrView x{d_offsets.data(), d_indices.data(), d_values.data(), rows};
  const DeviceBuffer<float> delta = on_device(ctx, uniform_values(rows * n_out, 4));
  DeviceBuffer<float> grad(ctx, n_in * n_out, "grad"),
      w = on_device(ctx, uniform_values(n_in * n_out, 5));
  DeviceBuffer<uint32_t> perm(ctx, 100000, "perm");
  // Top-16 of 4 rows × 120000 scores: few rows, so each row is split across blocks (scratch).
  DeviceBuffer<float> top_scores(ctx, 4 * 16, "top_scores");
  DeviceBuffer<uint32_t> top_indices(ctx, 4 * 16, "top_indices");
  const LossParams loss;
  TargetView t;
  t.dense = delta.data();
  auto step = [&] {
    cuda::sparse_transposed_product(ctx, x, delta.data(), n_in, n_out, 0.5f, 0.0f, grad.data());
    cuda::shuffle_permutation(ctx, RandomStream{1, 2}, 100000, perm.data());
    cuda::output_error(ctx, loss, delta.data(), rows, n_out, 0, t);
    cuda::regularization_error(ctx, w.data(), n_in * n_out, 0.1f, 0.0f);
    cuda::clip_column_norms(ctx, w.data(), n_in, n_out, 10.0f);
    cuda::topk(ctx, w.data(), 4, n_in * n_out / 4, 0, 16, nullptr, top_scores.data(),
               top_indices.data());
  };
  step();  // grows the workspace to the largest of these
  const int64_t after_first = memory_usage().cuda_allocations;
  for (int i = 0; i < 5; ++i) step();
  cuda::synchronize(ctx);
  EXPECT_EQ(memory_usage().cuda_allocations, after_first)
      << "scratch-using kernels allocated device memory on repeated calls";
}

/// 40 users with 5 distinct items each among 60.
std::shared_ptr<DataSet> items(const Context& ctx) {
  std::vector<std::vector<uint32_t>> rows(40);
  for (uint32_t u = 0; u < 40; ++u)
    for (uint32_t j = 0; j < 5; ++j) rows[u].push_back((u * 7 + j * 12) % 60);
  return testing::boolean_rows(ctx, "items", 60, rows);
}

constexpr const char* kNetwork = R"({"Version": 0.8, "Name": "ctx", "ErrorFunction": "L2",
  "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": true},
             {"Name": "Hidden", "Kind": "Hidden", "N": 8, "Activation": "Sigmoid"},
             {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items"}]})";

TEST(CudaContext, DataSetsMoveBetweenContextsAndDevices) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const auto on_host = items(testing::host);
  const Context other(Device::CUDA, 0, 12134);  // same device, its own stream
  const auto on_gpu = on_host->to(ctx);
  const auto on_other = on_gpu->to(other);
  EXPECT_TRUE(on_other->context().shares_state_with(other));
  EXPECT_EQ(on_other->to(testing::host)->sparse_indices(), on_host->sparse_indices());
  // Data of another context on the same device bind; the network trains.
  Network net(parse_network_json(kNetwork), {on_other}, 16, ctx);
  EXPECT_NO_THROW(net.train(1, TrainParams{}));
  // Another device's data are refused by ordinal.
  if (cuda::device_count() < 2) GTEST_SKIP() << "a second GPU is needed for the ordinal check";
  const auto on_second = on_host->to(Context(Device::CUDA, 1, 12134));
  EXPECT_EQ(on_second->context().device_ordinal(), 1);
  EXPECT_EQ(on_second->to(ctx)->sparse_indices(), on_host->sparse_indices());
  try {
    Network refused(parse_network_json(kNetwork), {on_second}, 16, ctx);
    ADD_FAILURE() << "data on cuda:1 were bound to a network on cuda:0";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("lives on cuda:1"), std::string::npos) << e.what();
  }
}

TEST(CudaContext, TrainingWaitsForTheDeviceAFixedNumberOfTimesPerEpoch) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // The same epochs in 20 batches and in 2: a step must not wait for the device (batch offsets,
  // entry counts and errors stay where they are made), so the waits per epoch do not grow with
  // the batches. Sparse input and output, dropout, denoising, weight decay and shuffling on.
  constexpr const char* kBusy = R"({"Version": 0.8, "Name": "waits", "ErrorFunction":
    "ScaledMarginalCrossEntropy", "ShuffleIndices": true, "Denoising": {"p": 0.2},
    "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": true},
               {"Name": "Hidden", "Kind": "Hidden", "N": 8, "Activation": "Sigmoid",
                "pDropout": 0.3},
               {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
                "Sparse": true}]})";
  const auto data = items(testing::host)->to(ctx);
  TrainParams params;
  params.mode = TrainingMode::RMSProp;
  params.lambda = 0.001f;
  std::vector<int64_t> waits;
  for (int64_t batch : {2, 20}) {
    Network net(parse_network_json(kBusy), {data}, batch, ctx);
    net.train(1, params);  // the workspace and staging memory grow to their size
    const int64_t before = cuda::host_waits();
    net.train(2, params);
    waits.push_back(cuda::host_waits() - before);
  }
  EXPECT_EQ(waits[0], waits[1]) << "20 batches an epoch waited " << waits[0]
                                << " times, 2 batches " << waits[1];
}

}  // namespace
}  // namespace dsstne
