// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file layer.hpp
/// @brief Layer: a set of units with its activation, dropout and the buffers of the current
/// batch (units, deltas, the gradient arriving from consumers, the dropout mask). Sized by its
/// rank's slice of the units; Input layers are whole on every rank (each rank loads the whole
/// batch, so the connections they feed need no exchange), and so are Convolutional, Pooling and
/// batch-normalized Hidden layers (replicated: every rank computes all their units alike).

#include <cstdint>
#include <string>
#include <vector>

#include "dsstne/comm.hpp"
#include "dsstne/context.hpp"
#include "dsstne/dataset.hpp"
#include "dsstne/descriptor.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne {

class Weight;
class Network;

class Layer {
 public:
  /// @param desc the resolved descriptor (no "auto" left, inherited parameters resolved)
  Layer(const LayerDescriptor& desc, int id, const Context& ctx);

  const std::string& name() const { return desc_.name; }
  LayerKind kind() const { return desc_.kind; }
  LayerType type() const { return desc_.type; }
  const LayerDescriptor& descriptor() const { return desc_; }
  int id() const { return id_; }
  /// Units per example over all ranks.
  int64_t stride() const { return int64_t(desc_.stride()); }
  /// The units this rank owns.
  Slice slice() const { return slice_; }
  int64_t local_units() const { return slice_.size(); }
  /// Whether the units are divided among several ranks (false on one rank, and for Input and
  /// replicated layers).
  bool sharded() const { return sharded_; }
  /// Whether the network runs on several ranks and every one holds all of this layer's units:
  /// Input layers (every rank loads the whole batch) and Hidden layers that are Convolutional,
  /// Pooling or batch-normalized (every rank computes them alike, from replicated sources, with
  /// the whole filters and batch-norm buffers; docs/design.md "Many ranks"). False on one rank.
  bool replicated() const { return replicated_; }
  ActivationParams activation_params() const;

  const std::vector<Layer*>& sources() const { return sources_; }
  const std::vector<Layer*>& skips() const { return skips_; }
  const std::vector<Weight*>& incoming() const { return incoming_; }
  /// The data set bound to this Input or Output layer, or nullptr.
  const DataSetPtr& data_set() const { return data_; }
  /// An input layer bound to sparse data: its batch stays in CSR form and is never densified.
  bool is_sparse_input() const { return kind() == LayerKind::Input && data_ && data_->sparse(); }
  /// Whether an Input layer's JSON or data said Sparse, or a Hidden layer gets the penalty.
  bool sparse() const { return desc_.sparse; }

  /// Rows of the current batch.
  int64_t batch_rows() const { return rows_; }
  /// Units of the current batch: rows × local_units (dense form; for a sparse input only after
  /// the network densified it). After a training step of train() an output layer whose loss
  /// its forward pass took holds z, not a (Network::gather_layer refuses to read them).
  const float* units() const { return units_.data(); }
  float* units() { return units_.data(); }
  const float* deltas() const { return delta_.data(); }
  /// Host copies of the current batch's units and deltas (rows × local_units).
  std::vector<float> download_units() const;
  std::vector<float> download_deltas() const;
  /// The same into caller-owned memory of batch_rows() × local_units() floats.
  void download_units(float* out) const;
  void download_deltas(float* out) const;
  /// The current sparse batch of a sparse input layer.
  const SparseBatch& sparse_batch() const { return sparse_batch_; }

  // ---- batch normalization (BatchNormalization: true) -------------------------------------------
  /// The buffers of a batch-normalized layer, one value per feature (a unit of a fully-connected
  /// layer, an output map of a convolutional one): what the network file stores (scale, bias,
  /// running mean and variance) and the optimizer state of scale and bias.
  enum BatchNormBuffer {
    kBnScale = 0, kBnBias, kBnRunningMean, kBnRunningVariance,
    kBnScaleVelocity, kBnScaleVelocity2, kBnBiasVelocity, kBnBiasVelocity2, kBnBuffers
  };
  bool batch_normalized() const { return desc_.batch_normalization; }
  /// Features normalized separately (0 without batch normalization).
  int64_t bn_features() const { return batch_normalized() ? bn_features_ : 0; }
  std::vector<float> bn_buffer(int which) const;
  /// Replaces one buffer (bn_features() values, all finite; variances ≥ 0).
  /// @throws InvalidArgument naming the layer and buffer (nothing changes then).
  void set_bn_buffer(int which, const float* values, std::size_t n);

