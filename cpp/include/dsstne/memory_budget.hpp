// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file memory_budget.hpp
/// @brief Checks that what a network is about to allocate fits the device, before allocating.
///
/// With memory overcommit a huge host allocation "succeeds" and the process is killed when the
/// pages are touched, or zero-filling it takes minutes; a GPU allocation fails only after the
/// smaller buffers were made. Estimating first turns both into an immediate MemoryError that
/// names the largest buffer.

#include <cstdint>
#include <string>
#include <vector>

#include "dsstne/context.hpp"

namespace dsstne {

/// One buffer (or group of buffers) of a plan: what it is, and its size.
struct MemoryItem {
  std::string what;   ///< e.g. "weights Input->Hidden (27278 x 1024 floats, matrix and gradient)"
  double bytes = 0;   ///< double: sizes of absurd configs overflow 64-bit integers
};

/// Bytes the context's device can still give: for the CPU the smaller of the kernel's
/// MemAvailable and the cgroup's remaining limit, for CUDA the free memory of its device.
/// Negative when unknown.
double available_bytes(const Context& ctx);

/// Throws OutOfMemory when the items together exceed available_bytes(ctx), naming `purpose`,
/// the largest item, the total and what is available. Does nothing when the amount available is
/// unknown.
void check_fits(const Context& ctx, const std::vector<MemoryItem>& items,
                const std::string& purpose);
/// The same for host memory (Device::CPU: results that go to the caller). A GPU needs its
/// ordinal: Device::CUDA raises InvalidArgument, pass the context instead.
void check_fits(Device device, const std::vector<MemoryItem>& items, const std::string& purpose);

/// "1.5 GB", "12 MB", "512 bytes".
std::string format_bytes(double bytes);

}  // namespace dsstne
