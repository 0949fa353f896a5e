// SPDX-License-Identifier: Apache-2.0
/// @file config_geometry.cpp
/// @brief Sizes of Hidden Convolutional and Pooling layers, derived from their sources
/// (spec/formats.md §1.9).

#include <map>
#include <string>

#include "config_json.hpp"

namespace dsstne::config_detail {
namespace {

bool is_dot_or_cosine(const LayerDescriptor& l) {
  return l.type == LayerType::Pooling &&
         (l.pooling == PoolingFunction::DotProduct || l.pooling == PoolingFunction::Cosine);
}

/// Only Hidden conv/pooling layers are derived; dot-product and cosine layers were sized by the
/// parser (DSSTNE never marked them done, so a layer reading one hung its loop: §8.18).
bool is_derived(const LayerDescriptor& l) {
  return l.kind == LayerKind::Hidden &&
         (l.type == LayerType::Convolutional || l.type == LayerType::Pooling) &&
         !is_dot_or_cosine(l);
}

/// Output extent of one axis: 1 when the kernel covers the input, unchanged for stride 1
/// ("same" convolution), else the number of whole kernel positions.
uint32_t out_size(uint32_t w, uint32_t k, uint32_t s) {
  if (w <= k) return 1;
  if (s == 1) return w;
  return (w - k) / s + 1;
}

uint32_t padding(uint32_t w, uint32_t k, uint32_t s) {
  if (w < k) return (k - w + 1) / 2;
  return s == 1 ? k / 2 : 0;
}

void derive_layer(LayerDescriptor& l, const std::vector<const LayerDescriptor*>& sources) {
  for (int a = 0; a < 3; ++a)
    DSSTNE_EXPECTS(l.kernel_stride[a] != 0, "KernelStride of layer '", l.name,
                   "' has a zero entry");
  DSSTNE_EXPECTS(l.kernel_dimensions >= 1 && l.kernel_dimensions <= 3, "layer '", l.name,
                 "' has ", l.kernel_dimensions, " kernel dimensions; 1 to 3 are supported");
  const bool lrn = l.type == LayerType::Pooling && l.pooling == PoolingFunction::LRN;
  std::array<uint32_t, 4> n = {1, 1, 1, 1};
  uint32_t dims = 1;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const LayerDescriptor& s = *sources[i];
    std::array<uint32_t, 4> m = s.n;  // LRN keeps its source's shape
    if (!lrn) {
      for (int a = 0; a < 3; ++a) m[a] = out_size(s.n[a], l.kernel[a], l.kernel_stride[a]);
    }
    DSSTNE_EXPECTS(i == 0 || (m[0] == n[0] && m[1] == n[1] && m[2] == n[2]), "layer '", l.name,
                   "': source '", s.name, "' gives size ", m[0], "x", m[1], "x", m[2],
                   " but source '", sources[0]->name, "' gives ", n[0], "x", n[1], "x", n[2]);
    n = m;
    dims = s.dimensions;
    // The last source decides the padding, as in DSSTNE.
    for (uint32_t a = 0; a < l.kernel_dimensions; ++a)
      l.kernel_padding[a] = padding(s.n[a], l.kernel[a], l.kernel_stride[a]);
  }
  if (l.type == LayerType::Convolutional) {
    // The JSON N is the number of feature maps, placed on the axis after the kernel's. An N
    // with that many axes was derived already (a second pass once "auto" sizes are known, or a
    // model file's stored sizes): its maps are on that axis.
    const uint32_t maps = l.dimensions == l.kernel_dimensions + 1 ? l.n[l.kernel_dimensions]
                                                                  : l.n[0];
    l.n = {n[0], 1, 1, 1};
    if (l.kernel_dimensions >= 2) l.n[1] = n[1];
    if (l.kernel_dimensions >= 3) l.n[2] = n[2];
    l.n[l.kernel_dimensions] = maps;
    l.dimensions = l.kernel_dimensions + 1;
  } else {
    l.n = n;
    l.dimensions = dims;
  }
}

}  // namespace

std::vector<std::string> derive_geometry(NetworkDescriptor& desc, bool strict) {
  std::vector<LayerDescriptor>& layers = desc.layers;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < layers.size(); ++i) index.emplace(layers[i].name, i);

  // A layer is "known" once its size is final. Before "auto" sizes are resolved (not strict),
  // auto-sized layers are never known, so nothing derived from them is computed too early.
  std::vector<char> known(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i)
    known[i] = !is_derived(layers[i]) && (strict || !layers[i].n_auto);

  // Each pass derives at least one layer or stops, so this ends after at most N passes even
  // when sources are missing or form a cycle.
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (known[i] || !is_derived(layers[i]) || layers[i].sources.empty()) continue;
      std::vector<const LayerDescriptor*> sources;
      for (const std::string& s : layers[i].sources) {
        auto it = index.find(s);
        if (it == index.end() || !known[it->second]) break;
        sources.push_back(&layers[it->second]);
      }
      if (sources.size() != layers[i].sources.size()) continue;
      derive_layer(layers[i], sources);
      known[i] = 1;
      progress = true;
    }
  }

  std::vector<std::string> pending;
  std::string names;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!is_derived(layers[i]) || known[i]) continue;
    pending.push_back(layers[i].name);
    names += (names.empty() ? "'" : ", '") + layers[i].name + "'";
  }
  DSSTNE_EXPECTS(!strict || pending.empty(), "cannot derive the size of layer(s) ", names,
                 ": a source is missing, unsized, or on a cycle");
  return pending;
}

}  // namespace dsstne::config_detail
