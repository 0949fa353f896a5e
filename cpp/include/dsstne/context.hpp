// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file context.hpp
/// @brief Where and how kernels run: the device, its stream, library handles and scratch
/// (docs/design.md "Execution context"), the random seed and the communicator.

#include <cstdint>
#include <memory>
#include <string>

#include "dsstne/comm.hpp"

namespace dsstne {

enum class Device { CPU, CUDA };

/// The arithmetic of dense products (GEMM). Float32 is exact float32 (the default). TF32 uses the
/// GPU's TF32 tensor cores (10-bit mantissa inputs; no effect on the CPU). BFloat16 rounds both
/// inputs to bfloat16 (8-bit mantissa, to nearest) and accumulates in float32: bf16 tensor cores
/// on the GPU, the same rounding followed by a float32 product on the CPU. Weights stay float32 either way.
enum class GemmMath { Float32, TF32, BFloat16 };

/// Which of cuDNN's convolution algorithms the CUDA backend may use; both sets are deterministic
/// (no atomics), so either trains bitwise reproducibly. Deterministic (the default): any that
/// cuDNN marks deterministic, FFT and Winograd included, whose transforms round differently from
/// a plain sum of products (parity with the CPU within 1e-4 of the terms' magnitude instead of
/// 1e-5). GemmOrder: only those that sum the products themselves (implicit GEMM, GEMM, direct),
/// so that sums exact in float agree with the CPU bit for bit. No effect on the CPU.
enum class ConvAlgorithms { Deterministic, GemmOrder };

namespace cuda {
/// What a CUDA context owns on its device: a stream, the cuBLAS handle, the workspace pool
/// (cuda/include/dsstne/cuda/context.cuh). Opaque to device-neutral code.
struct Resources;
}  // namespace cuda

/// A cheap handle: copies share one execution state (device, stream, handles, workspace,
/// communicator), so a DataSet, Layer or Weight made from a context runs on its stream. Two
/// contexts constructed separately share nothing, even on one device. The seed and the GEMM
/// math are settings of each copy.
class Context {
 public:
  /// A CPU context with one rank.
  Context() : Context(Device::CPU, 0, 12134) {}
  /// Checks that the device exists; a CUDA context makes its stream and handles on first use.
  /// @throws NotSupported for Device::CUDA when the library has no CUDA backend, CudaError when
  ///         the device is not visible.
  Context(Device device, int device_ordinal, uint64_t seed,
          std::shared_ptr<Communicator> comm = nullptr);
  /// Parses "cpu", "cuda" or "cuda:N".
  static Context from_string(const std::string& device, uint64_t seed);

  Device device() const;
  bool is_cuda() const { return device() == Device::CUDA; }
  int device_ordinal() const;
  /// "cpu" or "cuda:N".
  std::string device_string() const;
  /// Whether `other` runs on the same device (kind and ordinal), with or without shared state.
  bool same_device(const Context& other) const {
    return device() == other.device() && device_ordinal() == other.device_ordinal();
  }
  /// Whether `other` is a copy of this context (same stream, handles and workspace).
  bool shares_state_with(const Context& other) const { return state_ == other.state_; }

  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t seed) { seed_ = seed; }
  Communicator& comm() const;
  /// The same device and settings, communicating through `comm` (one rank of several). The
  /// copy has an execution state of its own.
  Context with_communicator(std::shared_ptr<Communicator> comm) const;
  /// The arithmetic of every GEMM called with this context (opt-in; Float32 by default).
  void set_gemm_math(GemmMath math) { gemm_math_ = math; }
  GemmMath gemm_math() const { return gemm_math_; }
  /// set_gemm_math(TF32) or back to Float32.
  void set_tf32(bool on) { gemm_math_ = on ? GemmMath::TF32 : GemmMath::Float32; }
  bool tf32() const { return gemm_math_ == GemmMath::TF32; }
  /// The convolution algorithms CUDA kernels called with this context may use.
  void set_conv_algorithms(ConvAlgorithms set) { conv_algorithms_ = set; }
  ConvAlgorithms conv_algorithms() const { return conv_algorithms_; }
  std::string describe() const;
  /// Whether this build of libdsstne contains the CUDA backend.
  static bool cuda_built();

  /// The CUDA resources of this context and its copies, made on first use.
  /// @throws InvalidArgument for a CPU context.
  cuda::Resources& cuda_resources() const;
  /// The CUDA resources if some call has made them, else nullptr (never makes them).
  cuda::Resources* cuda_resources_if_made() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  uint64_t seed_;
  GemmMath gemm_math_ = GemmMath::Float32;
  ConvAlgorithms conv_algorithms_ = ConvAlgorithms::Deterministic;
};

}  // namespace dsstne
