// SPDX-License-Identifier: Apache-2.0
// The cuDNN plans of the CUDA convolutions (conv_plans.cuh): per geometry, batch size and setting
// the descriptors cuDNN sees and each pass's algorithm, kept in the context's ConvCache.
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
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "conv_plans.cuh"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"

namespace dsstne::cuda {

#ifndef DSSTNE_WITH_CUDNN

// No convolution runs without cuDNN, so no cache is ever made; Resources still releases one.
struct ConvCache {};
void release_conv_cache(ConvCache*) noexcept {}

#else  // DSSTNE_WITH_CUDNN

namespace conv_plans {

AxisView axis_view(const ConvGeometry& g, int a, bool shorten) {
  const int64_t in = g.in[a], k = g.kernel[a], s = g.stride[a], p = g.pad[a], out = g.out[a];
  const int64_t needed = std::min(in, (out - 1) * s - p + k), fits = out * s + k - 2 * p - 1;
  if (in <= fits) return {in, out};
  if (shorten && needed <= fits) return {needed, out};
  return {in, (in + 2 * p - k) / s + 1};
}

namespace {

/// Plans kept per context; beyond this many shapes the cache starts over.
constexpr std::size_t kMaxPlans = 64;
/// The most workspace a heuristic's pick may take (1 GiB); the fixed fallbacks need little.
constexpr std::size_t kMaxWorkspace = std::size_t(1) << 30;

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
  DSSTNE_CUDNN_TRY(
      cudnnSetFilterNdDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, nd, filter));
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
  DSSTNE_CUDNN_TRY(
      cudnnSetConvolutionMathType(p.conv, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
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
}  // namespace conv_plans

struct ConvCache {
  cudnnHandle_t handle = nullptr;
  std::map<conv_plans::PlanKey, std::shared_ptr<conv_plans::ConvPlan>> plans;
  ~ConvCache() {
    plans.clear();
    if (handle != nullptr) cudnnDestroy(handle);
  }
};

void release_conv_cache(ConvCache* cache) noexcept { delete cache; }

namespace conv_plans {

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

cudnnHandle_t cudnn_handle(const StreamScope& s) { return s.resources().conv->handle; }

}  // namespace conv_plans

#endif  // DSSTNE_WITH_CUDNN

}  // namespace dsstne::cuda
