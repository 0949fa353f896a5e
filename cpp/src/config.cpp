// SPDX-License-Identifier: Apache-2.0
/// @file config.cpp
/// @brief The JSON network language (spec/formats.md §1): top-level keys, parameter blocks, and
/// the post-parse steps (derived flags, inherited activation parameters, conv/pooling sizes).

#include "dsstne/config.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_json.hpp"

namespace dsstne {
namespace config_detail {
namespace {

constexpr Spelling<NetworkKind> kNetworkKinds[] = {{"feedforward", NetworkKind::FeedForward},
                                                   {"autoencoder", NetworkKind::AutoEncoder}};
constexpr Spelling<ErrorFunction> kErrorFunctions[] = {
    {"l1", ErrorFunction::L1},
    {"l2", ErrorFunction::L2},
    {"l2hinge", ErrorFunction::L2Hinge},
    {"hinge", ErrorFunction::Hinge},
    {"crossentropy", ErrorFunction::CrossEntropy},
    {"cross entropy", ErrorFunction::CrossEntropy},
    {"scaledmarginalcrossentropy", ErrorFunction::ScaledMarginalCrossEntropy},
    {"datascaledmarginalcrossentropy", ErrorFunction::DataScaledMarginalCrossEntropy}};

constexpr const char* kTopLevelKeys =
    "Version, Name, Kind, WeightsData, LocalResponseNormalization (or LRN), Maxout, "
    "SparsenessPenalty, Denoising, DeltaBoost, ScaledMarginalCrossEntropy (or "
    "DataScaledMarginalCrossEntropy), ShuffleIndices, RELUSlope (or Slope), ELUAlpha, SELULambda, "
    "Decay, ErrorFunction, Layers";

/// A parameter block's key: its lower-case spelling and where its value goes.
struct BlockField {
  const char* key;
  float* f;     // float destination, or
  uint32_t* u;  // unsigned destination (value truncated)
};

/// Reads a parameter block (LRN, Maxout, ...); keys case-insensitive, any other key is an error.
void parse_block(const Json& v, const std::string& block, std::initializer_list<BlockField> fields,
                 const char* accepted) {
  expect_object(v, detail::concat("top-level key '", block, "'"));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string k = lower(it.key());
    const std::string what = detail::concat("key '", it.key(), "' in block '", block, "'");
    const BlockField* field = nullptr;
    for (const BlockField& f : fields)
      if (k == f.key) field = &f;
    if (field == nullptr)
      DSSTNE_FAIL(InvalidArgument, "unknown key '", it.key(), "' in block '", block,
                  "' (accepted: ", accepted, ")");
    if (field->f != nullptr) *field->f = get_float(it.value(), what);
    if (field->u != nullptr) *field->u = get_uint(it.value(), what);
  }
}

void parse_layers(const Json& v, const std::string& key, NetworkDescriptor& desc) {
  DSSTNE_EXPECTS(v.is_array() || v.is_object(), "top-level key '", key,
                 "' must be an array of layer objects (or one layer object), not ", v.type_name());
  // A single object is a one-element list. Each Layers key starts its own list (DSSTNE appended
  // the lists of case-variant duplicates), so default kinds restart but positions do not.
  const std::size_t size = v.is_array() ? v.size() : 1;
  for (std::size_t i = 0; i < size; ++i)
    desc.layers.push_back(parse_layer(v.is_array() ? v[i] : v, i, size, desc.layers));
}

void parse_top_level_key(const std::string& key, const Json& v, NetworkDescriptor& desc) {
  const std::string k = lower(key);
  const std::string what = detail::concat("top-level key '", key, "'");
  if (k == "version") {
    // Only the lower bound matters: no behaviour depends on the version, and models always
    // record the current one, so the value is not kept.
    const float version = get_float(v, what);
    DSSTNE_EXPECTS(version >= 0.6999f, what, " is ", version, "; it must be at least 0.7");
  } else if (k == "name") {
    desc.name = get_string(v, what);
  } else if (k == "kind") {
    desc.kind = get_enum(v, what, kNetworkKinds);
  } else if (k == "weightsdata") {
    desc.weights_data = get_string(v, what);
  } else if (k == "lrn" || k == "localresponsenormalization") {
    parse_block(v, key,
                {{"k", &desc.lrn_k, nullptr},
                 {"n", nullptr, &desc.lrn_n},
                 {"alpha", &desc.lrn_alpha, nullptr},
                 {"beta", &desc.lrn_beta, nullptr}},
                "k, n, alpha, beta");
  } else if (k == "maxout") {
    parse_block(v, key, {{"k", nullptr, &desc.maxout_k}}, "k");
  } else if (k == "sparsenesspenalty") {
    parse_block(v, key,
                {{"p", &desc.sparseness_penalty_p, nullptr},
                 {"beta", &desc.sparseness_penalty_beta, nullptr}},
                "p, beta");
  } else if (k == "denoising") {
    parse_block(v, key, {{"p", &desc.denoising_p, nullptr}}, "p");
  } else if (k == "deltaboost") {
    parse_block(v, key,
                {{"one", &desc.delta_boost_one, nullptr}, {"zero", &desc.delta_boost_zero, nullptr}},
                "one, zero");
  } else if (k == "scaledmarginalcrossentropy" || k == "datascaledmarginalcrossentropy") {
    // Both spellings fill the same four parameters.
    parse_block(v, key,
                {{"onetarget", &desc.smce.one_target, nullptr},
                 {"zerotarget", &desc.smce.zero_target, nullptr},
                 {"onescale", &desc.smce.one_scale, nullptr},
                 {"zeroscale", &desc.smce.zero_scale, nullptr}},
                "oneTarget, zeroTarget, oneScale, zeroScale");
  } else if (k == "shuffleindices") {
    desc.shuffle_indices = get_bool(v, what);
  } else if (k == "reluslope" || k == "slope") {
    desc.relu_slope = get_float(v, what);
  } else if (k == "elualpha") {
    desc.elu_alpha = get_float(v, what);
  } else if (k == "selulambda") {
    desc.selu_lambda = get_float(v, what);
  } else if (k == "decay") {
    desc.decay = get_float(v, what);
  } else if (k == "errorfunction") {
    desc.error_function = get_enum(v, what, kErrorFunctions);
  } else if (k == "layers") {
    parse_layers(v, key, desc);
  } else {
    DSSTNE_FAIL(InvalidArgument, "unknown top-level key '", key, "' (accepted, any case: ",
                kTopLevelKeys, ")");
  }
}

}  // namespace
}  // namespace config_detail

