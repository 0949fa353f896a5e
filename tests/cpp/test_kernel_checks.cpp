// SPDX-License-Identifier: Apache-2.0
// Every kernel refuses a bad call on both backends with the same message: the checks are one
// front (cpp/src/kernel_checks_*.cpp) that both call before anything else. The CUDA side is reached
// with a CPU context, which the checks never look at: on a build without CUDA the call goes to
// the generated stub, on a CUDA build to the real kernel, which raises before touching a device.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"

namespace dsstne {
namespace {

using testing::host;

/// The InvalidArgument message `f` raises, or "" (with a failure) when it raises something else.
template <typename F>
std::string invalid_argument(const char* backend, F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << backend << ": expected InvalidArgument, got " << typeid(e).name() << ": "
                  << e.what();
    return "";
  }
  ADD_FAILURE() << backend << ": expected InvalidArgument, nothing was raised";
  return "";
}

/// Calls cpu::kernel and cuda::kernel with the same bad arguments; both must raise alike.
#define EXPECT_SAME_REFUSAL(kernel, ...)                                                       \
  do {                                                                                         \
    SCOPED_TRACE(#kernel);                                                                     \
    const std::string on_cpu =                                                                 \
        invalid_argument("cpu", [&] { (void)cpu::kernel(host, __VA_ARGS__); });                \
    const std::string on_cuda =                                                                \
        invalid_argument("cuda", [&] { (void)cuda::kernel(host, __VA_ARGS__); });              \
    EXPECT_FALSE(on_cpu.empty());                                                              \
    EXPECT_EQ(on_cuda, on_cpu);                                                                \
  } while (0)

TEST(KernelChecks, ActivationAndLoss) {
  std::vector<float> z(6, 0.5f);
  const ActivationParams unknown{static_cast<Activation>(99)};
  EXPECT_SAME_REFUSAL(activation_forward, unknown, z.data(), 2, 3);
  EXPECT_SAME_REFUSAL(activation_forward, ActivationParams{}, nullptr, 2, 3);
  EXPECT_SAME_REFUSAL(activation_backward, ActivationParams{}, z.data(), z.data(), -1, 3);
  LossParams dsmce;
  dsmce.function = ErrorFunction::DataScaledMarginalCrossEntropy;
  TargetView dense;
  dense.dense = z.data();
  EXPECT_SAME_REFUSAL(output_error, dsmce, z.data(), 2, 3, 0, dense);
  TargetView no_offsets;
  no_offsets.sparse = true;
  EXPECT_SAME_REFUSAL(output_delta, LossParams{}, z.data(), 2, 3, 0, no_offsets, z.data());
  EXPECT_SAME_REFUSAL(output_delta, LossParams{}, z.data(), 2, 3, 0, dense, nullptr);
  double total = 0.0;
  EXPECT_SAME_REFUSAL(output_error_sum, dsmce, z.data(), 2, 3, 0, dense, &total);
  EXPECT_SAME_REFUSAL(output_error_sum, LossParams{}, z.data(), 2, 3, 0, dense, nullptr);
  LossParams softmax;
  softmax.activation.kind = Activation::SoftMax;
  EXPECT_SAME_REFUSAL(output_pass, softmax, nullptr, z.data(), 2, 3, 0, dense, &total, z.data());
  EXPECT_SAME_REFUSAL(output_pass, LossParams{}, nullptr, z.data(), 2, 3, 0, dense, &total,
                      nullptr);
  EXPECT_SAME_REFUSAL(output_pass, dsmce, z.data(), z.data(), 2, 3, 0, dense, &total, z.data());
}

TEST(KernelChecks, Dense) {
  std::vector<float> a(12, 1.0f);
  EXPECT_SAME_REFUSAL(gemm, false, false, 2, 2, 3, 1.0f, a.data(), 2, a.data(), 2, 0.0f, a.data(),
                      2);
  EXPECT_SAME_REFUSAL(gemm, false, false, 2, 2, 3, 1.0f, a.data(), 3, a.data(), 2, 0.0f, a.data(),
                      1);
  EXPECT_SAME_REFUSAL(broadcast_rows, a.data(), -2, 3, false, a.data());
  EXPECT_SAME_REFUSAL(add, a.data(), -1, a.data());
  EXPECT_SAME_REFUSAL(column_mean, a.data(), 2, -3, a.data());
  EXPECT_SAME_REFUSAL(fill, a.data(), -5, 0.0f);
  EXPECT_SAME_REFUSAL(clip_row_norms, a.data(), -1, 2, 1.0f);
  EXPECT_SAME_REFUSAL(clip_column_norms, a.data(), 2, -1, 1.0f);
}

TEST(KernelChecks, Sparse) {
  std::vector<float> w(12, 1.0f);
  CsrView no_offsets;
  no_offsets.rows = 3;
  EXPECT_SAME_REFUSAL(sparse_product, no_offsets, w.data(), 4, w.data());
  EXPECT_SAME_REFUSAL(sparse_transposed_product, CsrView{}, w.data(), -1, 4, 1.0f, 0.0f,
                      w.data());
  EXPECT_SAME_REFUSAL(csr_to_dense, CsrView{}, -1, 4, w.data());
}

TEST(KernelChecks, Gather) {
  const std::vector<uint32_t> examples{0, 1};
  std::vector<int64_t> counts(2);
  EXPECT_SAME_REFUSAL(sparse_row_counts, SparseStorageView{}, examples.data(), -1, counts.data());
  DenoiseParams certain;
  certain.p = 1.0f;
  EXPECT_SAME_REFUSAL(sparse_batch_fill, SparseStorageView{}, examples.data(), 2, counts.data(),
                      false, certain, nullptr, nullptr);
  DenseStorageView narrow;
  narrow.stride = 3;
  std::vector<float> out(8);
  EXPECT_SAME_REFUSAL(dense_batch_fill, narrow, examples.data(), 2, 1, 4, false, out.data());
  EXPECT_SAME_REFUSAL(gather_weights, out.data(), examples.data(), -3, out.data());
}

TEST(KernelChecks, RandomAndDropout) {
  std::vector<float> w(12);
  std::vector<uint32_t> perm(4);
  std::vector<uint8_t> mask(12);
  const RandomStream rs{1, 2};
  const MatrixBlock whole{0, 3, 0, 4}, past_columns{0, 3, 2, 3}, past_rows{2, 2, 0, 4};
  EXPECT_SAME_REFUSAL(init_weights, static_cast<WeightInit>(42), 1.0f, rs, 3, 4, whole, w.data());
  EXPECT_SAME_REFUSAL(init_weights, WeightInit::Xavier, 1.0f, rs, 3, 4, past_columns, w.data());
  EXPECT_SAME_REFUSAL(init_weights, WeightInit::Xavier, 1.0f, rs, 3, 4, past_rows, w.data());
  EXPECT_SAME_REFUSAL(shuffle_permutation, rs, -1, perm.data());
  EXPECT_SAME_REFUSAL(shuffle_permutation, rs, 4, nullptr);
  EXPECT_SAME_REFUSAL(dropout_forward, ActivationParams{}, 1.0f, rs, 4, 0, 3, 4, w.data(),
                      w.data(), mask.data());
  EXPECT_SAME_REFUSAL(dropout_forward, ActivationParams{}, 0.5f, rs, 3, 0, 3, 4, w.data(),
                      w.data(), mask.data());
  EXPECT_SAME_REFUSAL(dropout_backward, ActivationParams{}, 0.5f, nullptr, 3, 4, w.data());
}

TEST(KernelChecks, RegularizeOptimizerTopk) {
  std::vector<float> w(8), v(8);
  EXPECT_SAME_REFUSAL(sparseness_penalty, nullptr, 2, 4, 0.05f, 1.0f, nullptr);
  EXPECT_SAME_REFUSAL(regularization_error, nullptr, 8, 0.1f, 0.0f);
  double total = 0.0;
  int32_t halt = 0;
  EXPECT_SAME_REFUSAL(regularization_error_sum, nullptr, 8, 0.1f, 0.0f, &total);
  EXPECT_SAME_REFUSAL(regularization_error_sum, w.data(), 8, 0.1f, 0.0f, nullptr);
  EXPECT_SAME_REFUSAL(watch_error, nullptr, 1.0, &halt);
  EXPECT_SAME_REFUSAL(watch_error, &total, -1.0, &halt);
  EXPECT_SAME_REFUSAL(zero_if_halted, nullptr, w.data(), 8);
  EXPECT_SAME_REFUSAL(zero_if_halted, &halt, nullptr, 8);
  EXPECT_SAME_REFUSAL(zero_if_halted, &halt, w.data(), -1);
  UpdateParams sgd;
  sgd.halt = &halt;
  EXPECT_SAME_REFUSAL(sgd_step_scalars, sgd, std::numeric_limits<float>::infinity(), w.data());
  EXPECT_SAME_REFUSAL(sgd_step_scalars, sgd, -1.0f, nullptr);
  UpdateParams l1 = sgd;
  l1.lambda1 = 0.01f;
  EXPECT_SAME_REFUSAL(sgd_step_scalars, l1, -1.0f, w.data());
  UpdateParams not_sgd = sgd;
  not_sgd.mode = TrainingMode::Momentum;
  EXPECT_SAME_REFUSAL(sgd_step_scalars, not_sgd, -1.0f, w.data());
  EXPECT_SAME_REFUSAL(gemm_device_scalars, false, false, 2, 2, 2, nullptr, w.data(), 2, w.data(),
                      2, v.data(), 2);
  EXPECT_SAME_REFUSAL(gemm_device_scalars, false, false, 2, 2, 2, w.data(), w.data(), 1, w.data(),
                      2, v.data(), 2);
  UpdateParams unknown;
  unknown.mode = static_cast<TrainingMode>(99);
  EXPECT_SAME_REFUSAL(update_weights, unknown, w.data(), 8, w.data(), v.data(), v.data());
  UpdateParams adam;
  adam.mode = TrainingMode::Adam;
  adam.step = 0;
  EXPECT_SAME_REFUSAL(update_biases, adam, w.data(), 8, w.data(), v.data(), v.data());
  UpdateParams momentum;
  momentum.mode = TrainingMode::Momentum;
  EXPECT_SAME_REFUSAL(update_weights, momentum, w.data(), 8, w.data(), nullptr, nullptr);
  CsrView exclude;
  exclude.rows = 3;
  std::vector<float> scores(4);
  std::vector<uint32_t> indices(4);
  EXPECT_SAME_REFUSAL(topk, w.data(), 2, 4, 0, 2, &exclude, scores.data(), indices.data());
  EXPECT_SAME_REFUSAL(topk, w.data(), 2, 4, 0, -2, nullptr, scores.data(), indices.data());
}

TEST(KernelChecks, Pooling) {
  std::vector<float> a(6), b(6), c(6);
  const float* sources[] = {a.data(), b.data(), nullptr};
  float* deltas[] = {a.data(), b.data(), c.data()};
  float* shared[] = {a.data(), nullptr, a.data()};
  EXPECT_SAME_REFUSAL(maxout_forward, sources, 0, 2, 3, c.data());
  EXPECT_SAME_REFUSAL(maxout_forward, sources, 2, -2, 3, c.data());
  EXPECT_SAME_REFUSAL(maxout_forward, nullptr, 2, 2, 3, c.data());
  EXPECT_SAME_REFUSAL(maxout_forward, sources, 3, 2, 3, c.data());
  EXPECT_SAME_REFUSAL(maxout_forward, sources, 2, 2, 3, nullptr);
  EXPECT_SAME_REFUSAL(maxout_backward, sources, 2, 2, 3, nullptr, false, deltas);
  EXPECT_SAME_REFUSAL(maxout_backward, sources, 2, 2, 3, c.data(), true, nullptr);
  EXPECT_SAME_REFUSAL(dot_product_forward, sources, 1, 2, 3, c.data());
  EXPECT_SAME_REFUSAL(dot_product_forward, sources, kMaxPoolingSources + 1, 2, 3, c.data());
  EXPECT_SAME_REFUSAL(dot_product_forward, sources, 2, 2, -1, c.data());
  EXPECT_SAME_REFUSAL(dot_product_backward, sources, 3, 2, 3, c.data(), false, deltas);
  EXPECT_SAME_REFUSAL(cosine_forward, sources, 2, 1, 0, nullptr);
  EXPECT_SAME_REFUSAL(cosine_backward, sources, 1, 2, 3, c.data(), false, deltas);
  const float* three[] = {a.data(), b.data(), c.data()};
  EXPECT_SAME_REFUSAL(cosine_backward, three, 3, 2, 3, c.data(), true, shared);
}

TEST(KernelChecks, SpatialPooling) {
  std::vector<float> x(64), y(64), d(64);
  PoolGeometry ok;  // 1-D: 8 inputs, kernel 3, stride 2, pad 1 → at most 4 outputs
  ok.in[0] = 8;
  ok.kernel[0] = 3;
  ok.stride[0] = 2;
  ok.pad[0] = 1;
  ok.out[0] = 4;
  auto with = [&](auto change) {
    PoolGeometry g = ok;
    change(g);
    return g;
  };
  const PoolGeometry too_many_outputs = with([](PoolGeometry& g) { g.out[0] = 5; });
  const PoolGeometry no_outputs = with([](PoolGeometry& g) { g.out[0] = 0; });
  const PoolGeometry pad_as_wide_as_kernel = with([](PoolGeometry& g) { g.pad[0] = 3; });
  const PoolGeometry zero_stride = with([](PoolGeometry& g) { g.stride[0] = 0; });
  const PoolGeometry no_channels = with([](PoolGeometry& g) { g.channels = 0; });
  const PoolGeometry kernel_too_wide = with([](PoolGeometry& g) { g.kernel[1] = 2; });
  const PoolGeometry empty_z = with([](PoolGeometry& g) { g.in[2] = 0; });
  EXPECT_SAME_REFUSAL(max_pool_forward, too_many_outputs, x.data(), 1, y.data());
  EXPECT_SAME_REFUSAL(max_pool_forward, no_outputs, x.data(), 1, y.data());
  EXPECT_SAME_REFUSAL(max_pool_forward, ok, x.data(), -1, y.data());
  EXPECT_SAME_REFUSAL(max_pool_forward, ok, nullptr, 1, y.data());
  EXPECT_SAME_REFUSAL(max_pool_forward, ok, x.data(), 1, nullptr);
  EXPECT_SAME_REFUSAL(max_pool_backward, pad_as_wide_as_kernel, x.data(), d.data(), 1, false,
                      x.data());
  EXPECT_SAME_REFUSAL(max_pool_backward, ok, nullptr, d.data(), 1, false, x.data());
  EXPECT_SAME_REFUSAL(max_pool_backward, ok, x.data(), nullptr, 1, true, x.data());
  EXPECT_SAME_REFUSAL(max_pool_backward, ok, x.data(), d.data(), 1, true, nullptr);
  EXPECT_SAME_REFUSAL(average_pool_forward, zero_stride, x.data(), 1, y.data());
  EXPECT_SAME_REFUSAL(average_pool_forward, no_channels, x.data(), 1, y.data());
  EXPECT_SAME_REFUSAL(average_pool_forward, ok, nullptr, 2, y.data());
  EXPECT_SAME_REFUSAL(average_pool_backward, kernel_too_wide, d.data(), 1, false, x.data());
  EXPECT_SAME_REFUSAL(average_pool_backward, empty_z, d.data(), 1, false, x.data());
  EXPECT_SAME_REFUSAL(average_pool_backward, ok, nullptr, 1, false, x.data());
  EXPECT_SAME_REFUSAL(average_pool_backward, ok, d.data(), 1, false, nullptr);
  const LrnParams lrn{};
  const LrnParams no_window{2.0f, 0, 1e-4f, 0.75f};
  const LrnParams zero_k{0.0f, 5, 1e-4f, 0.75f};
  const LrnParams negative_alpha{2.0f, 5, -1.0f, 0.75f};
  const LrnParams nan_beta{2.0f, 5, 1e-4f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_SAME_REFUSAL(lrn_forward, no_window, x.data(), 2, 4, 8, y.data());
  EXPECT_SAME_REFUSAL(lrn_forward, zero_k, x.data(), 2, 4, 8, y.data());
  EXPECT_SAME_REFUSAL(lrn_forward, negative_alpha, x.data(), 2, 4, 8, y.data());
  EXPECT_SAME_REFUSAL(lrn_forward, lrn, x.data(), 2, -4, 8, y.data());
  EXPECT_SAME_REFUSAL(lrn_forward, lrn, x.data(), 2, 4, 8, nullptr);
  EXPECT_SAME_REFUSAL(lrn_backward, nan_beta, x.data(), d.data(), 2, 4, 8, false, y.data());
  EXPECT_SAME_REFUSAL(lrn_backward, lrn, nullptr, d.data(), 2, 4, 8, false, y.data());
  EXPECT_SAME_REFUSAL(lrn_backward, lrn, x.data(), nullptr, 2, 4, 8, true, y.data());
  EXPECT_SAME_REFUSAL(lrn_backward, lrn, x.data(), d.data(), 2, 4, 8, true, nullptr);
}

}  // namespace
}  // namespace dsstne
