// SPDX-License-Identifier: Apache-2.0
// Convolution forward, backward to the data and to the filters through cuDNN's legacy API
// (reference: cpp/src/cpu/convolution.cpp), with the descriptors and deterministic algorithms of
// conv_plans.cu, which also says how they are chosen. The batch runs in chunks whose tensors
// cuDNN can describe; where a plan's output is larger than the geometry's, cuDNN computes it into
// a staging buffer, of which the first positions are copied out. The BFloat16 mode rounds the
// operands first, as the CPU's GEMM does. Without cuDNN the passes raise NotSupported. The
// per-channel bias helpers are channel_bias.cu's.
#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "conv_plans.cuh"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {

#ifndef DSSTNE_WITH_CUDNN

namespace {
[[noreturn]] void no_cudnn(const char* kernel) {
  DSSTNE_FAIL(NotSupported, "cuda::", kernel, ": this libdsstne was built without cuDNN, which ",
              "the CUDA convolutions need (configure with cuDNN found: the CUDA toolkit, ",
              "CUDNN_HOME or the nvidia-cudnn wheel)");
}
}  // namespace

void conv_forward(const Context& ctx, const ConvGeometry& g, const float* x, const float* w,
                  int64_t rows, bool accumulate, float* y) {
  if (checks::conv_forward(ctx, g, x, w, rows, accumulate, y)) no_cudnn("conv_forward");
}
void conv_backward_data(const Context& ctx, const ConvGeometry& g, const float* w,
                        const float* delta, int64_t rows, bool accumulate, float* dx) {
  if (checks::conv_backward_data(ctx, g, w, delta, rows, accumulate, dx)) {
    no_cudnn("conv_backward_data");
  }
}
void conv_backward_filter(const Context& ctx, const ConvGeometry& g, const float* x,
                          const float* delta, int64_t rows, float scale, float beta, float* dw) {
  if (checks::conv_backward_filter(ctx, g, x, delta, rows, scale, beta, dw)) {
    no_cudnn("conv_backward_filter");
  }
}

#else  // DSSTNE_WITH_CUDNN

using conv_plans::axis_view;
using conv_plans::ConvPlan;
using conv_plans::cudnn_handle;
using conv_plans::kData;
using conv_plans::kFilter;
using conv_plans::kForward;
using conv_plans::kPassNames;
using conv_plans::plan_for;
using conv_plans::volume;

namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), kMaxBlocks));
}

/// The geometry's output extents (small) inside cuDNN's (big), for `maps` maps.
struct Window {
  int64_t small[3], big[3];
};

// to_big: big[m][p] ← small[m][p] (big zeroed before); else small[m][p] (+)= big[m][p].
__global__ void window_kernel(const float* src, float* dst, int64_t maps, Window w, bool to_big,
                              bool accumulate) {
  const int64_t sv = w.small[0] * w.small[1] * w.small[2];
  const int64_t bv = w.big[0] * w.big[1] * w.big[2];
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < maps * sv;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t m = e / sv, q = e % sv;
    const int64_t x = q % w.small[0], y = (q / w.small[0]) % w.small[1],
                  z = q / (w.small[0] * w.small[1]);
    const int64_t b = m * bv + (z * w.big[1] + y) * w.big[0] + x;
    if (to_big) {
      dst[b] = src[e];
    } else {
      dst[e] = accumulate ? dst[e] + src[b] : src[b];
    }
  }
}

// out ← in rounded to bfloat16 (to nearest, ties to even) and back: the CPU GEMM's operands.
__global__ void round_bfloat16_kernel(const float* in, int64_t n, float* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __bfloat162float(__float2bfloat16_rn(in[i]));
}

// v ← beta·v, and beta 0 writes zeros (NaN left in v does not survive).
__global__ void scale_kernel(float* v, int64_t n, float beta) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    v[i] = beta == 0.0f ? 0.0f : beta * v[i];
}

