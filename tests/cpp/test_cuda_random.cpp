// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the random kernels: weight initialisation, the epoch shuffle, dropout.
//
// Exact (bitwise) equality is required for: every uniform and the constant init scheme (incl.
// column slices), the shuffle permutation, and dropout forward (activations, saved copy, mask)
// and backward: both backends draw the same Philox words and apply the same correctly rounded
// float operations. The normal schemes (Gaussian, SELU) go through Box–Muller's logf and cosf,
// whose last bit differs between glibc and CUDA's libdevice on a small fraction of inputs, so they
// are compared to 1e-6 relative; a CUDA column slice still equals the CUDA whole bitwise.
// Every CUDA kernel is also run twice and must give bitwise identical results.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_close;
using testing::expect_bitwise;
using testing::on_device;

std::vector<float> normal_values(std::size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

// ---- init_weights ------------------------------------------------------------------------------

struct InitCase {
  int64_t n_in, n_out, col_begin, cols;
};
// One element, narrow and non-multiple-of-block slices, whole matrices, a one-column slice.
const InitCase kInitCases[] = {{1, 1, 0, 1},       {1, 37, 5, 20},       {200, 300, 0, 300},
                               {37, 1000, 123, 517}, {300, 5000, 0, 5000}, {300, 5000, 4999, 1}};
const WeightInit kSchemes[] = {WeightInit::Xavier,   WeightInit::CaffeXavier, WeightInit::Gaussian,
                               WeightInit::Uniform,  WeightInit::UnitBall,    WeightInit::Constant,
                               WeightInit::SELU};

bool is_normal(WeightInit s) { return s == WeightInit::Gaussian || s == WeightInit::SELU; }

std::vector<float> cuda_init(const Context& ctx, WeightInit scheme, float scale,
                             const RandomStream& rs, const InitCase& c) {
  DeviceBuffer<float> w(ctx, static_cast<std::size_t>(c.n_in * c.cols), "w");
  cuda::init_weights(ctx, scheme, scale, rs, c.n_in, c.n_out, MatrixBlock{0, c.n_in, c.col_begin, c.cols},
                     w.data());
  return w.download();
}

TEST(CudaParityInitWeights, EverySchemeMatchesTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const uint64_t seed = 12134;
  const RandomStream rs{seed, make_stream(RandomPurpose::kInit, 3, 0)};
  for (WeightInit scheme : kSchemes) {
    for (const InitCase& c : kInitCases) {
      const std::string what = "scheme " + to_string(scheme) + " " + std::to_string(c.n_in) + "x" +
                               std::to_string(c.n_out) + " cols [" + std::to_string(c.col_begin) +
                               "+" + std::to_string(c.cols) + ") seed " + std::to_string(seed);
      std::vector<float> ref(static_cast<std::size_t>(c.n_in * c.cols));
      cpu::init_weights(host, scheme, 0.75f, rs, c.n_in, c.n_out,
                        MatrixBlock{0, c.n_in, c.col_begin, c.cols}, ref.data());
      const std::vector<float> got = cuda_init(ctx, scheme, 0.75f, rs, c);
      if (is_normal(scheme)) {
        expect_close(ref, got, 1e-6, 0.0, what);
      } else {
        expect_bitwise(ref, got, what);
      }
      expect_bitwise(got, cuda_init(ctx, scheme, 0.75f, rs, c), what + " (second CUDA run)");
    }
  }
}

TEST(CudaParityInitWeights, ColumnSliceMatchesTheWholeMatrix) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const RandomStream rs{7, make_stream(RandomPurpose::kInit, 1, 0)};
  const InitCase whole{300, 5000, 0, 5000}, slice{300, 5000, 1234, 777};
  for (WeightInit scheme : kSchemes) {
    const std::vector<float> full = cuda_init(ctx, scheme, 1.0f, rs, whole);
    const std::vector<float> part = cuda_init(ctx, scheme, 1.0f, rs, slice);
    std::vector<float> expected(part.size());
    for (int64_t i = 0; i < slice.n_in; ++i) {
      for (int64_t c = 0; c < slice.cols; ++c) {
        expected[i * slice.cols + c] = full[i * whole.n_out + slice.col_begin + c];
      }
    }
    expect_bitwise(expected, part, "slice of scheme " + to_string(scheme));
  }
}

TEST(CudaParityInitWeights, RowBlockMatchesTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const RandomStream rs{7, make_stream(RandomPurpose::kInit, 1, 0)};
  const MatrixBlock block{33, 101, 7, 2000};
  for (WeightInit scheme : kSchemes) {
    std::vector<float> ref(std::size_t(block.rows * block.cols));
    cpu::init_weights(host, scheme, 1.0f, rs, 300, 5000, block, ref.data());
    DeviceBuffer<float> w(ctx, ref.size(), "w");
    cuda::init_weights(ctx, scheme, 1.0f, rs, 300, 5000, block, w.data());
    if (is_normal(scheme)) {
      expect_close(ref, w.download(), 1e-6, 0.0, "rows of scheme " + to_string(scheme));
    } else {
      expect_bitwise(ref, w.download(), "rows of scheme " + to_string(scheme));
    }
  }
}

