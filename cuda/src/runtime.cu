// SPDX-License-Identifier: Apache-2.0
// CUDA runtime services behind dsstne/cuda_runtime.hpp. Each makes the context's device current
// for its own duration only and works on the context's stream.
#include <cuda_runtime.h>

#include <atomic>
#include <string>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda_runtime.hpp"

namespace dsstne::cuda {

namespace {
std::atomic<int64_t> g_host_waits{0};
}  // namespace

void wait_for_stream(cudaStream_t stream) {
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  DSSTNE_CUDA_TRY(cudaStreamSynchronize(stream));
}

void wait_for_event(cudaEvent_t event) {
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  DSSTNE_CUDA_TRY(cudaEventSynchronize(event));
}

int64_t host_waits() noexcept { return g_host_waits.load(std::memory_order_relaxed); }

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void check_device(int ordinal) {
  const int count = device_count();
  DSSTNE_EXPECTS_T(CudaError, ordinal >= 0 && ordinal < count, "CUDA device ", ordinal,
                   " does not exist (", count, " visible)");
}

std::string device_name(int ordinal) {
  cudaDeviceProp prop{};
  DSSTNE_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));
  return prop.name;
}

void* allocate(const Context& ctx, std::size_t bytes) {
  const DeviceScope device(ctx.device_ordinal());
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  DSSTNE_CUDA_TRY(status);
  return ptr;
}

void release(const Context& ctx, void* ptr) noexcept {
  if (ptr == nullptr) return;
  const DeviceScope device(ctx.device_ordinal(), std::nothrow);
  // Kernels queued on the context's stream may still use the memory.
  if (Resources* r = ctx.cuda_resources_if_made()) {
    g_host_waits.fetch_add(1, std::memory_order_relaxed);
    cudaStreamSynchronize(r->stream);
  }
  cudaFree(ptr);
}

void copy_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  const StreamScope s(ctx);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s.stream()));
  // The caller may reuse or free the host memory at once (it may be pinned, so the copy may not
  // have read it yet otherwise).
  wait_for_stream(s);
}

void copy_to_host(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  const StreamScope s(ctx);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s.stream()));
  wait_for_stream(s);
}

void copy_on_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  const StreamScope s(ctx);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s.stream()));
}

void copy_rows_on_device(const Context& ctx, void* dst, std::size_t dst_pitch, const void* src,
                         std::size_t src_pitch, std::size_t row_bytes, std::size_t rows) {
  const StreamScope s(ctx);
  DSSTNE_CUDA_TRY(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows,
                                    cudaMemcpyDeviceToDevice, s.stream()));
}

void zero(const Context& ctx, void* dst, std::size_t bytes) {
  const StreamScope s(ctx);
  DSSTNE_CUDA_TRY(cudaMemsetAsync(dst, 0, bytes, s.stream()));
}

void synchronize(const Context& ctx) {
  const StreamScope s(ctx);
  wait_for_stream(s);
}

void memory_info(const Context& ctx, std::size_t* free_bytes, std::size_t* total_bytes) {
  const DeviceScope device(ctx.device_ordinal());
  DSSTNE_CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes));
}

}  // namespace dsstne::cuda
