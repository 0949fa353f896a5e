// SPDX-License-Identifier: Apache-2.0
#include "dsstne/weight.hpp"

#include <cmath>

#include "dsstne/error.hpp"

namespace dsstne {

WeightSplit choose_split(int64_t n_in, int64_t n_out, bool whole_side, int ranks) {
  if (ranks == 1 || whole_side) return WeightSplit::Columns;
  return 3 * n_out > 2 * n_in ? WeightSplit::Columns : WeightSplit::Rows;
}

Weight::Weight(Layer& input, Layer& output, int id, const Context& ctx, WeightSplit split)
    : ctx_(ctx), input_(&input), output_(&output), id_(id), split_(split),
      norm_(output.descriptor().weight_norm) {
  const std::size_t local_out = std::size_t(output.local_units());
  if (split == WeightSplit::Columns) {
    block_ = MatrixBlock{0, input.stride(), output.slice().begin, output.local_units()};
  } else {
    const Slice rows = ctx.comm().slice(input.stride());
    block_ = MatrixBlock{rows.begin, rows.size(), 0, output.stride()};
  }
  allocate(local_out);
}

Weight::Weight(Layer& input, Layer& output, int id, const Context& ctx, const ConvGeometry& g)
    : ctx_(ctx), input_(&input), output_(&output), id_(id), convolutional_(true), geometry_(g),
      local_geometry_(g), norm_(output.descriptor().weight_norm) {
  const int64_t filter = g.in_channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  const Slice channels = ctx.comm().slice(g.out_channels);
  block_ = MatrixBlock{channels.begin, channels.size(), 0, filter};
  local_geometry_.out_channels = channels.size();
  allocate(std::size_t(channels.size()));
}

void Weight::allocate(std::size_t biases) {
  const std::string n = input_->name() + "->" + output_->name();
  w_ = DeviceBuffer<float>(ctx_, std::size_t(block_.rows) * std::size_t(block_.cols),
                           n + ".weights");
  grad_ = DeviceBuffer<float>(ctx_, w_.size(), n + ".gradient");
  b_ = DeviceBuffer<float>(ctx_, biases, n + ".bias");
  w_v_ = DeviceBuffer<float>(ctx_, 0, n + ".velocity");
  w_v2_ = DeviceBuffer<float>(ctx_, 0, n + ".velocity2");
  b_v_ = DeviceBuffer<float>(ctx_, 0, n + ".bias_velocity");
  b_v2_ = DeviceBuffer<float>(ctx_, 0, n + ".bias_velocity2");
  column_sums_ = DeviceBuffer<float>(ctx_, 0, n + ".column_square_sums");
  touched_rows_ = DeviceBuffer<uint32_t>(ctx_, 0, n + ".touched_rows");
  touched_count_ = DeviceBuffer<int64_t>(ctx_, 0, n + ".touched_count");
}

void Weight::share(Weight& owner, bool transposed) {
  owner_ = &owner;
  transposed_ = transposed;
  // The owner's block is what this connection multiplies by; transposed, its columns are this
  // connection's input rows (one rank holds whole matrices either way).
  const bool flip = transposed && ctx_.comm().size() > 1;
  split_ = !flip ? owner.split_
                 : owner.split_ == WeightSplit::Columns ? WeightSplit::Rows : WeightSplit::Columns;
  owner.sharing_count_ += 1;
  w_ = DeviceBuffer<float>();
  grad_ = DeviceBuffer<float>();
}

namespace {

/// Index of the first value that is NaN or infinite, or -1.
int64_t first_non_finite(const float* values, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i])) return int64_t(i);
  return -1;
}

}  // namespace

void Weight::set_matrix(const float* values, std::size_t n) {
  Weight& o = owner();
  DSSTNE_EXPECTS(n == o.w_.size(), "weights ", input_->name(), "->", output_->name(),
                 ": expected ", o.block_.rows, " x ", o.block_.cols, " = ", o.w_.size(),
                 " values, got ", n);
  const int64_t bad = first_non_finite(values, n);
  DSSTNE_EXPECTS(bad < 0, "weights ", input_->name(), "->", output_->name(),
                 ": NaN or infinite value at index ", bad);
  o.w_.upload(values, n);
}

void Weight::set_bias(const float* values, std::size_t n) {
  DSSTNE_EXPECTS(n == b_.size(), "bias ", input_->name(), "->", output_->name(), ": expected ",
                 b_.size(), " values, got ", n);
  const int64_t bad = first_non_finite(values, n);
  DSSTNE_EXPECTS(bad < 0, "bias ", input_->name(), "->", output_->name(),
                 ": NaN or infinite value at index ", bad);
  b_.upload(values, n);
}

void Weight::reset_state() {
  for (DeviceBuffer<float>* b : {&w_v_, &w_v2_, &b_v_, &b_v2_}) b->zero();
}

DeviceBuffer<float>& Weight::mutable_state_buffer(int which) {
  return const_cast<DeviceBuffer<float>&>(static_cast<const Weight*>(this)->state_buffer(which));
}

const DeviceBuffer<float>& Weight::state_buffer(int which) const {
  switch (which) {
    case 0: return w_v_;
    case 1: return w_v2_;
    case 2: return b_v_;
    case 3: return b_v2_;
    default:
      DSSTNE_FAIL(InvalidArgument, "weights ", input_->name(), "->", output_->name(),
                  ": optimizer state buffer ", which, " does not exist (0-3)");
  }
}

std::vector<float> Weight::state(int which) const { return state_buffer(which).download(); }

void Weight::set_state(int which, const float* values, std::size_t n) {
  DeviceBuffer<float>& buffer = mutable_state_buffer(which);
  DSSTNE_EXPECTS(n == buffer.size(), "weights ", input_->name(), "->", output_->name(),
                 ": optimizer state buffer ", which, " holds ", buffer.size(), " values, got ", n);
  const int64_t bad = first_non_finite(values, n);
  DSSTNE_EXPECTS(bad < 0, "weights ", input_->name(), "->", output_->name(),
                 ": optimizer state buffer ", which, ": NaN or infinite value at index ", bad);
  buffer.upload(values, n);
}

void Weight::allocate_state(TrainingMode mode) {
  const bool one = mode != TrainingMode::SGD;
  const bool two = mode == TrainingMode::AdaDelta || mode == TrainingMode::Adam;
  const std::size_t n = shared() ? 0 : w_.size();
  w_v_.resize(one ? n : 0);
  w_v2_.resize(two ? n : 0);
  b_v_.resize(one ? b_.size() : 0);
  b_v2_.resize(two ? b_.size() : 0);
}

}  // namespace dsstne
