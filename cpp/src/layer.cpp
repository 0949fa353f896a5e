// SPDX-License-Identifier: Apache-2.0
#include "dsstne/layer.hpp"

#include "dsstne/error.hpp"

namespace dsstne {

Layer::Layer(const LayerDescriptor& desc, int id, const Context& ctx)
    : desc_(desc),
      id_(id),
      ctx_(ctx),
      slice_(desc.kind == LayerKind::Input ? Slice{0, int64_t(desc.stride())}
                                           : ctx.comm().slice(int64_t(desc.stride()))) {
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
}

ActivationParams Layer::activation_params() const {
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
  if (needs_gather_) {
    gathered_.resize(whole);
    grad_partial_.resize(whole);
    reduced_.resize(n);
  }
  if (has_row_inputs_) {
    partial_.resize(whole);
    delta_gathered_.resize(whole);
    reduced_.resize(n);
  }
}

}  // namespace dsstne
