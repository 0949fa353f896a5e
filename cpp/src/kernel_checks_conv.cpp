// SPDX-License-Identifier: Apache-2.0
// The argument checks of the convolution kernels (kernel_checks.hpp), shared by both backends.
//
// Besides the geometry rule, every size a backend hands to a library must fit its integers:
// cuDNN describes tensors with int dimensions and strides, and BLAS takes int sizes, so the
// per-example element counts (an example's input, its output, the filters, and the CPU's
// unfolded columns) stay within INT_MAX. The batch may be larger: the CUDA backend runs it in
// chunks of rows whose tensors fit an int. Whole-batch counts must fit int64.
#include <climits>
#include <cstdint>

#include "dsstne/error.hpp"
#include "kernel_checks.hpp"
#include "kernel_checks_util.hpp"

namespace dsstne::checks {
namespace {

/// a·b, refusing a product beyond int64 (both are non-negative here).
int64_t product(const char* kernel, const char* what, int64_t a, int64_t b) {
  DSSTNE_EXPECTS(a == 0 || b <= INT64_MAX / a, kernel, ": the ", what, " (", a, " × ", b,
                 ") overflows int64");
  return a * b;
}

/// Refuses a per-example count that no cuDNN tensor (int dimensions) or BLAS size could hold.
void fits_int(const char* kernel, const char* what, int64_t n) {
  DSSTNE_EXPECTS(n <= INT_MAX, kernel, ": the ", what, " has ", n,
                 " elements, more than the ", INT_MAX, " one call can describe");
}

/// The geometry rule of ConvGeometry (kernel_types.hpp) and the size limits above.
void conv_geometry(const char* kernel, const ConvGeometry& g, int64_t rows) {
  DSSTNE_EXPECTS(rows >= 0, kernel, ": negative row count ", rows);
  DSSTNE_EXPECTS(g.in_channels >= 1 && g.out_channels >= 1, kernel, ": ", g.in_channels,
                 " input and ", g.out_channels, " output channels, each needs at least 1");
  fits_int(kernel, "input channel list", g.in_channels);
  fits_int(kernel, "output channel list", g.out_channels);
  int64_t in_volume = 1, out_volume = 1, kernel_volume = 1;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t in = g.in[axis], k = g.kernel[axis], s = g.stride[axis];
    // First, so that in + 2·pad (pad < kernel) cannot overflow in the window rule.
    DSSTNE_EXPECTS(in <= INT_MAX && k <= INT_MAX && s <= INT_MAX, kernel, ": axis ",
                   detail::kAxisNames[axis], " has input ", in, ", kernel ", k, ", stride ", s,
                   "; each must be at most ", INT_MAX);
    detail::window_axis(kernel, g, axis);
    in_volume = product(kernel, "input map", in_volume, in);
    out_volume = product(kernel, "output map", out_volume, g.out[axis]);
    kernel_volume = product(kernel, "filter window", kernel_volume, k);
  }
  const int64_t in_example = product(kernel, "input of one example", g.in_channels, in_volume);
  const int64_t out_example = product(kernel, "output of one example", g.out_channels, out_volume);
  const int64_t window = product(kernel, "unfolded window", g.in_channels, kernel_volume);
  fits_int(kernel, "input of one example", in_example);
  fits_int(kernel, "output of one example", out_example);
  fits_int(kernel, "unfolded window (in_channels × kernel volume)", window);
  fits_int(kernel, "filter set", product(kernel, "filter set", g.out_channels, window));
  product(kernel, "batch input", rows, in_example);
  product(kernel, "batch output", rows, out_example);
}

void channel_shape(const char* kernel, int64_t rows, int64_t channels, int64_t spatial) {
  DSSTNE_EXPECTS(rows >= 0 && channels >= 0 && spatial >= 0, kernel, ": bad shape rows=", rows,
                 " channels=", channels, " spatial=", spatial);
  product(kernel, "batch", product(kernel, "batch", rows, channels), spatial);
}

}  // namespace

bool conv_forward(const Context&, const ConvGeometry& g, const float* x, const float* w,
                  int64_t rows, bool, float* y) {
  conv_geometry("conv_forward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "conv_forward: the input pointer is null");
  DSSTNE_EXPECTS(w != nullptr, "conv_forward: the filter pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "conv_forward: the output pointer is null");
  return true;
}

bool conv_backward_data(const Context&, const ConvGeometry& g, const float* w,
                        const float* delta, int64_t rows, bool, float* dx) {
  conv_geometry("conv_backward_data", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "conv_backward_data: the filter pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "conv_backward_data: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "conv_backward_data: the input delta pointer is null");
  return true;
}

bool conv_backward_filter(const Context&, const ConvGeometry& g, const float* x,
                          const float* delta, int64_t rows, float, float, float* dw) {
  conv_geometry("conv_backward_filter", g, rows);
  // An empty batch still applies beta (dw ← beta·dw, 0 overwriting), as gemm does with k = 0:
  // the filter gradient of no examples is zero, so dw is always needed.
  DSSTNE_EXPECTS(dw != nullptr, "conv_backward_filter: the filter gradient pointer is null");
  if (rows == 0) return true;
  DSSTNE_EXPECTS(x != nullptr, "conv_backward_filter: the input pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "conv_backward_filter: the delta pointer is null");
  return true;
}

bool add_channel_bias(const Context&, const float* b, int64_t rows, int64_t channels,
                      int64_t spatial, float* y) {
  channel_shape("add_channel_bias", rows, channels, spatial);
  if (rows == 0 || channels == 0 || spatial == 0) return false;
  DSSTNE_EXPECTS(b != nullptr, "add_channel_bias: the bias pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "add_channel_bias: the output pointer is null");
  return true;
}

bool channel_mean(const Context&, const float* x, int64_t rows, int64_t channels,
                  int64_t spatial, float* out) {
  channel_shape("channel_mean", rows, channels, spatial);
  // As column_mean: the mean over an empty batch is written as 0, so out is needed whenever
  // there are channels, x only when there is something to sum.
  if (channels == 0) return false;
  DSSTNE_EXPECTS(out != nullptr, "channel_mean: the output pointer is null");
  DSSTNE_EXPECTS(rows * spatial == 0 || x != nullptr, "channel_mean: the input pointer is null");
  return true;
}

}  // namespace dsstne::checks
