// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cuBLAS error check. Each context owns its handle (context.cuh: Resources::blas).
#include <cublas_v2.h>

#include "dsstne/error.hpp"

#define DSSTNE_CUBLAS_TRY(call)                                                               \
  do {                                                                                        \
    const cublasStatus_t dsstne_status = (call);                                              \
    if (dsstne_status != CUBLAS_STATUS_SUCCESS)                                               \
      DSSTNE_FAIL(::dsstne::CudaError, #call, " failed at ", __FILE__, ":", __LINE__,         \
                  ": cuBLAS status ", int(dsstne_status));                                    \
  } while (0)
