// SPDX-License-Identifier: Apache-2.0
// CUDA vs CPU parity of the optimiser step (update_weights, update_biases) for every training
// mode over several steps. Required: BITWISE equality of the parameters and of the optimiser
// state after every step (the CUDA element rule repeats the CPU's operations with IEEE-rounded
// intrinsics, and the per-call constants are formed on the host the same way), and bitwise equal
// results from two CUDA runs.
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using dsstne::testing::host;

using testing::expect_bitwise;
using testing::on_device;

const TrainingMode kModes[] = {
    TrainingMode::SGD,     TrainingMode::Momentum, TrainingMode::Nesterov, TrainingMode::AdaGrad,
    TrainingMode::RMSProp, TrainingMode::AdaDelta, TrainingMode::Adam};

UpdateParams params(TrainingMode mode, int64_t step) {
  UpdateParams u;
  u.mode = mode;
  u.alpha = 0.05f;
  u.lambda = 0.01f;
  u.lambda1 = 0.002f;
  u.mu = 0.9f;
  u.mu1 = 0.999f;
  u.step = step;
  return u;
}

/// Host state of one parameter array: the values and the optimiser state v, v2.
struct State {
  std::vector<float> p, v, v2;
};

/// Random parameters (one in eight exactly 0, where sgn is 0) and non-negative state, valid for
/// every mode, as in the middle of training.
State initial_state(std::size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::uniform_real_distribution<float> unit(0.0f, 0.01f);
  State s{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    s.p[i] = i % 8 == 3 ? 0.0f : normal(gen);
    s.v[i] = unit(gen);
    s.v2[i] = unit(gen);
  }
  return s;
}

std::vector<float> step_input(std::size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(gen);
  return x;
}

void run_steps(const Context& ctx, TrainingMode mode, bool weights, std::size_t n,
               int64_t first_step, uint64_t seed) {
  const int kSteps = 5;
  const std::string what = std::string(weights ? "update_weights " : "update_biases ") +
                           to_string(mode) + " n=" + std::to_string(n) + " first step " +
                           std::to_string(first_step) + " seed " + std::to_string(seed);
  State cpu_state = initial_state(n, seed);
  std::vector<State> cuda_runs;
  for (int run = 0; run < 2; ++run) {
    State ref = cpu_state;
    DeviceBuffer<float> p = on_device(ctx, ref.p), v = on_device(ctx, ref.v),
                        v2 = on_device(ctx, ref.v2);
    for (int s = 0; s < kSteps; ++s) {
      const UpdateParams u = params(mode, first_step + s);
      const std::vector<float> x = step_input(n, seed + 1 + s);
      const DeviceBuffer<float> dx = on_device(ctx, x);
      const auto update = weights ? cuda::update_weights : cuda::update_biases;
      update(ctx, u, dx.data(), int64_t(n), p.data(), v.data(), v2.data());
      if (run == 0) {
        (weights ? cpu::update_weights : cpu::update_biases)(
            host, u, x.data(), int64_t(n), ref.p.data(), ref.v.data(), ref.v2.data());
        const std::string at = what + " step " + std::to_string(s + 1);
        expect_bitwise(ref.p, p.download(), at + " parameters");
        expect_bitwise(ref.v, v.download(), at + " v");
        expect_bitwise(ref.v2, v2.download(), at + " v2");
      }
    }
    cuda_runs.push_back(State{p.download(), v.download(), v2.download()});
  }
  expect_bitwise(cuda_runs[0].p, cuda_runs[1].p, what + " (two CUDA runs) parameters");
  expect_bitwise(cuda_runs[0].v, cuda_runs[1].v, what + " (two CUDA runs) v");
  expect_bitwise(cuda_runs[0].v2, cuda_runs[1].v2, what + " (two CUDA runs) v2");
}

TEST(CudaParityOptimizer, EveryModeIsBitwiseTheCpuForWeightsAndBiases) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 777;
  // One element, a non-multiple of the block size, a 300 × 5000 matrix plus a ragged tail.
  for (std::size_t n : {std::size_t{1}, std::size_t{1000}, std::size_t{300 * 5000 + 7}}) {
    for (TrainingMode mode : kModes) {
      for (bool weights : {true, false}) run_steps(ctx, mode, weights, n, 1, seed += 10);
    }
  }
}

TEST(CudaParityOptimizer, AdamLateStepsAreBitwiseTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // Large t: the bias corrections 1 − μ^t come from double pow on the host on both sides.
  run_steps(ctx, TrainingMode::Adam, true, 4099, 1000000, 31);
  run_steps(ctx, TrainingMode::Adam, false, 4099, 123457, 32);
}

