// SPDX-License-Identifier: Apache-2.0
#include "dsstne/device_buffer.hpp"

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace dsstne {
namespace {

// Statistics only (what is held, the high-water mark, how often memory was taken): no handle or
// setting that a context's calls depend on.
std::atomic<int64_t> g_cpu_bytes{0}, g_cpu_peak{0}, g_cuda_bytes{0}, g_cuda_peak{0};
std::atomic<int64_t> g_cpu_allocations{0}, g_cuda_allocations{0};

void account(std::atomic<int64_t>& bytes, std::atomic<int64_t>& peak, int64_t delta) {
  const int64_t now = bytes.fetch_add(delta) + delta;
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace

namespace detail {

void note_memory(Device device, int64_t bytes) noexcept {
  const bool cuda = device == Device::CUDA;
  account(cuda ? g_cuda_bytes : g_cpu_bytes, cuda ? g_cuda_peak : g_cpu_peak, bytes);
  if (bytes > 0) ++(cuda ? g_cuda_allocations : g_cpu_allocations);
}

}  // namespace detail

MemoryUsage memory_usage() {
  return MemoryUsage{g_cpu_bytes.load(),       g_cuda_bytes.load(),      g_cpu_peak.load(),
                     g_cuda_peak.load(),       g_cpu_allocations.load(), g_cuda_allocations.load()};
}

namespace detail {

void* device_allocate(const Context& ctx, std::size_t bytes, const std::string& what) {
  if (ctx.is_cuda()) {
    void* ptr = cuda::allocate(ctx, bytes);
    if (ptr == nullptr) {
      std::size_t free_bytes = 0, total = 0;
      cuda::memory_info(ctx, &free_bytes, &total);
      throw OutOfMemory(concat("out of GPU memory allocating ", bytes, " bytes for buffer '",
                               what, "' on ", ctx.device_string(), " (", free_bytes, " of ", total,
                               " bytes free, ", memory_usage().cuda_bytes, " held by dsstne)"));
    }
    note_memory(Device::CUDA, static_cast<int64_t>(bytes));
    return ptr;
  }
  // 64-byte alignment keeps SIMD loads and BLAS calls on their fast paths.
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  void* ptr = std::aligned_alloc(64, rounded);
  if (ptr == nullptr) {
    throw OutOfMemory(concat("out of memory allocating ", bytes, " bytes for buffer '", what,
                             "' (", memory_usage().cpu_bytes, " bytes already in use)"));
  }
  note_memory(Device::CPU, static_cast<int64_t>(bytes));
  return ptr;
}

void device_free(const Context& ctx, void* ptr, std::size_t bytes) noexcept {
  if (ctx.is_cuda()) {
    cuda::release(ctx, ptr);
    note_memory(Device::CUDA, -static_cast<int64_t>(bytes));
    return;
  }
  std::free(ptr);
  note_memory(Device::CPU, -static_cast<int64_t>(bytes));
}

void copy_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (ctx.is_cuda()) return cuda::copy_to_device(ctx, dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void stage_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (ctx.is_cuda()) return cuda::upload_staged(ctx, dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void copy_to_host(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (ctx.is_cuda()) return cuda::copy_to_host(ctx, dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void copy_on_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (ctx.is_cuda()) return cuda::copy_on_device(ctx, dst, src, bytes);
  std::memcpy(dst, src, bytes);
}

void copy_rows_on_device(const Context& ctx, void* dst, std::size_t dst_pitch, const void* src,
                         std::size_t src_pitch, std::size_t row_bytes, std::size_t rows) {
  DSSTNE_EXPECTS_T(LogicError, row_bytes <= dst_pitch && row_bytes <= src_pitch,
                   "copy_rows_on_device: rows of ", row_bytes, " bytes, pitches ", dst_pitch,
                   " and ", src_pitch);
  if (row_bytes == 0 || rows == 0) return;
  if (ctx.is_cuda()) return cuda::copy_rows_on_device(ctx, dst, dst_pitch, src, src_pitch,
                                                      row_bytes, rows);
  for (std::size_t i = 0; i < rows; ++i)
    std::memcpy(static_cast<char*>(dst) + i * dst_pitch,
                static_cast<const char*>(src) + i * src_pitch, row_bytes);
}

void device_zero(const Context& ctx, void* dst, std::size_t bytes) {
  if (ctx.is_cuda()) return cuda::zero(ctx, dst, bytes);
  std::memset(dst, 0, bytes);
}

}  // namespace detail
}  // namespace dsstne
