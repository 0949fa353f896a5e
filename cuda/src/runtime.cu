// SPDX-License-Identifier: Apache-2.0
// CUDA runtime services behind dsstne/cuda_runtime.hpp.
#include <cuda_runtime.h>

#include <string>

#include "dsstne/cuda/blas.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda_runtime.hpp"

namespace dsstne::cuda {

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void set_device(int ordinal) {
  const int count = device_count();
  DSSTNE_EXPECTS_T(CudaError, ordinal >= 0 && ordinal < count, "CUDA device ", ordinal,
                   " does not exist (", count, " visible)");
  DSSTNE_CUDA_TRY(cudaSetDevice(ordinal));
}

const char* device_name(int ordinal) {
  static thread_local std::string name;
  cudaDeviceProp prop{};
  DSSTNE_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));
  name = prop.name;
  return name.c_str();
}

void* allocate(std::size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  DSSTNE_CUDA_TRY(status);
  return ptr;
}

void release(void* ptr) noexcept { cudaFree(ptr); }

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  DSSTNE_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  DSSTNE_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void copy_on_device(void* dst, const void* src, std::size_t bytes) {
  DSSTNE_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void zero(void* dst, std::size_t bytes) { DSSTNE_CUDA_TRY(cudaMemset(dst, 0, bytes)); }

void synchronize() { DSSTNE_CUDA_TRY(cudaDeviceSynchronize()); }

void memory_info(std::size_t* free_bytes, std::size_t* total_bytes) {
  DSSTNE_CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes));
}

void set_tf32(bool on) { blas_set_tf32(on); }

}  // namespace dsstne::cuda
