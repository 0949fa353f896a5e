// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the dense kernels (cuda/src/dense.cu vs cpp/src/cpu/dense.cpp).
//
// Exact (bitwise) equality is required for broadcast_rows, add, fill and column_mean: the CUDA
// column mean sums each column's rows in the CPU's order with plain float additions. gemm
// (cuBLAS vs OpenBLAS: different blocking) and the norm clips (the CUDA row norm is a block tree,
// the column norm a fixed chunk tree once n_in > 256) are compared to 1e-5 relative. Every CUDA
// kernel is also run twice and must give bitwise identical results.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

using testing::expect_close;
using testing::expect_bitwise;
using testing::on_device;
using testing::uniform_values;

std::string shape(int64_t rows, int64_t cols, uint64_t seed) {
  return std::to_string(rows) + "x" + std::to_string(cols) + " seed " + std::to_string(seed);
}

// ---- gemm --------------------------------------------------------------------------------------

struct GemmCase {
  int64_t m, n, k;
};
const GemmCase kGemmCases[] = {{1, 1, 1}, {1, 300, 17}, {37, 1, 53}, {33, 65, 129}, {300, 257, 500}};

TEST(CudaParityGemm, AllTransposesAndStridesMatchTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 100;
  for (const GemmCase& g : kGemmCases) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (int pad = 0; pad < 2; ++pad) {
          ++seed;
          // Stored A is m × k (k × m when transposed), B k × n (n × k); pads make every leading
          // dimension larger than the row it holds.
          const int64_t a_rows = ta ? g.k : g.m, a_cols = ta ? g.m : g.k;
          const int64_t b_rows = tb ? g.n : g.k, b_cols = tb ? g.k : g.n;
          const int64_t lda = a_cols + 3 * pad, ldb = b_cols + 5 * pad, ldc = g.n + 2 * pad;
          const auto a = uniform_values(a_rows * lda, seed);
          const auto b = uniform_values(b_rows * ldb, seed + 1000);
          const auto c0 = uniform_values(g.m * ldc, seed + 2000);
          const float alpha = 0.75f, beta = pad ? 0.5f : 0.0f;
          const std::string what = "gemm m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) +
                                   " k=" + std::to_string(g.k) + " ta=" + std::to_string(ta) +
                                   " tb=" + std::to_string(tb) + " pad=" + std::to_string(pad) +
                                   " seed " + std::to_string(seed);
          std::vector<float> ref = c0;
          cpu::gemm(host, ta, tb, g.m, g.n, g.k, alpha, a.data(), lda, b.data(), ldb, beta,
                    ref.data(), ldc);
          const auto da = on_device(ctx, a), db = on_device(ctx, b);
          auto dc = on_device(ctx, c0);
          cuda::gemm(ctx, ta, tb, g.m, g.n, g.k, alpha, da.data(), lda, db.data(), ldb, beta,
                     dc.data(), ldc);
          const auto got = dc.download();
          // Sums of k products of numbers in [−1, 1]: cancellation needs an absolute floor.
          expect_close(ref, got, 1e-5, 1e-6 * std::sqrt(double(g.k)), what);  // padding untouched
          dc.upload(c0);
          cuda::gemm(ctx, ta, tb, g.m, g.n, g.k, alpha, da.data(), lda, db.data(), ldb, beta,
                     dc.data(), ldc);
          expect_bitwise(got, dc.download(), what + " (second CUDA run)");
        }
      }
    }
  }
}

