// SPDX-License-Identifier: Apache-2.0
/// @file config_layer.cpp
/// @brief One element of the JSON `Layers` list → LayerDescriptor (spec/formats.md §1.4-1.9).

#include <string>

#include "config_json.hpp"

namespace dsstne::config_detail {
namespace {

constexpr unsigned kIn = 1u << unsigned(LayerKind::Input);
constexpr unsigned kHid = 1u << unsigned(LayerKind::Hidden);
constexpr unsigned kOut = 1u << unsigned(LayerKind::Output);
constexpr unsigned kTgt = 1u << unsigned(LayerKind::Target);
constexpr unsigned kAll = kIn | kHid | kOut | kTgt;

/// A layer key and the layer kinds that accept it (spec §1.5); any other key, or a key on a
/// kind that does not accept it, is an unknown key, as in DSSTNE.
struct LayerKey {
  const char* display;
  unsigned kinds;
  bool pooling_only;
};
constexpr LayerKey kLayerKeys[] = {
    {"Kind", kAll, false},          {"Type", kAll, false},
    {"Name", kAll, false},          {"Sparse", kAll, false},
    {"N", kAll, false},             {"pDropout", kAll, false},
    {"Source", kHid | kOut | kTgt, false}, {"Kernel", kHid | kOut | kTgt, false},
    {"KernelStride", kHid | kOut | kTgt, false},
    {"BatchNormalization", kHid, false},   {"SparsenessPenalty", kHid, false},
    {"Function", kHid | kOut, true},       {"Skip", kHid | kOut, false},
    {"Activation", kHid | kOut, false},    {"RELUSlope", kHid | kOut, false},
    {"Slope", kHid | kOut, false},         {"ELUAlpha", kHid | kOut, false},
    {"SELULambda", kHid | kOut, false},    {"WeightNorm", kHid | kOut, false},
    {"DeltaNorm", kHid | kOut, false},     {"WeightInit", kHid | kOut, false},
    {"SharedWeights", kHid | kOut, false}, {"DataSet", kIn | kOut, false},
};

bool accepts(const LayerKey& k, LayerKind kind, LayerType type) {
  return (k.kinds & (1u << unsigned(kind))) != 0 && (!k.pooling_only || type == LayerType::Pooling);
}

/// Throws for a key the layer's kind/type does not accept, listing the keys it does accept.
void check_accepted(const std::string& key, const LayerDescriptor& l) {
  const std::string lkey = lower(key);
  std::string accepted;
  for (const LayerKey& k : kLayerKeys) {
    if (!accepts(k, l.kind, l.type)) continue;
    if (lkey == lower(k.display)) return;
    accepted += (accepted.empty() ? "" : ", ") + std::string(k.display);
  }
  const char* hint = lkey == "function" && l.type != LayerType::Pooling
                         ? "; Function needs \"Type\": \"Pooling\""
                         : "";
  DSSTNE_FAIL(InvalidArgument, "unknown key '", key, "' in layer '", l.name, "' (keys of ",
              to_string(l.kind), " layers of type ", to_string(l.type), ": ", accepted, hint,
              ")");
}

constexpr Spelling<LayerKind> kKinds[] = {{"input", LayerKind::Input},
                                          {"hidden", LayerKind::Hidden},
                                          {"output", LayerKind::Output},
                                          {"target", LayerKind::Target}};
constexpr Spelling<LayerType> kTypes[] = {{"fullyconnected", LayerType::FullyConnected},
                                          {"convolutional", LayerType::Convolutional},
                                          {"pooling", LayerType::Pooling}};
constexpr Spelling<Activation> kActivations[] = {
    {"sigmoid", Activation::Sigmoid},
    {"tanh", Activation::Tanh},
    {"linear", Activation::Linear},
    {"relu", Activation::RectifiedLinear},
    {"rectifiedlinear", Activation::RectifiedLinear},
    {"lrelu", Activation::LeakyRectifiedLinear},
    {"leakyrectifiedlinear", Activation::LeakyRectifiedLinear},
    {"elu", Activation::ExponentialLinear},
    {"exponentiallinear", Activation::ExponentialLinear},
    {"selu", Activation::ScaledExponentialLinear},
    {"scaledexponentiallinear", Activation::ScaledExponentialLinear},
    {"softplus", Activation::SoftPlus},
    {"softsign", Activation::SoftSign},
    {"softmax", Activation::SoftMax},
    {"relumax", Activation::RELUMax},
    {"linearmax", Activation::LinearMax}};
constexpr Spelling<PoolingFunction> kPoolings[] = {
    {"max", PoolingFunction::Max},
    {"maxout", PoolingFunction::Maxout},
    {"dotproduct", PoolingFunction::DotProduct},
    {"cosine", PoolingFunction::Cosine},
    {"average", PoolingFunction::Average},
    {"lrn", PoolingFunction::LRN},
    {"localresponsenormalization", PoolingFunction::LRN}};
constexpr Spelling<WeightInit> kSchemes[] = {
    {"xavier", WeightInit::Xavier},     {"caffexavier", WeightInit::CaffeXavier},
    {"gaussian", WeightInit::Gaussian}, {"uniform", WeightInit::Uniform},
    {"unitball", WeightInit::UnitBall}, {"constant", WeightInit::Constant},
    {"selu", WeightInit::SELU}};

/// `N`: an integer, an array of 1-4 integers, or "auto" (spec §1.7).
void parse_n(const Json& v, const std::string& key, LayerDescriptor& l) {
  const std::string what = layer_key(key, l.name);
  if (v.is_string()) {
    // DSSTNE silently ignored any other string (leaving N = 1); we reject it.
    DSSTNE_EXPECTS(lower(v.get<std::string>()) == "auto", what,
                   " must be an integer, an array of 1 to 4 integers, or \"auto\", not \"",
                   v.get<std::string>(), "\"");
    DSSTNE_EXPECTS(l.kind != LayerKind::Hidden, what,
                   ": \"auto\" is not allowed on a Hidden layer (its size does not come from a "
                   "data set)");
    l.n_auto = true;
    return;
  }
  if (v.is_array()) {
    DSSTNE_EXPECTS(!v.empty() && v.size() <= 4, what, " must have 1 to 4 entries, not ",
                   v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      l.n[i] = get_uint(v[i], detail::concat("entry ", i, " of ", what));
    l.dimensions = uint32_t(v.size());
    return;
  }
  DSSTNE_EXPECTS(v.is_number(), what,
                 " must be an integer, an array of 1 to 4 integers, or \"auto\", not ",
                 v.type_name());
  l.n = {get_uint(v, what), 1, 1, 1};
  l.dimensions = 1;
}

/// `Kernel` / `KernelStride`: an integer X ⇒ (X,1,1), or an array of 1-3 integers.
void parse_kernel(const Json& v, const std::string& key, bool stride, LayerDescriptor& l) {
  const std::string what = layer_key(key, l.name);
  std::array<uint32_t, 3> xyz = {1, 1, 1};
  uint32_t dims = 1;
  if (v.is_array()) {
    DSSTNE_EXPECTS(!v.empty() && v.size() <= 3, what, " must have 1 to 3 entries, not ",
                   v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      xyz[i] = get_uint(v[i], detail::concat("entry ", i, " of ", what));
    dims = uint32_t(v.size());
  } else {
    xyz[0] = get_uint(v, what);
  }
  // Only Kernel decides the number of kernel dimensions.
  if (stride) {
    l.kernel_stride = xyz;
  } else {
    l.kernel = xyz;
    l.kernel_dimensions = dims;
  }
}

void parse_weight_init(const Json& v, const std::string& key, LayerDescriptor& l) {
  expect_object(v, layer_key(key, l.name));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string k = lower(it.key());
    const std::string what = detail::concat("key '", it.key(), "' of '", key, "' in layer '",
                                            l.name, "'");
    if (k == "scheme") {
      l.weight_init = get_enum(it.value(), what, kSchemes);
    } else if (k == "scale") {
      l.weight_init_scale = get_float(it.value(), what);
    } else if (k == "bias") {
      // DSSTNE's documented string form (random biases) never existed: Bias is a constant.
      l.bias_init = get_float(it.value(), what);
    } else {
      DSSTNE_FAIL(InvalidArgument, "unknown key '", it.key(), "' in '", key, "' of layer '",
                  l.name, "' (accepted: Scheme, Scale, Bias)");
    }
  }
}

void parse_layer_penalty(const Json& v, const std::string& key, LayerDescriptor& l) {
  expect_object(v, layer_key(key, l.name));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string k = lower(it.key());
    const std::string what = detail::concat("key '", it.key(), "' of '", key, "' in layer '",
                                            l.name, "'");
    if (k == "p") {
      l.sparseness_penalty_p = get_float(it.value(), what);
    } else if (k == "beta") {
      l.sparseness_penalty_beta = get_float(it.value(), what);
    } else {
      DSSTNE_FAIL(InvalidArgument, "unknown key '", it.key(), "' in '", key, "' of layer '",
                  l.name, "' (accepted: p, beta)");
    }
  }
}

/// `SharedWeights`: one object or an array of objects (spec §1.8).
void parse_shared_weights(const Json& v, const std::string& key, LayerDescriptor& l) {
  const std::string what = layer_key(key, l.name);
  DSSTNE_EXPECTS(v.is_object() || v.is_array(), what,
                 " must be an object or an array of objects, not ", v.type_name());
  const std::size_t count = v.is_array() ? v.size() : 1;
  for (std::size_t i = 0; i < count; ++i) {
    const Json& entry = v.is_array() ? v[i] : v;
    const std::string entry_what = v.is_array() ? detail::concat("entry ", i, " of ", what) : what;
    expect_object(entry, entry_what);
    SharedWeightDescriptor sw;
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      const std::string k = lower(it.key());
      const std::string kwhat = detail::concat("key '", it.key(), "' of ", entry_what);
      if (k == "inputlayer") {
        sw.input_layer = get_string(it.value(), kwhat);
      } else if (k == "sourceinputlayer") {
        sw.source_input_layer = get_string(it.value(), kwhat);
      } else if (k == "sourceoutputlayer") {
        sw.source_output_layer = get_string(it.value(), kwhat);
      } else if (k == "transposed") {
        sw.transposed = get_bool(it.value(), kwhat);
      } else {
        DSSTNE_FAIL(InvalidArgument, "unknown key '", it.key(), "' in ", entry_what,
                    " (accepted: InputLayer, SourceInputLayer, SourceOutputLayer, Transposed)");
      }
    }
    l.shared_weights.push_back(sw);
  }
}

std::string default_name(LayerKind kind, std::size_t position) {
  return detail::concat(to_string(kind), position);
}

/// Everything but Kind, Type and Name (read in the first pass).
void parse_layer_key(const std::string& key, const Json& v, LayerDescriptor& l) {
  const std::string k = lower(key);
  const std::string what = layer_key(key, l.name);
  if (k == "sparse") {
    // true sets the flag and false leaves it, as in DSSTNE (matters only for case-variant keys).
    if (get_bool(v, what)) l.sparse = true;
  } else if (k == "n") {
    parse_n(v, key, l);
  } else if (k == "pdropout") {
    l.p_dropout = get_float(v, what);
  } else if (k == "source") {
    l.sources = get_string_list(v, what);
  } else if (k == "kernel" || k == "kernelstride") {
    parse_kernel(v, key, k == "kernelstride", l);
  } else if (k == "batchnormalization") {
    if (get_bool(v, what)) l.batch_normalization = true;
  } else if (k == "sparsenesspenalty") {
    parse_layer_penalty(v, key, l);
  } else if (k == "function") {
    l.pooling = get_enum(v, what, kPoolings);
  } else if (k == "skip") {
    l.skips = get_string_list(v, what);
  } else if (k == "activation") {
    l.activation = get_enum(v, what, kActivations);
  } else if (k == "reluslope" || k == "slope") {
    l.relu_slope = get_float(v, what);
  } else if (k == "elualpha") {
    l.elu_alpha = get_float(v, what);
  } else if (k == "selulambda") {
    l.selu_lambda = get_float(v, what);
  } else if (k == "weightnorm") {
    l.weight_norm = get_float(v, what);
  } else if (k == "deltanorm") {
    l.delta_norm = get_float(v, what);
  } else if (k == "weightinit") {
    parse_weight_init(v, key, l);
  } else if (k == "sharedweights") {
    parse_shared_weights(v, key, l);
  } else if (k == "dataset") {
    l.data_set = get_string(v, what);
  }
}

}  // namespace

