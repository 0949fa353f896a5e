// SPDX-License-Identifier: Apache-2.0
#pragma once
// CUDA error checks: every runtime call and kernel launch raises dsstne::CudaError, never exits.
#include <cuda_runtime.h>

#include "dsstne/error.hpp"

#define DSSTNE_CUDA_TRY(call)                                                                 \
  do {                                                                                        \
    const cudaError_t dsstne_status = (call);                                                 \
    if (dsstne_status != cudaSuccess)                                                         \
      DSSTNE_FAIL(::dsstne::CudaError, #call, " failed at ", __FILE__, ":", __LINE__, ": ",   \
                  cudaGetErrorString(dsstne_status));                                         \
  } while (0)

/// Checks the launch of the kernel just issued.
#define DSSTNE_CHECK_LAST_KERNEL() DSSTNE_CUDA_TRY(cudaGetLastError())

namespace dsstne::cuda {
/// Blocks of `threads` covering n elements.
inline unsigned int blocks_for(int64_t n, unsigned int threads) {
  return static_cast<unsigned int>((n + threads - 1) / threads);
}
}  // namespace dsstne::cuda
