// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the sparse kernels (cuda/src/sparse.cu vs cpp/src/cpu/sparse.cpp).
//
// Exact (bitwise) equality is required for all three kernels: every output element adds the same
// terms in the same order as the CPU (sparse_product: the row's entries in storage order;
// sparse_transposed_product: the feature's entries in row order, after the same beta pass;
// csr_to_dense: duplicates summed in storage order), and the CUDA code rounds each product and
// sum separately (__fmul_rn/__fadd_rn), as the CPU reference does. (This assumes the CPU build
// does not contract a·b + c into FMA, which holds for the x86-64 baseline the project builds.)
// Every CUDA kernel is also run twice and must give bitwise identical results.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_bitwise;
using testing::on_device;
using testing::uniform_values;

/// A random CSR batch: every fifth row empty, some duplicate indices, a "popular" feature 0 in
/// most rows (runs longer than one 256-entry stage in the transposed product), and optionally one
/// very long row.
struct Batch {
  int64_t rows = 0;
  std::vector<int64_t> offsets{0};
  std::vector<uint32_t> indices;
  std::vector<float> values;
};

Batch make_batch(int64_t rows, int64_t n_in, int max_per_row, bool long_row, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> count(0, std::max(0, max_per_row - 1));
  std::uniform_int_distribution<uint32_t> column(0, static_cast<uint32_t>(n_in - 1));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  Batch b;
  b.rows = rows;
  for (int64_t r = 0; r < rows; ++r) {
    int n = r % 5 == 4 || max_per_row == 0 ? 0 : 1 + count(gen);
    if (long_row && r == rows / 2) n = 700;  // several 256-entry stages
    for (int e = 0; e < n; ++e) {
      uint32_t i = column(gen);
      if (e % 7 == 3) i = b.indices.back();  // duplicate of the previous entry
      if (e == 0 && r % 3 != 1) i = 0;
      b.indices.push_back(i);
      b.values.push_back(value(gen));
    }
    b.offsets.push_back(static_cast<int64_t>(b.indices.size()));
  }
  return b;
}

/// The batch on the device; views for either backend.
struct DeviceBatch {
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<uint32_t> indices;
  DeviceBuffer<float> values;
  int64_t rows;
  DeviceBatch(const Context& ctx, const Batch& b)
      : offsets(on_device(ctx, b.offsets)),
        indices(on_device(ctx, b.indices)),
        values(on_device(ctx, b.values)),
        rows(b.rows) {}
  CsrView view(bool boolean) const {
    return CsrView{offsets.data(), indices.data(), boolean ? nullptr : values.data(), rows};
  }
};

CsrView host_view(const Batch& b, bool boolean) {
  return CsrView{b.offsets.data(), b.indices.data(), boolean ? nullptr : b.values.data(), b.rows};
}

struct Case {
  int64_t rows, n_in, n_out;
  int max_per_row;
  bool long_row;
};
// One row and one column, non-multiples of the block, more than 256 output columns (several
// column tiles), a long row, and a large-ish 300 × 5000 input.
const Case kCases[] = {{1, 1, 1, 1, false},     {1, 10, 33, 4, false},   {7, 50, 300, 12, false},
                       {64, 1000, 129, 40, true}, {300, 5000, 517, 30, false},
                       {600, 5000, 64, 8, false}};

std::string describe(const Case& c, bool boolean, uint64_t seed) {
  return std::to_string(c.rows) + " rows, n_in " + std::to_string(c.n_in) + ", n_out " +
         std::to_string(c.n_out) + (boolean ? ", boolean" : ", valued") + ", seed " +
         std::to_string(seed);
}

TEST(CudaParitySparse, SparseProductIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 700;
  for (const Case& c : kCases) {
    for (bool boolean : {false, true}) {
      ++seed;
      const std::string what = "sparse_product " + describe(c, boolean, seed);
      const Batch b = make_batch(c.rows, c.n_in, c.max_per_row, c.long_row, seed);
      const auto w = uniform_values(c.n_in * c.n_out, seed + 1);
      const auto z0 = uniform_values(c.rows * c.n_out, seed + 2);  // accumulated into
      std::vector<float> ref = z0;
      cpu::sparse_product(host, host_view(b, boolean), w.data(), c.n_out, ref.data());
      const DeviceBatch db(ctx, b);
      const auto dw = on_device(ctx, w);
      auto dz = on_device(ctx, z0);
      cuda::sparse_product(ctx, db.view(boolean), dw.data(), c.n_out, dz.data());
      const auto got = dz.download();
      expect_bitwise(ref, got, what);
      dz.upload(z0);
      cuda::sparse_product(ctx, db.view(boolean), dw.data(), c.n_out, dz.data());
      expect_bitwise(got, dz.download(), what + " (second CUDA run)");
    }
  }
}

