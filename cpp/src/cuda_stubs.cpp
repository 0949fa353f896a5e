// SPDX-License-Identifier: Apache-2.0
// libdsstne without the CUDA backend: the runtime services of cuda_runtime.hpp raise the one
// "no CUDA backend" error (no_cuda_backend). The kernel stubs are generated from kernels.inc at
// build time (cmake/cuda_stubs.cmake); cuda/ replaces both whenever the backend is built.
#include "dsstne/cuda_runtime.hpp"

namespace dsstne::cuda {

int device_count() noexcept { return 0; }
int64_t host_waits() noexcept { return 0; }
void check_device(int) { no_cuda_backend("cuda::check_device"); }
std::string device_name(int) { no_cuda_backend("cuda::device_name"); }
std::shared_ptr<Resources> make_resources(int) { no_cuda_backend("cuda::make_resources"); }
void* allocate(const Context&, std::size_t) { no_cuda_backend("cuda::allocate"); }
void release(const Context&, void*) noexcept {}
void copy_to_device(const Context&, void*, const void*, std::size_t) {
  no_cuda_backend("cuda::copy_to_device");
}
void upload_staged(const Context&, void*, const void*, std::size_t) {
  no_cuda_backend("cuda::upload_staged");
}
void copy_to_host(const Context&, void*, const void*, std::size_t) {
  no_cuda_backend("cuda::copy_to_host");
}
void copy_on_device(const Context&, void*, const void*, std::size_t) {
  no_cuda_backend("cuda::copy_on_device");
}
void copy_rows_on_device(const Context&, void*, std::size_t, const void*, std::size_t, std::size_t,
                         std::size_t) {
  no_cuda_backend("cuda::copy_rows_on_device");
}
void zero(const Context&, void*, std::size_t) { no_cuda_backend("cuda::zero"); }
void synchronize(const Context&) {}
void memory_info(const Context&, std::size_t*, std::size_t*) {
  no_cuda_backend("cuda::memory_info");
}

}  // namespace dsstne::cuda
