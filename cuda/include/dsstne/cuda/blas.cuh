// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cuBLAS handle of the current device (created on first use) and its error check.
#include <cublas_v2.h>

#include "dsstne/error.hpp"

#define DSSTNE_CUBLAS_TRY(call)                                                               \
  do {                                                                                        \
    const cublasStatus_t dsstne_status = (call);                                              \
    if (dsstne_status != CUBLAS_STATUS_SUCCESS)                                               \
      DSSTNE_FAIL(::dsstne::CudaError, #call, " failed at ", __FILE__, ":", __LINE__,         \
                  ": cuBLAS status ", int(dsstne_status));                                    \
  } while (0)

namespace dsstne::cuda {
/// The handle for the current device; float32 math unless TF32 was turned on.
cublasHandle_t blas_handle();
/// Switches dense products between exact float32 and TF32 tensor cores.
void blas_set_tf32(bool on);
}  // namespace dsstne::cuda
