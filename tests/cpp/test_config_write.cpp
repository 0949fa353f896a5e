// SPDX-License-Identifier: Apache-2.0
// NetworkDescriptor → JSON → NetworkDescriptor keeps every field.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dsstne/config.hpp"
#include "config_test_util.hpp"
#include "dsstne/error.hpp"

#ifndef DSSTNE_SOURCE_DIR
#define DSSTNE_SOURCE_DIR "."
#endif

namespace dsstne {
namespace {

constexpr const char* kRich = R"({
  "Version": 0.8, "Name": "rich", "Kind": "AutoEncoder", "ErrorFunction": "L2Hinge",
  "ShuffleIndices": false, "Decay": 0.01, "RELUSlope": 0.2, "ELUAlpha": 1.5, "SELULambda": 1.1,
  "SparsenessPenalty": {"p": 0.3, "beta": 1.5}, "Denoising": {"p": 0.25},
  "DeltaBoost": {"one": 2.0, "zero": 0.5}, "LRN": {"k": 3, "n": 7, "alpha": 0.5, "beta": 0.6},
  "Maxout": {"k": 3},
  "ScaledMarginalCrossEntropy": {"oneTarget": 0.8, "zeroTarget": 0.2, "oneScale": 3, "zeroScale": 0.7},
  "Layers": [
    {"Name": "In", "Kind": "Input", "N": [4, 3], "DataSet": "x", "Sparse": true, "pDropout": 0.1},
    {"Name": "H1", "Kind": "Hidden", "N": 12, "Activation": "LRelu", "Slope": 0.05, "pDropout": 0.2,
     "Sparse": true, "SparsenessPenalty": {"p": 0.1, "beta": 4},
     "WeightInit": {"Scheme": "Gaussian", "Scale": 0.3, "Bias": -1.5}, "WeightNorm": 2.5, "DeltaNorm": 1.5},
    {"Name": "H2", "Kind": "Hidden", "N": 12, "Skip": ["H1"], "Activation": "SELU", "ELUAlpha": 1.6733},
    {"Name": "Out", "Kind": "Output", "N": [4, 3], "DataSet": "x", "Source": ["H2", "H1"],
     "Activation": "SoftMax",
     "SharedWeights": {"SourceInputLayer": "In", "SourceOutputLayer": "H1", "InputLayer": "H1",
                       "Transposed": true}}
  ]})";

void expect_same(const NetworkDescriptor& a, const NetworkDescriptor& b) {
  EXPECT_EQ(to_json(a), to_json(b));
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.error_function, b.error_function);
  EXPECT_EQ(a.shuffle_indices, b.shuffle_indices);
  EXPECT_EQ(a.decay, b.decay);
  EXPECT_EQ(a.sparseness_penalty_p, b.sparseness_penalty_p);
  EXPECT_EQ(a.denoising_p, b.denoising_p);
  EXPECT_EQ(a.delta_boost_one, b.delta_boost_one);
  EXPECT_EQ(a.smce.one_scale, b.smce.one_scale);
  EXPECT_EQ(a.lrn_n, b.lrn_n);
  EXPECT_EQ(a.maxout_k, b.maxout_k);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const LayerDescriptor& x = a.layers[i];
    const LayerDescriptor& y = b.layers[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.data_set, y.data_set);
    EXPECT_EQ(x.n, y.n);
    EXPECT_EQ(x.dimensions, y.dimensions);
    EXPECT_EQ(x.p_dropout, y.p_dropout);
    EXPECT_EQ(x.sparse, y.sparse);
    EXPECT_EQ(x.denoising, y.denoising);
    EXPECT_EQ(x.sources, y.sources);
    EXPECT_EQ(x.skips, y.skips);
    EXPECT_EQ(x.activation, y.activation);
    EXPECT_EQ(x.relu_slope, y.relu_slope);
    EXPECT_EQ(x.elu_alpha, y.elu_alpha);
    EXPECT_EQ(x.selu_lambda, y.selu_lambda);
    EXPECT_EQ(x.weight_norm, y.weight_norm);
    EXPECT_EQ(x.delta_norm, y.delta_norm);
    EXPECT_EQ(x.weight_init, y.weight_init);
    EXPECT_EQ(x.weight_init_scale, y.weight_init_scale);
    EXPECT_EQ(x.bias_init, y.bias_init);
    EXPECT_EQ(x.sparseness_penalty_p, y.sparseness_penalty_p);
    EXPECT_EQ(x.sparseness_penalty_beta, y.sparseness_penalty_beta);
    ASSERT_EQ(x.shared_weights.size(), y.shared_weights.size());
    for (std::size_t s = 0; s < x.shared_weights.size(); ++s) {
      EXPECT_EQ(x.shared_weights[s].input_layer, y.shared_weights[s].input_layer);
      EXPECT_EQ(x.shared_weights[s].source_input_layer, y.shared_weights[s].source_input_layer);
      EXPECT_EQ(x.shared_weights[s].transposed, y.shared_weights[s].transposed);
    }
  }
}

TEST(ConfigWrite, RichConfigRoundTrips) {
  const NetworkDescriptor d = parse_network_json(kRich);
  expect_same(d, parse_network_json(to_json(d)));
  // spot checks that the values survived, not only that they agree with themselves
  const NetworkDescriptor back = parse_network_json(to_json(d));
  EXPECT_EQ(back.layer("H1").relu_slope, 0.05f);
  EXPECT_EQ(back.layer("H2").relu_slope, 0.2f);  // inherited from the network
  EXPECT_EQ(back.layer("Out").shared_weights.at(0).transposed, true);
  EXPECT_EQ(back.layer("In").n[1], 3u);
  EXPECT_TRUE(back.layer("In").denoising);
  EXPECT_EQ(back.layer("H1").bias_init, -1.5f);
}

TEST(ConfigWrite, EveryReferenceConfigRoundTrips) {
  const std::filesystem::path dir = dsstne::testing::reference_configs();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "reference configs absent: " << dir;
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    const NetworkDescriptor d = load_network_json(entry.path().string());
    expect_same(d, parse_network_json(to_json(d)));
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace dsstne