TEST(CudaParityGemm, BFloat16MatchesTheCpusRoundedInputs) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(exact_ctx);
  Context ctx = exact_ctx;
  ctx.set_gemm_math(GemmMath::BFloat16);
  Context host_bf16;
  host_bf16.set_gemm_math(GemmMath::BFloat16);
  uint64_t seed = 900;
  for (const GemmCase& g : kGemmCases) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      ++seed;
      const int64_t lda = ta ? g.m : g.k, ldb = tb ? g.k : g.n;
      const auto a = uniform_values(g.m * g.k, seed);
      const auto b = uniform_values(g.k * g.n, seed + 1000);
      const std::string what = "bf16 gemm m=" + std::to_string(g.m) + " n=" +
                               std::to_string(g.n) + " k=" + std::to_string(g.k) + " t=" +
                               std::to_string(t);
      std::vector<float> ref(g.m * g.n, 0.0f), fp32(g.m * g.n, 0.0f);
      cpu::gemm(host_bf16, ta, tb, g.m, g.n, g.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                ref.data(), g.n);
      cpu::gemm(host, ta, tb, g.m, g.n, g.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                fp32.data(), g.n);
      const auto da = on_device(ctx, a), db = on_device(ctx, b);
      DeviceBuffer<float> dc(ctx, ref.size(), "c");
      cuda::gemm(ctx, ta, tb, g.m, g.n, g.k, 1.0f, da.data(), lda, db.data(), ldb, 0.0f,
                 dc.data(), g.n);
      const auto got = dc.download();
      // Both sides multiply the same bf16 values exactly and differ in the order of the float32
      // sums; the floor allows for a rounding of the inputs other than to nearest.
      expect_close(ref, got, 1e-4, 4e-3 * std::sqrt(double(g.k)), what);
      cuda::gemm(ctx, ta, tb, g.m, g.n, g.k, 1.0f, da.data(), lda, db.data(), ldb, 0.0f,
                 dc.data(), g.n);
      expect_bitwise(got, dc.download(), what + " (second CUDA run)");
      if (g.k > 1) {
        double moved = 0.0;
        for (std::size_t i = 0; i < got.size(); ++i)
          moved = std::max(moved, std::abs(double(got[i]) - fp32[i]));
        EXPECT_GT(moved, 1e-5) << what << ": no sign of bf16 rounding";
      }
    }
  }
}

TEST(CudaParityGemm, BFloat16IsNotTf32) {
  // 1 + 2^-9 is 1 in bfloat16 (7 stored bits) but stays 1 + 2^-9 in TF32 (10 bits): a sum of 512
  // such products is 512 in bf16, 513 in TF32 and float32, each exact in float32.
  DSSTNE_CUDA_CONTEXT_OR_SKIP(exact_ctx);
  Context ctx = exact_ctx;
  ctx.set_gemm_math(GemmMath::BFloat16);
  const int64_t m = 64, n = 64, k = 512;
  const auto da = on_device(ctx, std::vector<float>(m * k, 1.0f + 0x1p-9f));
  const auto db = on_device(ctx, std::vector<float>(k * n, 1.0f));
  DeviceBuffer<float> dc(ctx, m * n, "c");
  cuda::gemm(ctx, false, false, m, n, k, 1.0f, da.data(), k, db.data(), n, 0.0f, dc.data(), n);
  expect_bitwise(std::vector<float>(m * n, 512.0f), dc.download(), "bf16 products");
  Context tf32 = exact_ctx;
  tf32.set_tf32(true);
  cuda::gemm(tf32, false, false, m, n, k, 1.0f, da.data(), k, db.data(), n, 0.0f, dc.data(), n);
  expect_bitwise(std::vector<float>(m * n, 513.0f), dc.download(), "tf32 products");
}

// Values whose rounding to bfloat16 shows its mode: random ones, and every third a tie (halfway
// between two bf16 values, whose even neighbour lies above or below) of either sign.
std::vector<float> bfloat16_probes(int64_t n, uint64_t seed) {
  std::vector<float> v = uniform_values(n, seed);
  const float ties[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -(2.0f + 0x1p-7f), -0.75f - 0x1p-10f};
  // Scaled by powers of two, which keep a tie a tie.
  for (int64_t i = 0; i < n; i += 3) v[i] = std::ldexp(ties[(i / 3) % 4], int(i % 7) - 3);
  return v;
}

