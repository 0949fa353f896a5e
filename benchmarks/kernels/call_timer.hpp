// SPDX-License-Identifier: Apache-2.0
#pragma once
// The clock of each timed call: the host's steady clock for the CPU backend, CUDA events on the
// context's stream for the GPU (so the time is the device's, not the host's launch or wait).
#include <cstddef>
#include <memory>
#include <vector>

#include "dsstne/context.hpp"

namespace dsstne::bench {

class CallTimer {
 public:
  virtual ~CallTimer() = default;
  /// Marks the start and the end of timed call `call` (0 ≤ call < the count it was made for).
  virtual void begin(int call) = 0;
  virtual void end(int call) = 0;
  /// Waits for the device, raises a failed kernel's error, and returns each call's milliseconds.
  virtual std::vector<double> milliseconds() = 0;
};

/// A timer for `calls` calls on the context's device.
std::unique_ptr<CallTimer> make_call_timer(const Context& ctx, int calls);

/// Bytes to overwrite before each call so that it reads its inputs from memory, not from a
/// cache a previous call filled: twice the GPU's L2, or a fixed 64 MiB on the CPU (a typical
/// last-level cache share; --scrub-mib overrides it).
std::size_t default_scrub_bytes(const Context& ctx);

#ifdef DSSTNE_BENCH_CUDA_TIMER
// cuda_call_timer.cpp, built only with the CUDA backend.
std::unique_ptr<CallTimer> make_cuda_call_timer(const Context& ctx, int calls);
std::size_t cuda_l2_bytes(const Context& ctx);
#endif

}  // namespace dsstne::bench
