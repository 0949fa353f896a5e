// SPDX-License-Identifier: Apache-2.0
/// @file config_validate.cpp
/// @brief Structural checks of a NetworkDescriptor (spec/formats.md §1.11), whether it came from
/// JSON, a model file or user code. DSSTNE crashed on several of these; we name the culprit.

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "config_json.hpp"
#include "dsstne/config.hpp"

namespace dsstne {
namespace config_detail {
namespace {

/// The edges of the propagation graph: a layer reads its sources and its skips.
std::vector<std::string> inputs_of(const LayerDescriptor& l) {
  std::vector<std::string> in = l.sources;
  in.insert(in.end(), l.skips.begin(), l.skips.end());
  return in;
}

/// Depth-first search over source/skip edges; throws naming the layers of the first cycle.
void check_acyclic(const NetworkDescriptor& desc, const std::map<std::string, std::size_t>& index) {
  const std::size_t n = desc.layers.size();
  std::vector<std::vector<std::size_t>> edges(n);
  for (std::size_t i = 0; i < n; ++i)
    for (const std::string& s : inputs_of(desc.layers[i])) edges[i].push_back(index.at(s));

  enum : char { kUnseen, kOnPath, kDone };
  std::vector<char> state(n, kUnseen);
  for (std::size_t root = 0; root < n; ++root) {
    if (state[root] != kUnseen) continue;
    std::vector<std::pair<std::size_t, std::size_t>> path = {{root, 0}};  // (layer, next edge)
    state[root] = kOnPath;
    while (!path.empty()) {
      auto& [node, next] = path.back();
      if (next == edges[node].size()) {
        state[node] = kDone;
        path.pop_back();
        continue;
      }
      const std::size_t to = edges[node][next++];
      if (state[to] == kOnPath) {
        std::string cycle;
        auto first = std::find_if(path.begin(), path.end(), [&](auto& p) { return p.first == to; });
        for (auto it = first; it != path.end(); ++it)
          cycle += "'" + desc.layers[it->first].name + "' reads ";
        cycle += "'" + desc.layers[to].name + "'";
        DSSTNE_FAIL(InvalidArgument, "layer '", desc.layers[to].name,
                    "' is on a cycle of Source/Skip links: ", cycle);
      }
      if (state[to] == kUnseen) {
        state[to] = kOnPath;
        path.push_back({to, 0});
      }
    }
  }
}

void check_shared_weights(const LayerDescriptor& l,
                          const std::map<std::string, std::size_t>& index) {
  for (std::size_t i = 0; i < l.shared_weights.size(); ++i) {
    const SharedWeightDescriptor& sw = l.shared_weights[i];
    const std::string entry = detail::concat("SharedWeights entry ", i, " of layer '", l.name, "'");
    DSSTNE_EXPECTS(std::find(l.sources.begin(), l.sources.end(), sw.input_layer) != l.sources.end(),
                   entry, " has InputLayer '", sw.input_layer,
                   "', which is not one of the layer's sources");
    for (std::size_t j = 0; j < i; ++j)
      DSSTNE_EXPECTS(l.shared_weights[j].input_layer != sw.input_layer, entry,
                     " shares the weights of source '", sw.input_layer, "' a second time");
    DSSTNE_EXPECTS(!sw.source_input_layer.empty(), entry, " has no SourceInputLayer");
    DSSTNE_EXPECTS(!sw.source_output_layer.empty(), entry, " has no SourceOutputLayer");
    DSSTNE_EXPECTS(index.count(sw.source_input_layer) != 0, entry, " names SourceInputLayer '",
                   sw.source_input_layer, "', which is not a layer of the network");
    DSSTNE_EXPECTS(index.count(sw.source_output_layer) != 0, entry, " names SourceOutputLayer '",
                   sw.source_output_layer, "', which is not a layer of the network");
  }
}

}  // namespace

void validate_structure(const NetworkDescriptor& desc) {
  DSSTNE_EXPECTS(!desc.layers.empty(), "network '", desc.name, "' has no layers");
  validate_parameters(desc);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < desc.layers.size(); ++i) {
    const std::string& name = desc.layers[i].name;
    DSSTNE_EXPECTS(!name.empty(), "layer ", i, " has an empty name");
    const auto [it, inserted] = index.emplace(name, i);
    DSSTNE_EXPECTS(inserted, "duplicate layer name '", name, "' (layers ", it->second, " and ", i,
                   ")");
  }

