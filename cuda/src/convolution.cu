// SPDX-License-Identifier: Apache-2.0
// Convolution forward, backward to the data and to the filters through cuDNN's legacy API, and
// the per-channel bias helpers as own kernels (reference: cpp/src/cpu/convolution.cpp).
//
// Determinism: only algorithms whose sums have one fixed order are used (cuDNN's heuristic marks
// them CUDNN_DETERMINISTIC; backward ALGO_0 and the filter's ALGO_3 add with atomics and are
// never taken). Under ConvAlgorithms::Deterministic (the default) that includes FFT and
// Winograd, whose transforms round differently from a plain sum of products; under GemmOrder
// only forward IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM, GEMM and DIRECT and backward ALGO_1, which
// sum the products themselves. The choice among them is cuDNN's heuristic (cudnnGet*_v7, no
// timing), a function of the shapes, the GPU and the cuDNN version only, made once per geometry,
// batch size and setting and cached in the context's resources. Float32 (and the BFloat16 mode,
// whose operands are rounded first, as the CPU's GEMM does) runs CUDNN_FMA_MATH, so no TF32
// tensor core can enter; TF32 mode lets cuDNN use them.
//
// cuDNN wants tensors of ≥ 4 dimensions and an output of exactly ⌊(in + 2·pad − kernel)/stride⌋
// + 1 per axis: 1-D and 2-D geometries become NCHW with extent-1 axes, 3-D NCDHW. Where the
// geometry's output is smaller than that, cuDNN sees a shortened input (a strided view of the
// first positions, which are all any output reads) when that is possible, else computes the
// larger output into a staging buffer, of which the first positions are copied out.
#include <cuda_bf16.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "cpu/pooling_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

#ifdef DSSTNE_WITH_CUDNN
#include <cudnn.h>
#endif

namespace dsstne::cuda {
namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kMaxBlocks = 65535;
constexpr int kLanes = terms::kPoolingLanes;  // channel_mean's lanes, the CPU's order

unsigned int element_blocks(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, kThreads), kMaxBlocks));
}

// y: maps (rows × channels) × spatial; one float addition per element, as on the CPU.
__global__ void add_channel_bias_kernel(const float* b, int64_t channels, int64_t spatial,
                                        int64_t n, float* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    y[e] += b[(e / spatial) % channels];
}

// One block of kLanes threads per channel: thread t is lane t of the CPU's sum (values
// i = r·spatial + s with i ≡ t mod kLanes, in order), then the lanes meet in the same halving tree.
__global__ void channel_mean_kernel(const float* x, int64_t rows, int64_t channels,
                                    int64_t spatial, float* out) {
  __shared__ double lanes[kLanes];
  const int t = threadIdx.x;
  const int64_t n = rows * spatial;
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    double sum = 0.0;
    for (int64_t i = t; i < n; i += kLanes)
      sum = terms::add_d(sum, double(x[((i / spatial) * channels + c) * spatial + i % spatial]));
    const double total = lane_tree_sum<kLanes>(sum, lanes);
    if (t == 0) out[c] = rows == 0 ? 0.0f : float(__ddiv_rn(total, double(rows)));
  }
}

}  // namespace

void add_channel_bias(const Context& ctx, const float* b, int64_t rows, int64_t channels,
                      int64_t spatial, float* y) {
  if (!checks::add_channel_bias(ctx, b, rows, channels, spatial, y)) return;
  const StreamScope s(ctx);
  const int64_t n = rows * channels * spatial;
  add_channel_bias_kernel<<<element_blocks(n), kThreads, 0, s.stream()>>>(b, channels, spatial,
                                                                          n, y);
  DSSTNE_CHECK_LAST_KERNEL();
}

void channel_mean(const Context& ctx, const float* x, int64_t rows, int64_t channels,
                  int64_t spatial, float* out) {
  if (!checks::channel_mean(ctx, x, rows, channels, spatial, out)) return;
  const StreamScope s(ctx);
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(channels, kMaxBlocks));
  channel_mean_kernel<<<blocks, kLanes, 0, s.stream()>>>(x, rows, channels, spatial, out);
  DSSTNE_CHECK_LAST_KERNEL();
}

#ifndef DSSTNE_WITH_CUDNN