NetworkDescriptor parse_network_json(const std::string& text) {
  using namespace config_detail;
  // Real descriptions nest 5 levels deep; a limit keeps a hostile file from exhausting the stack
  // of code that walks the tree recursively (dump, copy, compare).
  const Json::parser_callback_t limit_depth = [](int depth, Json::parse_event_t, Json&) {
    DSSTNE_EXPECTS(depth <= kMaxJsonDepth, "JSON network description nests deeper than ",
                   kMaxJsonDepth, " levels");
    return true;
  };
  Json root;
  try {
    root = Json::parse(text, limit_depth, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception& e) {
    DSSTNE_FAIL(InvalidArgument, "malformed JSON network description: ", e.what());
  }
  DSSTNE_EXPECTS(root.is_object(), "a JSON network description must be an object, not ",
                 root.type_name());

  NetworkDescriptor desc;
  // Members come in sorted key order (as jsoncpp gave them to DSSTNE), which decides which of two
  // case-variants of one key wins.
  for (auto it = root.begin(); it != root.end(); ++it) {
    try {
      parse_top_level_key(it.key(), it.value(), desc);
    } catch (const nlohmann::json::exception& e) {
      DSSTNE_FAIL(InvalidArgument, "top-level key '", it.key(), "': ", e.what());
    }
  }

  // Denoising applies to the sparse input layers.
  if (desc.denoising())
    for (LayerDescriptor& l : desc.layers)
      if (l.kind == LayerKind::Input && l.sparse) l.denoising = true;

  for (LayerDescriptor& l : desc.layers) {
    if (std::isnan(l.relu_slope)) l.relu_slope = desc.relu_slope;
    if (std::isnan(l.elu_alpha)) l.elu_alpha = desc.elu_alpha;
    if (std::isnan(l.selu_lambda)) l.selu_lambda = desc.selu_lambda;
  }

  // Layers left underived here depend on "auto" sizes, or have a missing source or a cycle,
  // which validate_structure reports.
  derive_geometry(desc, /*strict=*/false);
  validate_structure(desc);
  return desc;
}

NetworkDescriptor load_network_json(const std::string& path) {
  std::error_code ec;
  DSSTNE_EXPECTS(!std::filesystem::is_directory(path, ec), "network description '", path,
                 "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  DSSTNE_EXPECTS(in.good(), "cannot open network description '", path, "'");
  // Read in chunks up to a cap: the path may name an endless device (/dev/zero) or a data file.
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, std::size_t(in.gcount()));
    DSSTNE_EXPECTS(text.size() <= kMaxConfigBytes, "network description '", path,
                   "' is larger than ", kMaxConfigBytes >> 20,
                   " MiB; a JSON network description is a few kilobytes");
  }
  DSSTNE_EXPECTS(!in.bad(), "cannot read network description '", path, "'");
  const bool hdf5 = text.compare(0, 4, "\x89HDF") == 0;
  const bool classic = text.compare(0, 3, "CDF") == 0;
  DSSTNE_EXPECTS(!hdf5 && !classic, "network description '", path,
                 "' is a NetCDF file, not a JSON network description");
  DSSTNE_EXPECTS(text.find('\0') == std::string::npos, "network description '", path,
                 "' holds binary data (a NUL byte), not JSON text");
  try {
    return parse_network_json(text);
  } catch (const InvalidArgument& e) {
    DSSTNE_FAIL(InvalidArgument, path, ": ", e.what());
  } catch (const NotSupported& e) {
    DSSTNE_FAIL(NotSupported, path, ": ", e.what());
  }
}

}  // namespace dsstne
