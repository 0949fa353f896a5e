// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file device_buffer.hpp
/// @brief DeviceBuffer<T>: owning, move-only memory on a context's device with a host mirror and
/// memory accounting (DSSTNE's "GPU buffer manager").
///
/// A buffer keeps the context it was made with: its copies and fills run on that context's stream
/// with its device current. On the CPU backend device memory is host memory and the mirror is the
/// buffer itself. No managed memory is ever used.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/error.hpp"

namespace dsstne {

/// Bytes currently allocated by DeviceBuffers and context workspaces, per device kind, their
/// high-water mark, and how many allocations were made so far (a training step makes none).
struct MemoryUsage {
  int64_t cpu_bytes = 0;
  int64_t cuda_bytes = 0;
  int64_t cpu_peak = 0;
  int64_t cuda_peak = 0;
  int64_t cpu_allocations = 0;
  int64_t cuda_allocations = 0;
};
MemoryUsage memory_usage();

namespace detail {
/// Allocates bytes on the context's device; throws OutOfMemory naming `what` and the size.
void* device_allocate(const Context& ctx, std::size_t bytes, const std::string& what);
void device_free(const Context& ctx, void* ptr, std::size_t bytes) noexcept;
void copy_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// Host → device without waiting (pinned staging on a GPU): `src` may change once it returns.
void stage_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes);
void copy_to_host(const Context& ctx, void* dst, const void* src, std::size_t bytes);
void copy_on_device(const Context& ctx, void* dst, const void* src, std::size_t bytes);
/// `rows` runs of `row_bytes`, `src_pitch` bytes apart at src, to `dst_pitch` bytes apart at dst
/// (one strided copy on the stream; pitches ≥ row_bytes).
void copy_rows_on_device(const Context& ctx, void* dst, std::size_t dst_pitch, const void* src,
                         std::size_t src_pitch, std::size_t row_bytes, std::size_t rows);
void device_zero(const Context& ctx, void* dst, std::size_t bytes);
/// Counts memory taken (bytes > 0: one more allocation) or given back (bytes < 0) outside a
/// DeviceBuffer, such as a context's workspace, in memory_usage().
void note_memory(Device device, int64_t bytes) noexcept;
}  // namespace detail

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Allocates n elements on the context's device, zero-filled. `name` appears in errors.
  DeviceBuffer(const Context& ctx, std::size_t n, std::string name)
      : ctx_(ctx), name_(std::move(name)) {
    allocate(n);
  }
  /// A buffer that uses `n` elements of caller-owned host memory without copying them (CPU
  /// backend only); the memory must outlive the buffer, which never writes, grows or frees it.
  static DeviceBuffer borrow(const T* data, std::size_t n, std::string name) {
    DeviceBuffer b;
    b.name_ = std::move(name);
    b.data_ = const_cast<T*>(data);
    b.size_ = b.capacity_ = n;
    b.borrowed_ = true;
    return b;
  }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  // Moves copy the context handle (no allocation) and leave `other` empty on the same device.
  DeviceBuffer(DeviceBuffer&& other) noexcept : ctx_(other.ctx_) { swap(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::string& name() const { return name_; }
  Device device() const { return ctx_.device(); }
  int device_ordinal() const { return ctx_.device_ordinal(); }
  /// The context the buffer was made with (its device and stream).
  const Context& context() const { return ctx_; }

  /// Reallocates to n elements when n is larger than the capacity; keeps the first
  /// min(size, n) elements, and zero-fills the rest.
  void resize(std::size_t n) {
    DSSTNE_EXPECTS(!borrowed_ || n == size_, "buffer '", name_,
                   "' views caller-owned memory and cannot be resized");
    if (n <= capacity_) {
      if (n > size_) detail::device_zero(ctx_, data_ + size_, (n - size_) * sizeof(T));
      size_ = n;
      return;
    }
    DeviceBuffer grown(ctx_, name_);
    grown.allocate(n);
    if (size_ > 0) detail::copy_on_device(ctx_, grown.data_, data_, size_ * sizeof(T));
    swap(grown);
  }
  /// Copies n host elements into the buffer (growing it when needed).
  void upload(const T* src, std::size_t n) {
    DSSTNE_EXPECTS(!borrowed_, "buffer '", name_, "' views caller-owned memory");
    resize(n);
    if (n > 0) detail::copy_to_device(ctx_, data_, src, n * sizeof(T));
  }
  void upload(const std::vector<T>& src) { upload(src.data(), src.size()); }
  /// upload() without waiting for the device: the copy runs in stream order, through pinned
  /// staging memory on a GPU, and `src` may change as soon as this returns.
  void upload_async(const T* src, std::size_t n) {
    DSSTNE_EXPECTS(!borrowed_, "buffer '", name_, "' views caller-owned memory");
    resize(n);
    if (n > 0) detail::stage_to_device(ctx_, data_, src, n * sizeof(T));
  }
  /// Copies the buffer into host memory.
  std::vector<T> download() const {
    std::vector<T> out(size_);
    download_to(out.data(), size_);
    return out;
  }
  /// Copies the first n elements into host memory at `dst` (n <= size()).
  void download_to(T* dst, std::size_t n) const {
    DSSTNE_EXPECTS(n <= size_, "buffer '", name_, "' holds ", size_, " elements, ", n,
                   " were asked for");
    if (n > 0) detail::copy_to_host(ctx_, dst, data_, n * sizeof(T));
  }
  /// Whether the buffer views caller-owned memory (borrow()).
  bool borrowed() const { return borrowed_; }
  void zero() {
    DSSTNE_EXPECTS(!borrowed_, "buffer '", name_, "' views caller-owned memory");
    if (size_ > 0) detail::device_zero(ctx_, data_, size_ * sizeof(T));
  }

 private:
  DeviceBuffer(const Context& ctx, std::string name) : ctx_(ctx), name_(std::move(name)) {}
  void allocate(std::size_t n) {
    if (n > 0) {
      data_ = static_cast<T*>(detail::device_allocate(ctx_, n * sizeof(T), name_));
      detail::device_zero(ctx_, data_, n * sizeof(T));
    }
    size_ = capacity_ = n;
  }
  void release() noexcept {
    if (data_ != nullptr && !borrowed_) detail::device_free(ctx_, data_, capacity_ * sizeof(T));
    data_ = nullptr;
    size_ = capacity_ = 0;
    borrowed_ = false;
  }
  void swap(DeviceBuffer& other) noexcept {
    std::swap(ctx_, other.ctx_);
    std::swap(name_, other.name_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(borrowed_, other.borrowed_);
  }
  Context ctx_;
  std::string name_;
  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool borrowed_ = false;
};

}  // namespace dsstne
