// SPDX-License-Identifier: Apache-2.0
#pragma once
// What dense.cu's GEMMs share with the bf16 product of gemm_bfloat16.cu: the scalars as cuBLAS
// reads them, and the handle's pointer mode for one call.
#include <cstdint>

#include "dsstne/cuda/blas.cuh"
#include "dsstne/cuda/context.cuh"

namespace dsstne::cuda {

/// gemm's alpha and beta: host values, or (on_device) floats that cuBLAS reads when the product
/// runs.
struct Scalars {
  const float* alpha;
  const float* beta;
  bool on_device;
};

/// The handle's pointer mode for one call, back to host pointers after it (other calls pass host
/// scalars). Set and used under the context's lock, as the math mode.
class PointerMode {
 public:
  PointerMode(cublasHandle_t blas, bool on_device) : blas_(blas), on_device_(on_device) {
    if (on_device_) DSSTNE_CUBLAS_TRY(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_DEVICE));
  }
  ~PointerMode() {
    if (on_device_) cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_HOST);
  }
  PointerMode(const PointerMode&) = delete;
  PointerMode& operator=(const PointerMode&) = delete;

 private:
  cublasHandle_t blas_;
  bool on_device_;
};

/// The bf16 product: gemm's C = alpha·op(A)·op(B) + beta·C (row-major, k > 0) with both operands
/// rounded to bfloat16 (to nearest, ties to even, as the CPU rounds) and float32 sums. Takes the
/// context's lock for the whole product.
void gemm_bfloat16(const StreamScope& s, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, const Scalars& scalars, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc);

/// Most bf16 elements the rounded operands of one cuBLAS call take in the workspace (1 GiB).
/// Larger products run in pieces, see gemm_bfloat16.cu.
constexpr int64_t kBfloat16PieceElements = int64_t{1} << 29;

}  // namespace dsstne::cuda
