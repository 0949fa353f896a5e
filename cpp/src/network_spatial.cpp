// SPDX-License-Identifier: Apache-2.0
// Convolutional and pooling layers in the forward and backward passes (docs/design.md
// "Convolution and pooling"). A convolution sums its sources' filter products and then each
// connection's bias per output map; a pooling layer combines its sources without weights,
// bias or activation. Skips, batch normalization, activation, dropout and the loss follow in
// network_pass.cpp as for fully-connected layers.
#include <algorithm>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"
#include "layer_geometry.hpp"

namespace dsstne {

void Network::convolve(Layer& layer) {
  const int64_t rows = layer.rows_;
  // Split by channel, this rank's channels land in its block, gathered below.
  float* z = layer.channel_split_ ? layer.channel_block_.data() : layer.units_.data();
  bool first = true;
  for (Weight* w : layer.incoming_) {
    Layer& s = w->input();
    densify(s);
    const ConvGeometry& g = w->local_conv_geometry();
    if (g.out_channels > 0)
      DSSTNE_DISPATCH(ctx_, conv_forward, g, s.units_.data(), w->matrix().data(), rows, !first,
                      z);
    first = false;
  }
  for (Weight* w : layer.incoming_) {
    const ConvGeometry& g = w->local_conv_geometry();
    if (g.out_channels > 0)
      DSSTNE_DISPATCH(ctx_, add_channel_bias, w->b_.data(), rows, g.out_channels,
                      out_spatial(g), z);
  }
  if (layer.channel_split_) gather_channels(layer);
}

void Network::gather_channels(Layer& layer) {
  // The ranks' blocks (rows × their channels × spatial, rank after rank) → each row's maps in
  // channel order: rank r's block fills the same columns of every row.
  Communicator& comm = ctx_.comm();
  const ConvGeometry& g = layer.incoming_.front()->conv_geometry();
  const int64_t rows = layer.rows_, spatial = out_spatial(g), units = layer.stride();
  comm.allgather(ctx_, layer.channel_block_.data(), layer.gathered_.data(),
                 comm.slice_counts(g.out_channels, rows * spatial));
  for (int r = 0; r < comm.size(); ++r) {
    const Slice c = comm.slice(g.out_channels, r);
    detail::copy_rows_on_device(ctx_, layer.units_.data() + c.begin * spatial,
                                std::size_t(units) * sizeof(float),
                                layer.gathered_.data() + rows * spatial * c.begin,
                                std::size_t(c.size() * spatial) * sizeof(float),
                                std::size_t(c.size() * spatial) * sizeof(float), std::size_t(rows));
  }
}

void Network::split_channel_deltas(Layer& layer) {
  // This rank's columns of every row's delta, packed as rows × its channels × spatial.
  const Weight& w = *layer.incoming_.front();
  const int64_t spatial = out_spatial(w.conv_geometry());
  const std::size_t bytes = std::size_t(layer.split_units_) * sizeof(float);
  detail::copy_rows_on_device(ctx_, layer.channel_block_.data(), bytes,
                              layer.delta_.data() + w.block().row_begin * spatial,
                              std::size_t(layer.stride()) * sizeof(float), bytes,
                              std::size_t(layer.rows_));
}

void Network::pool(Layer& layer) {
  const int64_t rows = layer.rows_;
  float* y = layer.units_.data();
  std::vector<const float*> sources;
  for (Layer* s : layer.sources_) {
    densify(*s);
    sources.push_back(s->units_.data());
  }
  const LayerDescriptor& d = layer.descriptor();
  const Layer& s0 = *layer.sources_.front();
  const int64_t count = int64_t(sources.size()), cols = s0.stride();
  switch (d.pooling) {
    case PoolingFunction::Max:
      DSSTNE_DISPATCH(ctx_, max_pool_forward, pool_geometry(d, s0.descriptor()), sources[0], rows,
                      y);
      break;
    case PoolingFunction::Average:
      DSSTNE_DISPATCH(ctx_, average_pool_forward, pool_geometry(d, s0.descriptor()), sources[0],
                      rows, y);
      break;
    case PoolingFunction::LRN: {
      const MapShape m = lrn_shape(d);
      DSSTNE_DISPATCH(ctx_, lrn_forward, lrn_params(), sources[0], rows, m.channels, m.spatial(),
                      y);
      break;
    }
    case PoolingFunction::Maxout:
      DSSTNE_DISPATCH(ctx_, maxout_forward, sources.data(), count, rows, cols, y);
      break;
    case PoolingFunction::DotProduct:
      DSSTNE_DISPATCH(ctx_, dot_product_forward, sources.data(), count, rows, cols, y);
      break;
    case PoolingFunction::Cosine:
      DSSTNE_DISPATCH(ctx_, cosine_forward, sources.data(), count, rows, cols, y);
      break;
    default:
      DSSTNE_FAIL(NotSupported, "layer '", layer.name(), "': pooling function ",
                  to_string(d.pooling), " is not implemented");
  }
}

void Network::check_pooling(const Layer& layer) const {
  const LayerDescriptor& d = layer.descriptor();
  const Layer& s0 = *layer.sources_.front();
  switch (d.pooling) {
    case PoolingFunction::Max:
    case PoolingFunction::Average:
      pool_geometry(d, s0.descriptor());  // throws when the windows do not fit
      return;
    case PoolingFunction::LRN:
      DSSTNE_EXPECTS(layer.stride() == s0.stride(), "LRN layer '", layer.name(), "' has ",
                     layer.stride(), " units but its source '", s0.name(), "' has ", s0.stride());
      return;
    default:
      break;
  }
  DSSTNE_EXPECTS(int64_t(layer.sources_.size()) <= kMaxPoolingSources, "pooling layer '",
                 layer.name(), "' has ", layer.sources_.size(), " sources; at most ",
                 kMaxPoolingSources, " are supported");
  for (const Layer* s : layer.sources_) {
    DSSTNE_EXPECTS(s->stride() == s0.stride(), "pooling layer '", layer.name(), "': source '",
                   s->name(), "' has ", s->stride(), " units but source '", s0.name(), "' has ",
                   s0.stride(), "; ", to_string(d.pooling), " needs sources of one size");
    // Each source's gradient is written through its own pointer in one kernel call.
    DSSTNE_EXPECTS(std::count(layer.sources_.begin(), layer.sources_.end(), s) == 1,
                   "pooling layer '", layer.name(), "' lists source '", s->name(),
                   "' more than once");
  }
  const int64_t expected = d.pooling == PoolingFunction::Maxout
                               ? s0.stride()
                               : int64_t(layer.sources_.size()) - 1;
  DSSTNE_EXPECTS(layer.stride() == expected, to_string(d.pooling), " layer '", layer.name(),
                 "' has ", layer.stride(), " units; its sources give ", expected);
}

LrnParams Network::lrn_params() const {
  return LrnParams{desc_.lrn_k, int64_t(desc_.lrn_n), desc_.lrn_alpha, desc_.lrn_beta};
}

void Network::conv_propagate(Weight& w, Layer& layer, float scale, float beta) {
  Layer& s = w.input();
  const ConvGeometry& g = w.local_conv_geometry();
  // Split by channel: this rank's channels' deltas (split_channel_deltas), and what they give
  // the source is this rank's terms of its gradient, summed over the ranks (collect_gradient).
  const float* delta = layer.channel_split_ ? layer.channel_block_.data() : layer.delta_.data();
  if (!w.locked() && g.out_channels > 0) {
    densify(s);
    DSSTNE_DISPATCH(ctx_, conv_backward_filter, g, s.units_.data(), delta, layer.rows_, scale,
                    beta, w.owner().grad_.data());
  }
  if (s.kind() == LayerKind::Input) return;
  bool& written = layer.channel_split_ ? s.grad_partial_written_ : s.grad_written_;
  float* into = layer.channel_split_ ? s.grad_partial_.data() : s.grad_.data();
  if (g.out_channels > 0) {
    DSSTNE_DISPATCH(ctx_, conv_backward_data, g, w.matrix().data(), delta, layer.rows_, written,
                    into);
  } else if (!written) {  // a rank without channels adds nothing, but takes part in the sum
    DSSTNE_DISPATCH(ctx_, fill, into, layer.rows_ * s.stride(), 0.0f);
  }
  written = true;
}

void Network::unpool(Layer& layer) {
  const int64_t rows = layer.rows_;
  const float* delta = layer.delta_.data();
  const LayerDescriptor& d = layer.descriptor();
  // Every source that takes a gradient gets one, accumulated: a source not yet written this
  // batch starts from zero, so one call serves sources in either state.
  std::vector<const float*> sources;
  std::vector<float*> deltas;
  for (Layer* s : layer.sources_) {
    sources.push_back(s->units_.data());
    const bool takes = s->kind() != LayerKind::Input;
    if (takes && !s->grad_written_)
      DSSTNE_DISPATCH(ctx_, fill, s->grad_.data(), rows * s->stride(), 0.0f);
    deltas.push_back(takes ? s->grad_.data() : nullptr);
    if (takes) s->grad_written_ = true;
  }
  Layer& s0 = *layer.sources_.front();
  const int64_t count = int64_t(sources.size()), cols = s0.stride();
  switch (d.pooling) {
    case PoolingFunction::Max:
      if (deltas[0] != nullptr)
        DSSTNE_DISPATCH(ctx_, max_pool_backward, pool_geometry(d, s0.descriptor()), sources[0],
                        delta, rows, true, deltas[0]);
      break;
    case PoolingFunction::Average:
      if (deltas[0] != nullptr)
        DSSTNE_DISPATCH(ctx_, average_pool_backward, pool_geometry(d, s0.descriptor()), delta,
                        rows, true, deltas[0]);
      break;
    case PoolingFunction::LRN:
      if (deltas[0] != nullptr) {
        const MapShape m = lrn_shape(d);
        DSSTNE_DISPATCH(ctx_, lrn_backward, lrn_params(), sources[0], delta, rows, m.channels,
                        m.spatial(), true, deltas[0]);
      }
      break;
    case PoolingFunction::Maxout:
      DSSTNE_DISPATCH(ctx_, maxout_backward, sources.data(), count, rows, cols, delta, true,
                      deltas.data());
      break;
    case PoolingFunction::DotProduct:
      DSSTNE_DISPATCH(ctx_, dot_product_backward, sources.data(), count, rows, cols, delta, true,
                      deltas.data());
      break;
    case PoolingFunction::Cosine:
      DSSTNE_DISPATCH(ctx_, cosine_backward, sources.data(), count, rows, cols, delta, true,
                      deltas.data());
      break;
    default:
      DSSTNE_FAIL(NotSupported, "layer '", layer.name(), "': pooling function ",
                  to_string(d.pooling), " is not implemented");
  }
}

}  // namespace dsstne
