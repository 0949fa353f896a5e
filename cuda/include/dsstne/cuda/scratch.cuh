// SPDX-License-Identifier: Apache-2.0
#pragma once
// Scratch: temporary device memory owned by one kernel wrapper call (CUB temp storage, partial
// sums). Kernels never allocate their outputs, but a few need workspace that no caller owns; this
// RAII wrapper returns it even when a later check throws. Kernel wrappers run without a Context,
// so it goes through dsstne::cuda::allocate / release (the current device) directly.
#include <cstddef>

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne::cuda {

class Scratch {
 public:
  Scratch() = default;
  /// `bytes` of device memory (none when 0); `what` names the kernel in the OutOfMemory error.
  Scratch(std::size_t bytes, const char* what) : bytes_(bytes) {
    if (bytes == 0) return;
    ptr_ = allocate(bytes);
    if (ptr_ == nullptr)
      DSSTNE_FAIL(OutOfMemory, what, ": out of GPU memory allocating ", bytes,
                  " bytes of scratch");
  }
  ~Scratch() { release(ptr_); }  // cudaFree waits for the kernels still reading the memory
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
  void* ptr_ = nullptr;
};

}  // namespace dsstne::cuda