LayerDescriptor parse_layer(const Json& obj, std::size_t list_pos, std::size_t list_size,
                            const std::vector<LayerDescriptor>& earlier) {
  const std::size_t position = earlier.size();
  LayerDescriptor l;
  l.kind = list_pos == 0                ? LayerKind::Input
           : list_pos + 1 == list_size ? LayerKind::Output
                                        : LayerKind::Hidden;
  l.type = LayerType::FullyConnected;
  l.name = default_name(l.kind, position);
  DSSTNE_EXPECTS(obj.is_object(), "layer ", list_pos, " of 'Layers' must be a JSON object, not ",
                 obj.type_name());

  // The name first, so that every later message names the layer the user wrote.
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (lower(it.key()) == "name" && it.value().is_string())
      l.name = get_string(it.value(), detail::concat("key '", it.key(), "' of layer ", list_pos,
                                                     " of 'Layers'"));

  // Kind and Type decide which keys are accepted, whatever the key order.
  bool named = false;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string k = lower(it.key());
    const std::string what = layer_key(it.key(), l.name);
    if (k == "kind") l.kind = get_enum(it.value(), what, kKinds);
    if (k == "type") l.type = get_enum(it.value(), what, kTypes);
    if (k == "name") {
      l.name = get_string(it.value(), what);
      named = true;
    }
  }
  if (!named) l.name = default_name(l.kind, position);

  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string k = lower(it.key());
    if (k == "kind" || k == "type" || k == "name") continue;
    check_accepted(it.key(), l);
    try {
      parse_layer_key(it.key(), it.value(), l);
    } catch (const nlohmann::json::exception& e) {
      DSSTNE_FAIL(InvalidArgument, layer_key(it.key(), l.name), ": ", e.what());
    }
  }

  if (l.n_auto) {
    DSSTNE_EXPECTS(!l.data_set.empty(), "layer '", l.name,
                   "' has \"N\": \"auto\" but no DataSet to take its size from");
  }
  // A layer without Source reads the layer written just before it, whatever its kind.
  if (l.kind != LayerKind::Input && l.sources.empty() && !earlier.empty())
    l.sources.push_back(earlier.back().name);

  // Dot-product and cosine layers output one unit per source after the first.
  if (l.type == LayerType::Pooling &&
      (l.pooling == PoolingFunction::DotProduct || l.pooling == PoolingFunction::Cosine)) {
    DSSTNE_EXPECTS(l.sources.size() >= 2, to_string(l.pooling), " layer '", l.name,
                   "' needs at least 2 sources, has ", l.sources.size());
    l.n = {uint32_t(l.sources.size() - 1), 1, 1, 1};
    l.dimensions = 1;
    l.n_auto = false;
  }
  return l;
}

}  // namespace dsstne::config_detail
