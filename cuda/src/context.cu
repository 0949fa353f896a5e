// SPDX-License-Identifier: Apache-2.0
// The per-context CUDA state (context.cuh): its stream, cuBLAS handle and workspace (the cuDNN
// handle and convolution plans are conv_plans.cu's).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <mutex>
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
  staging.release();
  release_conv_cache(conv);
  conv = nullptr;
  if (blas != nullptr) cublasDestroy(blas);
  if (stream != nullptr) cudaStreamDestroy(stream);
}

void* Workspace::reserve(const Context& ctx, cudaStream_t stream, std::size_t bytes,
                         const char* what) {
  if (bytes <= bytes_) return ptr_;
  wait_for_stream(stream);
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

void Staging::upload(cudaStream_t stream, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  if (slot.copied == nullptr) {
    DSSTNE_CUDA_TRY(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  } else {
    const cudaError_t state = cudaEventQuery(slot.copied);
    // A ring of uploads ahead of the device: wait for this slot's copy alone, so the work queued
    // behind it keeps the device busy meanwhile.
    if (state == cudaErrorNotReady) {
      wait_for_event(slot.copied);
    } else {
      DSSTNE_CUDA_TRY(state);
    }
  }
  if (slot.bytes < bytes) {
    if (slot.host != nullptr) {
      cudaFreeHost(slot.host);
      detail::note_memory(Device::CPU, -static_cast<int64_t>(slot.bytes));
      slot.host = nullptr;
      slot.bytes = 0;
    }
    // Room for batches a little larger than this one, so creeping sizes do not reallocate.
    const std::size_t want = std::max<std::size_t>(4096, bytes + bytes / 4);
    DSSTNE_CUDA_TRY(cudaMallocHost(&slot.host, want));
    slot.bytes = want;
    detail::note_memory(Device::CPU, static_cast<int64_t>(want));
  }
  std::memcpy(slot.host, src, bytes);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, stream));
  DSSTNE_CUDA_TRY(cudaEventRecord(slot.copied, stream));
}

void Staging::release() noexcept {
  for (Slot& slot : slots_) {
    if (slot.host != nullptr) {
      cudaFreeHost(slot.host);
      detail::note_memory(Device::CPU, -static_cast<int64_t>(slot.bytes));
    }
    if (slot.copied != nullptr) cudaEventDestroy(slot.copied);
    slot = Slot{};
  }
}

void upload_staged(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  const StreamScope s(ctx);
  const std::lock_guard<std::mutex> lock(s.resources().mutex);
  s.resources().staging.upload(s.stream(), dst, src, bytes);
}

}  // namespace dsstne::cuda
