// SPDX-License-Identifier: Apache-2.0
// The optimiser step on the GPU (spec/math.md §5.2), bit for bit the CPU reference
// (cpp/src/cpu/optimizer.cpp). The element rule is the CPU's, operation by operation, written
// with IEEE round-to-nearest intrinsics: the CPU (x86-64, no -ffast-math, no FMA) rounds every
// +, −, ·, / and sqrt separately, and nvcc would otherwise contract a·b + c into an FMA. So
// weights, biases and optimiser state agree bitwise with the CPU after any number of steps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "cpu/training_modes.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 1u << 20;  // the element loop strides past this

/// +1: the input is a descent direction (weights); −1: the input is a gradient (biases).
enum class Direction { kAlong = 1, kAgainst = -1 };

/// Per-call constants, formed on the host exactly as the CPU forms them.
struct StepConstants {
  float alpha, mu, mu1;
  float one_minus_mu, one_minus_mu1;
  float adam_c1, adam_c2;  ///< 1 − μ^t and 1 − μ1^t, powers in double rounded once
  float lambda, lambda1;   ///< weight decay (weights only)
};

StepConstants step_constants(const UpdateParams& u) {
  StepConstants k{};
  k.alpha = u.alpha;
  k.mu = u.mu;
  k.mu1 = u.mu1;
  k.one_minus_mu = 1.0f - u.mu;
  k.one_minus_mu1 = 1.0f - u.mu1;
  const double t = static_cast<double>(u.step);
  k.adam_c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(u.mu), t));
  k.adam_c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(u.mu1), t));
  k.lambda = u.lambda;
  k.lambda1 = u.lambda1;
  return k;
}

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float root(float a) { return __fsqrt_rn(a); }
/// max(1e-9, x): the floor DSSTNE puts under every second-moment estimate.
__device__ __forceinline__ float floored(float x) { return x > 1e-9f ? x : 1e-9f; }
/// sgn(x) with sgn(0) = 0.
__device__ __forceinline__ float sign_of(float x) {
  return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
}
/// sign·y for sign = ±1: a negation, exact, as the CPU's multiplication by ±1.
template <Direction D>
__device__ __forceinline__ float directed(float y) {
  return D == Direction::kAlong ? y : -y;
}

/// Which optimizer state a mode reads and writes.
__host__ __device__ constexpr bool uses_v(TrainingMode m) { return m != TrainingMode::SGD; }
__host__ __device__ constexpr bool uses_v2(TrainingMode m) {
  return m == TrainingMode::AdaDelta || m == TrainingMode::Adam;
}

// One element: parameter p, its input x, its state v and v2 (unused ones untouched). The
// comments give the CPU's expression each line reproduces.
template <TrainingMode Mode, Direction D>
__device__ __forceinline__ void step_element(const StepConstants& k, float x, float& p, float& v_,
                                             float& v2_) {
  // x − λ·p − λ1·sgn(p)
  if constexpr (D == Direction::kAlong)
    x = sub(sub(x, mul(k.lambda, p)), mul(k.lambda1, sign_of(p)));
  if constexpr (Mode == TrainingMode::SGD) {
    p = add(p, directed<D>(mul(k.alpha, x)));  // p += sign·(α·x)
  } else if constexpr (Mode == TrainingMode::Momentum) {
    const float v = add(mul(k.mu, v_), directed<D>(mul(k.alpha, x)));  // μ·v + sign·(α·x)
    v_ = v;
    p = add(p, v);
  } else if constexpr (Mode == TrainingMode::Nesterov) {
    const float v_old = v_;
    const float v_new = add(mul(k.mu, v_old), directed<D>(mul(k.alpha, x)));
    p = add(p, add(v_new, mul(k.mu, sub(v_new, v_old))));  // p += v' + μ·(v' − v)
    v_ = v_new;
  } else if constexpr (Mode == TrainingMode::AdaGrad) {
    const float v = add(v_, mul(x, x));
    v_ = v;
    p = add(p, directed<D>(div(mul(k.alpha, x), root(floored(v)))));  // α·x / √max(v, 1e-9)
  } else if constexpr (Mode == TrainingMode::RMSProp) {
    const float v = add(mul(k.mu, v_), mul(k.one_minus_mu, mul(x, x)));
    v_ = v;
    p = add(p, directed<D>(div(mul(k.alpha, x), root(floored(v)))));
  } else if constexpr (Mode == TrainingMode::AdaDelta) {
    const float v = add(mul(k.mu, v_), mul(k.one_minus_mu, mul(x, x)));
    v_ = v;
    const float v2_old = v2_;
    const float delta = mul(root(div(floored(v2_old), floored(v))), x);  // √(v2/v)·x
    v2_ = add(mul(k.mu, v2_old), mul(k.one_minus_mu, mul(delta, delta)));
    p = add(p, directed<D>(delta));
  } else if constexpr (Mode == TrainingMode::Adam) {
    const float m = add(mul(k.mu, v_), mul(k.one_minus_mu, x));
    const float s = add(mul(k.mu1, v2_), mul(k.one_minus_mu1, mul(x, x)));
    v_ = m;
    v2_ = s;
    const float m_hat = div(m, k.adam_c1);
    const float v_hat = div(s, k.adam_c2);
    // p += sign·(α·m̂ / (√v̂ + 1e-8))
    p = add(p, directed<D>(div(mul(k.alpha, m_hat), add(root(v_hat), 1e-8f))));
  }
}

