// SPDX-License-Identifier: Apache-2.0
#include "dsstne/context.hpp"

#include <atomic>
#include <cctype>
#include <mutex>

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne {

/// What the copies of one context share. The CUDA resources are made on the first call that
/// needs them: making a context (a cheap, frequent thing in Python) touches no device.
struct Context::State {
  Device device = Device::CPU;
  int ordinal = 0;
  std::shared_ptr<Communicator> comm;
  std::mutex mutex;                             ///< held while the resources are made
  std::atomic<cuda::Resources*> ready{nullptr};  ///< set once they are, read without the lock
  std::shared_ptr<cuda::Resources> resources;
};

void no_cuda_backend(const std::string& what) {
  DSSTNE_FAIL(NotSupported, "this build of dsstne has no CUDA backend (libdsstne was built without "
              "CUDA: no nvcc at build time), so ", what, " is unavailable; rebuild with the CUDA "
              "toolkit or use device 'cpu'");
}

bool Context::cuda_built() {
#ifdef DSSTNE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

Context::Context(Device device, int device_ordinal, uint64_t seed,
                 std::shared_ptr<Communicator> comm)
    : state_(std::make_shared<State>()), seed_(seed) {
  if (device == Device::CUDA && !cuda_built())
    no_cuda_backend(detail::concat("cuda:", device_ordinal));
  DSSTNE_EXPECTS(device_ordinal >= 0, "device ordinal must be >= 0, got ", device_ordinal);
  // Only a check: which device is current stays each call's business (a scoped guard).
  if (device == Device::CUDA) cuda::check_device(device_ordinal);
  state_->device = device;
  state_->ordinal = device_ordinal;
  state_->comm = comm ? std::move(comm) : std::make_shared<LocalCommunicator>();
}

Context Context::from_string(const std::string& device, uint64_t seed) {
  std::string lower;
  for (char c : device) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "cpu") return Context(Device::CPU, 0, seed);
  if (lower == "cuda" || lower == "gpu") return Context(Device::CUDA, 0, seed);
  if (lower.rfind("cuda:", 0) == 0) {
    const std::string ordinal = lower.substr(5);
    DSSTNE_EXPECTS(!ordinal.empty() && ordinal.find_first_not_of("0123456789") == std::string::npos,
                   "device '", device, "': expected cuda:N with N a device number");
    return Context(Device::CUDA, std::stoi(ordinal), seed);
  }
  DSSTNE_FAIL(InvalidArgument, "unknown device '", device, "': expected 'cpu', 'cuda' or 'cuda:N'");
}

Device Context::device() const { return state_->device; }

int Context::device_ordinal() const { return state_->ordinal; }

std::string Context::device_string() const {
  return is_cuda() ? detail::concat("cuda:", state_->ordinal) : std::string("cpu");
}

Communicator& Context::comm() const { return *state_->comm; }

cuda::Resources& Context::cuda_resources() const {
  DSSTNE_EXPECTS(is_cuda(), "a CUDA kernel or copy was called with context ", device_string(),
                 ", which has no CUDA stream");
  if (cuda::Resources* r = state_->ready.load(std::memory_order_acquire)) return *r;
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->resources) {
    state_->resources = cuda::make_resources(state_->ordinal);
    state_->ready.store(state_->resources.get(), std::memory_order_release);
  }
  return *state_->resources;
}

cuda::Resources* Context::cuda_resources_if_made() const {
  return state_->ready.load(std::memory_order_acquire);
}

Context Context::with_communicator(std::shared_ptr<Communicator> comm) const {
  DSSTNE_EXPECTS(comm != nullptr, "with_communicator: no communicator given");
  Context copy(device(), device_ordinal(), seed_, std::move(comm));
  copy.gemm_math_ = gemm_math_;
  return copy;
}

std::string Context::describe() const {
  return detail::concat(device_string(), " seed=", seed_, " ranks=", comm().size(), " (",
                        comm().name(), ")",
                        gemm_math_ == GemmMath::TF32       ? " tf32"
                        : gemm_math_ == GemmMath::BFloat16 ? " bf16"
                                                           : "",
                        conv_algorithms_ == ConvAlgorithms::GemmOrder ? " conv=gemm-order" : "");
}

}  // namespace dsstne
