// SPDX-License-Identifier: Apache-2.0
// What a network is about to allocate, estimated before allocating (memory_budget.hpp): the
// weights when it is built, the layers' batch buffers when the batch grows, the optimizer state
// when training starts with an optimizer that keeps more of it.
#include <algorithm>

#include "dsstne/error.hpp"
#include "dsstne/memory_budget.hpp"
#include "dsstne/network.hpp"
#include "layer_geometry.hpp"

namespace dsstne {
namespace {

bool shares_weights_of(const LayerDescriptor& layer, const std::string& source) {
  for (const SharedWeightDescriptor& s : layer.shared_weights)
    if (s.input_layer == source) return true;
  return false;
}

}  // namespace

std::vector<MemoryItem> Network::weight_plan() const {
  std::vector<MemoryItem> items;
  for (const auto& layer : layers_) {
    if (layer->type() == LayerType::Pooling) continue;
    for (const Layer* source : layer->sources_) {
      if (layer->type() == LayerType::Convolutional) {
        const ConvGeometry g = conv_geometry(layer->descriptor(), source->descriptor());
        // On several ranks each holds its slice of the output channels' filters.
        const double channels = double(ctx_.comm().slice(g.out_channels).size());
        const double filters = channels * double(g.in_channels) * double(kernel_volume(g));
        items.push_back({detail::concat("filters ", source->name(), "->", layer->name(), " (",
                                        filters, " floats, and gradient)"),
                         (2.0 * filters + channels) * sizeof(float)});
        continue;
      }
      const bool columns = choose_split(source->stride(), layer->stride(),
                                        !source->sharded() || !layer->sharded(),
                                        ctx_.comm().size()) == WeightSplit::Columns;
      const int64_t rows = columns ? source->stride() : ctx_.comm().slice(source->stride()).size();
      const int64_t cols = columns ? layer->local_units() : layer->stride();
      const bool shared = shares_weights_of(layer->descriptor(), source->name());
      // matrix and gradient, and the bias
      const double floats = (shared ? 0.0 : 2.0 * double(rows) * double(cols)) +
                            double(layer->local_units());
      items.push_back({detail::concat("weights ", source->name(), "->", layer->name(), " (",
                                      rows, " x ", cols,
                                      shared ? " shared, bias only)" : " floats, and gradient)"),
                       floats * sizeof(float)});
    }
  }
  return items;
}

std::vector<MemoryItem> Network::batch_plan(int64_t batch) const {
  std::vector<MemoryItem> items;
  for (const auto& layer : layers_) {
    const double grow = double(std::max<int64_t>(0, batch - layer->capacity_));
    if (grow == 0) continue;
    const bool input = layer->kind() == LayerKind::Input;
    // units, gradient, delta (4 bytes each); before-dropout copy and mask (4 + 1)
    double per_unit = input ? 0.0 : 12.0;
    if (layer->descriptor().p_dropout > 0.0f) per_unit += 5.0;
    if (layer->batch_normalized()) per_unit += 4.0;  // z before normalization
    if (input && layer->data_ && !layer->data_->sparse()) per_unit += 4.0;
    const double local = double(layer->local_units()), whole = double(layer->stride());
    double bytes = grow * local * per_unit;
    // The exchanges between ranks: two buffers of every rank's units, one of this rank's (a
    // rank may hold none of a layer with fewer units than ranks).
    const int exchanges = int(layer->needs_gather_) + int(layer->has_row_inputs_);
    bytes += grow * exchanges * 4.0 * (2.0 * whole + local);
    // A replicated layer's partial gradient from sharded consumers, of all its units.
    if (layer->takes_partials_) bytes += grow * 4.0 * whole;
    // A channel-split convolution's block of its channels and the gathered blocks.
    if (layer->channel_split_) bytes += grow * 4.0 * (whole + double(layer->split_units_));
    if (bytes == 0) continue;
    items.push_back({detail::concat("layer '", layer->name(), "' (batch ", batch, " x ",
                                    layer->local_units(), " units)"),
                     bytes});
  }
  return items;
}

std::vector<MemoryItem> Network::state_plan(TrainingMode mode) const {
  const int buffers = mode == TrainingMode::SGD                                       ? 0
                      : mode == TrainingMode::AdaDelta || mode == TrainingMode::Adam ? 2
                                                                                      : 1;
  std::vector<MemoryItem> items;
  for (const auto& w : weights_) {
    const double matrix = w->shared() ? 0.0 : double(w->w_.size());
    const double needed = buffers * (matrix + double(w->b_.size()));
    const double held = double(w->w_v_.size() + w->w_v2_.size() + w->b_v_.size() +
                               w->b_v2_.size());
    if (needed > held)
      items.push_back({detail::concat("the ", to_string(mode), " state of weights ",
                                      w->input().name(), "->", w->output().name()),
                       (needed - held) * sizeof(float)});
  }
  return items;
}

std::string Network::describe_for_memory(int64_t batch) const {
  const std::string name = desc_.name.empty() ? std::string() : " '" + desc_.name + "'";
  return detail::concat("network", name, " with batch ", batch);
}

}  // namespace dsstne
