// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file kernel_types.hpp
/// @brief Non-owning views and parameter blocks passed to the numeric kernels. They hold
/// pointers into memory of the kernel's device (host memory for dsstne::cpu, device memory
/// for dsstne::cuda) and never own it.

#include <cstdint>

#include "dsstne/descriptor.hpp"
#include "dsstne/enums.hpp"

namespace dsstne {

/// A batch of sparse rows in CSR form. Row r holds entries [offsets[r], offsets[r+1]).
/// `values == nullptr` means every stored value is 1 (Boolean data).
struct CsrView {
  const int64_t* offsets = nullptr;  ///< rows + 1
  const uint32_t* indices = nullptr; ///< global unit index of each entry
  const float* values = nullptr;     ///< value of each entry, or nullptr for all-ones
  int64_t rows = 0;
  /// The entry count offsets[rows] when the host knows it (batches the engine loads), else −1:
  /// kernels that size work by it then read it from the device, a wait for the host.
  int64_t nnz = -1;
};

/// The targets of an output layer for one batch.
struct TargetView {
  bool sparse = false;
  bool ignore_zero = false;          ///< SparseIgnoreZero: only stored entries count
  const float* dense = nullptr;      ///< rows × cols (dense targets, local columns)
  CsrView csr;                       ///< sparse targets (global unit indices)
  const float* example_weights = nullptr;  ///< rows, or nullptr for weight 1
};

/// Activation function and its parameters.
struct ActivationParams {
  Activation kind = Activation::Sigmoid;
  float slope = 1.0f;   ///< LeakyRectifiedLinear
  float alpha = 1.0f;   ///< ExponentialLinear / ScaledExponentialLinear
  float lambda = 1.050701f;  ///< ScaledExponentialLinear
};

/// Everything the error and output-delta kernels need to know about the loss.
struct LossParams {
  ErrorFunction function = ErrorFunction::CrossEntropy;
  ActivationParams activation;
  SmceParams smce;
  float delta_boost_one = 1.0f;   ///< scales deltas at stored entries of sparse targets
  float delta_boost_zero = 1.0f;  ///< scales deltas at the other units of sparse targets
};

/// What row_stats reduces each row to (for layers split across ranks, whose row-wise
/// reductions are finished with the other ranks' values).
enum class RowStat { Max, Sum, SquareSum, Dot };
/// The row-wise transforms of transform_rows, each with one value v per row.
enum class RowOp { SubtractExp, Divide, ClipNorm, SoftmaxBackward };

/// A block of a matrix: rows [row_begin, row_begin + rows) × columns [col_begin, col_begin + cols).
struct MatrixBlock {
  int64_t row_begin = 0;
  int64_t rows = 0;
  int64_t col_begin = 0;
  int64_t cols = 0;
};

/// Parameters of one optimizer step.
struct UpdateParams {
  TrainingMode mode = TrainingMode::SGD;
  float alpha = 0.025f;    ///< learning rate for this step
  float lambda = 0.0f;     ///< L2 weight decay (weights only)
  float lambda1 = 0.0f;    ///< L1 weight decay (weights only)
  float mu = 0.0f;         ///< momentum / RMS decay / Adam beta1 / AdaDelta rho
  float mu1 = 0.0f;        ///< Adam beta2
  int64_t step = 1;        ///< 1-based step count (Adam bias correction uses this t)
  /// A flag in the kernel's device memory, or nullptr: while it is nonzero the step changes
  /// nothing (set by watch_error when a batch diverged, so later batches of the epoch, queued
  /// before the host could see it, leave the weights as the last good batch left them).
  const int32_t* halt = nullptr;
};

/// The most sources a pooling kernel (maxout, dot product, cosine) takes in one call: the CUDA
/// kernels receive the list of source pointers by value, in a fixed-size launch argument.
constexpr int64_t kMaxPoolingSources = 64;

/// The geometry of spatial pooling (Max, Average) over a batch whose examples each hold
/// `channels` maps of z × y × x values (x fastest). Index 0 of each array is x, 1 is y, 2 is z;
/// unused axes have extent 1, kernel 1, stride 1 and pad 0. Output window o of an axis covers
/// input positions [o·stride − pad, o·stride − pad + kernel) clipped to [0, in): padded positions
/// never enter a maximum or an average's count.
struct PoolGeometry {
  int64_t channels = 1;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};
};

/// The geometry of a convolution (cross-correlation, dilation 1) over a batch whose examples
/// each hold `in_channels` maps of z × y × x values (x fastest) and produce `out_channels` maps
/// of out[2] × out[1] × out[0]. Index 0 of each array is x, 1 is y, 2 is z; unused axes have
/// extent 1, kernel 1, stride 1 and pad 0. Output position o of an axis reads input positions
/// o·stride − pad + k for k in [0, kernel); positions outside [0, in) read zero. Filters are
/// out_channels × in_channels × kernel[2] × kernel[1] × kernel[0] (cuDNN's NCHW filter order,
/// the NetCDF network layout).
struct ConvGeometry {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};
};

/// The shape batch normalization sees: each example is `features` groups of `spatial` values
/// back to back (a fully-connected layer: features = units, spatial = 1; a convolutional layer:
/// features = channels, spatial = the map size). Statistics are per feature over rows × spatial.
struct BatchNormShape {
  int64_t rows = 0;
  int64_t features = 0;
  int64_t spatial = 1;
};

/// Cross-channel local response normalization (the network's `LRN` values, cuDNN's convention):
/// y = x / (k + (alpha/n)·Σ x²)^beta over a window of n channels.
struct LrnParams {
  float k = 2.0f;
  int64_t n = 5;
  float alpha = 1e-4f;
  float beta = 0.75f;
};

/// Which random stream a kernel draws from: value = f(seed, stream, counter).
struct RandomStream {
  uint64_t seed = 0;
  uint64_t stream = 0;
};

}  // namespace dsstne
