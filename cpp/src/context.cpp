// SPDX-License-Identifier: Apache-2.0
#include "dsstne/context.hpp"

#include <cctype>

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne {

bool Context::cuda_built() {
#ifdef DSSTNE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

Context::Context(Device device, int device_ordinal, uint64_t seed,
                 std::shared_ptr<Communicator> comm)
    : device_(device), device_ordinal_(device_ordinal), seed_(seed), comm_(std::move(comm)) {
  if (device_ == Device::CUDA && !cuda_built()) {
    DSSTNE_FAIL(NotSupported,
                "this libdsstne was built without CUDA (no nvcc at build time), so cuda:",
                device_ordinal, " is unavailable; rebuild with the CUDA toolkit or use device 'cpu'");
  }
  DSSTNE_EXPECTS(device_ordinal_ >= 0, "device ordinal must be >= 0, got ", device_ordinal_);
  if (device_ == Device::CUDA) cuda::set_device(device_ordinal_);
  if (!comm_) comm_ = std::make_shared<LocalCommunicator>();
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

void Context::set_tf32(bool on) { tf32_ = on; }

Context Context::with_communicator(std::shared_ptr<Communicator> comm) const {
  DSSTNE_EXPECTS(comm != nullptr, "with_communicator: no communicator given");
  Context copy = *this;
  copy.comm_ = std::move(comm);
  return copy;
}

std::string Context::describe() const {
  return detail::concat(is_cuda() ? "cuda:" : "cpu", is_cuda() ? std::to_string(device_ordinal_) : "",
                        " seed=", seed_, " ranks=", comm_->size(), " (", comm_->name(), ")",
                        tf32_ ? " tf32" : "");
}

}  // namespace dsstne