 private:
  friend class Network;
  void allocate(int64_t batch);
  void init_batch_norm();

  LayerDescriptor desc_;
  int id_;
  Context ctx_;
  Slice slice_;
  bool replicated_ = false;
  bool sharded_ = false;
  std::vector<Layer*> sources_;
  std::vector<Layer*> skips_;
  std::vector<Weight*> incoming_;
  DataSetPtr data_;
  int64_t rows_ = 0;
  int64_t capacity_ = 0;
  DeviceBuffer<float> units_;        ///< activations (after dropout in training)
  DeviceBuffer<float> saved_;        ///< activations before dropout
  DeviceBuffer<uint8_t> mask_;       ///< dropout mask
  DeviceBuffer<float> grad_;         ///< ∂E/∂units gathered from consumers
  DeviceBuffer<float> delta_;        ///< ∂E/∂z of this layer
  DeviceBuffer<float> mean_delta_;   ///< column means of delta (bias gradient)
  bool grad_written_ = false;        ///< a consumer wrote grad_ in this batch
  bool dropout_applied_ = false;
  bool loss_done_ = false;           ///< output_pass made this batch's error and delta in forward
                                     ///< and left units_ holding z, not the activations
  bool consumed_ = false;            ///< another layer reads this one (as a source or a skip)
  bool densified_ = false;           ///< a sparse input was expanded into units_ this batch
  bool sized_by_data_ = false;       ///< "N": "auto" took the size from a data set
  SparseBatch sparse_batch_;         ///< sparse input batch
  SparseBatch target_sparse_;        ///< sparse targets of an output layer
  DeviceBuffer<float> target_dense_; ///< dense targets of an output layer
  DeviceBuffer<float> example_weights_;
  // Exchanges between ranks (network_exchange.cpp); rank-major blocks of rows × a rank's units.
  bool needs_gather_ = false;        ///< a consumer multiplies by all of this layer's units
  bool has_row_inputs_ = false;      ///< an incoming weight is split by input rows
  DeviceBuffer<float> gathered_;     ///< every rank's units (forward) of this batch
  DeviceBuffer<float> partial_;      ///< row-split partial products, before reduce-scatter
  DeviceBuffer<float> reduced_;      ///< this rank's reduce-scatter result (rows × local)
  /// A sharded consumer of this replicated layer writes a partial gradient of all its units.
  bool takes_partials_ = false;
  /// Gradient for every rank's units from column-split consumers (rank-major blocks), or, for a
  /// replicated layer, this rank's part of the gradient of all its units from sharded consumers.
  DeviceBuffer<float> grad_partial_;
  DeviceBuffer<float> delta_gathered_;  ///< every rank's deltas, for row-split incoming weights
  bool gathered_valid_ = false;      ///< gathered_ holds this batch's units
  bool deltas_gathered_ = false;     ///< delta_gathered_ holds this batch's deltas
  bool grad_partial_written_ = false;
  DeviceBuffer<float> row_values_;   ///< one value per row: a split layer's row reductions
  /// A convolution whose output channels the ranks divide (network_spatial.cpp): this rank's
  /// channels of a batch (rows × its channels × spatial), its outputs forward and its deltas
  /// backward; the ranks' blocks are gathered in gathered_.
  bool channel_split_ = false;
  int64_t split_units_ = 0;          ///< this rank's channels × spatial positions (per row)
  DeviceBuffer<float> channel_block_;
  // Batch normalization (network_batch_norm.cpp).
  const DeviceBuffer<float>& bn_storage(int which) const;
  BatchNormShape bn_shape() const { return BatchNormShape{rows_, bn_features_, bn_spatial_}; }
  int64_t bn_features_ = 0;
  int64_t bn_spatial_ = 1;
  DeviceBuffer<float> bn_[kBnBuffers];
  DeviceBuffer<float> bn_z_;            ///< z before normalization
  DeviceBuffer<float> bn_saved_mean_, bn_saved_inv_std_, bn_grad_scale_, bn_grad_bias_;
  bool bn_batch_stats_ = false;         ///< this batch was normalized by its own statistics
};

}  // namespace dsstne
