// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file weight.hpp
/// @brief Weight: the connection from one layer to another: the matrix (n_in × n_out, input-major
/// as in DSSTNE's files; each rank holds one block of it), its bias, gradient and optimizer
/// state. A shared weight reads its owner's matrix (optionally transposed) and keeps its own
/// bias.

#include <cstdint>
#include <string>
#include <vector>

#include "dsstne/device_buffer.hpp"
#include "dsstne/layer.hpp"

namespace dsstne {

/// How the ranks divide a weight matrix (DSSTNE's rule, docs/design.md "Many ranks"): by output
/// columns (every rank holds all n_in rows of its output units' columns) or by input rows (every
/// rank holds its input units' rows, all n_out columns). One rank holds the whole matrix.
enum class WeightSplit { Columns, Rows };

/// DSSTNE's 3:2 rule: columns when the output is larger than about 2/3 of the input (gather
/// the smaller input), rows otherwise (reduce the smaller output). A connection with a side that
/// every rank holds whole (`whole_side`: an Input or replicated source, or a replicated output)
/// is always split by columns: from a whole input it needs no exchange, and a whole output's
/// columns are the whole matrix.
WeightSplit choose_split(int64_t n_in, int64_t n_out, bool whole_side, int ranks);

class Weight {
 public:
  Weight(Layer& input, Layer& output, int id, const Context& ctx, WeightSplit split);
  /// A convolution's filter bank (the output layer is Convolutional): out_channels ×
  /// in_channels × kernel volume filters and one bias per output channel. On several ranks each
  /// holds the filters and biases of its slice of the output channels (channel_split()).
  Weight(Layer& input, Layer& output, int id, const Context& ctx, const ConvGeometry& geometry);

  Layer& input() const { return *input_; }
  Layer& output() const { return *output_; }
  int id() const { return id_; }
  /// Global sizes of the connection (the whole matrix is n_in × n_out).
  int64_t n_in() const { return input_->stride(); }
  int64_t n_out() const { return output_->stride(); }
  /// How the ranks divide the matrix this connection multiplies by.
  WeightSplit split() const { return split_; }
  /// The block of the whole matrix (owner's layout for a shared weight) that this rank holds.
  MatrixBlock block() const { return owner().block_; }
  /// Whether this connection is a convolution (filters, not a matrix).
  bool convolutional() const { return convolutional_; }
  const ConvGeometry& conv_geometry() const { return geometry_; }
  /// The convolution this rank computes: conv_geometry() with this rank's output channels
  /// (block().rows of them, from block().row_begin; possibly none).
  const ConvGeometry& local_conv_geometry() const { return local_geometry_; }
  /// Whether the ranks divide this convolution's output channels (any convolution on > 1 rank).
  bool channel_split() const { return convolutional_ && ctx_.comm().size() > 1; }
  /// Weights hold a matrix of their own unless shared.
  bool shared() const { return owner_ != nullptr; }
  bool transposed() const { return transposed_; }
  /// The weight whose matrix this one uses (itself when unshared).
  Weight& owner() { return owner_ ? *owner_ : *this; }
  const Weight& owner() const { return owner_ ? *owner_ : *this; }
  /// 1 + the number of weights sharing this one's matrix.
  int sharing_count() const { return sharing_count_; }
  bool locked() const { return locked_; }
  void set_locked(bool locked) { locked_ = locked; }
  float norm() const { return norm_; }
  void set_norm(float norm) { norm_ = norm; }

  /// Rows and columns of the whole matrix (owner's layout for a shared weight); this rank holds
  /// block() of it. A convolution's filters are out_channels × (in_channels · kernel volume).
  int64_t matrix_rows() const {
    return convolutional_ ? geometry_.out_channels : owner().n_in();
  }
  int64_t matrix_cols() const { return convolutional_ ? block_.cols : owner().n_out(); }
  DeviceBuffer<float>& matrix() { return owner().w_; }
  const DeviceBuffer<float>& matrix() const { return owner().w_; }
  DeviceBuffer<float>& bias() { return b_; }
  const DeviceBuffer<float>& bias() const { return b_; }
  /// The stored gradient of the matrix: −(1/(sharing·B'))·∂E/∂W (DSSTNE's convention).
  const DeviceBuffer<float>& gradient() const { return owner().grad_; }

  /// Replaces this rank's block of the matrix (block().rows·block().cols floats, input-major) or
  /// its bias (the output layer's local units).
  /// @throws InvalidArgument for a wrong count or a NaN/infinite value (nothing changes then).
  void set_matrix(const float* values, std::size_t n);
  void set_bias(const float* values, std::size_t n);
  void set_matrix(const std::vector<float>& values) { set_matrix(values.data(), values.size()); }
  void set_bias(const std::vector<float>& values) { set_bias(values.data(), values.size()); }
  /// Zeroes the optimizer state (velocities, moments).
  void reset_state();
  /// The optimizer state: 0 velocity (or first moment), 1 second accumulator, 2 and 3 the same for
  /// the bias. Empty when the optimizer does not use it.
  std::vector<float> state(int which) const;
  /// Replaces one optimizer state buffer (sizes as the matrix or the bias); same checks as
  /// set_matrix.
  void set_state(int which, const float* values, std::size_t n);
  void set_state(int which, const std::vector<float>& values) {
    set_state(which, values.data(), values.size());
  }
  /// The optimizer state buffer `which` (see state()).
  const DeviceBuffer<float>& state_buffer(int which) const;

 private:
  friend class Network;
  void share(Weight& owner, bool transposed);
  void allocate(std::size_t biases);
  DeviceBuffer<float>& mutable_state_buffer(int which);
  void allocate_state(TrainingMode mode);

  Context ctx_;
  Layer* input_;
  Layer* output_;
  int id_;
  Weight* owner_ = nullptr;
  bool transposed_ = false;
  WeightSplit split_ = WeightSplit::Columns;
  MatrixBlock block_;
  bool convolutional_ = false;
  ConvGeometry geometry_;
  ConvGeometry local_geometry_;
  int sharing_count_ = 1;
  bool locked_ = false;
  float norm_ = 0.0f;
  DeviceBuffer<float> w_, grad_, w_v_, w_v2_;
  DeviceBuffer<float> b_, b_v_, b_v2_;
  int grad_contributions_ = 0;  ///< how many connections wrote grad_ in this batch
  /// The last batch's SGD step went straight into w_ (Network::step_in_backward): grad_ holds
  /// no gradient of it.
  bool stepped_in_backward_ = false;
  // A sparse input's gradient rows (docs/design.md "Wide sparse inputs"): while grad_rows_listed_,
  // grad_ is zero outside the touched_count_ (device) rows of touched_rows_, at most
  // touched_bound_ of them.
  DeviceBuffer<uint32_t> touched_rows_;
  DeviceBuffer<int64_t> touched_count_;
  int64_t touched_bound_ = 0;
  bool grad_rows_listed_ = false;
  DeviceBuffer<float> column_sums_;  ///< a row-split WeightNorm's column square sums
};

}  // namespace dsstne
