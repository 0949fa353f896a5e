// SPDX-License-Identifier: Apache-2.0
// One batch through the network: loading, forward, error, backward, update (DESIGN.md "One
// training step"). Every numeric step goes through DSSTNE_DISPATCH.
#include <cmath>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"
#include "dsstne/rng.hpp"

namespace dsstne {

BatchExamples Network::batch_examples(int64_t position, Mode mode) const {
  const bool shuffled = mode == Mode::Training && desc_.shuffle_indices;
  const std::size_t at = static_cast<std::size_t>(position);
  return shuffled ? BatchExamples{order_.data() + at, order_host_.data() + at}
                  : BatchExamples{identity_.data() + at, identity_host_.data() + at};
}

void Network::forward_batch(int64_t position, Mode mode) {
  require_data(false);
  DSSTNE_EXPECTS(position >= 0 && position < examples_, "batch position ", position,
                 " is outside the ", examples_, " examples");
  const int64_t rows = std::min(batch_, examples_ - position);
  mode_ = mode;
  position_ = position;
  for (auto& l : layers_) {
    l->rows_ = rows;
    l->dropout_applied_ = false;
    l->loss_done_ = false;
    l->densified_ = false;
    l->gathered_valid_ = false;
  }
  const BatchExamples examples = batch_examples(position, mode);
  load_inputs(examples, rows, mode);
  load_targets(examples, rows);  // before the outputs' forward, which may take their loss with it
  for (Layer* l : forward_order_)
    if (l->kind() != LayerKind::Input) forward_layer(*l, mode);
}

void Network::load_inputs(const BatchExamples& examples, int64_t rows, Mode mode) {
  for (Layer* l : layers_of_kind(LayerKind::Input)) {
    const DataSet& data = *l->data_;
    if (data.sparse()) {
      DenoiseParams dn;
      if (mode == Mode::Training && l->descriptor().denoising && desc_.denoising()) {
        dn.p = desc_.denoising_p;
        dn.rs = {ctx_.seed(), make_stream(RandomPurpose::kDenoise, l->id(), uint64_t(epoch_))};
      }
      data.load_sparse_batch(ctx_, examples.device, examples.host, rows, true, dn,
                             l->sparse_batch_);
      continue;
    }
    const int64_t cols = l->local_units();
    l->units_.resize(std::size_t(rows * cols));
    data.load_dense_batch(ctx_, examples.device, rows, l->slice().begin, cols, true,
                          l->units_.data());
    const float p = l->descriptor().p_dropout;
    if (mode == Mode::Training && p > 0.0f) {
      const RandomStream rs{ctx_.seed(), make_stream(RandomPurpose::kDropout, l->id(), step_)};
      const ActivationParams linear{Activation::Linear};
      DSSTNE_DISPATCH(ctx_, dropout_forward, linear, p, rs, l->stride(), l->slice().begin, rows,
                      cols, l->units_.data(), l->saved_.data(), l->mask_.data());
      l->dropout_applied_ = true;
    }
  }
}

void Network::load_targets(const BatchExamples& examples, int64_t rows) {
  for (Layer* l : layers_of_kind(LayerKind::Output)) {
    if (!l->data_) continue;
    const DataSet& data = *l->data_;
    if (data.sparse()) {
      data.load_sparse_batch(ctx_, examples.device, examples.host, rows, false, DenoiseParams{},
                             l->target_sparse_);
    } else {
      l->target_dense_.resize(std::size_t(rows * l->local_units()));
      data.load_dense_batch(ctx_, examples.device, rows, l->slice().begin, l->local_units(),
                            false, l->target_dense_.data());
    }
    if (data.weighted()) {
      l->example_weights_.resize(std::size_t(rows));
      data.load_weights(ctx_, examples.device, rows, l->example_weights_.data());
    }
  }
}

void Network::densify(Layer& source) {
  if (!source.is_sparse_input() || source.densified_) return;
  const int64_t cols = source.local_units();
  source.units_.resize(std::size_t(source.rows_ * cols));
  DSSTNE_DISPATCH(ctx_, csr_to_dense, source.sparse_batch_.view(), source.slice().begin, cols,
                  source.units_.data());
  source.densified_ = true;
}

void Network::forward_layer(Layer& layer, Mode mode) {
  const int64_t rows = layer.rows_;
  const int64_t cols = layer.local_units();
  float* z = layer.units_.data();
  const bool loss_in_forward =
      mode == Mode::Training && error_slot_ != nullptr && takes_loss_in_forward(layer);
  // output_pass adds the bias itself behind a lone dense product, which then overwrites z.
  const float* pass_bias = loss_in_forward ? bias_for_output_pass(layer) : nullptr;
  if (layer.type() == LayerType::Pooling) {
    pool(layer);
  } else if (layer.type() == LayerType::Convolutional) {
    convolve(layer);
  } else {
    dense_products(layer, pass_bias);
  }
  for (Layer* s : layer.skips_) {
    densify(*s);
    add_skip(*s, layer);
  }
  if (layer.batch_normalized()) {
    normalize(layer, mode);
    z = layer.units_.data();
  }
  const ActivationParams act = layer.activation_params();
  const float p = layer.descriptor().p_dropout;
  if (loss_in_forward) {
    DSSTNE_DISPATCH(ctx_, output_pass, loss_params(layer), pass_bias, z, rows, cols,
                    layer.slice().begin, target_view(layer), error_slot_, layer.delta_.data());
    layer.loss_done_ = true;
    return;
  }
  activate(layer);
  if (mode == Mode::Training && p > 0.0f) {
    const RandomStream rs{ctx_.seed(), make_stream(RandomPurpose::kDropout, layer.id(), step_)};
    DSSTNE_DISPATCH(ctx_, dropout_forward, act, p, rs, layer.stride(), layer.slice().begin, rows,
                    cols, z, layer.saved_.data(), layer.mask_.data());
    layer.dropout_applied_ = true;
  }
}

void Network::dense_products(Layer& layer, const float* pass_bias) {
  const int64_t rows = layer.rows_;
  const int64_t cols = layer.local_units();
  float* z = layer.units_.data();
  if (layer.incoming_.empty()) {
    DSSTNE_DISPATCH(ctx_, fill, z, rows * cols, 0.0f);
  }
  bool first = true;
  for (Weight* w : layer.incoming_) {  // z = Σ biases, then Σ weighted sources
    if (pass_bias != nullptr) break;
    DSSTNE_DISPATCH(ctx_, broadcast_rows, w->b_.data(), rows, cols, !first, z);
    first = false;
  }
  bool row_products = false;
  for (Weight* w : layer.incoming_) {
    Layer& s = w->input();
    const float* matrix = w->matrix().data();
    if (w->split() == WeightSplit::Rows) {  // partial sums, reduce-scattered below
      row_product(*w, layer, !row_products);
      row_products = true;
      continue;
    }
    if (s.is_sparse_input() && !w->transposed()) {
      DSSTNE_DISPATCH(ctx_, sparse_product, s.sparse_batch_.view(), matrix, cols, z);
      continue;
    }
    densify(s);
    if (s.sharded()) {
      gathered_product(*w, layer);
      continue;
    }
    // Transposed sharing reads the owner's (n_out × n_in) matrix as its transpose.
    DSSTNE_DISPATCH(ctx_, gemm, false, w->transposed(), rows, cols, s.stride(), 1.0f,
                    s.units_.data(), s.stride(), matrix, w->transposed() ? s.stride() : cols,
                    pass_bias != nullptr ? 0.0f : 1.0f, z, cols);
  }
  if (row_products) add_row_products(layer);
}

LossParams Network::loss_params(const Layer& layer) const {
  return LossParams{desc_.error_function, layer.activation_params(), desc_.smce,
                    desc_.delta_boost_one, desc_.delta_boost_zero};
}

TargetView Network::target_view(const Layer& layer) const {
  const DataSet& data = *layer.data_;
  TargetView t;
  t.sparse = data.sparse();
  t.ignore_zero = data.ignore_zero();
  if (t.sparse) {
    t.csr = layer.target_sparse_.view();
  } else {
    t.dense = layer.target_dense_.data();
  }
  t.example_weights = data.weighted() ? layer.example_weights_.data() : nullptr;
  return t;
}

double Network::batch_error() const {
  DeviceBuffer<double> sum(ctx_, 1, "batch_error");
  batch_error_sum(sum.data());
  double total = sum.download()[0];
  ctx_.comm().allreduce_sum(&total, 1);
  return total;
}

bool Network::takes_loss_in_forward(const Layer& layer) const {
  // The output's error and delta are final once it is activated: no dropout changes its units,
  // no consumer adds to its delta, and its activation is element-wise (SoftMax is row-wise).
  // A replicated output's error counts on rank 0 alone (batch_error_sum).
  return layer.kind() == LayerKind::Output && layer.data_ != nullptr && !layer.consumed_ &&
         layer.descriptor().p_dropout == 0.0f && !layer.replicated() &&
         layer.activation_params().kind != Activation::SoftMax;
}

const float* Network::bias_for_output_pass(const Layer& layer) const {
  // One connection whose product is a plain GEMM: its bias then needs no pass of its own, and
  // the GEMM no read of a broadcast bias (beta 0), two sweeps of the batch's output saved.
  if (layer.type() != LayerType::FullyConnected || layer.incoming_.size() != 1 ||
      !layer.skips_.empty() || layer.descriptor().batch_normalization)
    return nullptr;
  const Weight& w = *layer.incoming_.front();
  const Layer& s = w.input();
  if (w.split() == WeightSplit::Rows || s.sharded() || (s.is_sparse_input() && !w.transposed()))
    return nullptr;
  return w.b_.data();
}

void Network::batch_error_sum(double* total) const {
  for (Layer* l : layers_of_kind(LayerKind::Output)) {
    if (l->loss_done_) continue;  // output_pass added it in forward
    // Every rank holds a replicated (convolutional or pooling) output whole: rank 0 adds its
    // error, as the ranks' sums are added.
    if (l->replicated() && ctx_.comm().rank() != 0) continue;
    DSSTNE_EXPECTS(l->data_ != nullptr, "output layer '", l->name(), "' has no data (DataSet '",
                   l->descriptor().data_set, "')");
    DSSTNE_DISPATCH(ctx_, output_error_sum, loss_params(*l), l->units_.data(), l->rows_,
                    l->local_units(), l->slice().begin, target_view(*l), total);
  }
}

void Network::backward_batch() {
  DSSTNE_EXPECTS(mode_ != Mode::Prediction, "backward_batch needs a forward pass in training or "
                 "validation mode");
  for (auto& l : layers_) {
    l->grad_written_ = false;
    l->grad_partial_written_ = false;
    l->deltas_gathered_ = false;
  }
  for (auto& w : weights_) {
    w->grad_contributions_ = 0;
    w->stepped_in_backward_ = false;
  }
  for (auto it = forward_order_.rbegin(); it != forward_order_.rend(); ++it) {
    Layer& l = **it;
    if (l.kind() == LayerKind::Input) continue;
    if (l.kind() == LayerKind::Output) {
      output_delta(l);
    } else {
      hidden_delta(l);
    }
    propagate(l);
  }
}

void Network::output_delta(Layer& layer) {
  DSSTNE_EXPECTS(layer.data_ != nullptr, "output layer '", layer.name(), "' has no data");
  const int64_t rows = layer.rows_, cols = layer.local_units();
  collect_gradient(layer);
  if (layer.grad_written_) {
    // An output that also feeds other layers: their gradient joins the loss delta.
    hidden_delta(layer);
    std::swap(layer.delta_, layer.grad_);
  }
  if (!layer.loss_done_) loss_delta(layer);
  if (layer.grad_written_) DSSTNE_DISPATCH(ctx_, add, layer.grad_.data(), rows * cols,
                                           layer.delta_.data());
  if (layer.descriptor().delta_norm > 0.0f) clip_deltas(layer);
}

void Network::hidden_delta(Layer& layer) {
  const int64_t rows = layer.rows_, cols = layer.local_units();
  collect_gradient(layer);
  if (!layer.grad_written_) {  // nothing consumes this layer: no gradient reaches it
    DSSTNE_DISPATCH(ctx_, fill, layer.delta_.data(), rows * cols, 0.0f);
    return;
  }
  const ActivationParams act = layer.activation_params();
  float* g = layer.grad_.data();
  if (layer.dropout_applied_)
    DSSTNE_DISPATCH(ctx_, dropout_backward, act, layer.descriptor().p_dropout,
                    layer.mask_.data(), rows, cols, g);
  const float* a = layer.dropout_applied_ ? layer.saved_.data() : layer.units_.data();
  const LayerDescriptor& d = layer.descriptor();
  if (layer.kind() == LayerKind::Hidden && d.sparse && desc_.sparseness_penalty()) {
    const float p = d.sparseness_penalty_p > 0 ? d.sparseness_penalty_p : desc_.sparseness_penalty_p;
    const float beta =
        d.sparseness_penalty_beta > 0 ? d.sparseness_penalty_beta : desc_.sparseness_penalty_beta;
    DSSTNE_DISPATCH(ctx_, sparseness_penalty, a, rows, cols, p, beta, g);
  }
  activation_gradient(layer, a, g);
  std::swap(layer.grad_, layer.delta_);
  if (d.delta_norm > 0.0f && layer.kind() != LayerKind::Output) clip_deltas(layer);
  if (layer.batch_normalized()) normalize_backward(layer);
}

void Network::propagate(Layer& layer) {
  const int64_t rows = layer.rows_, cols = layer.local_units();
  const float* delta = layer.delta_.data();
  if (layer.type() == LayerType::Pooling) {
    unpool(layer);
  } else if (layer.type() == LayerType::Convolutional) {
    // The bias gradient of this rank's channels (all of them on one rank).
    const ConvGeometry& g = layer.incoming_.front()->local_conv_geometry();
    if (layer.channel_split_) split_channel_deltas(layer);
    if (g.out_channels > 0)
      DSSTNE_DISPATCH(ctx_, channel_mean, layer.channel_split_ ? layer.channel_block_.data() : delta,
                      rows, g.out_channels, g.out[0] * g.out[1] * g.out[2],
                      layer.mean_delta_.data());
  } else {
    DSSTNE_DISPATCH(ctx_, column_mean, delta, rows, cols, layer.mean_delta_.data());
  }
  // Steps taken inside the backward pass change a matrix: they wait until every delta below has
  // read it.
  std::vector<Weight*> step_after;
  for (Weight* w : layer.incoming_) {
    Layer& s = w->input();
    const int64_t n_in = s.stride();
    Weight& owner = w->owner();
    const float beta = owner.grad_contributions_ == 0 ? 0.0f : 1.0f;
    const float scale = -1.0f / (float(owner.sharing_count()) * float(rows));
    if (w->convolutional()) {
      conv_propagate(*w, layer, scale, beta);
      if (!w->locked()) owner.grad_contributions_ += 1;
      continue;
    }
    if (steps_in_backward(*w)) {
      step_after.push_back(w);
    } else if (!w->locked()) {
      bool rows_listed = false;
      if (w->split() == WeightSplit::Rows) {
        row_gradient(*w, layer, scale, beta);
      } else if (s.sharded()) {
        gathered_gradient(*w, layer, scale, beta);
      } else if (s.is_sparse_input() && !w->transposed()) {
        rows_listed = sparse_input_gradient(*w, layer, scale, beta);
      } else if (!w->transposed()) {
        densify(s);
        DSSTNE_DISPATCH(ctx_, gemm, true, false, n_in, cols, rows, scale, s.units_.data(), n_in,
                        delta, cols, beta, owner.grad_.data(), cols);
      } else {  // lands in the owner's (n_out × n_in) layout
        densify(s);
        DSSTNE_DISPATCH(ctx_, gemm, true, false, cols, n_in, rows, scale, delta, cols,
                        s.units_.data(), n_in, beta, owner.grad_.data(), n_in);
      }
      owner.grad_contributions_ += 1;
      owner.grad_rows_listed_ = rows_listed;
    }
    if (s.kind() == LayerKind::Input) continue;
    if (w->split() == WeightSplit::Rows) {
      row_delta(*w, layer);
      continue;
    }
    if (s.sharded()) {
      if (layer.replicated()) {
        replicated_delta(*w, layer);
      } else {
        gathered_delta(*w, layer);
      }
      continue;
    }
    if (layer.sharded()) {  // a replicated source: this rank's terms of its whole gradient
      partial_delta(*w, layer);
      continue;
    }
    const float into = s.grad_written_ ? 1.0f : 0.0f;
    DSSTNE_DISPATCH(ctx_, gemm, false, !w->transposed(), rows, n_in, cols, 1.0f, delta, cols,
                    w->matrix().data(), w->transposed() ? n_in : cols, into, s.grad_.data(), n_in);
    s.grad_written_ = true;
  }
  for (Layer* s : layer.skips_) {
    if (s->kind() == LayerKind::Input) continue;
    if (layer.sharded() && s->replicated()) {  // this rank's columns of the source's gradient
      partial_skip(*s, layer);
      continue;
    }
    if (!s->grad_written_) DSSTNE_DISPATCH(ctx_, fill, s->grad_.data(), rows * cols, 0.0f);
    DSSTNE_DISPATCH(ctx_, add, delta, rows * cols, s->grad_.data());
    s->grad_written_ = true;
  }
  for (Weight* w : step_after) step_in_backward(*w, layer);
}

void Network::update(const TrainParams& params, float alpha) {
  for (const auto& w : weights_) {
    DSSTNE_EXPECTS_T(LogicError, !w->stepped_in_backward_, "update: train() already stepped ",
                     w->input().name(), "->", w->output().name(),
                     " with the last batch and kept no gradient; run backward_batch() first");
  }
  apply_update(UpdateParams{params.mode, alpha, params.lambda, params.lambda1, params.mu,
                            params.mu1, step_, halt_});
}

void Network::train_step(const TrainParams& params, float alpha, int64_t rows,
                         float* sgd_scalars) {
  // The step count the update sees is the one after this step (Adam's bias correction).
  const UpdateParams u{params.mode, alpha,      params.lambda, params.lambda1,
                       params.mu,   params.mu1, step_ + 1,     halt_};
  // Every weight's gradient is scaled by −1/rows (sharing_count is 1 where SGD steps inside).
  const SgdInBackward sgd{u, sgd_scalars};
  if (sgd_fits_backward(u)) {
    DSSTNE_DISPATCH(ctx_, sgd_step_scalars, u, -1.0f / float(rows), sgd_scalars);
    sgd_in_backward_ = &sgd;
  }
  struct Clear {
    const SgdInBackward*& p;
    ~Clear() { p = nullptr; }
  } clear{sgd_in_backward_};
  backward_batch();
  ++step_;
  apply_update(u);
}

void Network::apply_update(const UpdateParams& u) {
  // Reverse creation order, as DSSTNE: a shared matrix is final before its owner updates it.
  for (auto it = weights_.rbegin(); it != weights_.rend(); ++it) {
    Weight& w = **it;
    if (w.locked()) continue;
    if (!w.shared() && w.grad_contributions_ > 0 && !w.stepped_in_backward_) update_matrix(u, w);
    DSSTNE_DISPATCH(ctx_, update_biases, u, w.output().mean_delta_.data(), int64_t(w.b_.size()),
                    w.b_.data(), w.b_v_.data(), w.b_v2_.data());
    if (!w.shared() && w.norm() > 0.0f) clip_weight_columns(w);
  }
  for (auto& l : layers_)
    if (l->batch_normalized()) update_batch_norm(u, *l);
}

}  // namespace dsstne
