// SPDX-License-Identifier: Apache-2.0
// Network construction: layers, weights (shared and transposed), execution order, data binding.
#include "dsstne/network.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "dsstne/config.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/rng.hpp"
#include "config_json.hpp"
#include "layer_geometry.hpp"

namespace dsstne {
namespace {

const DataSetPtr* find_data(const std::vector<DataSetPtr>& data, const std::string& name) {
  const DataSetPtr* found = nullptr;
  for (const DataSetPtr& d : data)
    if (d && d->name() == name) found = &d;  // as in DSSTNE, the last one of a name wins
  return found;
}

}  // namespace

Network::Network(NetworkDescriptor desc, const std::vector<DataSetPtr>& data, int64_t batch,
                 const Context& ctx)
    : desc_(std::move(desc)), ctx_(ctx), batch_(0) {
  validate(desc_);
  DSSTNE_EXPECTS(batch >= 1, "batch size must be >= 1, got ", batch);
  std::vector<bool> sized_by_data(desc_.layers.size(), false);
  for (std::size_t i = 0; i < desc_.layers.size(); ++i) {
    LayerDescriptor& l = desc_.layers[i];
    if (!l.n_auto) continue;
    sized_by_data[i] = true;
    const DataSetPtr* d = find_data(data, l.data_set);
    DSSTNE_EXPECTS(d != nullptr, "layer '", l.name, "': N is \"auto\" but no data set named '",
                   l.data_set, "' was given");
    const Dims& dims = (*d)->dims();
    l.n = {dims.width, dims.height, dims.length, 1};
    l.dimensions = dims.dimensions;
    l.n_auto = false;
  }
  // Convolution and pooling sizes that waited for those data sets.
  config_detail::derive_geometry(desc_, /*strict=*/true);
  validate(desc_);  // again: sizes taken from data must obey the same limits as written ones
  for (std::size_t i = 0; i < desc_.layers.size(); ++i) {
    const LayerDescriptor& l = desc_.layers[i];
    DSSTNE_EXPECTS(!(l.kind == LayerKind::Output && l.p_dropout > 0.0f), "layer '", l.name,
                   "': pDropout on an Output layer is not supported (it would rescale the "
                   "predictions the error is computed on)");
    if (desc_.error_function == ErrorFunction::DataScaledMarginalCrossEntropy &&
        l.kind == LayerKind::Output) {
      DSSTNE_EXPECTS(l.activation != Activation::SoftMax, "layer '", l.name,
                     "': DataScaledMarginalCrossEntropy does not support SoftMax outputs");
    }
    layers_.push_back(std::make_unique<Layer>(l, int(i), ctx_));
    layers_.back()->sized_by_data_ = sized_by_data[i];
    by_name_[l.name] = layers_.back().get();
  }
  for (auto& layer : layers_) {
    for (const std::string& s : layer->desc_.sources) {
      layer->sources_.push_back(&this->layer(s));
      layer->sources_.back()->consumed_ = true;
    }
    for (const std::string& s : layer->desc_.skips) {
      Layer& skip = this->layer(s);
      DSSTNE_EXPECTS(skip.stride() == layer->stride(), "layer '", layer->name(), "': skip from '",
                     s, "' needs the same number of units (", skip.stride(), " vs ",
                     layer->stride(), ")");
      layer->skips_.push_back(&skip);
      skip.consumed_ = true;
    }
    check_replication(*layer);
  }
  for (auto& layer : layers_)
    if (layer->type() == LayerType::Pooling && layer->kind() != LayerKind::Input)
      check_pooling(*layer);
  std::vector<MemoryItem> plan = weight_plan();
  for (MemoryItem& item : batch_plan(batch)) plan.push_back(std::move(item));
  check_fits(ctx_, plan, describe_for_memory(batch));
  build_weights();
  compute_order();
  identity_ = DeviceBuffer<uint32_t>(ctx_, 0, "example_order_stored");
  order_ = DeviceBuffer<uint32_t>(ctx_, 0, "example_order_shuffled");
  attach(data);
  set_batch(batch);
}

Network::~Network() = default;

void Network::build_weights() {
  for (auto& layer : layers_) {
    // Pooling layers combine their sources without weights.
    if (layer->kind() == LayerKind::Input || layer->type() == LayerType::Pooling) continue;
    if (layer->type() == LayerType::Convolutional) {
      for (Layer* source : layer->sources_) {
        const ConvGeometry g = conv_geometry(layer->descriptor(), source->descriptor());
        weights_.push_back(
            std::make_unique<Weight>(*source, *layer, int(weights_.size()), ctx_, g));
        layer->incoming_.push_back(weights_.back().get());
      }
      continue;
    }
    for (Layer* source : layer->sources_) {
      const WeightSplit split = choose_split(source->stride(), layer->stride(),
                                             !source->sharded() || !layer->sharded(),
                                             ctx_.comm().size());
      weights_.push_back(
          std::make_unique<Weight>(*source, *layer, int(weights_.size()), ctx_, split));
      layer->incoming_.push_back(weights_.back().get());
    }
  }
  // Shared weights are resolved after all weights exist: an owner may come later in the file.
  for (auto& layer : layers_) {
    for (const SharedWeightDescriptor& s : layer->desc_.shared_weights) {
      Weight& sharer = weight(s.input_layer, layer->name());
      DSSTNE_EXPECTS_T(NotSupported, !sharer.convolutional(), "not supported yet: layer '",
                       layer->name(), "' shares the filters of a convolution");
      for (const std::string* n : {&s.input_layer, &layer->name(), &s.source_input_layer,
                                   &s.source_output_layer}) {
        const Layer& l = this->layer(*n);
        DSSTNE_EXPECTS_T(NotSupported, !l.replicated() || l.kind() == LayerKind::Input,
                         "not supported yet: layer '", layer->name(), "' shares weights ",
                         s.source_input_layer, "->", s.source_output_layer, " and layer '",
                         l.name(), "' is ", replication_reason(l), ", which the ",
                         ctx_.comm().size(), " ranks replicate");
      }
      Weight* owner = nullptr;
      for (auto& w : weights_) {
        const bool same = w->input().name() == s.source_input_layer &&
                          w->output().name() == s.source_output_layer;
        const bool swapped = w->input().name() == s.source_output_layer &&
                             w->output().name() == s.source_input_layer;
        if ((same || swapped) && !w->shared() && w.get() != &sharer) owner = w.get();
      }
      DSSTNE_EXPECTS(owner != nullptr, "layer '", layer->name(), "': SharedWeights source ",
                     s.source_input_layer, "->", s.source_output_layer,
                     " is not an unshared weight of this network");
      if (s.transposed) {
        DSSTNE_EXPECTS(owner->n_in() == sharer.n_out() && owner->n_out() == sharer.n_in(),
                       "layer '", layer->name(), "': transposed shared weight ",
                       owner->input().name(), "->", owner->output().name(), " is ",
                       owner->n_in(), " x ", owner->n_out(), ", needs ", sharer.n_out(), " x ",
                       sharer.n_in());
      } else {
        DSSTNE_EXPECTS(owner->n_in() == sharer.n_in() && owner->n_out() == sharer.n_out(),
                       "layer '", layer->name(), "': shared weight ", owner->input().name(),
                       "->", owner->output().name(), " is ", owner->n_in(), " x ",
                       owner->n_out(), ", needs ", sharer.n_in(), " x ", sharer.n_out());
      }
      sharer.share(*owner, s.transposed);
      DSSTNE_EXPECTS_T(NotSupported, sharer.split() == WeightSplit::Columns || sharer.input().sharded(),
                       "not supported yet: layer '", layer->name(), "' shares ",
                       owner->input().name(), "->", owner->output().name(),
                       ", which the ranks split by input rows, from input layer '",
                       sharer.input().name(), "'");
    }
  }
  for (auto& w : weights_) {
    if (w->split() == WeightSplit::Columns && w->input().sharded()) w->input().needs_gather_ = true;
    if (w->split() == WeightSplit::Rows) w->output().has_row_inputs_ = true;
  }
  for (auto& w : weights_) {
    const LayerDescriptor& out = w->output().descriptor();
    const RandomStream rs{ctx_.seed(), make_stream(RandomPurpose::kInit, w->id(), 0)};
    if (w->convolutional()) {
      // The filter bank's own fans (docs/compatibility.md): in_channels · kernel volume in,
      // out_channels out. The draws are independent, so drawing them as a fan_in × fan_out
      // matrix fills the filters alike; each rank keeps its channels' (contiguous) filters, so
      // any number of ranks starts from one rank's bank.
      const int64_t fan_in = w->block().cols, fan_out = w->conv_geometry().out_channels;
      const MatrixBlock whole{0, fan_in, 0, fan_out};
      if (!w->channel_split()) {
        DSSTNE_DISPATCH(ctx_, init_weights, out.weight_init, out.weight_init_scale, rs, fan_in,
                        fan_out, whole, w->w_.data());
      } else if (!w->w_.empty()) {
        DeviceBuffer<float> bank(ctx_, std::size_t(fan_in * fan_out), "filter bank draw");
        DSSTNE_DISPATCH(ctx_, init_weights, out.weight_init, out.weight_init_scale, rs, fan_in,
                        fan_out, whole, bank.data());
        detail::copy_on_device(ctx_, w->w_.data(), bank.data() + w->block().row_begin * fan_in,
                               w->w_.size() * sizeof(float));
      }
    } else if (!w->shared()) {
      DSSTNE_DISPATCH(ctx_, init_weights, out.weight_init, out.weight_init_scale, rs, w->n_in(),
                      w->n_out(), w->block(), w->w_.data());
    }
    DSSTNE_DISPATCH(ctx_, fill, w->b_.data(), int64_t(w->b_.size()), out.bias_init);
  }
}

std::string Network::replication_reason(const Layer& layer) const {
  return layer.type() == LayerType::FullyConnected ? std::string("batch-normalized")
                                                    : to_string(layer.type());
}

void Network::check_replication(Layer& layer) {
  // On several ranks a layer is sharded (each rank computes its slice of the units) or
  // replicated (every rank computes all of them alike). A replicated layer that read a sharded
  // layer's slice would miss the other ranks' units; a fully-connected one gathers them (as a
  // sharded consumer does), a convolution or pooling window would need its neighbours'.
  const int ranks = ctx_.comm().size();
  if (ranks == 1 || layer.kind() == LayerKind::Input) return;
  const auto refuse_sharded = [&](const Layer& s, const char* how, const char* rule) {
    DSSTNE_FAIL(NotSupported, "not supported yet: layer '", layer.name(), "' is ",
                replication_reason(layer), " and ", how, " layer '", s.name(),
                "', whose units the ", ranks, " ranks divide; on several ranks ", rule,
                " only Input layers and Convolutional, Pooling or batch-normalized Hidden "
                "layers, which every rank holds whole");
  };
  if (layer.type() == LayerType::Convolutional) {
    // Each rank computes its slice of the output channels, whose filters it holds, and the
    // ranks gather the maps (network_spatial.cpp); the sources' gradients are partial sums.
    const MapShape m = map_shape(layer.descriptor(), layer.descriptor().kernel_dimensions);
    layer.channel_split_ = true;
    layer.split_units_ = ctx_.comm().slice(m.channels).size() * m.spatial();
    for (Layer* s : layer.sources_)
      if (s->kind() != LayerKind::Input) s->takes_partials_ = true;
  }
  for (Layer* s : layer.sources_) {
    if (layer.replicated() && layer.type() != LayerType::FullyConnected && s->sharded())
      refuse_sharded(*s, "reads", "a Convolutional or Pooling layer reads");
    // A sharded consumer's gradient for a replicated source covers only its own units' terms.
    if (layer.sharded() && s->replicated() && s->kind() != LayerKind::Input)
      s->takes_partials_ = true;
  }
  for (Layer* s : layer.skips_) {
    if (layer.replicated() && s->sharded())
      refuse_sharded(*s, "skips from", "a replicated layer skips from");
    if (layer.sharded() && s->replicated() && s->kind() != LayerKind::Input)
      s->takes_partials_ = true;
  }
}

void Network::compute_order() {
  // Kahn's algorithm over source and skip edges; ties go to file order, so the order (and with
  // it every floating-point sum) is the same on every run.
  const std::size_t n = layers_.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (auto& layer : layers_) {
    for (Layer* s : layer->sources_) consumers[s->id()].push_back(layer->id());
    for (Layer* s : layer->skips_) consumers[s->id()].push_back(layer->id());
    pending[layer->id()] = int(layer->sources_.size() + layer->skips_.size());
  }
  std::vector<int> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push_back(int(i));
  forward_order_.clear();
  while (!ready.empty()) {
    const auto first = std::min_element(ready.begin(), ready.end());
    const int id = *first;
    ready.erase(first);
    forward_order_.push_back(layers_[id].get());
    for (int c : consumers[id])
      if (--pending[c] == 0) ready.push_back(c);
  }
  DSSTNE_EXPECTS(forward_order_.size() == n, "the layers' Source/Skip connections form a cycle");
}

Layer& Network::layer(const std::string& name) const {
  const auto it = by_name_.find(name);
  DSSTNE_EXPECTS(it != by_name_.end(), "no layer named '", name, "' in network '", desc_.name,
                 "'");
  return *it->second;
}

Weight& Network::weight(const std::string& input, const std::string& output) const {
  for (const auto& w : weights_)
    if (w->input().name() == input && w->output().name() == output) return *w;
  DSSTNE_FAIL(InvalidArgument, "no weight from layer '", input, "' to layer '", output,
              "' in network '", desc_.name, "'");
}

std::vector<Layer*> Network::layers_of_kind(LayerKind kind) const {
  std::vector<Layer*> out;
  for (const auto& l : layers_)
    if (l->kind() == kind) out.push_back(l.get());
  return out;
}

void Network::set_batch(int64_t batch) {
  DSSTNE_EXPECTS(batch >= 1, "batch size must be >= 1, got ", batch);
  check_fits(ctx_, batch_plan(batch), describe_for_memory(batch));
  try {
    for (auto& l : layers_) l->allocate(batch);
  } catch (...) {
    // Buffers only grow, so going back to the old batch allocates nothing and cannot fail.
    for (auto& l : layers_) l->allocate(batch_);
    throw;
  }
  batch_ = batch;
}

void Network::check_binding(const Layer& layer, const DataSet& data) const {
  DSSTNE_EXPECTS(data.context().same_device(ctx_), "data set '", data.name(), "' lives on ",
                 data.context().device_string(), " but network '", desc_.name, "' runs on ",
                 ctx_.device_string(), "; copy it with DataSet::to(context)");
  DSSTNE_EXPECTS(layer.kind() == LayerKind::Input || layer.kind() == LayerKind::Output, "layer '",
                 layer.name(), "' is not an Input or Output layer; data set '", data.name(),
                 "' cannot be bound to it");
  const auto& n = layer.descriptor().n;
  const Dims& d = data.dims();
  DSSTNE_EXPECTS(data.stride() == uint64_t(layer.stride()), "data set '", data.name(), "' has ",
                 data.stride(), " units per example (", d.width, "x", d.height, "x", d.length,
                 ") but layer '", layer.name(), "' has ", layer.stride(), " (N = ", n[0], "x",
                 n[1], "x", n[2], "x", n[3], ")");
  // Stored as double, a value can be finite and still beyond the float32 the engine computes in.
  DSSTNE_EXPECTS(std::isfinite(data.value_min()) && std::isfinite(data.value_max()), "data set '",
                 data.name(), "' holds values beyond the float32 range the engine computes in (",
                 data.value_min(), " to ", data.value_max(), "); layer '", layer.name(),
                 "' cannot use it");
  if (layer.kind() == LayerKind::Input) {
    // As in DSSTNE the data decide whether an input is sparse, so dense data of the layer's
    // declared size are fine; but a layer declared sparse and sized by dense data ("N": "auto")
    // has taken its width from data that are not what it was declared for, e.g. a table of
    // (example, unit) pairs.
    DSSTNE_EXPECTS(data.sparse() || !layer.descriptor().sparse || !layer.sized_by_data_,
                   "input layer '", layer.name(), "' is declared \"Sparse\": true with \"N\": "
                   "\"auto\" but data set '", data.name(), "' is dense (", data.records(), " x ",
                   data.stride(), "), so the layer would get ", data.stride(),
                   " units; pass sparse data (examples x units, e.g. a scipy.sparse matrix built "
                   "from (example, unit) pairs), or give the layer its N");
    return;
  }
  const ErrorFunction f = desc_.error_function;
  if (f == ErrorFunction::DataScaledMarginalCrossEntropy) {
    DSSTNE_EXPECTS(data.sparse(), "layer '", layer.name(),
                   "': DataScaledMarginalCrossEntropy needs sparse targets, data set '",
                   data.name(), "' is dense");
  }
  // The cross-entropies are logs of probabilities: a target outside their range makes the error
  // negative and training meaningless.
  const bool cross_entropy = f == ErrorFunction::CrossEntropy ||
                             f == ErrorFunction::ScaledMarginalCrossEntropy ||
                             f == ErrorFunction::DataScaledMarginalCrossEntropy;
  if (!cross_entropy) return;
  const bool unbounded = f == ErrorFunction::DataScaledMarginalCrossEntropy ||
                         layer.descriptor().activation == Activation::SoftMax;
  const bool ok = data.value_min() >= 0.0f && (unbounded || data.value_max() <= 1.0f);
  DSSTNE_EXPECTS(ok, "layer '", layer.name(), "': ", to_string(f), " needs targets in [0, ",
                 unbounded ? "inf" : "1", "] but data set '", data.name(), "' holds values from ",
                 data.value_min(), " to ", data.value_max(),
                 "; scale the targets or choose the L2 error function");
}

int64_t Network::check_bindings(const Bindings& bindings, bool exclusive) const {
  std::map<std::string, const DataSet*> result;
  if (!exclusive)
    for (const auto& l : layers_)
      if (l->data_) result[l->name()] = l->data_.get();
  for (const auto& [name, data] : bindings) {
    DSSTNE_EXPECTS(data != nullptr, "bind: no data set given for layer '", name, "'");
    check_binding(layer(name), *data);
    result[name] = data.get();
  }
  const DataSet* first = nullptr;
  std::string first_layer;
  for (const Layer* l : forward_order_) {
    const auto it = result.find(l->name());
    if (it == result.end()) continue;
    if (first == nullptr) {
      first = it->second;
      first_layer = l->name();
      continue;
    }
    DSSTNE_EXPECTS(it->second->examples() == first->examples(), "data set '",
                   it->second->name(), "' (layer '", l->name(), "') has ",
                   it->second->examples(), " examples but data set '", first->name(),
                   "' (layer '", first_layer, "') has ", first->examples());
  }
  return first ? first->examples() : 0;
}

void Network::attach(const std::vector<DataSetPtr>& data) {
  Bindings bindings;
  for (const DataSetPtr& d : data) {
    DSSTNE_EXPECTS(d != nullptr, "attach: a data set is missing (null)");
    bool used = false;
    for (const auto& l : layers_) {
      if ((l->kind() == LayerKind::Input || l->kind() == LayerKind::Output) &&
          l->descriptor().data_set == d->name()) {
        bindings.emplace_back(l->name(), d);
        used = true;
      }
    }
    DSSTNE_EXPECTS(used, "data set '", d->name(), "' matches no layer's DataSet in network '",
                   desc_.name, "'");
  }
  bind(bindings);
}

void Network::bind(const Bindings& bindings, bool exclusive) {
  const int64_t examples = check_bindings(bindings, exclusive);
  // The example orders first: if they cannot be allocated the bindings stay as they were (the
  // grown identity order still starts with the old one).
  std::vector<uint32_t> identity(examples);
  std::iota(identity.begin(), identity.end(), 0u);
  identity_.upload(identity);
  order_.upload(identity);
  identity_host_ = identity;
  order_host_ = std::move(identity);
  if (exclusive)
    for (auto& l : layers_) l->data_.reset();
  for (const auto& [name, data] : bindings) layer(name).data_ = data;
  examples_ = examples;
}

Bindings Network::bindings() const {
  Bindings out;
  for (const auto& l : layers_)
    if (l->data_) out.emplace_back(l->name(), l->data_);
  return out;
}

void Network::require_data(bool need_outputs) const {
  for (const auto& l : layers_) {
    if (l->kind() == LayerKind::Input)
      DSSTNE_EXPECTS(l->data_ != nullptr, "input layer '", l->name(), "' has no data (DataSet '",
                     l->descriptor().data_set, "')");
    if (need_outputs && l->kind() == LayerKind::Output)
      DSSTNE_EXPECTS(l->data_ != nullptr, "output layer '", l->name(), "' has no data (DataSet '",
                     l->descriptor().data_set, "')");
  }
  DSSTNE_EXPECTS(examples_ > 0, "network '", desc_.name, "' has no examples to run");
}

}  // namespace dsstne
