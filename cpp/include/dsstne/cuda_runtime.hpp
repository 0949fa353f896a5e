// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file cuda_runtime.hpp
/// @brief The few CUDA runtime services device-neutral code needs (memory, devices,
/// synchronisation), declared without any CUDA header. Each call makes its context's device
/// current for its duration only and runs on the context's stream. Implemented in
/// cuda/src/runtime.cu and cuda/src/context.cu; a build without CUDA links cpp/src/cuda_stubs.cpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dsstne/context.hpp"

namespace dsstne {

/// Raises NotSupported: this build has no CUDA backend, so `what` is unavailable. The one
/// wording of that error, used by Context and by every stub of a build without CUDA.
[[noreturn]] void no_cuda_backend(const std::string& what);

namespace cuda {

/// Number of visible CUDA devices (0 when there is no driver or no device).
int device_count() noexcept;
/// How many times the host has waited for a CUDA stream so far, in this process (a copy to host
/// memory, a synchronisation, a workspace that grew): a training epoch waits a fixed number of
/// times, however many batches it has.
int64_t host_waits() noexcept;
/// @throws CudaError unless `ordinal` names a visible device. Changes no current device.
void check_device(int ordinal);
/// The device's name, e.g. "NVIDIA H100 80GB HBM3".
std::string device_name(int ordinal);
/// The stream, cuBLAS handle and (empty) workspace pool of a new context on `ordinal`.
std::shared_ptr<Resources> make_resources(int ordinal);

/// cudaMalloc on the context's device; nullptr when it is out of memory (the caller raises).
void* allocate(const Context& ctx, std::size_t bytes);
/// Waits for the context's stream (work may still read the memory), then frees it.
void release(const Context& ctx, void* ptr) noexcept;
/// Host → device; returns once the copy is done, so the host memory may change again.
void copy_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// Host → device in stream order without a wait, through the context's pinned staging memory:
/// the host memory may change as soon as this returns.
void upload_staged(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// Device → host; waits for the stream's earlier work and the copy.
void copy_to_host(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// Device → device, ordered on the stream (no wait).
void copy_on_device(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// A strided device → device copy (cudaMemcpy2DAsync), ordered on the stream (no wait).
void copy_rows_on_device(const Context& ctx, void* dst, std::size_t dst_pitch, const void* src,
                         std::size_t src_pitch, std::size_t row_bytes, std::size_t rows);
/// Zero-fills device memory, ordered on the stream (no wait).
void zero(const Context& ctx, void* dst, std::size_t bytes);
/// Waits for all work on the context's stream; raises CudaError for a failed kernel.
void synchronize(const Context& ctx);
/// Free and total bytes of the context's device.
void memory_info(const Context& ctx, std::size_t* free_bytes, std::size_t* total_bytes);

}  // namespace cuda
}  // namespace dsstne
