// SPDX-License-Identifier: Apache-2.0
// The row-wise operations of a layer split across ranks: SoftMax (its max and normaliser), the
// SoftMax Jacobian, the SoftMax output delta's Q, DeltaNorm's row norms and the column norms of a
// row-split WeightNorm each reduce over units other ranks hold. Each rank reduces its units
// (row_stats, column_square_sums), the communicator finishes the reduction, and each rank applies
// it to its units. One rank runs the whole kernels, bit for bit as before.
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {

void Network::activate(Layer& layer) {
  const ActivationParams act = layer.activation_params();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  float* z = layer.units_.data();
  if (act.kind != Activation::SoftMax || !layer.sharded()) {
    DSSTNE_DISPATCH(ctx_, activation_forward, act, z, rows, cols);
    return;
  }
  float* v = layer.row_values_.data();
  DSSTNE_DISPATCH(ctx_, row_stats, RowStat::Max, z, nullptr, rows, cols, v);
  ctx_.comm().allreduce_max(ctx_, v, rows);
  DSSTNE_DISPATCH(ctx_, transform_rows, RowOp::SubtractExp, z, nullptr, rows, cols, v, 0.0f);
  DSSTNE_DISPATCH(ctx_, row_stats, RowStat::Sum, z, nullptr, rows, cols, v);
  ctx_.comm().allreduce_sum(ctx_, v, rows);
  DSSTNE_DISPATCH(ctx_, transform_rows, RowOp::Divide, z, nullptr, rows, cols, v, 0.0f);
}

void Network::activation_gradient(Layer& layer, const float* a, float* g) {
  const ActivationParams act = layer.activation_params();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  if (act.kind != Activation::SoftMax || !layer.sharded()) {
    DSSTNE_DISPATCH(ctx_, activation_backward, act, a, g, rows, cols);
    return;
  }
  // g ← a ⊙ (g − Σ_k g_k·a_k), the sum over every rank's units
  float* v = layer.row_values_.data();
  DSSTNE_DISPATCH(ctx_, row_stats, RowStat::Dot, g, a, rows, cols, v);
  ctx_.comm().allreduce_sum(ctx_, v, rows);
  DSSTNE_DISPATCH(ctx_, transform_rows, RowOp::SoftmaxBackward, g, a, rows, cols, v, 0.0f);
}

void Network::loss_delta(Layer& layer) {
  const int64_t rows = layer.rows_, cols = layer.local_units();
  const LossParams p = loss_params(layer);
  if (layer.activation_params().kind != Activation::SoftMax || !layer.sharded()) {
    DSSTNE_DISPATCH(ctx_, output_delta, p, layer.units_.data(), rows, cols, layer.slice().begin,
                    target_view(layer), layer.delta_.data());
    return;
  }
  float* q = layer.row_values_.data();
  DSSTNE_DISPATCH(ctx_, softmax_delta_sums, p, layer.units_.data(), rows, cols,
                  layer.slice().begin, target_view(layer), q);
  ctx_.comm().allreduce_sum(ctx_, q, rows);
  DSSTNE_DISPATCH(ctx_, softmax_output_delta, p, layer.units_.data(), rows, cols,
                  layer.slice().begin, target_view(layer), q, layer.delta_.data());
}

void Network::clip_deltas(Layer& layer) {
  const int64_t rows = layer.rows_, cols = layer.local_units();
  const float norm = layer.descriptor().delta_norm;
  if (!layer.sharded()) {
    DSSTNE_DISPATCH(ctx_, clip_row_norms, layer.delta_.data(), rows, cols, norm);
    return;
  }
  float* v = layer.row_values_.data();
  DSSTNE_DISPATCH(ctx_, row_stats, RowStat::SquareSum, layer.delta_.data(), nullptr, rows, cols,
                  v);
  ctx_.comm().allreduce_sum(ctx_, v, rows);
  DSSTNE_DISPATCH(ctx_, transform_rows, RowOp::ClipNorm, layer.delta_.data(), nullptr, rows,
                  cols, v, norm);
}

void Network::clip_weight_columns(Weight& w) {
  const MatrixBlock b = w.block();
  if (w.convolutional()) {  // a unit's incoming weights: one output channel's filters, a row
    DSSTNE_DISPATCH(ctx_, clip_row_norms, w.w_.data(), b.rows, b.cols, w.norm());
    return;
  }
  if (w.split() == WeightSplit::Columns) {  // every row of the local columns is here
    DSSTNE_DISPATCH(ctx_, clip_column_norms, w.w_.data(), b.rows, b.cols, w.norm());
    return;
  }
  w.column_sums_.resize(std::size_t(b.cols));  // once: the first step with WeightNorm
  DSSTNE_DISPATCH(ctx_, column_square_sums, w.w_.data(), b.rows, b.cols, w.column_sums_.data());
  ctx_.comm().allreduce_sum(ctx_, w.column_sums_.data(), b.cols);
  DSSTNE_DISPATCH(ctx_, clip_columns, w.w_.data(), b.rows, b.cols, w.column_sums_.data(),
                  w.norm());
}

}  // namespace dsstne