/// Runs of one kernel call: the batch in chunks of rows whose tensors cuDNN can describe (an
/// int of elements each), and the scratch each chunk takes.
struct Run {
  const StreamScope& s;
  const ConvGeometry& g;
  int pass;
  bool bf16;
  int64_t in_example, out_example, filters;
  Run(const StreamScope& scope, const ConvGeometry& geometry, int p)
      : s(scope), g(geometry), pass(p), bf16(scope.context().gemm_math() == GemmMath::BFloat16),
        in_example(geometry.in_channels * volume(geometry.in)),
        out_example(geometry.out_channels * volume(geometry.out)),
        filters(geometry.out_channels * geometry.in_channels * volume(geometry.kernel)) {}

  int64_t chunk_rows(int64_t rows) const {
    int64_t big[3];
    for (int a = 0; a < 3; ++a) big[a] = axis_view(g, a, false).out;  // the larger plan's
    const int64_t per = std::max(in_example, g.out_channels * volume(big));
    DSSTNE_EXPECTS_T(NotSupported, per <= INT_MAX, kPassNames[pass], ": cuDNN's output of one ",
                     "example would have ", per, " elements, more than an int");
    return std::max<int64_t>(1, std::min<int64_t>(rows, INT_MAX / per));
  }
  /// A copy of n values rounded to bfloat16 in `scratch` in BFloat16 mode, else `v` itself.
  const float* operand(Scratch& scratch, const float* v, int64_t n) const {
    if (!bf16) return v;
    float* out = scratch.take<float>(std::size_t(n));
    round_bfloat16_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(v, n, out);
    DSSTNE_CHECK_LAST_KERNEL();
    return out;
  }
  /// delta of `rows` examples as cuDNN's output shape: itself, or zero-padded into `scratch`.
  const float* padded(Scratch& scratch, const ConvPlan& p, const float* delta, int64_t rows) const {
    if (!p.staged) return delta;
    const int64_t n = rows * g.out_channels * volume(p.out);
    float* big = scratch.take<float>(std::size_t(n));
    DSSTNE_CUDA_TRY(cudaMemsetAsync(big, 0, std::size_t(n) * sizeof(float), s.stream()));
    copy_window(delta, big, rows, p, true, false);
    return big;
  }
  void copy_window(const float* src, float* dst, int64_t rows, const ConvPlan& p, bool to_big,
                   bool accumulate) const {
    Window w;
    for (int a = 0; a < 3; ++a) w.small[a] = g.out[a], w.big[a] = p.out[a];
    const int64_t maps = rows * g.out_channels;
    window_kernel<<<element_blocks(maps * volume(g.out)), kThreads, 0, s.stream()>>>(
        src, dst, maps, w, to_big, accumulate);
    DSSTNE_CHECK_LAST_KERNEL();
  }
  /// Bytes of scratch a chunk of `rows` takes: workspace, staging, rounded operands.
  std::size_t bytes(const ConvPlan& p, int64_t rows, int64_t operand_a, int64_t operand_b) const {
    const auto floats = [](int64_t n) { return Scratch::round_up(std::size_t(n) * sizeof(float)); };
    std::size_t total = Scratch::round_up(p.choice[pass].workspace);
    if (p.staged) total += floats(rows * g.out_channels * volume(p.out));
    if (bf16) total += floats(operand_a) + floats(operand_b);
    return total;
  }
  cudnnHandle_t handle() const { return cudnn_handle(s); }
  /// The chosen math type on the shared descriptor (under the scratch's lock) and the workspace.
  void* prepare(Scratch& scratch, const ConvPlan& p) const {
    DSSTNE_CUDNN_TRY(cudnnSetConvolutionMathType(p.conv, p.choice[pass].math));
    const std::size_t ws = p.choice[pass].workspace;
    return ws > 0 ? scratch.take<char>(ws) : nullptr;
  }
};

}  // namespace

