// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of the row-wise kernels of split layers (cuda/src/rows.cu and the SoftMax
// halves of cuda/src/loss_delta.cu against cpp/src/cpu/rows.cpp and loss.cpp), and of
// sum_blocks, the communicators' rank-order sum, on random data.
//
// Bitwise where both backends evaluate the same rounded float operations in the same order:
// row maxima, the column square sums (rows in order) and the column clip, and the transforms
// that take the row value as given (Divide is done in double and rounded once, ClipNorm and
// SoftmaxBackward are a product and a difference). Relative 1e-5 elsewhere: the row sums are a
// float tree on the GPU and a double sum on the CPU, expf differs by an ulp or two, and the
// SoftMax delta sums follow the output delta's own orders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_bitwise;
using testing::expect_close;
using testing::on_device;
using testing::uniform_values;

struct Shape {
  int64_t rows, cols;
};
// One unit, non-multiples of the block size (256), more rows than a grid's y extent would
// cover in one step, and rows wider than one block.
constexpr Shape kShapes[] = {{1, 1}, {3, 7}, {37, 1001}, {70000, 3}, {4, 70000}};

std::string describe(const char* what, const Shape& s) {
  return std::string(what) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols);
}

std::vector<float> positive(std::size_t n, uint64_t seed) {
  std::vector<float> v = uniform_values(n, seed);
  for (float& x : v) x = 0.5f + std::fabs(x) * 2.0f;
  return v;
}

TEST(CudaParityRows, RowStats) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    const std::size_t n = std::size_t(s.rows * s.cols);
    const std::vector<float> a = uniform_values(n, ++seed), b = uniform_values(n, ++seed);
    const auto da = on_device(ctx, a), db = on_device(ctx, b);
    for (RowStat stat : {RowStat::Max, RowStat::Sum, RowStat::SquareSum, RowStat::Dot}) {
      const std::string what = describe("row_stats", s) + " stat " + std::to_string(int(stat));
      std::vector<float> ref(std::size_t(s.rows));
      cpu::row_stats(host, stat, a.data(), b.data(), s.rows, s.cols, ref.data());
      DeviceBuffer<float> out(ctx, ref.size(), "out");
      cuda::row_stats(ctx, stat, da.data(), db.data(), s.rows, s.cols, out.data());
      const std::vector<float> got = out.download();
      if (stat == RowStat::Max) {
        expect_bitwise(ref, got, what);
      } else {
        // Sums of signed terms cancel: the floor is the scale of the terms' magnitudes.
        expect_close(ref, got, 1e-5, 1e-6 * double(s.cols), what);
      }
      cuda::row_stats(ctx, stat, da.data(), db.data(), s.rows, s.cols, out.data());
      EXPECT_TRUE(out.download() == got) << what << ": two CUDA runs differ";
    }
  }
}

TEST(CudaParityRows, TransformRows) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 200;
  for (const Shape& s : kShapes) {
    const std::size_t n = std::size_t(s.rows * s.cols);
    const std::vector<float> x = uniform_values(n, ++seed), a = uniform_values(n, ++seed);
    // Row values about half of them above the clip's max_norm² = 1.
    const std::vector<float> v = positive(std::size_t(s.rows), ++seed);
    const auto da = on_device(ctx, a), dv = on_device(ctx, v);
    for (RowOp op : {RowOp::SubtractExp, RowOp::Divide, RowOp::ClipNorm, RowOp::SoftmaxBackward}) {
      const std::string what = describe("transform_rows", s) + " op " + std::to_string(int(op));
      std::vector<float> ref = x;
      cpu::transform_rows(host, op, ref.data(), a.data(), s.rows, s.cols, v.data(), 1.0f);
      auto dx = on_device(ctx, x);
      cuda::transform_rows(ctx, op, dx.data(), da.data(), s.rows, s.cols, dv.data(), 1.0f);
      if (op == RowOp::SubtractExp) {
        expect_close(ref, dx.download(), 1e-6, 0.0, what);
      } else {
        expect_bitwise(ref, dx.download(), what);
      }
    }
  }
}

TEST(CudaParityRows, ColumnSquareSumsAndClip) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 300;
  for (const Shape& s : kShapes) {
    const std::vector<float> w = uniform_values(std::size_t(s.rows * s.cols), ++seed);
    std::vector<float> sq(std::size_t(s.cols));
    cpu::column_square_sums(host, w.data(), s.rows, s.cols, sq.data());
    const auto dw_in = on_device(ctx, w);
    DeviceBuffer<float> dsq(ctx, sq.size(), "sq");
    cuda::column_square_sums(ctx, dw_in.data(), s.rows, s.cols, dsq.data());
    expect_bitwise(sq, dsq.download(), describe("column_square_sums", s));

    // A max norm near the median column norm clips about half the columns.
    std::vector<float> sorted = sq;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const float max_norm = std::sqrt(sorted[sorted.size() / 2]);
    std::vector<float> ref = w;
    cpu::clip_columns(host, ref.data(), s.rows, s.cols, sq.data(), max_norm);
    auto dw = on_device(ctx, w);
    cuda::clip_columns(ctx, dw.data(), s.rows, s.cols, dsq.data(), max_norm);
    expect_bitwise(ref, dw.download(), describe("clip_columns", s));
  }
}

