// SPDX-License-Identifier: Apache-2.0
// Batch normalization of a hidden layer's z, between its sums and its activation (docs/design.md
// "Batch normalization"): training batches are normalized by their own statistics, which also
// move the running mean and variance; validation and prediction use the running ones.
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

/// cuDNN's old minimum, which DSSTNE relied on; fixed here, since current cuDNN headers say 0.
constexpr float kBnEpsilon = 1e-5f;
/// The weight of a training batch's statistics in the running ones (PyTorch's default).
constexpr float kBnRunningFactor = 0.1f;

}  // namespace

void Network::normalize(Layer& layer, Mode mode) {
  // z moves aside; the normalized values take its place as the layer's units.
  std::swap(layer.units_, layer.bn_z_);
  layer.units_.resize(layer.bn_z_.size());
  const BatchNormShape shape = layer.bn_shape();
  const float* z = layer.bn_z_.data();
  float* y = layer.units_.data();
  auto& bn = layer.bn_;
  layer.bn_batch_stats_ = mode == Mode::Training;
  if (mode == Mode::Training) {
    DSSTNE_DISPATCH(ctx_, batch_norm_forward_training, shape, z, bn[Layer::kBnScale].data(),
                    bn[Layer::kBnBias].data(), kBnEpsilon, kBnRunningFactor, y,
                    layer.bn_saved_mean_.data(), layer.bn_saved_inv_std_.data(),
                    bn[Layer::kBnRunningMean].data(), bn[Layer::kBnRunningVariance].data());
  } else {
    DSSTNE_DISPATCH(ctx_, batch_norm_forward_inference, shape, z, bn[Layer::kBnScale].data(),
                    bn[Layer::kBnBias].data(), bn[Layer::kBnRunningMean].data(),
                    bn[Layer::kBnRunningVariance].data(), kBnEpsilon, y);
  }
}

void Network::normalize_backward(Layer& layer) {
  DSSTNE_EXPECTS(layer.bn_batch_stats_, "layer '", layer.name(), "': back-propagating batch "
                 "normalization needs a forward pass in training mode");
  // delta_ holds ∂E/∂y; ∂E/∂z lands in grad_, which then becomes the delta.
  auto& bn = layer.bn_;
  DSSTNE_DISPATCH(ctx_, batch_norm_backward, layer.bn_shape(), layer.bn_z_.data(),
                  layer.delta_.data(), bn[Layer::kBnScale].data(), layer.bn_saved_mean_.data(),
                  layer.bn_saved_inv_std_.data(), layer.grad_.data(),
                  layer.bn_grad_scale_.data(), layer.bn_grad_bias_.data());
  std::swap(layer.grad_, layer.delta_);
}

void Network::update_batch_norm(const UpdateParams& u, Layer& layer) {
  auto& bn = layer.bn_;
  const int64_t f = layer.bn_features();
  // The kernel's gradients are batch means, as a bias's mean delta: the bias rule applies.
  DSSTNE_DISPATCH(ctx_, update_biases, u, layer.bn_grad_scale_.data(), f,
                  bn[Layer::kBnScale].data(), bn[Layer::kBnScaleVelocity].data(),
                  bn[Layer::kBnScaleVelocity2].data());
  DSSTNE_DISPATCH(ctx_, update_biases, u, layer.bn_grad_bias_.data(), f,
                  bn[Layer::kBnBias].data(), bn[Layer::kBnBiasVelocity].data(),
                  bn[Layer::kBnBiasVelocity2].data());
}

void Network::reset_batch_norm_state() {
  for (auto& l : layers_)
    for (int i = Layer::kBnScaleVelocity; i < Layer::kBnBuffers; ++i) l->bn_[i].zero();
}

}  // namespace dsstne