TEST(CudaParityInitWeights, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const RandomStream rs{1, 2};
  DeviceBuffer<float> w(ctx, 200 * 300, "w");
  EXPECT_THROW(cuda::init_weights(ctx, static_cast<WeightInit>(42), 1.0f, rs, 200, 300,
                                  MatrixBlock{0, 200, 0, 300}, w.data()),
               InvalidArgument);
  EXPECT_THROW(cuda::init_weights(ctx, WeightInit::Xavier, 1.0f, rs, 200, 300,
                                  MatrixBlock{0, 200, 200, 101}, w.data()),
               InvalidArgument);
  EXPECT_THROW(cuda::init_weights(ctx, WeightInit::Xavier, 1.0f, rs, 0, 300, MatrixBlock{0, 0, 0, 300},
                                  w.data()),
               InvalidArgument);
  EXPECT_THROW(cuda::init_weights(ctx, WeightInit::Xavier, 1.0f, rs, 200, 300,
                                  MatrixBlock{150, 51, 0, 300}, w.data()),
               InvalidArgument);
  EXPECT_NO_THROW(cuda::init_weights(ctx, WeightInit::Xavier, 1.0f, rs, 200, 300,
                                     MatrixBlock{0, 200, 10, 0}, nullptr));
}

// ---- shuffle_permutation -----------------------------------------------------------------------

TEST(CudaParityShuffle, EqualsTheCpuPermutation) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // 3,000,001 keys of 32 bits hold about a thousand equal pairs, so the tie order (by index) is
  // exercised; the small sizes straddle CUB's tile and block sizes.
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{255}, int64_t{257}, int64_t{1000},
                    int64_t{65537}, int64_t{3000001}}) {
    const RandomStream rs{99, make_stream(RandomPurpose::kShuffle, 0, uint64_t(n))};
    std::vector<uint32_t> ref(static_cast<std::size_t>(n));
    cpu::shuffle_permutation(host, rs, n, ref.data());
    DeviceBuffer<uint32_t> perm(ctx, ref.size(), "perm");
    cuda::shuffle_permutation(ctx, rs, n, perm.data());
    const std::vector<uint32_t> got = perm.download();
    expect_bitwise(ref, got, "shuffle n=" + std::to_string(n));
    cuda::shuffle_permutation(ctx, rs, n, perm.data());
    expect_bitwise(got, perm.download(), "second CUDA shuffle n=" + std::to_string(n));
    if (n == 3000001) {
      std::vector<uint32_t> keys(ref.size());
      for (int64_t i = 0; i < n; ++i) keys[i] = philox(rs.seed, rs.stream, uint64_t(i)).v[0];
      std::sort(keys.begin(), keys.end());
      EXPECT_NE(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "no tied keys";
    }
  }
}

TEST(CudaParityShuffle, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const RandomStream rs{1, 2};
  EXPECT_NO_THROW(cuda::shuffle_permutation(ctx, rs, 0, nullptr));
  EXPECT_THROW(cuda::shuffle_permutation(ctx, rs, -1, nullptr), InvalidArgument);
  EXPECT_THROW(cuda::shuffle_permutation(ctx, rs, (int64_t{1} << 32) + 1, nullptr),
               InvalidArgument);
  EXPECT_THROW(cuda::shuffle_permutation(ctx, rs, 10, nullptr), InvalidArgument);
}

// ---- dropout -----------------------------------------------------------------------------------

struct DropCase {
  int64_t rows, cols, row_pitch, col_begin;
};
// One unit, a slice of a wider layer, a non-multiple-of-block slice, full layers.
const DropCase kDropCases[] = {
    {1, 1, 1, 0}, {7, 333, 1000, 100}, {3, 257, 600, 343}, {64, 500, 500, 0}, {300, 5000, 5000, 0}};

std::vector<ActivationParams> dropout_activations() {
  ActivationParams sigmoid{Activation::Sigmoid};
  ActivationParams relu{Activation::RectifiedLinear};
  ActivationParams elu{Activation::ExponentialLinear};
  elu.alpha = 0.8f;
  ActivationParams selu{Activation::ScaledExponentialLinear};
  selu.lambda = 1.0507f;
  selu.alpha = 1.67326f;
  return {sigmoid, relu, elu, selu};  // inverted, inverted, alpha, alpha
}

