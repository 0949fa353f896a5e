// SPDX-License-Identifier: Apache-2.0
#pragma once
// The timing harness every kernel family shares: warm-up, caches overwritten before each timed
// call, the median of the calls, bytes turned into GB/s against the bandwidth of a device copy
// measured in the same run, and a family's failure recorded without losing the others' numbers.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/memory_budget.hpp"
#include "options.hpp"

namespace dsstne::bench {

/// One row of the report.
struct Result {
  std::string kernel;   ///< the engine's kernel name (what --only matches)
  std::string variant;  ///< e.g. "beta=0", "CrossEntropy", "k=100", "Adam"
  std::string shape;
  std::string notes;    ///< how the bytes were counted, where it is not obvious
  double median_ms = 0, best_ms = 0;
  double bytes = 0;     ///< the minimum the kernel must move (each family's byte model)
  std::string error;    ///< set when the case failed; the numbers are then meaningless
};

/// What one timed case is.
struct Case {
  std::string kernel, variant, shape;
  double bytes = 0;
  std::string notes;
};

class Bench {
 public:
  Bench(const Context& ctx, const Options& options);
  const Context& context() const { return ctx_; }
  const Options& options() const { return options_; }

  /// Whether --only selects `kernel`.
  bool wants(const std::string& kernel) const;
  /// Raises OutOfMemory, before anything is allocated, when a family's buffers do not fit.
  void check_fits(const std::vector<MemoryItem>& items, const std::string& family) const;
  /// Warms up, then times options().iterations calls, each after the scrub, and records the
  /// median. The call must leave its buffers fit for the next call.
  void time(const Case& c, const std::function<void()>& call);
  /// Records that a case or a whole family failed with `error`.
  void fail(const std::string& kernel, const std::string& variant, const std::string& error);
  /// Times a copy of options().copy_bytes within the device, counting read + write: the
  /// bandwidth the kernels are compared with (also reported as the first row).
  void measure_bandwidth();

  double bandwidth_gbps() const { return bandwidth_gbps_; }
  std::size_t scrub_bytes() const { return scrub_.size(); }
  const std::vector<Result>& results() const { return results_; }
  bool all_passed() const;

 private:
  Context ctx_;
  Options options_;
  DeviceBuffer<unsigned char> scrub_;
  double bandwidth_gbps_ = 0;
  std::vector<Result> results_;
};

/// The shape "a × b" with thousands separated, and "1,000,000"-style counts.
std::string shape_of(int64_t a, int64_t b);
std::string count_of(int64_t n);

}  // namespace dsstne::bench
