// SPDX-License-Identifier: Apache-2.0
// The bf16 GEMM of products too large to round whole into the workspace (cuda/src/
// gemm_bfloat16.cu): tiles of C for a 10M-wide operand, pieces along k for a long sum. The data
// are odd multiples of 1/16 in (−1, 1), exact in bf16, so the CPU and the GPU multiply the same
// numbers; the sums are compared to 1e-6 (a piece in the wrong place is off by far more). The
// operands are gigabytes: these run on a GPU only.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using testing::exact_sixteenths;
using testing::host;
using testing::on_device;

void expect_pieces_match_the_cpu(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                 bool device_scalars) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(gpu);
  const std::string what = "m=" + std::to_string(m) + " n=" + std::to_string(n) +
                           " k=" + std::to_string(k) + (trans_a ? " Aᵀ" : "") +
                           (trans_b ? " Bᵀ" : "") + (device_scalars ? ", device scalars" : "");
  Context dctx = gpu, hctx = host;
  dctx.set_gemm_math(GemmMath::BFloat16);
  hctx.set_gemm_math(GemmMath::BFloat16);
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const std::vector<float> a = exact_sixteenths(m * k, 1), b = exact_sixteenths(k * n, 2);
  std::vector<float> c = exact_sixteenths(m * n, 3);
  const float scalars[2] = {0.5f, 0.25f};
  DeviceBuffer<float> da = on_device(gpu, a), db = on_device(gpu, b), dc = on_device(gpu, c);
  if (device_scalars) {
    const DeviceBuffer<float> ds = on_device(gpu, std::vector<float>{scalars[0], scalars[1]});
    cuda::gemm_device_scalars(dctx, trans_a, trans_b, m, n, k, ds.data(), da.data(), lda,
                              db.data(), ldb, dc.data(), n);
  } else {
    cuda::gemm(dctx, trans_a, trans_b, m, n, k, scalars[0], da.data(), lda, db.data(), ldb,
               scalars[1], dc.data(), n);
  }
  cpu::gemm(hctx, trans_a, trans_b, m, n, k, scalars[0], a.data(), lda, b.data(), ldb,
            scalars[1], c.data(), n);
  testing::expect_close(c, dc.download(), 1e-6, 1e-6, what);
}

TEST(CudaParityGemmPieces, AWideOperandRunsInTilesOfC) {
  // 4 × 140M of B: 560M elements, past the 512M a product rounds whole.
  expect_pieces_match_the_cpu(false, false, 2, 140000000, 4, false);
  expect_pieces_match_the_cpu(true, true, 2, 140000000, 4, true);
}

TEST(CudaParityGemmPieces, ALongSumRunsInPiecesAlongK) {
  // 5 × 120M of A and B together: 600M elements, cut along k; the later pieces add with beta 1.
  expect_pieces_match_the_cpu(false, true, 3, 2, 120000000, false);
  expect_pieces_match_the_cpu(true, false, 3, 2, 120000000, true);
}

}  // namespace
}  // namespace dsstne
