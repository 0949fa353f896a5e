// SPDX-License-Identifier: Apache-2.0
#include "dsstne/layer.hpp"

#include <cmath>

#include "dsstne/error.hpp"
#include "layer_geometry.hpp"

namespace dsstne {
namespace {

/// Whether every rank holds all of the layer's units: Input layers, and the layers whose
/// computation needs them whole (a convolution's or pooling window's neighbours, Hidden or
/// Output; a batch-norm feature's maps), which every rank then computes alike (docs/design.md
/// "Many ranks").
bool whole_on_every_rank(const LayerDescriptor& d) {
  if (d.kind == LayerKind::Input || d.type != LayerType::FullyConnected) return true;
  return d.kind == LayerKind::Hidden && d.batch_normalization;
}

}  // namespace

Layer::Layer(const LayerDescriptor& desc, int id, const Context& ctx)
    : desc_(desc),
      id_(id),
      ctx_(ctx),
      slice_(whole_on_every_rank(desc) ? Slice{0, int64_t(desc.stride())}
                                       : ctx.comm().slice(int64_t(desc.stride()))),
      replicated_(ctx.comm().size() > 1 && whole_on_every_rank(desc)),
      sharded_(ctx.comm().size() > 1 && !whole_on_every_rank(desc)) {
  DSSTNE_EXPECTS(desc_.stride() > 0, "layer '", desc_.name, "' has no units");
  const std::string& n = desc_.name;
  // Every buffer starts empty but bound to the context's device; sizes follow the batch.
  units_ = DeviceBuffer<float>(ctx, 0, n + ".units");
  saved_ = DeviceBuffer<float>(ctx, 0, n + ".units_before_dropout");
  mask_ = DeviceBuffer<uint8_t>(ctx, 0, n + ".dropout_mask");
  grad_ = DeviceBuffer<float>(ctx, 0, n + ".gradient");
  delta_ = DeviceBuffer<float>(ctx, 0, n + ".delta");
  mean_delta_ = DeviceBuffer<float>(ctx, 0, n + ".mean_delta");
  for (SparseBatch* batch : {&sparse_batch_, &target_sparse_}) {
    batch->offsets = DeviceBuffer<int64_t>(ctx, 0, n + ".batch_offsets");
    batch->indices = DeviceBuffer<uint32_t>(ctx, 0, n + ".batch_indices");
    batch->values = DeviceBuffer<float>(ctx, 0, n + ".batch_values");
  }
  target_dense_ = DeviceBuffer<float>(ctx, 0, n + ".targets");
  example_weights_ = DeviceBuffer<float>(ctx, 0, n + ".example_weights");
  gathered_ = DeviceBuffer<float>(ctx, 0, n + ".gathered_units");
  partial_ = DeviceBuffer<float>(ctx, 0, n + ".partial_products");
  reduced_ = DeviceBuffer<float>(ctx, 0, n + ".reduced");
  grad_partial_ = DeviceBuffer<float>(ctx, 0, n + ".gradient_partial");
  delta_gathered_ = DeviceBuffer<float>(ctx, 0, n + ".gathered_deltas");
  row_values_ = DeviceBuffer<float>(ctx, 0, n + ".row_values");
  channel_block_ = DeviceBuffer<float>(ctx, 0, n + ".channel_block");
  init_batch_norm();
}

void Layer::init_batch_norm() {
  const std::string& n = desc_.name;
  if (desc_.type == LayerType::Convolutional) {
    const MapShape m = map_shape(desc_, desc_.kernel_dimensions);
    bn_features_ = m.channels;
    bn_spatial_ = m.spatial();
  } else {
    bn_features_ = local_units();
  }
  static const char* names[kBnBuffers] = {".bn_scale", ".bn_bias", ".bn_running_mean",
                                          ".bn_running_variance", ".bn_scale_velocity",
                                          ".bn_scale_velocity2", ".bn_bias_velocity",
                                          ".bn_bias_velocity2"};
  const std::size_t f = batch_normalized() ? std::size_t(bn_features_) : 0;
  for (int i = 0; i < kBnBuffers; ++i) bn_[i] = DeviceBuffer<float>(ctx_, f, n + names[i]);
  for (int i = 0; i < kBnBuffers; ++i) bn_[i].zero();
  // Scale 1 and bias 0 make the layer start as plain standardization; a running variance of 1
  // (not DSSTNE's 0, whose inference divides by √ε) keeps an untrained layer's predictions sane.
  if (f > 0) {
    const std::vector<float> ones(f, 1.0f);
    bn_[kBnScale].upload(ones.data(), f);
    bn_[kBnRunningVariance].upload(ones.data(), f);
  }
  bn_z_ = DeviceBuffer<float>(ctx_, 0, n + ".bn_input");
  bn_saved_mean_ = DeviceBuffer<float>(ctx_, f, n + ".bn_batch_mean");
  bn_saved_inv_std_ = DeviceBuffer<float>(ctx_, f, n + ".bn_batch_inv_std");
  bn_grad_scale_ = DeviceBuffer<float>(ctx_, f, n + ".bn_scale_gradient");
  bn_grad_bias_ = DeviceBuffer<float>(ctx_, f, n + ".bn_bias_gradient");
}

const DeviceBuffer<float>& Layer::bn_storage(int which) const {
  DSSTNE_EXPECTS(which >= 0 && which < kBnBuffers, "layer '", name(),
                 "': batch-norm buffer ", which, " does not exist (0-", kBnBuffers - 1, ")");
  DSSTNE_EXPECTS(batch_normalized(), "layer '", name(), "' has no batch normalization");
  return bn_[which];
}

std::vector<float> Layer::bn_buffer(int which) const { return bn_storage(which).download(); }

void Layer::set_bn_buffer(int which, const float* values, std::size_t n) {
  const DeviceBuffer<float>& b = bn_storage(which);
  DSSTNE_EXPECTS(n == b.size(), "layer '", name(), "': batch-norm buffer ", which, " holds ",
                 b.size(), " values, got ", n);
  for (std::size_t i = 0; i < n; ++i) {
    DSSTNE_EXPECTS(std::isfinite(values[i]), "layer '", name(), "': batch-norm buffer ", which,
                   ": NaN or infinite value at index ", i);
    DSSTNE_EXPECTS(which != kBnRunningVariance || values[i] >= 0.0f, "layer '", name(),
                   "': running variance ", values[i], " at index ", i, " is negative");
  }
  bn_[which].upload(values, n);
}

ActivationParams Layer::activation_params() const {
  // Pooling layers apply no activation (DSSTNE ignores a pooling layer's Activation).
  if (desc_.type == LayerType::Pooling) return ActivationParams{Activation::Linear};
  return ActivationParams{desc_.activation, desc_.relu_slope, desc_.elu_alpha, desc_.selu_lambda};
}

std::vector<float> Layer::download_units() const {
  std::vector<float> out(std::size_t(rows_ * local_units()));
  download_units(out.data());
  return out;
}

std::vector<float> Layer::download_deltas() const {
  std::vector<float> out(std::size_t(rows_ * local_units()));
  download_deltas(out.data());
  return out;
}

void Layer::download_units(float* out) const {
  DSSTNE_EXPECTS(!is_sparse_input() || densified_, "layer '", name(),
                 "' reads sparse data; its units are not materialised");
  units_.download_to(out, std::size_t(rows_ * local_units()));
}

void Layer::download_deltas(float* out) const {
  DSSTNE_EXPECTS(kind() != LayerKind::Input, "input layer '", name(), "' has no deltas");
  delta_.download_to(out, std::size_t(rows_ * local_units()));
}

void Layer::allocate(int64_t batch) {
  capacity_ = batch;
  const std::size_t n = std::size_t(batch) * std::size_t(local_units());
  if (kind() != LayerKind::Input) {
    units_.resize(n);
    grad_.resize(n);
    delta_.resize(n);
    mean_delta_.resize(local_units());
    if (batch_normalized()) bn_z_.resize(n);
    if (desc_.p_dropout > 0.0f) {
      saved_.resize(n);
      mask_.resize(n);
    }
  } else if (desc_.p_dropout > 0.0f) {
    saved_.resize(n);
    mask_.resize(n);
  }
  if (sharded()) row_values_.resize(std::size_t(batch));
  const std::size_t whole = std::size_t(batch) * std::size_t(stride());
  if (takes_partials_) grad_partial_.resize(whole);
  if (needs_gather_) {
    gathered_.resize(whole);
    grad_partial_.resize(whole);
    reduced_.resize(n);
  }
  if (channel_split_) {
    channel_block_.resize(std::size_t(batch) * std::size_t(split_units_));
    gathered_.resize(whole);
  }
  if (has_row_inputs_) {
    partial_.resize(whole);
    delta_gathered_.resize(whole);
    reduced_.resize(n);
  }
}

}  // namespace dsstne