struct ConvCache {};
void release_conv_cache(ConvCache*) noexcept {}

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

#define DSSTNE_CUDNN_TRY(call)                                                             \
  do {                                                                                     \
    const cudnnStatus_t dsstne_status = (call);                                            \
    if (dsstne_status != CUDNN_STATUS_SUCCESS)                                             \
      DSSTNE_FAIL(::dsstne::CudaError, #call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                  cudnnGetErrorString(dsstne_status));                                     \
  } while (0)

namespace {

enum Pass { kForward = 0, kData = 1, kFilter = 2 };
const char* const kPassNames[3] = {"conv_forward", "conv_backward_data", "conv_backward_filter"};
/// Plans kept per context; beyond this many shapes the cache starts over.
constexpr std::size_t kMaxPlans = 64;
/// The most workspace a heuristic's pick may take (1 GiB); the fixed fallbacks need little.
constexpr std::size_t kMaxWorkspace = std::size_t(1) << 30;

int64_t volume(const int64_t e[3]) { return e[0] * e[1] * e[2]; }

/// What cuDNN is shown of one axis: `seen` input positions, and its `out` (≥ the geometry's).
struct AxisView {
  int64_t seen, out;
};

/// cuDNN computes out = ⌊(seen + 2p − k)/s⌋ + 1 with p zeros on both sides, so it gives exactly
/// the geometry's `out` for seen ≤ fits = out·s + k − 2p − 1 (and seen ≥ the `needed` below). The
/// whole input when in ≤ fits; else, with `shorten`, the prefix of `needed` positions (the last
/// real input any output reads is needed − 1), a strided view, if that fits; else the whole input,
/// with cuDNN's larger output going through a staging buffer.
AxisView axis_view(const ConvGeometry& g, int a, bool shorten) {
  const int64_t in = g.in[a], k = g.kernel[a], s = g.stride[a], p = g.pad[a], out = g.out[a];
  const int64_t needed = std::min(in, (out - 1) * s - p + k), fits = out * s + k - 2 * p - 1;
  if (in <= fits) return {in, out};
  if (shorten && needed <= fits) return {needed, out};
  return {in, (in + 2 * p - k) / s + 1};
}

/// One pass's algorithm, math type and workspace, chosen once.
struct Choice {
  bool made = false;
  int algo = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;
};

/// The descriptors of one geometry and batch size, and the algorithm chosen for each pass.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr;  ///< the input (or its gradient) as cuDNN sees it
  cudnnTensorDescriptor_t y = nullptr;  ///< the output (or delta), or its staging buffer
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int64_t out[3] = {1, 1, 1};  ///< cuDNN's output extents
  bool staged = false;         ///< cuDNN's output is larger than the geometry's
  bool shortened = false;      ///< cuDNN sees fewer input positions than there are
  Choice choice[3];
  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan() {
    if (x != nullptr) cudnnDestroyTensorDescriptor(x);
    if (y != nullptr) cudnnDestroyTensorDescriptor(y);
    if (w != nullptr) cudnnDestroyFilterDescriptor(w);
    if (conv != nullptr) cudnnDestroyConvolutionDescriptor(conv);
  }
};

using PlanKey = std::array<int64_t, 20>;

PlanKey plan_key(const ConvGeometry& g, int64_t rows, GemmMath math, ConvAlgorithms set) {
  PlanKey k{g.in_channels, g.out_channels, rows, int64_t(math)};
  k[19] = int64_t(set);
  for (int a = 0; a < 3; ++a) {
    k[4 + a] = g.in[a];
    k[7 + a] = g.out[a];
    k[10 + a] = g.kernel[a];
    k[13 + a] = g.stride[a];
    k[16 + a] = g.pad[a];
  }
  return k;
}

/// An NCHW (nd 4) or NCDHW (nd 5) tensor of `extent` positions per axis, laid out in maps of
/// `pitch` (a view of the first positions when extent < pitch). The checks kept all within int.
void set_tensor(cudnnTensorDescriptor_t d, int nd, int64_t n, int64_t c, const int64_t extent[3],
                const int64_t pitch[3]) {
  const int64_t map = volume(pitch);
  int dims[5] = {int(n), int(c)}, strides[5] = {int(c * map), int(map)};
  const int64_t axis_stride[3] = {1, pitch[0], pitch[0] * pitch[1]};
  for (int i = 2; i < nd; ++i) {
    const int axis = nd - 1 - i;  // the last dimension is x
    dims[i] = int(extent[axis]);
    strides[i] = int(axis_stride[axis]);
  }
  DSSTNE_CUDNN_TRY(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, nd, dims, strides));
}