TEST(CudaParityGemm, BFloat16RoundsEachOperandToNearestEvenAtAnyPitch) {
  // One operand holds the probes, the other is an identity (exact in bf16), so C is the probe
  // operand as the device rounded it: it must be the CPU's rounding bit for bit, ties to even, for
  // operands stored packed or with a pitch, four columns wide or not, 16-byte aligned or not.
  DSSTNE_CUDA_CONTEXT_OR_SKIP(exact_ctx);
  Context ctx = exact_ctx;
  ctx.set_gemm_math(GemmMath::BFloat16);
  Context host_bf16;
  host_bf16.set_gemm_math(GemmMath::BFloat16);
  uint64_t seed = 4000;
  const std::pair<int64_t, int64_t> shapes[] = {{37, 8}, {64, 5}, {1000, 1}, {8, 12}};
  for (const auto& [rows, k] : shapes) {
    for (const int64_t pad : {0, 3, 4}) {
      for (const int64_t offset : {0, 1}) {
        for (int t = 0; t < 4; ++t) {
          const bool transposed = t & 1, probe_is_a = t & 2;
          // The probe operand is rows × k (A) or k × rows (B); stored transposed when asked.
          const int64_t stored_rows = transposed == probe_is_a ? k : rows;
          const int64_t stored_cols = transposed == probe_is_a ? rows : k;
          const int64_t ld = stored_cols + pad;
          std::vector<float> probe = bfloat16_probes(offset + stored_rows * ld, ++seed);
          std::vector<float> identity(k * k, 0.0f);
          for (int64_t i = 0; i < k; ++i) identity[i * k + i] = 1.0f;
          const int64_t m = probe_is_a ? rows : k, n = probe_is_a ? k : rows;
          const float* a = probe_is_a ? probe.data() + offset : identity.data();
          const float* b = probe_is_a ? identity.data() : probe.data() + offset;
          const int64_t lda = probe_is_a ? ld : k, ldb = probe_is_a ? k : ld;
          const bool ta = probe_is_a && transposed, tb = !probe_is_a && transposed;
          std::vector<float> ref(m * n, 0.0f);
          cpu::gemm(host_bf16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, ref.data(), n);
          const auto dprobe = on_device(ctx, probe), did = on_device(ctx, identity);
          const float* da = probe_is_a ? dprobe.data() + offset : did.data();
          const float* db = probe_is_a ? did.data() : dprobe.data() + offset;
          DeviceBuffer<float> dc(ctx, ref.size(), "c");
          cuda::gemm(ctx, ta, tb, m, n, k, 1.0f, da, lda, db, ldb, 0.0f, dc.data(), n);
          expect_bitwise(ref, dc.download(),
                         "bf16 rounding of " + std::string(probe_is_a ? "A" : "B") + " " +
                             std::to_string(stored_rows) + "x" + std::to_string(stored_cols) +
                             " ld " + std::to_string(ld) + " offset " + std::to_string(offset) +
                             (transposed ? " transposed" : ""));
        }
      }
    }
  }
}

TEST(CudaParityGemm, EmptyInnerDimensionScalesC) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t m = 5, n = 300, ldc = 301;
  std::vector<float> c0 = uniform_values(m * ldc, 7);
  c0[3] = std::numeric_limits<float>::quiet_NaN();  // beta == 0 must overwrite it
  for (float beta : {0.0f, 0.5f}) {
    std::vector<float> ref = c0;
    cpu::gemm(host, false, false, m, n, 0, 1.0f, nullptr, 1, nullptr, n, beta, ref.data(), ldc);
    auto dc = on_device(ctx, c0);
    cuda::gemm(ctx, false, false, m, n, 0, 1.0f, nullptr, 1, nullptr, n, beta, dc.data(), ldc);
    if (beta == 0.0f) {
      expect_bitwise(ref, dc.download(), "k=0 beta=0");
    } else {
      // NaN·0.5 stays NaN on both; expect_close treats NaN pairs as equal.
      expect_close(ref, dc.download(), 0.0, 0.0, "k=0 beta=0.5");
    }
  }
  EXPECT_THROW(
      cuda::gemm(ctx, false, false, 2, 3, 4, 1.0f, nullptr, 3, nullptr, 3, 0.0f, nullptr, 3),
      InvalidArgument);  // lda < k
}

// ---- elementwise and column helpers ------------------------------------------------------------

struct Shape {
  int64_t rows, cols;
};
const Shape kShapes[] = {{1, 1}, {1, 300}, {1000, 7}, {37, 257}, {300, 5000}};

TEST(CudaParityDense, BroadcastAddFillAreExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 300;
  for (const Shape& s : kShapes) {
    ++seed;
    const std::string what = shape(s.rows, s.cols, seed);
    const auto v = uniform_values(s.cols, seed);
    const auto z0 = uniform_values(s.rows * s.cols, seed + 1);
    const auto dv = on_device(ctx, v);
    for (bool accumulate : {false, true}) {
      std::vector<float> ref = z0;
      cpu::broadcast_rows(host, v.data(), s.rows, s.cols, accumulate, ref.data());
      auto dz = on_device(ctx, z0);
      cuda::broadcast_rows(ctx, dv.data(), s.rows, s.cols, accumulate, dz.data());
      expect_bitwise(ref, dz.download(), "broadcast_rows " + what);
    }
    {
      std::vector<float> ref = z0;
      const auto x = uniform_values(z0.size(), seed + 2);
      cpu::add(host, x.data(), int64_t(x.size()), ref.data());
      auto dz = on_device(ctx, z0);
      cuda::add(ctx, on_device(ctx, x).data(), int64_t(x.size()), dz.data());
      expect_bitwise(ref, dz.download(), "add " + what);
    }
    {
      std::vector<float> ref = z0;
      cpu::fill(host, ref.data(), int64_t(ref.size()), -2.5f);
      auto dz = on_device(ctx, z0);
      cuda::fill(ctx, dz.data(), int64_t(z0.size()), -2.5f);
      expect_bitwise(ref, dz.download(), "fill " + what);
    }
  }
}