TEST(CudaParityOptimizer, HaltStopsEveryModeAndWatchErrorSetsIt) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // watch_error: the same verdict as the CPU's for good, negative, NaN and infinite errors, and a
  // set flag stays set.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double error : {3.0, -0.05, -0.2, nan, inf, -inf}) {
    for (int32_t before : {0, 1}) {
      int32_t cpu_halt = before;
      cpu::watch_error(host, &error, 0.1, &cpu_halt);
      const DeviceBuffer<double> e = on_device(ctx, std::vector<double>{error});
      DeviceBuffer<int32_t> halt = on_device(ctx, std::vector<int32_t>{before});
      cuda::watch_error(ctx, e.data(), 0.1, halt.data());
      EXPECT_EQ(halt.download()[0], cpu_halt) << "error " << error << ", flag " << before;
      EXPECT_EQ(cpu_halt, before == 1 || !(error >= -0.1 && error < inf) ? 1 : 0) << error;
    }
  }
  // A set flag leaves parameters and state as they were, in every mode, on both devices.
  const std::size_t n = 1003;
  for (TrainingMode mode : kModes) {
    const State start = initial_state(n, 5);
    const std::vector<float> x = step_input(n, 6);
    int32_t cpu_halt = 1;
    UpdateParams u = params(mode, 3);
    u.halt = &cpu_halt;
    State ref = start;
    cpu::update_weights(host, u, x.data(), int64_t(n), ref.p.data(), ref.v.data(), ref.v2.data());
    EXPECT_TRUE(ref.p == start.p && ref.v == start.v && ref.v2 == start.v2) << to_string(mode);
    const DeviceBuffer<int32_t> halt = on_device(ctx, std::vector<int32_t>{1});
    u.halt = halt.data();
    DeviceBuffer<float> p = on_device(ctx, start.p), v = on_device(ctx, start.v),
                        v2 = on_device(ctx, start.v2);
    const DeviceBuffer<float> dx = on_device(ctx, x);
    cuda::update_biases(ctx, u, dx.data(), int64_t(n), p.data(), v.data(), v2.data());
    expect_bitwise(start.p, p.download(), to_string(mode) + " halted parameters");
    expect_bitwise(start.v, v.download(), to_string(mode) + " halted v");
  }
}

TEST(CudaParityOptimizer, UnalignedBuffersTakeTheElementPath) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  // Views one float into their buffers: no 16-byte access is possible; the result is the same.
  const std::size_t n = 999;
  for (TrainingMode mode : kModes) {
    State ref = initial_state(n + 1, 8);
    const std::vector<float> x = step_input(n + 1, 9);
    DeviceBuffer<float> p = on_device(ctx, ref.p), v = on_device(ctx, ref.v),
                        v2 = on_device(ctx, ref.v2);
    const DeviceBuffer<float> dx = on_device(ctx, x);
    const UpdateParams u = params(mode, 2);
    cpu::update_weights(host, u, x.data() + 1, int64_t(n), ref.p.data() + 1, ref.v.data() + 1,
                        ref.v2.data() + 1);
    cuda::update_weights(ctx, u, dx.data() + 1, int64_t(n), p.data() + 1, v.data() + 1,
                         v2.data() + 1);
    expect_bitwise(ref.p, p.download(), to_string(mode) + " unaligned parameters");
    expect_bitwise(ref.v, v.download(), to_string(mode) + " unaligned v");
    expect_bitwise(ref.v2, v2.download(), to_string(mode) + " unaligned v2");
  }
}

TEST(CudaParityOptimizer, ValidatesLikeTheCpu) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  DeviceBuffer<float> g(ctx, 8, "g"), w(ctx, 8, "w"), v(ctx, 8, "v"), v2(ctx, 8, "v2");
  UpdateParams u = params(static_cast<TrainingMode>(99), 1);
  EXPECT_THROW(cuda::update_weights(ctx, u, g.data(), 8, w.data(), v.data(), v2.data()),
               InvalidArgument);
  u = params(TrainingMode::Adam, 0);
  EXPECT_THROW(cuda::update_biases(ctx, u, g.data(), 8, w.data(), v.data(), v2.data()),
               InvalidArgument);
  u = params(TrainingMode::Momentum, 1);
  EXPECT_THROW(cuda::update_weights(ctx, u, g.data(), 8, w.data(), nullptr, nullptr),
               InvalidArgument);
  u = params(TrainingMode::AdaDelta, 1);
  EXPECT_THROW(cuda::update_weights(ctx, u, g.data(), 8, w.data(), v.data(), nullptr),
               InvalidArgument);
  EXPECT_THROW(cuda::update_weights(ctx, u, g.data(), -1, w.data(), v.data(), v2.data()),
               InvalidArgument);
  u = params(TrainingMode::SGD, 1);
  EXPECT_NO_THROW(cuda::update_weights(ctx, u, g.data(), 8, w.data(), nullptr, nullptr));
  EXPECT_NO_THROW(cuda::update_biases(ctx, u, nullptr, 0, nullptr, nullptr, nullptr));
}

}  // namespace
}  // namespace dsstne