TEST(CudaParityRows, SumBlocks) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 500;
  for (int64_t nblocks : {1, 2, 3, 8}) {
    for (int64_t count : {1, 7, 1001, 300000}) {
      const std::string what = "sum_blocks " + std::to_string(nblocks) + " × " +
                               std::to_string(count);
      const std::vector<float> blocks = uniform_values(std::size_t(nblocks * count), ++seed);
      std::vector<float> ref(static_cast<std::size_t>(count));
      cpu::sum_blocks(host, blocks.data(), nblocks, count, ref.data());
      const auto d_blocks = on_device(ctx, blocks);
      DeviceBuffer<float> out(ctx, ref.size(), "out");
      cuda::sum_blocks(ctx, d_blocks.data(), nblocks, count, out.data());
      expect_bitwise(ref, out.download(), what);
      auto in_place = on_device(ctx, blocks);  // into block 0, as the communicators sum
      cuda::sum_blocks(ctx, in_place.data(), nblocks, count, in_place.data());
      const std::vector<float> all = in_place.download();
      expect_bitwise(ref, std::vector<float>(all.begin(), all.begin() + count), what + " in place");
    }
  }
}

/// SoftMax activations of a slice [col_begin, col_begin + cols) of `units` units, with dense
/// targets or sparse Boolean rows drawn over the whole layer, some rows empty.
struct SoftmaxCase {
  int64_t rows, cols, col_begin, units;
  bool sparse;
  std::vector<float> a, dense, weights;
  std::vector<int64_t> offsets{0};
  std::vector<uint32_t> indices;
};

SoftmaxCase make_softmax_case(int64_t rows, int64_t cols, int64_t col_begin, int64_t units,
                              bool sparse, uint32_t seed) {
  SoftmaxCase c{rows, cols, col_begin, units, sparse, {}, {}, {}, {0}, {}};
  std::mt19937 gen(seed);
  c.a = uniform_values(std::size_t(rows * cols), seed);
  for (float& x : c.a) x *= 3.0f;
  ActivationParams softmax;
  softmax.kind = Activation::SoftMax;
  cpu::activation_forward(host, softmax, c.a.data(), rows, cols);
  c.weights = positive(std::size_t(rows), seed + 1);
  if (!sparse) {
    c.dense = uniform_values(c.a.size(), seed + 2);
    for (float& t : c.dense) t = std::fabs(t);
    return c;
  }
  std::uniform_int_distribution<int64_t> length(0, 12);
  std::uniform_int_distribution<uint32_t> unit(0, uint32_t(units - 1));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<uint32_t> row(std::size_t(length(gen)));
    for (uint32_t& i : row) i = unit(gen);
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    c.indices.insert(c.indices.end(), row.begin(), row.end());
    c.offsets.push_back(int64_t(c.indices.size()));
  }
  return c;
}

TargetView view_of(const SoftmaxCase& c, const float* dense, const int64_t* offsets,
                   const uint32_t* indices, const float* weights) {
  TargetView t;
  t.sparse = c.sparse;
  t.dense = c.sparse ? nullptr : dense;
  if (c.sparse) t.csr = CsrView{offsets, indices, nullptr, c.rows};
  t.example_weights = weights;
  return t;
}

TEST(CudaParityRows, SoftmaxDeltaHalves) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint32_t seed = 400;
  for (ErrorFunction f : {ErrorFunction::CrossEntropy, ErrorFunction::L2,
                          ErrorFunction::ScaledMarginalCrossEntropy}) {
    for (bool sparse : {false, true}) {
      for (bool ignore_zero : {false, true}) {
        if (ignore_zero && !sparse) continue;
        // A middle slice of a layer, and a slice wider than one block.
        for (const Shape& s : {Shape{9, 333}, Shape{3, 5000}}) {
          const SoftmaxCase c = make_softmax_case(s.rows, s.cols, 40, s.cols + 100, sparse, ++seed);
          LossParams p;
          p.function = f;
          p.activation.kind = Activation::SoftMax;
          p.delta_boost_one = sparse ? 2.0f : 1.0f;
          TargetView t = view_of(c, c.dense.data(), c.offsets.data(), c.indices.data(),
                                 c.weights.data());
          t.ignore_zero = ignore_zero;
          const std::string what = describe("softmax delta", s) + " loss " +
                                   std::to_string(int(f)) + (sparse ? " sparse" : " dense") +
                                   (ignore_zero ? " ignore-zero" : "");
          std::vector<float> q(std::size_t(c.rows)), ref(c.a.size());
          cpu::softmax_delta_sums(host, p, c.a.data(), c.rows, c.cols, c.col_begin, t, q.data());
          cpu::softmax_output_delta(host, p, c.a.data(), c.rows, c.cols, c.col_begin, t, q.data(),
                                    ref.data());

          const auto da = on_device(ctx, c.a), dd = on_device(ctx, c.dense),
                     dw = on_device(ctx, c.weights);
          const auto doff = on_device(ctx, c.offsets);
          const auto didx = on_device(ctx, c.indices);
          TargetView dt = view_of(c, dd.data(), doff.data(), didx.data(), dw.data());
          dt.ignore_zero = ignore_zero;
          DeviceBuffer<float> dq(ctx, q.size(), "q"), delta(ctx, ref.size(), "delta");
          cuda::softmax_delta_sums(ctx, p, da.data(), c.rows, c.cols, c.col_begin, dt, dq.data());
          expect_close(q, dq.download(), 1e-5, 1e-6, what + ": sums");
          // The CPU's sums on both sides, so the delta is compared on its own.
          const auto dq_cpu = on_device(ctx, q);
          cuda::softmax_output_delta(ctx, p, da.data(), c.rows, c.cols, c.col_begin, dt,
                                     dq_cpu.data(), delta.data());
          float scale = 0.0f;
          for (float x : ref) scale = std::max(scale, std::fabs(x));
          expect_close(ref, delta.download(), 1e-5, 1e-6 * std::max(1.0f, scale),
                       what + ": delta");
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsstne
