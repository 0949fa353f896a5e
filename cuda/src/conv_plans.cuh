// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cuDNN plans of the CUDA convolutions: per geometry, batch size and setting, the
// descriptors cuDNN sees and the algorithm chosen for each pass, cached in the context's
// resources (conv_plans.cu says how they are chosen). convolution.cu runs the passes with them.
// Only with cuDNN; without it there is nothing here.
#ifdef DSSTNE_WITH_CUDNN
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernel_types.hpp"

/// Raises CudaError with cuDNN's message when `call` does not succeed.
#define DSSTNE_CUDNN_TRY(call)                                                             \
  do {                                                                                     \
    const cudnnStatus_t dsstne_status = (call);                                            \
    if (dsstne_status != CUDNN_STATUS_SUCCESS)                                             \
      DSSTNE_FAIL(::dsstne::CudaError, #call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                  cudnnGetErrorString(dsstne_status));                                     \
  } while (0)

namespace dsstne::cuda::conv_plans {

enum Pass { kForward = 0, kData = 1, kFilter = 2 };
const char* const kPassNames[3] = {"conv_forward", "conv_backward_data", "conv_backward_filter"};

inline int64_t volume(const int64_t e[3]) { return e[0] * e[1] * e[2]; }

/// What cuDNN is shown of one axis: `seen` input positions, and its `out` (≥ the geometry's).
struct AxisView {
  int64_t seen, out;
};

/// cuDNN computes out = ⌊(seen + 2p − k)/s⌋ + 1 with p zeros on both sides, so it gives exactly
/// the geometry's `out` for seen ≤ fits = out·s + k − 2p − 1 (and seen ≥ the `needed` below). The
/// whole input when in ≤ fits; else, with `shorten`, the prefix of `needed` positions (the last
/// real input any output reads is needed − 1), a strided view, if that fits; else the whole input,
/// with cuDNN's larger output going through a staging buffer.
AxisView axis_view(const ConvGeometry& g, int a, bool shorten);

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

/// The plan of (g, rows) under the context's GEMM math with pass's algorithm chosen; the
/// handle, bound to the context's stream, is made by the first call.
std::shared_ptr<ConvPlan> plan_for(const StreamScope& s, const ConvGeometry& g, int64_t rows,
                                   int pass);

/// The cuDNN handle that plan_for made for the context of `s`, bound to its stream.
cudnnHandle_t cudnn_handle(const StreamScope& s);

}  // namespace dsstne::cuda::conv_plans

#endif  // DSSTNE_WITH_CUDNN
