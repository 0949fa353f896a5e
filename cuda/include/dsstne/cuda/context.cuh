// SPDX-License-Identifier: Apache-2.0
#pragma once
// The CUDA state of one Context (shared by its copies), the scope every kernel wrapper opens on
// it, and the workspace its calls take scratch from. Nothing here is process-global: two contexts
// on one device have two streams, two cuBLAS handles and two workspaces.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <new>

#include "dsstne/context.hpp"
#include "dsstne/cuda/error.cuh"

namespace dsstne::cuda {

/// Scratch memory of one context (sort buffers, partial sums), allocated when a call needs more
/// than it holds and reused by every later call: no cudaMalloc or cudaFree per kernel call (a
/// cudaFree also waits for the whole device). It only grows.
class Workspace {
 public:
  /// At least `bytes`, 256-byte aligned, with the context's device current. Growing waits for the
  /// stream first (queued kernels may still read the old area). `what` names the caller in the
  /// OutOfMemory error.
  void* reserve(const Context& ctx, cudaStream_t stream, std::size_t bytes, const char* what);
  /// Frees the memory (the owner's destructor; the device must be current, the stream idle).
  void release() noexcept;
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Pinned host memory through which small host → device copies run without a wait: the data are
/// copied into the next of a ring of slots, and the slot's copy to the device is queued on the
/// stream. A slot is reused once the stream has passed its copy, so the host waits only when it
/// runs a whole ring of uploads ahead of the device.
class Staging {
 public:
  /// Copies `bytes` from `src` to `dst` (device memory) in stream order; `src` may change as
  /// soon as this returns.
  void upload(cudaStream_t stream, void* dst, const void* src, std::size_t bytes);
  /// Frees the slots (the owner's destructor; the device must be current, the stream idle).
  void release() noexcept;

 private:
  static constexpr int kSlots = 16;
  struct Slot {
    void* host = nullptr;
    std::size_t bytes = 0;
    cudaEvent_t copied = nullptr;  ///< recorded after the slot's last copy
  };
  Slot slots_[kSlots];
  int next_ = 0;
};

/// The cuDNN handle of a context (bound to its stream) and the convolution plans cached per
/// geometry and batch size: defined in conv_plans.cu, made by the first convolution, so no other
/// source includes cuDNN.
struct ConvCache;
/// Destroys the plans and the handle (Resources' destructor; the stream must be idle).
void release_conv_cache(ConvCache* cache) noexcept;

/// What a CUDA context owns on its device, made on its first use (Context::cuda_resources).
struct Resources {
  int ordinal = 0;
  cudaStream_t stream = nullptr;  ///< non-blocking: never waits for the legacy default stream
  cublasHandle_t blas = nullptr;  ///< bound to `stream`; its math mode is set by each GEMM
  /// cuDNN's handle and plans, made by the first convolution (guarded by `mutex`), or nullptr.
  ConvCache* conv = nullptr;
  /// Held by a call while it enqueues work that uses `workspace`, sets `blas`'s math mode or uses
  /// `conv`: the copies of a context share them, possibly from several threads.
  std::mutex mutex;
  Workspace workspace;  // the staging ring below is guarded by `mutex` too
  Staging staging;
  Resources() = default;
  Resources(const Resources&) = delete;
  Resources& operator=(const Resources&) = delete;
  ~Resources();  // waits for the stream, then frees the workspace, the handles and the stream
};

/// Makes `ordinal` the calling thread's current device until the scope ends, then restores the
/// previous one: the current device is never left changed behind a caller's back.
class DeviceScope {
 public:
  explicit DeviceScope(int ordinal) {
    DSSTNE_CUDA_TRY(cudaGetDevice(&previous_));
    if (previous_ != ordinal) DSSTNE_CUDA_TRY(cudaSetDevice(ordinal));
    ordinal_ = ordinal;
  }
  /// For destructors and frees: errors are ignored (at process exit the runtime may be gone).
  DeviceScope(int ordinal, std::nothrow_t) noexcept {
    cudaGetDevice(&previous_);
    if (previous_ != ordinal) cudaSetDevice(ordinal);
    ordinal_ = ordinal;
  }
  ~DeviceScope() {
    if (previous_ != ordinal_) cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  int ordinal_ = 0;
};

/// The scope of one kernel wrapper call: the context's device is current and stream() is the
/// context's stream, on which every launch, copy, memset and library call of the call goes.
class StreamScope {
 public:
  explicit StreamScope(const Context& ctx)
      : ctx_(ctx), resources_(ctx.cuda_resources()), device_(resources_.ordinal) {}
  cudaStream_t stream() const { return resources_.stream; }
  Resources& resources() const { return resources_; }
  const Context& context() const { return ctx_; }

 private:
  const Context& ctx_;
  Resources& resources_;
  DeviceScope device_;
};

/// Waits on the host for the work queued on `stream` and raises CudaError for a failed kernel.
/// Every host wait of the CUDA backend goes through here, so host_waits() counts them.
void wait_for_stream(cudaStream_t stream);
/// Waits on the host until `event` has happened (counted in host_waits() too).
void wait_for_event(cudaEvent_t event);
inline void wait_for_stream(const StreamScope& s) { wait_for_stream(s.stream()); }

/// A call's share of its context's workspace. It holds the context's lock until it goes out of
/// scope, so a second thread on a copy of the context cannot hand the same memory to kernels that
/// would interleave with this call's on the shared stream. Later calls on the stream reuse the
/// memory safely: the stream orders them after this call's kernels.
class Scratch {
 public:
  /// Room for `bytes` (a sum of round_up'd parts); `what` names the kernel in OutOfMemory.
  Scratch(const StreamScope& s, std::size_t bytes, const char* what)
      : lock_(s.resources().mutex), bytes_(bytes) {
    if (bytes > 0) {
      base_ = static_cast<char*>(
          s.resources().workspace.reserve(s.context(), s.stream(), bytes, what));
    }
  }
  /// The next n elements of T, 256-byte aligned, from the room asked for.
  template <typename T>
  T* take(std::size_t n) {
    const std::size_t part = round_up(n * sizeof(T));
    DSSTNE_EXPECTS_T(LogicError, used_ + part <= bytes_, "scratch: ", used_ + part,
                     " bytes taken from ", bytes_, " asked for");
    T* p = reinterpret_cast<T*>(base_ + used_);
    used_ += part;
    return p;
  }
  /// Bytes rounded up so that every part taken stays 256-byte aligned.
  static std::size_t round_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

 private:
  std::unique_lock<std::mutex> lock_;
  char* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t used_ = 0;
};

}  // namespace dsstne::cuda
