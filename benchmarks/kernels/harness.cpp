// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include <algorithm>
#include <cstdio>

#include "call_timer.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne::bench {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Waits for the device's queued work (a no-op on the CPU, whose kernels return when done).
void wait_for_device(const Context& ctx) {
  if (ctx.is_cuda()) cuda::synchronize(ctx);
}

}  // namespace

std::string count_of(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int pos = int(digits.size()) - 3; pos > 0; pos -= 3) digits.insert(std::size_t(pos), ",");
  return n < 0 ? "-" + digits : digits;
}

std::string shape_of(int64_t a, int64_t b) { return count_of(a) + " × " + count_of(b); }

Bench::Bench(const Context& ctx, const Options& options) : ctx_(ctx), options_(options) {
  const std::size_t scrub =
      options.scrub_bytes != 0 ? options.scrub_bytes : default_scrub_bytes(ctx);
  scrub_ = DeviceBuffer<unsigned char>(ctx, scrub, "cache scrub");
}

bool Bench::wants(const std::string& kernel) const {
  return options_.only.empty() ||
         std::find(options_.only.begin(), options_.only.end(), kernel) != options_.only.end();
}

void Bench::check_fits(const std::vector<MemoryItem>& items, const std::string& family) const {
  dsstne::check_fits(ctx_, items, "the " + family + " benchmark");
}

void Bench::time(const Case& c, const std::function<void()>& call) {
  std::fprintf(stderr, "  %s %s (%s)\n", c.kernel.c_str(), c.variant.c_str(), c.shape.c_str());
  try {
    // Warm-up: workspaces grow and code paths are loaded here, not in a timed call.
    for (int i = 0; i < options_.warmup; ++i) call();
    wait_for_device(ctx_);
    const auto timer = make_call_timer(ctx_, options_.iterations);
    for (int i = 0; i < options_.iterations; ++i) {
      scrub_.zero();
      timer->begin(i);
      call();
      timer->end(i);
    }
    const std::vector<double> ms = timer->milliseconds();
    Result r;
    r.kernel = c.kernel;
    r.variant = c.variant;
    r.shape = c.shape;
    r.notes = c.notes;
    r.median_ms = median_of(ms);
    r.best_ms = *std::min_element(ms.begin(), ms.end());
    r.bytes = c.bytes;
    results_.push_back(std::move(r));
  } catch (const std::exception& e) {
    fail(c.kernel, c.variant, e.what());
  }
}

void Bench::fail(const std::string& kernel, const std::string& variant, const std::string& error) {
  std::fprintf(stderr, "error: %s %s: %s\n", kernel.c_str(), variant.c_str(), error.c_str());
  Result r;
  r.kernel = kernel;
  r.variant = variant;
  r.error = error;
  results_.push_back(std::move(r));
}

void Bench::measure_bandwidth() {
  const std::size_t bytes = options_.copy_bytes;
  check_fits({{"copy source and destination", 2.0 * double(bytes)}}, "bandwidth");
  DeviceBuffer<unsigned char> from(ctx_, bytes, "bandwidth copy source");
  DeviceBuffer<unsigned char> to(ctx_, bytes, "bandwidth copy destination");
  const std::size_t before = results_.size();
  time({"device copy", "read + write", format_bytes(double(bytes)), 2.0 * double(bytes),
        "the bandwidth reference"},
       [&] { detail::copy_on_device(ctx_, to.data(), from.data(), bytes); });
  if (results_.size() > before && results_.back().error.empty()) {
    bandwidth_gbps_ = results_.back().bytes / (results_.back().median_ms * 1e6);
  }
}

bool Bench::all_passed() const {
  return std::all_of(results_.begin(), results_.end(),
                     [](const Result& r) { return r.error.empty(); });
}

}  // namespace dsstne::bench
