// SPDX-License-Identifier: Apache-2.0
// The whole weights, biases, optimizer state and gradients of a connection, gathered from the
// ranks' blocks or cut into them: what saving, loading and the Python accessors see is the same
// on any number of ranks. Every function here is collective: all ranks call it.
#include <algorithm>
#include <cmath>

#include "dsstne/error.hpp"
#include "dsstne/network.hpp"
#include "rank_blocks.hpp"

namespace dsstne {
namespace {

/// The shape of one kind of parameter buffer of a connection and how the ranks divide it.
struct Layout {
  WeightSplit split;
  int64_t rows;  ///< of the whole
  int64_t cols;
  bool whole = false;  ///< every rank holds all of it, alike
};

Layout layout_of(const Weight& w, int which) {
  const Weight& o = w.owner();
  // matrix-shaped: the matrix, the gradient, state 0 and 1; bias-shaped: the bias, state 2, 3
  const bool matrix =
      which == Network::kMatrix || which == Network::kGradient || which == 0 || which == 1;
  if (w.convolutional()) {  // the ranks divide the output channels: filter rows, bias columns
    const int64_t channels = w.conv_geometry().out_channels;
    return matrix ? Layout{WeightSplit::Rows, channels, w.block().cols}
                  : Layout{WeightSplit::Columns, 1, channels};
  }
  // A replicated output's connections are whole on every rank (they share no weights).
  const bool whole = w.output().replicated();
  if (matrix) return Layout{o.split(), o.n_in(), o.n_out(), whole};
  return Layout{WeightSplit::Columns, 1, w.n_out(), whole};
}

MatrixBlock block_of(const Communicator& comm, const Layout& l, int rank) {
  if (l.whole) return MatrixBlock{0, l.rows, 0, l.cols};
  if (l.split == WeightSplit::Columns) {
    const Slice s = comm.slice(l.cols, rank);
    return MatrixBlock{0, l.rows, s.begin, s.size()};
  }
  const Slice s = comm.slice(l.rows, rank);
  return MatrixBlock{s.begin, s.size(), 0, l.cols};
}

}  // namespace

const DeviceBuffer<float>& Network::parameter_buffer(const Weight& w, int which) const {
  if (which == kMatrix) return w.matrix();
  if (which == kGradient) {
    DSSTNE_EXPECTS_T(LogicError, !w.owner().stepped_in_backward_, "the gradient of ",
                     w.input().name(), "->", w.output().name(),
                     " is not kept: train() added the last batch's SGD step to the weights "
                     "directly; run forward_batch() and backward_batch() for a gradient");
    return w.gradient();
  }
  if (which == kBias) return w.bias();
  return w.state_buffer(which);
}

int64_t Network::parameter_size(const Weight& w, int which) const {
  const DeviceBuffer<float>& local = parameter_buffer(w, which);
  if (local.empty() && which >= 0) return 0;  // an optimizer that does not keep this state
  const Layout l = layout_of(w, which);
  return l.rows * l.cols;
}

void Network::gather_parameter(const Weight& w, int which, float* out) const {
  const DeviceBuffer<float>& local = parameter_buffer(w, which);
  const int64_t size = parameter_size(w, which);
  if (size == 0) return;
  Communicator& comm = ctx_.comm();
  const Layout l = layout_of(w, which);
  if (comm.size() == 1 || l.whole) {  // alike on every rank: nothing to exchange
    local.download_to(out, std::size_t(size));
    return;
  }
  std::vector<int64_t> counts(std::size_t(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    const MatrixBlock b = block_of(comm, l, r);
    counts[std::size_t(r)] = b.rows * b.cols;
  }
  DeviceBuffer<float> all(ctx_, static_cast<std::size_t>(size), "gathered parameters");
  comm.allgather(ctx_, local.data(), all.data(), counts);
  std::vector<float> host(static_cast<std::size_t>(size));
  all.download_to(host.data(), host.size());
  int64_t offset = 0;
  for (int r = 0; r < comm.size(); ++r) {
    const MatrixBlock b = block_of(comm, l, r);
    for (int64_t i = 0; i < b.rows; ++i)
      std::copy(host.begin() + offset + i * b.cols, host.begin() + offset + (i + 1) * b.cols,
                out + (b.row_begin + i) * l.cols + b.col_begin);
    offset += b.rows * b.cols;
  }
}

void Network::set_parameter(Weight& w, int which, const float* whole, int64_t count) {
  DSSTNE_EXPECTS(which != kGradient, "the gradient of ", w.input().name(), "->",
                 w.output().name(), " is computed, not set");
  const int64_t size = parameter_size(w, which);
  const char* what = which == kMatrix ? "weights" : which == kBias ? "bias" : "optimizer state";
  DSSTNE_EXPECTS(count == size, what, " ", w.input().name(), "->", w.output().name(),
                 ": expected ", size, " values, got ", count);
  // The whole array, on every rank alike, so that all ranks refuse it together.
  for (int64_t i = 0; i < count; ++i)
    DSSTNE_EXPECTS(std::isfinite(whole[i]), what, " ", w.input().name(), "->", w.output().name(),
                   ": NaN or infinite value at index ", i);
  const Layout l = layout_of(w, which);
  const MatrixBlock b = block_of(ctx_.comm(), l, ctx_.comm().rank());
  std::vector<float> mine(std::size_t(b.rows * b.cols));
  for (int64_t i = 0; i < b.rows; ++i)
    std::copy(whole + (b.row_begin + i) * l.cols + b.col_begin,
              whole + (b.row_begin + i) * l.cols + b.col_begin + b.cols,
              mine.begin() + i * b.cols);
  if (which == kMatrix) {
    w.set_matrix(mine);
  } else if (which == kBias) {
    w.set_bias(mine);
  } else {
    w.set_state(which, mine);
  }
}

void Network::gather_layer(const Layer& l, bool deltas, float* out) const {
  DSSTNE_EXPECTS_T(LogicError, deltas || !l.loss_done_, "the units of output layer '", l.name(),
                   "' are not kept by a training step of train(): its pass leaves "
                   "pre-activations; run forward_batch() for them");
  if (!l.sharded()) {
    if (deltas) {
      l.download_deltas(out);
    } else {
      l.download_units(out);
    }
    return;
  }
  DSSTNE_EXPECTS(!deltas || l.kind() != LayerKind::Input, "input layer '", l.name(),
                 "' has no deltas");
  Communicator& comm = ctx_.comm();
  DeviceBuffer<float> all(ctx_, std::size_t(l.rows_ * l.stride()), l.name() + ".gathered");
  comm.allgather(ctx_, deltas ? l.delta_.data() : l.units_.data(), all.data(),
                 comm.slice_counts(l.stride(), l.rows_));
  std::vector<float> host(all.size());
  all.download_to(host.data(), host.size());
  unpack_rows(comm, host, l.rows_, l.stride(), out);
}

}  // namespace dsstne
