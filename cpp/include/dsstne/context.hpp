// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file context.hpp
/// @brief Where and how a network runs: the device, the random seed, the communicator.

#include <cstdint>
#include <memory>
#include <string>

#include "dsstne/comm.hpp"

namespace dsstne {

enum class Device { CPU, CUDA };

class Context {
 public:
  /// A CPU context with one rank.
  Context() : Context(Device::CPU, 0, 12134) {}
  /// @throws NotSupported for Device::CUDA until the CUDA backend is built into the library.
  Context(Device device, int device_ordinal, uint64_t seed,
          std::shared_ptr<Communicator> comm = nullptr);
  /// Parses "cpu", "cuda" or "cuda:N".
  static Context from_string(const std::string& device, uint64_t seed);

  Device device() const { return device_; }
  bool is_cuda() const { return device_ == Device::CUDA; }
  int device_ordinal() const { return device_ordinal_; }
  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t seed) { seed_ = seed; }
  Communicator& comm() const { return *comm_; }
  /// The same device and settings, communicating through `comm` (one rank of several).
  Context with_communicator(std::shared_ptr<Communicator> comm) const;
  /// TF32 tensor-core math for dense products on the GPU (opt-in; float32 by default). Networks
  /// apply their context's choice before each pass. No effect on the CPU.
  void set_tf32(bool on);
  bool tf32() const { return tf32_; }
  std::string describe() const;
  /// Whether this build of libdsstne contains the CUDA backend.
  static bool cuda_built();

 private:
  Device device_;
  int device_ordinal_;
  uint64_t seed_;
  bool tf32_ = false;
  std::shared_ptr<Communicator> comm_;
};

}  // namespace dsstne
