// SPDX-License-Identifier: Apache-2.0
#include "dsstne/device_buffer.hpp"

#include "dsstne/cuda_runtime.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace dsstne {
namespace {

std::atomic<int64_t> g_cpu_bytes{0}, g_cpu_peak{0}, g_cuda_bytes{0}, g_cuda_peak{0};

void account(std::atomic<int64_t>& bytes, std::atomic<int64_t>& peak, int64_t delta) {
  const int64_t now = bytes.fetch_add(delta) + delta;
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace

MemoryUsage memory_usage() {
  return MemoryUsage{g_cpu_bytes.load(), g_cuda_bytes.load(), g_cpu_peak.load(),
                     g_cuda_peak.load()};
}

namespace detail {

void* device_allocate(Device device, std::size_t bytes, const std::string& what) {
  if (device == Device::CUDA) {
    void* ptr = cuda::allocate(bytes);
    if (ptr == nullptr) {
      std::size_t free_bytes = 0, total = 0;
      cuda::memory_info(&free_bytes, &total);
      throw OutOfMemory(concat("out of GPU memory allocating ", bytes, " bytes for buffer '",
                               what, "' (", free_bytes, " of ", total, " bytes free, ",
                               memory_usage().cuda_bytes, " held by dsstne)"));
    }
    account(g_cuda_bytes, g_cuda_peak, static_cast<int64_t>(bytes));
    return ptr;
  }
  // 64-byte alignment keeps SIMD loads and BLAS calls on their fast paths.
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  void* ptr = std::aligned_alloc(64, rounded);
  if (ptr == nullptr) {
    throw OutOfMemory(concat("out of memory allocating ", bytes, " bytes for buffer '", what,
                             "' (", memory_usage().cpu_bytes, " bytes already in use)"));
  }
  account(g_cpu_bytes, g_cpu_peak, static_cast<int64_t>(bytes));
  return ptr;
}

void device_free(Device device, void* ptr, std::size_t bytes) noexcept {
  if (device == Device::CUDA) {
    cuda::release(ptr);
    account(g_cuda_bytes, g_cuda_peak, -static_cast<int64_t>(bytes));
    return;
  }
  std::free(ptr);
  account(g_cpu_bytes, g_cpu_peak, -static_cast<int64_t>(bytes));
}

void copy_to_device(Device device, void* dst, const void* src, std::size_t bytes) {
  if (device == Device::CUDA) return cuda::copy_to_device(dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void copy_to_host(Device device, void* dst, const void* src, std::size_t bytes) {
  if (device == Device::CUDA) return cuda::copy_to_host(dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void copy_on_device(Device device, void* dst, const void* src, std::size_t bytes) {
  if (device == Device::CUDA) return cuda::copy_on_device(dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void device_zero(Device device, void* dst, std::size_t bytes) {
  if (device == Device::CUDA) return cuda::zero(dst, bytes);
  std::memset(dst, 0, bytes);
}

}  // namespace detail
}  // namespace dsstne
