// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file cuda_runtime.hpp
/// @brief The few CUDA runtime services device-neutral code needs (memory, devices,
/// synchronisation), declared without any CUDA header. Implemented in cuda/src/runtime.cu; a build
/// without CUDA links stubs that raise NotSupported.

#include <cstddef>
#include <cstdint>

namespace dsstne::cuda {

/// Number of visible CUDA devices (0 when there is no driver or no device).
int device_count() noexcept;
/// Makes `ordinal` the current device of this thread. @throws CudaError naming it.
void set_device(int ordinal);
/// Name and total memory of a device, e.g. "NVIDIA H100 80GB HBM3".
const char* device_name(int ordinal);
/// cudaMalloc; returns nullptr when the device is out of memory (the caller raises MemoryError).
void* allocate(std::size_t bytes);
void release(void* ptr) noexcept;
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_on_device(void* dst, const void* src, std::size_t bytes);
void zero(void* dst, std::size_t bytes);
/// Waits for all work on the current device; raises CudaError for a failed kernel.
void synchronize();
/// Free and total bytes of the current device.
void memory_info(std::size_t* free_bytes, std::size_t* total_bytes);
/// Turns TF32 tensor-core math on or off for dense products on the current device.
void set_tf32(bool on);

}  // namespace dsstne::cuda