  for (const LayerDescriptor& l : desc.layers) {
    const std::string kind = to_string(l.kind);
    if (l.kind == LayerKind::Input) {
      DSSTNE_EXPECTS(l.sources.empty() && l.skips.empty(), "Input layer '", l.name,
                     "' cannot have a Source or Skip");
    } else {
      DSSTNE_EXPECTS(!l.sources.empty() || !l.skips.empty(), kind, " layer '", l.name,
                     "' has no Source (only a layer with a layer before it gets a default one)");
    }
    for (const std::string& s : l.sources)
      DSSTNE_EXPECTS(index.count(s) != 0, "layer '", l.name, "' names Source '", s,
                     "', which is not a layer of the network");
    for (const std::string& s : l.skips)
      DSSTNE_EXPECTS(index.count(s) != 0, "layer '", l.name, "' names Skip '", s,
                     "', which is not a layer of the network");
    if (l.type == LayerType::FullyConnected)
      DSSTNE_EXPECTS(l.sources.size() <= 4, "FullyConnected layer '", l.name, "' has ",
                     l.sources.size(), " sources; at most 4 are supported");
    if (l.type == LayerType::Pooling &&
        (l.pooling == PoolingFunction::DotProduct || l.pooling == PoolingFunction::Cosine))
      DSSTNE_EXPECTS(l.sources.size() >= 2, to_string(l.pooling), " layer '", l.name,
                     "' needs at least 2 sources, has ", l.sources.size());
    DSSTNE_EXPECTS(l.n_auto || l.stride() != 0, kind, " layer '", l.name,
                   "' has 0 units (N = ", l.n[0], "x", l.n[1], "x", l.n[2], "x", l.n[3], ")");
    // Pooling layers own no weights, so DSSTNE ignored their SharedWeights.
    if (l.type != LayerType::Pooling) check_shared_weights(l, index);
  }
  check_acyclic(desc, index);
}

}  // namespace config_detail

void validate(const NetworkDescriptor& desc) {
  config_detail::validate_structure(desc);
  for (const LayerDescriptor& l : desc.layers) {
    if (l.type == LayerType::Pooling && l.kind != LayerKind::Input) {
      const PoolingFunction f = l.pooling;
      DSSTNE_EXPECTS_T(NotSupported, f != PoolingFunction::Stochastic &&
                       f != PoolingFunction::LCN && f != PoolingFunction::GlobalTemporal,
                       "pooling layer '", l.name, "': Function ", to_string(f), " is named by ",
                       "DSSTNE's enumeration but was never implemented there; use Max, Average, "
                       "LRN, Maxout, DotProduct or Cosine");
      DSSTNE_EXPECTS(f != PoolingFunction::None, "pooling layer '", l.name,
                     "' has no Function (Max, Average, LRN, Maxout, DotProduct or Cosine)");
      const bool spatial = f == PoolingFunction::Max || f == PoolingFunction::Average ||
                           f == PoolingFunction::LRN;
      DSSTNE_EXPECTS(!spatial || l.sources.size() == 1, to_string(f), " pooling layer '", l.name,
                     "' needs exactly one source, has ", l.sources.size());
      DSSTNE_EXPECTS(!l.batch_normalization, "pooling layer '", l.name, "' cannot have ",
                     "BatchNormalization (it has no weighted sums to normalize)");
    }
    // DSSTNE never normalized an output layer's z (its gradient went nowhere).
    DSSTNE_EXPECTS(!l.batch_normalization || l.kind == LayerKind::Hidden, to_string(l.kind),
                   " layer '", l.name, "': BatchNormalization is for Hidden layers");
  }
}

}  // namespace dsstne