void conv_forward(const Context& ctx, const ConvGeometry& g, const float* x, const float* w,
                  int64_t rows, bool accumulate, float* y) {
  if (!checks::conv_forward(ctx, g, x, w, rows, accumulate, y)) return;
  const StreamScope s(ctx);
  const Run run(s, g, kForward);
  const int64_t step = run.chunk_rows(rows);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t n = std::min(step, rows - r0);
    const auto plan = plan_for(s, g, n, kForward);
    Scratch scratch(s, run.bytes(*plan, n, n * run.in_example, run.filters), "conv_forward");
    void* ws = run.prepare(scratch, *plan);
    const float* xs = run.operand(scratch, x + r0 * run.in_example, n * run.in_example);
    const float* wr = run.operand(scratch, w, run.filters);
    float* yr = y + r0 * run.out_example;
    float* target =
        plan->staged ? scratch.take<float>(std::size_t(n * g.out_channels * volume(plan->out)))
                     : yr;
    const float alpha = 1.0f, beta = accumulate && !plan->staged ? 1.0f : 0.0f;
    DSSTNE_CUDNN_TRY(cudnnConvolutionForward(
        run.handle(), &alpha, plan->x, xs, plan->w, wr, plan->conv,
        cudnnConvolutionFwdAlgo_t(plan->choice[kForward].algo), ws,
        plan->choice[kForward].workspace, &beta, plan->y, target));
    if (plan->staged) run.copy_window(target, yr, n, *plan, false, accumulate);
  }
}

void conv_backward_data(const Context& ctx, const ConvGeometry& g, const float* w,
                        const float* delta, int64_t rows, bool accumulate, float* dx) {
  if (!checks::conv_backward_data(ctx, g, w, delta, rows, accumulate, dx)) return;
  const StreamScope s(ctx);
  const Run run(s, g, kData);
  const int64_t step = run.chunk_rows(rows);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t n = std::min(step, rows - r0);
    const auto plan = plan_for(s, g, n, kData);
    Scratch scratch(s, run.bytes(*plan, n, n * run.out_example, run.filters),
                    "conv_backward_data");
    void* ws = run.prepare(scratch, *plan);
    const float* wr = run.operand(scratch, w, run.filters);
    const float* d = run.padded(
        scratch, *plan, run.operand(scratch, delta + r0 * run.out_example, n * run.out_example), n);
    float* dxr = dx + r0 * run.in_example;
    // Input positions cuDNN does not see feed no output: their gradient is +0.
    if (plan->shortened && !accumulate) {
      DSSTNE_CUDA_TRY(cudaMemsetAsync(dxr, 0, std::size_t(n * run.in_example) * sizeof(float),
                                      s.stream()));
    }
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    DSSTNE_CUDNN_TRY(cudnnConvolutionBackwardData(
        run.handle(), &alpha, plan->w, wr, plan->y, d, plan->conv,
        cudnnConvolutionBwdDataAlgo_t(plan->choice[kData].algo), ws, plan->choice[kData].workspace,
        &beta, plan->x, dxr));
  }
}

void conv_backward_filter(const Context& ctx, const ConvGeometry& g, const float* x,
                          const float* delta, int64_t rows, float scale, float beta, float* dw) {
  if (!checks::conv_backward_filter(ctx, g, x, delta, rows, scale, beta, dw)) return;
  const StreamScope s(ctx);
  const Run run(s, g, kFilter);
  if (rows == 0) {  // no examples: dw ← beta·dw, as gemm with k = 0
    scale_kernel<<<element_blocks(run.filters), kThreads, 0, s.stream()>>>(dw, run.filters, beta);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  const int64_t step = run.chunk_rows(rows);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t n = std::min(step, rows - r0);
    const auto plan = plan_for(s, g, n, kFilter);
    Scratch scratch(s, run.bytes(*plan, n, n * run.in_example, n * run.out_example),
                    "conv_backward_filter");
    void* ws = run.prepare(scratch, *plan);
    const float* xs = run.operand(scratch, x + r0 * run.in_example, n * run.in_example);
    const float* d = run.padded(
        scratch, *plan, run.operand(scratch, delta + r0 * run.out_example, n * run.out_example), n);
    // cuDNN's beta 0 never reads dw (NaN there does not survive); later chunks add.
    const float alpha = scale, chunk_beta = r0 == 0 ? beta : 1.0f;
    DSSTNE_CUDNN_TRY(cudnnConvolutionBackwardFilter(
        run.handle(), &alpha, plan->x, xs, plan->y, d, plan->conv,
        cudnnConvolutionBwdFilterAlgo_t(plan->choice[kFilter].algo), ws,
        plan->choice[kFilter].workspace, &chunk_beta, plan->w, dw));
  }
}

#endif  // DSSTNE_WITH_CUDNN

}  // namespace dsstne::cuda
