// SPDX-License-Identifier: Apache-2.0
// The per-context CUDA state (context.cuh): its stream, cuBLAS handle and workspace.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>

#include "dsstne/cuda/blas.cuh"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/device_buffer.hpp"

namespace dsstne::cuda {

std::shared_ptr<Resources> make_resources(int ordinal) {
  check_device(ordinal);
  const DeviceScope device(ordinal);
  // Owned from the start, so a failure below still destroys what was made.
  auto r = std::make_shared<Resources>();
  r->ordinal = ordinal;
  DSSTNE_CUDA_TRY(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking));
  DSSTNE_CUBLAS_TRY(cublasCreate(&r->blas));
  // cuBLAS keeps its default workspace, made by cublasCreate, for every call on this stream.
  DSSTNE_CUBLAS_TRY(cublasSetStream(r->blas, r->stream));
  return r;
}

Resources::~Resources() {
  // Errors are ignored: this runs in destructors. At process exit the runtime may already be
  // unloaded; then the driver has freed everything, and destroying the handle could crash.
  const DeviceScope device(ordinal, std::nothrow);
  const cudaError_t status = stream != nullptr ? cudaStreamSynchronize(stream) : cudaSuccess;
  if (status == cudaErrorCudartUnloading || status == cudaErrorContextIsDestroyed) return;
  workspace.release();
  if (blas != nullptr) cublasDestroy(blas);
  if (stream != nullptr) cudaStreamDestroy(stream);
}

void* Workspace::reserve(const Context& ctx, cudaStream_t stream, std::size_t bytes,
                         const char* what) {
  if (bytes <= bytes_) return ptr_;
  DSSTNE_CUDA_TRY(cudaStreamSynchronize(stream));
  release();
  // A quarter more than asked: batches whose entry counts creep up do not regrow every time.
  std::size_t want = bytes + bytes / 4;
  void* ptr = allocate(ctx, want);
  if (ptr == nullptr) {
    want = bytes;
    ptr = allocate(ctx, want);
  }
  if (ptr == nullptr) {
    std::size_t free_bytes = 0, total = 0;
    memory_info(ctx, &free_bytes, &total);
    DSSTNE_FAIL(OutOfMemory, what, ": out of GPU memory on ", ctx.device_string(), " growing the ",
                "context's workspace to ", bytes, " bytes (", free_bytes, " of ", total,
                " bytes free)");
  }
  ptr_ = ptr;
  bytes_ = want;
  detail::note_memory(Device::CUDA, static_cast<int64_t>(want));
  return ptr_;
}

void Workspace::release() noexcept {
  if (ptr_ == nullptr) return;
  cudaFree(ptr_);
  detail::note_memory(Device::CUDA, -static_cast<int64_t>(bytes_));
  ptr_ = nullptr;
  bytes_ = 0;
}

}  // namespace dsstne::cuda
