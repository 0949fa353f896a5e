// SPDX-License-Identifier: Apache-2.0
#include "call_timer.hpp"

#include <chrono>

#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"

namespace dsstne::bench {
namespace {

/// CPU kernels return when they are done, so the host's clock around the call is its time.
class HostCallTimer final : public CallTimer {
 public:
  explicit HostCallTimer(int calls) : begins_(calls), ends_(calls) {}
  void begin(int call) override { begins_.at(call) = Clock::now(); }
  void end(int call) override { ends_.at(call) = Clock::now(); }
  std::vector<double> milliseconds() override {
    std::vector<double> ms(begins_.size());
    for (std::size_t i = 0; i < ms.size(); ++i) {
      ms[i] = std::chrono::duration<double, std::milli>(ends_[i] - begins_[i]).count();
    }
    return ms;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> begins_, ends_;
};

}  // namespace

std::unique_ptr<CallTimer> make_call_timer(const Context& ctx, int calls) {
  DSSTNE_EXPECTS(calls > 0, "make_call_timer: ", calls, " calls");
  if (!ctx.is_cuda()) return std::make_unique<HostCallTimer>(calls);
#ifdef DSSTNE_BENCH_CUDA_TIMER
  return make_cuda_call_timer(ctx, calls);
#else
  no_cuda_backend("timing CUDA kernels");
#endif
}

std::size_t default_scrub_bytes(const Context& ctx) {
  if (!ctx.is_cuda()) return std::size_t{64} << 20;
#ifdef DSSTNE_BENCH_CUDA_TIMER
  return 2 * cuda_l2_bytes(ctx);
#else
  no_cuda_backend("timing CUDA kernels");
#endif
}

}  // namespace dsstne::bench
