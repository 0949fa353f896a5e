// SPDX-License-Identifier: Apache-2.0
// One cuBLAS handle per device, created on first use and kept for the life of the process.
#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "dsstne/cuda/blas.cuh"
#include "dsstne/cuda/error.cuh"

namespace dsstne::cuda {
namespace {

struct Handles {
  std::mutex mutex;
  std::map<int, cublasHandle_t> by_device;
  bool tf32 = false;
};

Handles& handles() {
  static Handles* h = new Handles();  // never destroyed: handles outlive static destructors
  return *h;
}

cublasMath_t math_mode(bool tf32) {
  return tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH;
}

}  // namespace

cublasHandle_t blas_handle() {
  int device = 0;
  DSSTNE_CUDA_TRY(cudaGetDevice(&device));
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mutex);
  auto it = h.by_device.find(device);
  if (it != h.by_device.end()) return it->second;
  cublasHandle_t handle = nullptr;
  DSSTNE_CUBLAS_TRY(cublasCreate(&handle));
  DSSTNE_CUBLAS_TRY(cublasSetMathMode(handle, math_mode(h.tf32)));
  h.by_device[device] = handle;
  return handle;
}

void blas_set_tf32(bool on) {
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mutex);
  h.tf32 = on;
  for (auto& [device, handle] : h.by_device) DSSTNE_CUBLAS_TRY(cublasSetMathMode(handle, math_mode(on)));
}

}  // namespace dsstne::cuda