TEST(CudaParityDropout, ForwardAndBackwardAreBitwiseTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const uint64_t seed = 4242;
  const RandomStream rs{3, make_stream(RandomPurpose::kDropout, 2, 11)};
  int case_id = 0;
  for (const ActivationParams& act : dropout_activations()) {
    for (float p : {-0.1f, 0.0f, 0.1f, 0.5f, 0.9f}) {
      for (const DropCase& c : kDropCases) {
        const std::string what = "act " + to_string(act.kind) + " p=" + std::to_string(p) + " " +
                                 std::to_string(c.rows) + "x" + std::to_string(c.cols) + " seed " +
                                 std::to_string(seed + case_id);
        const auto n = static_cast<std::size_t>(c.rows * c.cols);
        const std::vector<float> a0 = normal_values(n, seed + case_id);
        const std::vector<float> g0 = normal_values(n, seed + case_id + 1000);
        ++case_id;

        std::vector<float> a = a0, saved(n), g = g0;
        std::vector<uint8_t> mask(n, 7);
        cpu::dropout_forward(host, act, p, rs, c.row_pitch, c.col_begin, c.rows, c.cols, a.data(),
                             saved.data(), mask.data());
        cpu::dropout_backward(host, act, p, mask.data(), c.rows, c.cols, g.data());

        std::vector<float> cuda_a, cuda_saved, cuda_g;
        std::vector<uint8_t> cuda_mask;
        for (int run = 0; run < 2; ++run) {
          DeviceBuffer<float> da = on_device(ctx, a0), ds(ctx, n, "saved"), dg = on_device(ctx, g0);
          DeviceBuffer<uint8_t> dm = on_device(ctx, std::vector<uint8_t>(n, 7));
          cuda::dropout_forward(ctx, act, p, rs, c.row_pitch, c.col_begin, c.rows, c.cols,
                                da.data(), ds.data(), dm.data());
          cuda::dropout_backward(ctx, act, p, dm.data(), c.rows, c.cols, dg.data());
          if (run == 0) {
            cuda_a = da.download();
            cuda_saved = ds.download();
            cuda_mask = dm.download();
            cuda_g = dg.download();
            expect_bitwise(mask, cuda_mask, what + " mask");
            expect_bitwise(a, cuda_a, what + " activations");
            expect_bitwise(saved, cuda_saved, what + " saved");
            expect_bitwise(g, cuda_g, what + " backward");
          } else {
            expect_bitwise(cuda_mask, dm.download(), what + " mask (second CUDA run)");
            expect_bitwise(cuda_a, da.download(), what + " activations (second CUDA run)");
            expect_bitwise(cuda_g, dg.download(), what + " backward (second CUDA run)");
          }
        }
      }
    }
  }
}

TEST(CudaParityDropout, BackwardOnUnalignedBuffersIsBitwiseTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // Pointers one element into a buffer are not 16-byte aligned: the scalar path instead of the
  // four-per-thread one.
  const int64_t rows = 13, cols = 301;
  const auto n = static_cast<std::size_t>(rows * cols);
  const RandomStream rs{5, make_stream(RandomPurpose::kDropout, 1, 2)};
  const std::vector<float> a0 = normal_values(n + 1, 31), g0 = normal_values(n + 1, 32);
  for (const ActivationParams& act : dropout_activations()) {
    std::vector<float> a = a0, saved(n + 1), g = g0;
    std::vector<uint8_t> mask(n + 1, 1);
    cpu::dropout_forward(host, act, 0.3f, rs, cols, 0, rows, cols, a.data() + 1, saved.data() + 1,
                         mask.data() + 1);
    cpu::dropout_backward(host, act, 0.3f, mask.data() + 1, rows, cols, g.data() + 1);
    DeviceBuffer<float> da = on_device(ctx, a0), ds(ctx, n + 1, "saved"), dg = on_device(ctx, g0);
    DeviceBuffer<uint8_t> dm = on_device(ctx, std::vector<uint8_t>(n + 1, 1));
    cuda::dropout_forward(ctx, act, 0.3f, rs, cols, 0, rows, cols, da.data() + 1, ds.data() + 1,
                          dm.data() + 1);
    cuda::dropout_backward(ctx, act, 0.3f, dm.data() + 1, rows, cols, dg.data() + 1);
    const std::string what = "unaligned act " + to_string(act.kind);
    expect_bitwise(mask, dm.download(), what + " mask");
    expect_bitwise(a, da.download(), what + " activations");
    expect_bitwise(g, dg.download(), what + " backward");
  }
}

TEST(CudaParityDropout, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const RandomStream rs{3, 4};
  DeviceBuffer<float> a(ctx, 4, "a"), saved(ctx, 4, "saved");
  DeviceBuffer<uint8_t> mask(ctx, 4, "mask");
  EXPECT_THROW(cuda::dropout_forward(ctx, ActivationParams{}, 1.0f, rs, 2, 0, 2, 2, a.data(),
                                     saved.data(), mask.data()),
               InvalidArgument);
  EXPECT_THROW(cuda::dropout_forward(ctx, ActivationParams{}, 0.5f, rs, 1, 0, 2, 2, a.data(),
                                     saved.data(), mask.data()),
               InvalidArgument);
  EXPECT_THROW(cuda::dropout_backward(ctx, ActivationParams{}, 1.0f, mask.data(), 2, 2, a.data()),
               InvalidArgument);
  EXPECT_NO_THROW(cuda::dropout_forward(ctx, ActivationParams{}, 0.5f, rs, 2, 0, 0, 2, nullptr,
                                        nullptr, nullptr));
  EXPECT_NO_THROW(cuda::dropout_backward(ctx, ActivationParams{}, 0.5f, nullptr, 0, 2, nullptr));
}

}  // namespace
}  // namespace dsstne
