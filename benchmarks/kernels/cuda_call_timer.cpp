// SPDX-License-Identifier: Apache-2.0
// CUDA events around each call on the context's own stream (non-blocking, so events on the
// legacy default stream would not order with it): the elapsed time is what the device spent
// from the call's first launch to its last, excluding the host's waits between calls.
#include <cuda_runtime.h>

#include <new>
#include <vector>

#include "call_timer.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda_runtime.hpp"

namespace dsstne::bench {
namespace {

/// Owns the events, so that they are destroyed even when making a later one fails.
struct EventList {
  int ordinal = 0;
  std::vector<cudaEvent_t> events;
  ~EventList() {
    const cuda::DeviceScope device(ordinal, std::nothrow);
    for (cudaEvent_t e : events) cudaEventDestroy(e);
  }
};

class CudaCallTimer final : public CallTimer {
 public:
  CudaCallTimer(const Context& ctx, int calls)
      : ctx_(ctx), stream_(ctx.cuda_resources().stream) {
    list_.ordinal = ctx.device_ordinal();
    const cuda::DeviceScope device(list_.ordinal);
    list_.events.reserve(2 * static_cast<std::size_t>(calls));
    for (int i = 0; i < 2 * calls; ++i) {
      cudaEvent_t e = nullptr;
      DSSTNE_CUDA_TRY(cudaEventCreate(&e));
      list_.events.push_back(e);
    }
  }
  void begin(int call) override { record(2 * static_cast<std::size_t>(call)); }
  void end(int call) override { record(2 * static_cast<std::size_t>(call) + 1); }
  std::vector<double> milliseconds() override {
    cuda::synchronize(ctx_);  // raises CudaError when a timed kernel failed
    const cuda::DeviceScope device(list_.ordinal);
    std::vector<double> ms(list_.events.size() / 2);
    for (std::size_t i = 0; i < ms.size(); ++i) {
      float elapsed = 0.0f;
      DSSTNE_CUDA_TRY(cudaEventElapsedTime(&elapsed, list_.events[2 * i], list_.events[2 * i + 1]));
      ms[i] = elapsed;
    }
    return ms;
  }

 private:
  void record(std::size_t event) {
    const cuda::DeviceScope device(list_.ordinal);
    DSSTNE_CUDA_TRY(cudaEventRecord(list_.events.at(event), stream_));
  }
  Context ctx_;
  cudaStream_t stream_;
  EventList list_;
};

}  // namespace

std::unique_ptr<CallTimer> make_cuda_call_timer(const Context& ctx, int calls) {
  return std::make_unique<CudaCallTimer>(ctx, calls);
}

std::size_t cuda_l2_bytes(const Context& ctx) {
  int bytes = 0;
  DSSTNE_CUDA_TRY(cudaDeviceGetAttribute(&bytes, cudaDevAttrL2CacheSize, ctx.device_ordinal()));
  DSSTNE_EXPECTS_T(CudaError, bytes > 0, "cuda_l2_bytes: device ", ctx.device_ordinal(),
                   " reports an L2 cache of ", bytes, " bytes");
  return static_cast<std::size_t>(bytes);
}

}  // namespace dsstne::bench