/// Four consecutive elements as one 16-byte access.
template <typename T>
__device__ __forceinline__ float4& quad(T* base, int64_t j) {
  return reinterpret_cast<float4*>(base)[j];
}

// p, input, v, v2: n elements, each independent. Every thread takes groups of four elements with
// 16-byte loads and stores (the pass is bound by memory bandwidth), grid-stride: the first
// `quads` groups (0 unless every pointer is 16-byte aligned), then the rest one by one. Unused
// state is never touched.
template <TrainingMode Mode, Direction D>
__global__ void update_kernel(StepConstants k, const int32_t* halt, const float* input, int64_t n,
                              int64_t quads, float* p_, float* v_, float* v2_) {
  if (halt != nullptr && *halt != 0) return;  // a diverged batch earlier in the epoch
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  float4 none = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int64_t j = first; j < quads; j += stride) {
    float4 p = quad(p_, j);
    const float4 x = reinterpret_cast<const float4*>(input)[j];
    float4 v = uses_v(Mode) ? quad(v_, j) : none;
    float4 v2 = uses_v2(Mode) ? quad(v2_, j) : none;
    step_element<Mode, D>(k, x.x, p.x, v.x, v2.x);
    step_element<Mode, D>(k, x.y, p.y, v.y, v2.y);
    step_element<Mode, D>(k, x.z, p.z, v.z, v2.z);
    step_element<Mode, D>(k, x.w, p.w, v.w, v2.w);
    quad(p_, j) = p;
    if constexpr (uses_v(Mode)) quad(v_, j) = v;
    if constexpr (uses_v2(Mode)) quad(v2_, j) = v2;
  }
  for (int64_t i = quads * 4 + first; i < n; i += stride) {
    float p = p_[i], v = uses_v(Mode) ? v_[i] : 0.0f, v2 = uses_v2(Mode) ? v2_[i] : 0.0f;
    step_element<Mode, D>(k, input[i], p, v, v2);
    p_[i] = p;
    if constexpr (uses_v(Mode)) v_[i] = v;
    if constexpr (uses_v2(Mode)) v2_[i] = v2;
  }
}

/// Whether every pointer given is 16-byte aligned (the quad accesses of update_kernel).
bool aligned16(std::initializer_list<const void*> pointers) {
  for (const void* q : pointers)
    if (reinterpret_cast<std::uintptr_t>(q) % 16 != 0) return false;
  return true;
}

template <Direction D>
void update(const Context& ctx, const UpdateParams& u, const float* input, int64_t n, float* p,
            float* v, float* v2) {
  const StreamScope s(ctx);
  // The engine's buffers are cudaMalloc'd (256-byte aligned); a caller's offset views may not be.
  const int64_t quads = aligned16({input, p, v, v2}) ? n / 4 : 0;
  const unsigned int blocks = std::min(blocks_for(n - 3 * quads, kThreads), kMaxBlocks);
  terms::with_training_mode(u.mode, [&](auto mode) {
    update_kernel<decltype(mode)::value, D><<<blocks, kThreads, 0, s.stream()>>>(
        step_constants(u), u.halt, input, n, quads, p, v, v2);
  });
  DSSTNE_CHECK_LAST_KERNEL();
}