TEST(CudaParityDense, ColumnMeanIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 400;
  for (const Shape& s : {Shape{0, 5}, Shape{1, 1}, Shape{1, 300}, Shape{1000, 7}, Shape{37, 257},
                         Shape{300, 5000}, Shape{1024, 33}}) {
    ++seed;
    const std::string what = "column_mean " + shape(s.rows, s.cols, seed);
    const auto x = uniform_values(s.rows * s.cols, seed, -3.0f, 3.0f);
    std::vector<float> ref(s.cols, 99.0f);
    cpu::column_mean(host, x.data(), s.rows, s.cols, ref.data());
    const auto dx = on_device(ctx, x);
    auto dout = on_device(ctx, std::vector<float>(s.cols, 99.0f));
    cuda::column_mean(ctx, dx.data(), s.rows, s.cols, dout.data());
    const auto got = dout.download();
    expect_bitwise(ref, got, what);
    cuda::column_mean(ctx, dx.data(), s.rows, s.cols, dout.data());
    expect_bitwise(got, dout.download(), what + " (second CUDA run)");
  }
}

/// rows × cols values whose row (by_row) or column norms are spread over [0.25, 4] and kept away
/// from the clip threshold 1, so rounding cannot flip a clip decision.
std::vector<float> spread_norms(int64_t rows, int64_t cols, bool by_row, uint64_t seed) {
  std::vector<float> x = uniform_values(rows * cols, seed);
  const int64_t groups = by_row ? rows : cols, len = by_row ? cols : rows;
  std::mt19937_64 gen(seed + 17);
  std::uniform_real_distribution<double> target(0.25, 4.0);
  for (int64_t g = 0; g < groups; ++g) {
    auto at = [&](int64_t j) -> float& { return by_row ? x[g * cols + j] : x[j * cols + g]; };
    double sq = 0.0;
    for (int64_t j = 0; j < len; ++j) sq += double(at(j)) * at(j);
    double t = target(gen);
    if (std::fabs(t - 1.0) < 0.05) t = 1.5;
    const double scale = sq > 0.0 ? t / std::sqrt(sq) : 1.0;
    for (int64_t j = 0; j < len; ++j) at(j) = float(at(j) * scale);
  }
  return x;
}

TEST(CudaParityDense, ClipNormsMatchTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 500;
  for (const Shape& s : {Shape{1, 1}, Shape{1, 300}, Shape{1000, 7}, Shape{37, 257},
                         Shape{300, 5000}, Shape{5000, 3}}) {
    for (bool by_row : {true, false}) {
      ++seed;
      const std::string what = std::string(by_row ? "clip_row_norms " : "clip_column_norms ") +
                               shape(s.rows, s.cols, seed);
      const auto x = spread_norms(s.rows, s.cols, by_row, seed);
      std::vector<float> ref = x;
      auto dx = on_device(ctx, x);
      if (by_row) {
        cpu::clip_row_norms(host, ref.data(), s.rows, s.cols, 1.0f);
        cuda::clip_row_norms(ctx, dx.data(), s.rows, s.cols, 1.0f);
      } else {
        cpu::clip_column_norms(host, ref.data(), s.rows, s.cols, 1.0f);
        cuda::clip_column_norms(ctx, dx.data(), s.rows, s.cols, 1.0f);
      }
      const auto got = dx.download();
      expect_close(ref, got, 1e-5, 1e-7, what);
      dx.upload(x);
      if (by_row) {
        cuda::clip_row_norms(ctx, dx.data(), s.rows, s.cols, 1.0f);
      } else {
        cuda::clip_column_norms(ctx, dx.data(), s.rows, s.cols, 1.0f);
      }
      expect_bitwise(got, dx.download(), what + " (second CUDA run)");
    }
  }
  // max_norm 0 disables the constraint on both backends.
  const auto x = uniform_values(12, 3, 5.0f, 6.0f);
  auto dx = on_device(ctx, x);
  cuda::clip_row_norms(ctx, dx.data(), 3, 4, 0.0f);
  cuda::clip_column_norms(ctx, dx.data(), 3, 4, 0.0f);
  expect_bitwise(x, dx.download(), "max_norm 0");
}

}  // namespace
}  // namespace dsstne