TEST(CudaParitySparse, SparseTransposedProductIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 800;
  for (const Case& c : kCases) {
    for (bool boolean : {false, true}) {
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        ++seed;
        const std::string what = "sparse_transposed_product " + describe(c, boolean, seed) +
                                 ", beta " + std::to_string(beta);
        const Batch b = make_batch(c.rows, c.n_in, c.max_per_row, c.long_row, seed);
        const auto delta = uniform_values(c.rows * c.n_out, seed + 1);
        auto g0 = uniform_values(c.n_in * c.n_out, seed + 2);
        // beta == 0 must overwrite garbage, including in features absent from the batch.
        if (beta == 0.0f) g0.back() = std::numeric_limits<float>::quiet_NaN();
        const float alpha = -1.0f / float(c.rows);
        std::vector<float> ref = g0;
        cpu::sparse_transposed_product(host, host_view(b, boolean), delta.data(), c.n_in, c.n_out,
                                       alpha, beta, ref.data());
        const DeviceBatch db(ctx, b);
        const auto dd = on_device(ctx, delta);
        auto dg = on_device(ctx, g0);
        cuda::sparse_transposed_product(ctx, db.view(boolean), dd.data(), c.n_in, c.n_out, alpha,
                                        beta, dg.data());
        const auto got = dg.download();
        expect_bitwise(ref, got, what);
        dg.upload(g0);
        cuda::sparse_transposed_product(ctx, db.view(boolean), dd.data(), c.n_in, c.n_out, alpha,
                                        beta, dg.data());
        expect_bitwise(got, dg.download(), what + " (second CUDA run)");
      }
    }
  }
}

TEST(CudaParitySparse, TransposedProductOfAnEmptyBatchOnlyScales) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  const Batch b = make_batch(5, 20, 0, false, 1);  // every row empty
  const auto delta = uniform_values(5 * 9, 2);
  const auto g0 = uniform_values(20 * 9, 3);
  for (float beta : {0.0f, 0.25f}) {
    std::vector<float> ref = g0;
    cpu::sparse_transposed_product(host, host_view(b, false), delta.data(), 20, 9, 1.0f, beta,
                                   ref.data());
    const DeviceBatch db(ctx, b);
    auto dg = on_device(ctx, g0);
    cuda::sparse_transposed_product(ctx, db.view(false), on_device(ctx, delta).data(), 20, 9, 1.0f,
                                    beta, dg.data());
    expect_bitwise(ref, dg.download(), "empty batch, beta " + std::to_string(beta));
  }
}

TEST(CudaParitySparse, CsrToDenseIsExact) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 900;
  for (const Case& c : kCases) {
    for (bool boolean : {false, true}) {
      // The whole layer, and a slice that cuts entries off on both sides (model parallel).
      for (int slice = 0; slice < 2; ++slice) {
        ++seed;
        const int64_t col_begin = slice ? c.n_in / 3 : 0;
        const int64_t cols = slice ? std::max<int64_t>(1, c.n_in / 2) : c.n_in;
        const std::string what = "csr_to_dense " + describe(c, boolean, seed) + ", cols [" +
                                 std::to_string(col_begin) + "+" + std::to_string(cols) + ")";
        const Batch b = make_batch(c.rows, c.n_in, c.max_per_row, c.long_row, seed);
        std::vector<float> ref(c.rows * cols, 7.0f);  // every element must be written
        cpu::csr_to_dense(host, host_view(b, boolean), col_begin, cols, ref.data());
        const DeviceBatch db(ctx, b);
        auto dout = on_device(ctx, std::vector<float>(c.rows * cols, 7.0f));
        cuda::csr_to_dense(ctx, db.view(boolean), col_begin, cols, dout.data());
        const auto got = dout.download();
        expect_bitwise(ref, got, what);
        cuda::csr_to_dense(ctx, db.view(boolean), col_begin, cols, dout.data());
        expect_bitwise(got, dout.download(), what + " (second CUDA run)");
      }
    }
  }
}

TEST(CudaParitySparse, CsrToDenseSumsDuplicatesInOrder) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // One row of 600 entries over 3 columns: each column's sum crosses 256-entry stages, and the
  // values are chosen so that the order of the additions changes the rounded result.
  Batch b;
  b.rows = 1;
  std::mt19937_64 gen(77);
  std::uniform_real_distribution<float> mag(-20.0f, 20.0f);
  for (int e = 0; e < 600; ++e) {
    b.indices.push_back(static_cast<uint32_t>(e % 3));
    b.values.push_back(std::ldexp(1.0f + 0.001f * float(e), int(mag(gen))));
  }
  b.offsets.push_back(600);
  std::vector<float> ref(3);
  cpu::csr_to_dense(host, host_view(b, false), 0, 3, ref.data());
  const DeviceBatch db(ctx, b);
  auto dout = on_device(ctx, std::vector<float>(3, 0.0f));
  cuda::csr_to_dense(ctx, db.view(false), 0, 3, dout.data());
  expect_bitwise(ref, dout.download(), "csr_to_dense duplicates, seed 77");
}

}  // namespace
}  // namespace dsstne
