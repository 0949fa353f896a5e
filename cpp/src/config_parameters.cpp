// SPDX-License-Identifier: Apache-2.0
/// @file config_parameters.cpp
/// @brief Range checks of every numeric parameter of a NetworkDescriptor, whether it came from
/// JSON, a model file or user code: a value the engine would only refuse in the middle of
/// training, or that a model file could not hold, is refused when the description is read.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "config_json.hpp"

namespace dsstne::config_detail {
namespace {

constexpr uint64_t kMaxLayerUnits = uint64_t(std::numeric_limits<int32_t>::max());
constexpr uint32_t kMaxInt32 = uint32_t(std::numeric_limits<int32_t>::max());

void check_finite(float v, const std::string& what) {
  DSSTNE_EXPECTS(std::isfinite(v), what, " must be a finite number, got ", v);
}

void check_at_least(float v, float lo, const std::string& what) {
  DSSTNE_EXPECTS(std::isfinite(v) && v >= lo, what, " must be a finite number >= ", lo, ", got ",
                 v);
}

/// v in [0, 1] (`open_top`: [0, 1)).
void check_unit(float v, bool open_top, const std::string& what) {
  const bool ok = v >= 0.0f && (open_top ? v < 1.0f : v <= 1.0f);
  DSSTNE_EXPECTS(ok, what, " must be in [0, 1", open_top ? ")" : "]", ", got ", v);
}

std::string block_key(const char* key, const char* block) {
  return detail::concat("key '", key, "' of block '", block, "'");
}

void check_network(const NetworkDescriptor& d) {
  check_finite(d.lrn_k, block_key("k", "LRN"));
  DSSTNE_EXPECTS(d.lrn_n >= 1 && d.lrn_n <= kMaxInt32, block_key("n", "LRN"),
                 " must be an integer from 1 to ", kMaxInt32, ", got ", d.lrn_n);
  check_finite(d.lrn_alpha, block_key("alpha", "LRN"));
  check_finite(d.lrn_beta, block_key("beta", "LRN"));
  DSSTNE_EXPECTS(d.maxout_k >= 1 && d.maxout_k <= kMaxInt32, block_key("k", "Maxout"),
                 " must be an integer from 1 to ", kMaxInt32, ", got ", d.maxout_k);
  check_unit(d.sparseness_penalty_p, false, block_key("p", "SparsenessPenalty"));
  check_at_least(d.sparseness_penalty_beta, 0.0f, block_key("beta", "SparsenessPenalty"));
  check_unit(d.denoising_p, true, block_key("p", "Denoising"));
  check_at_least(d.delta_boost_one, 0.0f, block_key("one", "DeltaBoost"));
  check_at_least(d.delta_boost_zero, 0.0f, block_key("zero", "DeltaBoost"));
  check_unit(d.smce.one_target, false, block_key("oneTarget", "ScaledMarginalCrossEntropy"));
  check_unit(d.smce.zero_target, false, block_key("zeroTarget", "ScaledMarginalCrossEntropy"));
  check_at_least(d.smce.one_scale, 0.0f, block_key("oneScale", "ScaledMarginalCrossEntropy"));
  check_at_least(d.smce.zero_scale, 0.0f, block_key("zeroScale", "ScaledMarginalCrossEntropy"));
  check_finite(d.relu_slope, "top-level key 'RELUSlope'");
  check_finite(d.elu_alpha, "top-level key 'ELUAlpha'");
  check_finite(d.selu_lambda, "top-level key 'SELULambda'");
  check_at_least(d.decay, 0.0f, "top-level key 'Decay'");
  DSSTNE_EXPECTS(d.name.find('\0') == std::string::npos, "the network name contains a NUL");
}

void check_layer(const LayerDescriptor& l) {
  const std::string& n = l.name;
  DSSTNE_EXPECTS(n.find('\0') == std::string::npos, "layer name '", n, "' contains a NUL");
  DSSTNE_EXPECTS(l.data_set.find('\0') == std::string::npos, layer_key("DataSet", n),
                 " contains a NUL");
  // Unit indices are 32-bit everywhere (data files, top-K results, where -1 marks "none").
  DSSTNE_EXPECTS(l.n_auto || l.stride() <= kMaxLayerUnits, "layer '", n, "' has ", l.stride(),
                 " units (N = ", l.n[0], "x", l.n[1], "x", l.n[2], "x", l.n[3], "); at most ",
                 kMaxLayerUnits, " are supported");
  check_unit(l.p_dropout, true, layer_key("pDropout", n));
  // NaN means "inherit the network's value" until the parser resolves it.
  if (!std::isnan(l.relu_slope)) check_finite(l.relu_slope, layer_key("RELUSlope", n));
  if (!std::isnan(l.elu_alpha)) check_finite(l.elu_alpha, layer_key("ELUAlpha", n));
  if (!std::isnan(l.selu_lambda)) check_finite(l.selu_lambda, layer_key("SELULambda", n));
  check_at_least(l.weight_norm, 0.0f, layer_key("WeightNorm", n));
  check_at_least(l.delta_norm, 0.0f, layer_key("DeltaNorm", n));
  check_finite(l.weight_init_scale, detail::concat("key 'Scale' of 'WeightInit' in layer '", n,
                                                   "'"));
  check_finite(l.bias_init, detail::concat("key 'Bias' of 'WeightInit' in layer '", n, "'"));
  check_unit(l.sparseness_penalty_p, false,
             detail::concat("key 'p' of 'SparsenessPenalty' in layer '", n, "'"));
  check_at_least(l.sparseness_penalty_beta, 0.0f,
                 detail::concat("key 'beta' of 'SparsenessPenalty' in layer '", n, "'"));
}

}  // namespace

void validate_parameters(const NetworkDescriptor& desc) {
  check_network(desc);
  for (const LayerDescriptor& l : desc.layers) check_layer(l);
}

}  // namespace dsstne::config_detail