std::shared_ptr<ConvPlan> make_plan(const ConvGeometry& g, int64_t rows, bool shorten) {
  auto p = std::make_shared<ConvPlan>();
  DSSTNE_CUDNN_TRY(cudnnCreateTensorDescriptor(&p->x));
  DSSTNE_CUDNN_TRY(cudnnCreateTensorDescriptor(&p->y));
  DSSTNE_CUDNN_TRY(cudnnCreateFilterDescriptor(&p->w));
  DSSTNE_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv));
  const int nd = g.in[2] > 1 || g.kernel[2] > 1 ? 5 : 4;  // cuDNN takes no fewer than 4
  int64_t seen[3];
  for (int a = 0; a < 3; ++a) {
    const AxisView v = axis_view(g, a, shorten);
    seen[a] = v.seen;
    p->out[a] = v.out;
    p->staged = p->staged || v.out != g.out[a];
    p->shortened = p->shortened || v.seen != g.in[a];
  }
  set_tensor(p->x, nd, rows, g.in_channels, seen, g.in);
  set_tensor(p->y, nd, rows, g.out_channels, p->out, p->out);
  int filter[5] = {int(g.out_channels), int(g.in_channels)}, pads[3], strides[3];
  const int dilations[3] = {1, 1, 1};
  for (int i = 2; i < nd; ++i) {
    const int axis = nd - 1 - i;
    filter[i] = int(g.kernel[axis]);
    pads[i - 2] = int(g.pad[axis]);
    strides[i - 2] = int(g.stride[axis]);
  }
  DSSTNE_CUDNN_TRY(cudnnSetFilterNdDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, nd, filter));
  DSSTNE_CUDNN_TRY(cudnnSetConvolutionNdDescriptor(p->conv, nd - 2, pads, strides, dilations,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // cuDNN's own output size must be the one described, or the views above are wrong.
  int dims[5];
  DSSTNE_CUDNN_TRY(cudnnGetConvolutionNdForwardOutputDim(p->conv, p->x, p->w, nd, dims));
  for (int i = 2; i < nd; ++i) {
    DSSTNE_EXPECTS_T(LogicError, dims[i] == p->out[nd - 1 - i], "convolution: cuDNN computes ",
                     dims[i], " outputs on axis ", nd - 1 - i, ", the plan expects ",
                     p->out[nd - 1 - i]);
  }
  return p;
}

bool allowed(int pass, int algo, ConvAlgorithms set) {
  if (set == ConvAlgorithms::Deterministic) return true;  // the heuristic's determinism flag rules
  switch (pass) {
    case kForward:
      return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    case kData:
      return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    default:
      return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  }
}

struct Candidate {
  int algo;
  cudnnMathType_t math;
  bool ranked;  ///< from the heuristic (held to kMaxWorkspace), else a fixed fallback
};

/// The heuristic's deterministic, allowed picks in its order. In TF32 mode the math type it
/// reports is kept (never FP16 conversion); otherwise FMA math, which rules out tensor cores.
template <typename Perf>
void add_ranked(const Perf* perf, int count, int pass, bool tf32, ConvAlgorithms set,
                std::vector<Candidate>& out) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC ||
        !allowed(pass, int(perf[i].algo), set) ||
        perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      continue;
    out.push_back({int(perf[i].algo), tf32 ? perf[i].mathType : CUDNN_FMA_MATH, true});
  }
}

cudnnStatus_t workspace_size(cudnnHandle_t h, const ConvPlan& p, int pass, int algo,
                             std::size_t* bytes) {
  switch (pass) {
    case kForward:
      return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y,
                                                     cudnnConvolutionFwdAlgo_t(algo), bytes);
    case kData:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x,
                                                          cudnnConvolutionBwdDataAlgo_t(algo),
                                                          bytes);
    default:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, p.x, p.y, p.conv, p.w, cudnnConvolutionBwdFilterAlgo_t(algo), bytes);
  }
}

