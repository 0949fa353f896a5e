// SPDX-License-Identifier: Apache-2.0
// NetworkDescriptor → DSSTNE's JSON language. The text parses back (parse_network_json) into an
// equal descriptor, so a network's description can travel in files and between processes.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "dsstne/config.hpp"
#include "dsstne/error.hpp"
#include "dsstne/enums.hpp"

namespace dsstne {
namespace {

using Json = nlohmann::ordered_json;

std::string kind_name(NetworkKind k) { return k == NetworkKind::AutoEncoder ? "AutoEncoder" : "FeedForward"; }

std::string pooling_name(PoolingFunction f) {
  switch (f) {
    case PoolingFunction::Max: return "Max";
    case PoolingFunction::Average: return "Average";
    case PoolingFunction::LRN: return "LRN";
    case PoolingFunction::Maxout: return "Maxout";
    case PoolingFunction::DotProduct: return "DotProduct";
    case PoolingFunction::Cosine: return "Cosine";
    default: DSSTNE_FAIL(InvalidArgument, "pooling function ", uint32_t(f), " has no JSON spelling");
  }
}

Json layer_json(const LayerDescriptor& l) {
  const bool input = l.kind == LayerKind::Input;
  const bool hidden = l.kind == LayerKind::Hidden;
  const bool output = l.kind == LayerKind::Output;
  const bool computed = hidden || output;  // the kinds that accept activation and weight keys
  Json j;
  j["Name"] = l.name;
  j["Kind"] = to_string(l.kind);
  j["Type"] = to_string(l.type);
  if (l.type == LayerType::Pooling && l.pooling != PoolingFunction::None && !input &&
      l.kind != LayerKind::Target)
    j["Function"] = pooling_name(l.pooling);
  if (!l.data_set.empty() && (input || output)) j["DataSet"] = l.data_set;
  Json n = Json::array();
  for (uint32_t d = 0; d < std::max<uint32_t>(l.dimensions, 1); ++d) n.push_back(l.n[d]);
  j["N"] = l.dimensions <= 1 ? Json(l.n[0]) : n;
  if (l.n_auto) j["N"] = "auto";  // still to be sized by its data set
  // A hidden convolution's N is its number of maps; parsing derives the rest from the sources.
  // (Until derived, e.g. behind an "auto" input, N still holds the maps alone.)
  const uint32_t maps_axis = std::min(l.kernel_dimensions, 3u);
  if (hidden && l.type == LayerType::Convolutional)
    j["N"] = l.dimensions == maps_axis + 1 ? l.n[maps_axis] : l.n[0];
  if (l.sparse) j["Sparse"] = true;
  j["pDropout"] = l.p_dropout;
  if (!input) {
    j["Source"] = l.sources;
    if (l.kernel_dimensions > 1 || l.kernel != std::array<uint32_t, 3>{1, 1, 1}) {
      j["Kernel"] = Json::array({l.kernel[0], l.kernel[1], l.kernel[2]});
      j["Kernel"].get_ref<Json::array_t&>().resize(l.kernel_dimensions);
      j["KernelStride"] = Json::array({l.kernel_stride[0], l.kernel_stride[1], l.kernel_stride[2]});
      j["KernelStride"].get_ref<Json::array_t&>().resize(l.kernel_dimensions);
    }
  }
  if (computed) {
    if (!l.skips.empty()) j["Skip"] = l.skips;
    j["Activation"] = to_string(l.activation);
    j["RELUSlope"] = l.relu_slope;
    j["ELUAlpha"] = l.elu_alpha;
    j["SELULambda"] = l.selu_lambda;
    j["WeightNorm"] = l.weight_norm;
    j["DeltaNorm"] = l.delta_norm;
    j["WeightInit"] = {{"Scheme", to_string(l.weight_init)},
                       {"Scale", l.weight_init_scale},
                       {"Bias", l.bias_init}};
    if (!l.shared_weights.empty()) {
      Json shared = Json::array();
      for (const SharedWeightDescriptor& s : l.shared_weights)
        shared.push_back({{"InputLayer", s.input_layer},
                          {"SourceInputLayer", s.source_input_layer},
                          {"SourceOutputLayer", s.source_output_layer},
                          {"Transposed", s.transposed}});
      j["SharedWeights"] = shared;
    }
  }
  if (hidden) {
    if (l.batch_normalization) j["BatchNormalization"] = true;
    if (l.sparseness_penalty_p > 0 || l.sparseness_penalty_beta > 0)
      j["SparsenessPenalty"] = {{"p", l.sparseness_penalty_p}, {"beta", l.sparseness_penalty_beta}};
  }
  return j;
}

}  // namespace

std::string to_json(const NetworkDescriptor& d) {
  Json j;
  j["Version"] = 0.9;
  j["Name"] = d.name;
  j["Kind"] = kind_name(d.kind);
  if (!d.weights_data.empty()) j["WeightsData"] = d.weights_data;
  j["ErrorFunction"] = to_string(d.error_function);
  j["ShuffleIndices"] = d.shuffle_indices;
  j["RELUSlope"] = d.relu_slope;
  j["ELUAlpha"] = d.elu_alpha;
  j["SELULambda"] = d.selu_lambda;
  j["Decay"] = d.decay;
  j["LRN"] = {{"k", d.lrn_k}, {"n", d.lrn_n}, {"alpha", d.lrn_alpha}, {"beta", d.lrn_beta}};
  j["Maxout"] = {{"k", d.maxout_k}};
  j["SparsenessPenalty"] = {{"p", d.sparseness_penalty_p}, {"beta", d.sparseness_penalty_beta}};
  j["Denoising"] = {{"p", d.denoising_p}};
  j["DeltaBoost"] = {{"one", d.delta_boost_one}, {"zero", d.delta_boost_zero}};
  j["ScaledMarginalCrossEntropy"] = {{"oneTarget", d.smce.one_target},
                                     {"zeroTarget", d.smce.zero_target},
                                     {"oneScale", d.smce.one_scale},
                                     {"zeroScale", d.smce.zero_scale}};
  Json layers = Json::array();
  for (const LayerDescriptor& l : d.layers) layers.push_back(layer_json(l));
  j["Layers"] = layers;
  return j.dump(2);
}

}  // namespace dsstne