// The SGD step of update_kernel on the listed rows of p and input alone; one block per row. The
// element rule is update_kernel's, so a listed row ends bit for bit as a whole-matrix step leaves
// it.
__global__ void listed_rows_kernel(StepConstants k, const int32_t* halt, const float* input,
                                   const uint32_t* rows, const int64_t* count, int64_t n_rows,
                                   int64_t row_len, float* p_) {
  if (halt != nullptr && *halt != 0) return;
  const int64_t n = *count;
  float none = 0.0f;
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int64_t row = rows[i];
    if (row >= n_rows) continue;
    for (int64_t j = row * row_len + threadIdx.x; j < (row + 1) * row_len; j += blockDim.x) {
      float p = p_[j];
      step_element<TrainingMode::SGD, Direction::kAlong>(k, input[j], p, none, none);
      p_[j] = p;
    }
  }
}

__global__ void watch_error_kernel(const double* error, double tolerance, int32_t* halt) {
  const double e = *error;
  if (!isfinite(e) || e < -tolerance) *halt = 1;
}

// x: n. Every block reads the flag and leaves at once unless a batch diverged: the common case
// costs one launch.
__global__ void zero_if_halted_kernel(const int32_t* halt, float* x, int64_t n) {
  if (*halt == 0) return;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = 0.0f;
}

// scalars: 2, as sgd_step_scalars says; the products are formed as the CPU forms them.
__global__ void sgd_step_scalars_kernel(const int32_t* halt, float alpha, float lambda,
                                        float scale, float* scalars) {
  const bool stop = halt != nullptr && *halt != 0;
  scalars[0] = stop ? 0.0f : __fmul_rn(alpha, scale);
  scalars[1] = stop ? 1.0f : __fsub_rn(1.0f, __fmul_rn(alpha, lambda));
}

}  // namespace

void update_weights(const Context& ctx, const UpdateParams& u, const float* g, int64_t n, float* w,
                    float* v, float* v2) {
  if (checks::update_weights(ctx, u, g, n, w, v, v2))
    update<Direction::kAlong>(ctx, u, g, n, w, v, v2);
}

void update_biases(const Context& ctx, const UpdateParams& u, const float* mean_delta, int64_t n,
                   float* b, float* v, float* v2) {
  if (checks::update_biases(ctx, u, mean_delta, n, b, v, v2))
    update<Direction::kAgainst>(ctx, u, mean_delta, n, b, v, v2);
}

void update_listed_rows(const Context& ctx, const UpdateParams& u, const float* g,
                        const uint32_t* rows, const int64_t* count, int64_t max_count,
                        int64_t n_rows, int64_t row_len, float* w) {
  if (!checks::update_listed_rows(ctx, u, g, rows, count, max_count, n_rows, row_len, w)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(max_count, kMaxBlocks));
  listed_rows_kernel<<<blocks, kThreads, 0, s.stream()>>>(step_constants(u), u.halt, g, rows,
                                                           count, n_rows, row_len, w);
  DSSTNE_CHECK_LAST_KERNEL();
}

void watch_error(const Context& ctx, const double* error, double tolerance, int32_t* halt) {
  if (!checks::watch_error(ctx, error, tolerance, halt)) return;
  const StreamScope s(ctx);
  watch_error_kernel<<<1, 1, 0, s.stream()>>>(error, tolerance, halt);
  DSSTNE_CHECK_LAST_KERNEL();
}

void zero_if_halted(const Context& ctx, const int32_t* halt, float* x, int64_t n) {
  if (!checks::zero_if_halted(ctx, halt, x, n)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), 1024));
  zero_if_halted_kernel<<<blocks, kThreads, 0, s.stream()>>>(halt, x, n);
  DSSTNE_CHECK_LAST_KERNEL();
}

void sgd_step_scalars(const Context& ctx, const UpdateParams& u, float scale, float* scalars) {
  if (!checks::sgd_step_scalars(ctx, u, scale, scalars)) return;
  const StreamScope s(ctx);
  sgd_step_scalars_kernel<<<1, 1, 0, s.stream()>>>(u.halt, u.alpha, u.lambda, scale, scalars);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