/// Picks pass's algorithm: the heuristic's first usable one, else a fixed deterministic one.
void choose(cudnnHandle_t h, ConvPlan& p, int pass, GemmMath math, ConvAlgorithms set,
            const ConvGeometry& g) {
  const bool tf32 = math == GemmMath::TF32;
  DSSTNE_CUDNN_TRY(cudnnSetConvolutionMathType(p.conv, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  std::vector<Candidate> candidates;
  int count = 0;
  if (pass == kForward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    if (cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
                                               perf) == CUDNN_STATUS_SUCCESS)
      add_ranked(perf, count, pass, tf32, set, candidates);
    candidates.push_back({CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_FMA_MATH, false});
    candidates.push_back({CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH, false});
  } else if (pass == kData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    if (cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                    perf) == CUDNN_STATUS_SUCCESS)
      add_ranked(perf, count, pass, tf32, set, candidates);
    candidates.push_back({CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_FMA_MATH, false});
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                      &count, perf) == CUDNN_STATUS_SUCCESS)
      add_ranked(perf, count, pass, tf32, set, candidates);
    candidates.push_back({CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_FMA_MATH, false});
  }
  for (const Candidate& c : candidates) {
    std::size_t bytes = 0;
    if (cudnnSetConvolutionMathType(p.conv, c.math) != CUDNN_STATUS_SUCCESS ||
        workspace_size(h, p, pass, c.algo, &bytes) != CUDNN_STATUS_SUCCESS ||
        (c.ranked && bytes > kMaxWorkspace))
      continue;
    p.choice[pass] = Choice{true, c.algo, c.math, bytes};
    return;
  }
  DSSTNE_FAIL(NotSupported, kPassNames[pass], ": cuDNN offers no deterministic algorithm for ",
              g.in_channels, " → ", g.out_channels, " channels, input ", g.in[0], "×", g.in[1],
              "×", g.in[2], ", kernel ", g.kernel[0], "×", g.kernel[1], "×", g.kernel[2]);
}

}  // namespace

struct ConvCache {
  cudnnHandle_t handle = nullptr;
  std::map<PlanKey, std::shared_ptr<ConvPlan>> plans;
  ~ConvCache() {
    plans.clear();
    if (handle != nullptr) cudnnDestroy(handle);
  }
};

void release_conv_cache(ConvCache* cache) noexcept { delete cache; }

namespace {

/// The plan of (g, rows) under the context's GEMM math with pass's algorithm chosen; the
/// handle, bound to the context's stream, is made by the first call.
std::shared_ptr<ConvPlan> plan_for(const StreamScope& s, const ConvGeometry& g, int64_t rows,
                                   int pass) {
  Resources& r = s.resources();
  const GemmMath math = s.context().gemm_math();
  const ConvAlgorithms set = s.context().conv_algorithms();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (r.conv == nullptr) {
    auto cache = std::make_unique<ConvCache>();
    DSSTNE_CUDNN_TRY(cudnnCreate(&cache->handle));
    DSSTNE_CUDNN_TRY(cudnnSetStream(cache->handle, r.stream));
    r.conv = cache.release();
  }
  auto& plans = r.conv->plans;
  const PlanKey key = plan_key(g, rows, math, set);
  auto it = plans.find(key);
  if (it == plans.end()) {
    // Calls in flight hold their plan, so starting over cannot pull one from under them.
    if (plans.size() >= kMaxPlans) plans.clear();
    it = plans.emplace(key, make_plan(g, rows, true)).first;
  }
  if (!it->second->choice[pass].made) {
    try {
      choose(r.conv->handle, *it->second, pass, math, set, g);
    } catch (const NotSupported&) {
      // Should cuDNN refuse the strided view of a shortened input, the staged plan has packed
      // tensors only; it replaces the other for every pass.
      if (!it->second->shortened) throw;
      it->second = make_plan(g, rows, false);
      choose(r.conv->handle, *it->second, pass, math, set, g);
    }
  }
  return it->second;
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
  cudnnHandle_t handle() const { return s.resources().conv->handle; }
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
