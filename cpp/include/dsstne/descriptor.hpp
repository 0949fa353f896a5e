// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file descriptor.hpp
/// @brief Plain descriptions of a network, its layers and weights: what the JSON language
/// (config.hpp) and the NetCDF model files produce, and what Network is built from.

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dsstne/enums.hpp"

namespace dsstne {

/// Parameters of ScaledMarginalCrossEntropy / DataScaledMarginalCrossEntropy.
struct SmceParams {
  float one_target = 0.9f;
  float zero_target = 0.1f;
  float one_scale = 1.0f;
  float zero_scale = 1.0f;
};

/// One `SharedWeights` entry of a layer.
struct SharedWeightDescriptor {
  std::string input_layer;          ///< which source of this layer the entry applies to
  std::string source_input_layer;   ///< owner weight's input layer
  std::string source_output_layer;  ///< owner weight's output layer
  bool transposed = false;
};

/// One layer as described in the JSON language.
struct LayerDescriptor {
  std::string name;
  LayerKind kind = LayerKind::Hidden;
  LayerType type = LayerType::FullyConnected;
  PoolingFunction pooling = PoolingFunction::None;
  std::string data_set;                 ///< Input/Output layers: data set name (case-sensitive)
  bool n_auto = false;                  ///< `"N": "auto"`: sizes come from the data set
  std::array<uint32_t, 4> n = {1, 1, 1, 1};  ///< Nx, Ny, Nz, Nw
  uint32_t dimensions = 1;
  std::array<uint32_t, 3> kernel = {1, 1, 1};
  std::array<uint32_t, 3> kernel_stride = {1, 1, 1};
  std::array<uint32_t, 3> kernel_padding = {0, 0, 0};
  uint32_t kernel_dimensions = 1;
  float p_dropout = 0.0f;
  bool sparse = false;                  ///< `"Sparse": true` (input: data sparse; hidden: penalty)
  bool batch_normalization = false;
  bool denoising = false;               ///< derived: network denoising on a sparse input layer
  std::vector<std::string> sources;     ///< empty in JSON ⇒ the previous layer (resolved by parser)
  std::vector<std::string> skips;
  Activation activation = Activation::Sigmoid;
  /// NaN means "inherit the network value"; the parser resolves them before returning.
  float relu_slope = std::numeric_limits<float>::quiet_NaN();
  float elu_alpha = std::numeric_limits<float>::quiet_NaN();
  float selu_lambda = std::numeric_limits<float>::quiet_NaN();
  float weight_norm = 0.0f;
  float delta_norm = 0.0f;
  WeightInit weight_init = WeightInit::Xavier;
  float weight_init_scale = 1.0f;
  float bias_init = 0.0f;
  float sparseness_penalty_p = 0.0f;    ///< layer override (used when > 0)
  float sparseness_penalty_beta = 0.0f; ///< layer override (used when > 0)
  std::vector<SharedWeightDescriptor> shared_weights;

  /// Units per example: Nx·Ny·Nz·Nw.
  uint64_t stride() const { return uint64_t(n[0]) * n[1] * n[2] * n[3]; }
};

/// A whole network. Layer order is file order.
struct NetworkDescriptor {
  std::string name;
  NetworkKind kind = NetworkKind::FeedForward;
  float version = 0.9f;
  std::string weights_data;  ///< accepted and kept; never used (as in DSSTNE)
  ErrorFunction error_function = ErrorFunction::CrossEntropy;
  bool shuffle_indices = true;
  float relu_slope = 1.0f;
  float elu_alpha = 1.0f;
  float selu_lambda = 1.050701f;
  float decay = 0.0f;
  float lrn_k = 2.0f;
  uint32_t lrn_n = 5;
  float lrn_alpha = 0.0001f;
  float lrn_beta = 0.75f;
  uint32_t maxout_k = 2;
  float sparseness_penalty_p = 0.0f;
  float sparseness_penalty_beta = 0.0f;
  float denoising_p = 0.0f;
  float delta_boost_one = 1.0f;
  float delta_boost_zero = 1.0f;
  SmceParams smce;
  std::vector<LayerDescriptor> layers;

  bool sparseness_penalty() const { return sparseness_penalty_beta > 0.0f; }
  bool denoising() const { return denoising_p > 0.0f; }
  /// @throws InvalidArgument when no layer has this name.
  const LayerDescriptor& layer(const std::string& name) const;
};

}  // namespace dsstne
