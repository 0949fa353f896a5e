// SPDX-License-Identifier: Apache-2.0
// Tests of the JSON network language (spec/formats.md §1): defaults, aliases, case rules,
// derived values and every error path.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "dsstne/config.hpp"
#include "dsstne/error.hpp"

#ifndef DSSTNE_SOURCE_DIR
#define DSSTNE_SOURCE_DIR "/work/main"
#endif

#include "config_test_util.hpp"

namespace dsstne {
namespace {

namespace fs = std::filesystem;
using testing::expect_invalid;
using testing::expect_throw;
using testing::net;
using testing::three;

// ---- defaults ---------------------------------------------------------------------------------

TEST(Config, NetworkDefaults) {
  const NetworkDescriptor d = parse_network_json(net(R"({"N": 4}, {"N": 2})"));
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(d.kind, NetworkKind::FeedForward);
  EXPECT_EQ(d.error_function, ErrorFunction::CrossEntropy);
  EXPECT_TRUE(d.shuffle_indices);
  EXPECT_FLOAT_EQ(d.relu_slope, 1.0f);
  EXPECT_FLOAT_EQ(d.elu_alpha, 1.0f);
  EXPECT_FLOAT_EQ(d.selu_lambda, 1.050701f);
  EXPECT_FLOAT_EQ(d.decay, 0.0f);
  EXPECT_FLOAT_EQ(d.lrn_k, 2.0f);
  EXPECT_EQ(d.lrn_n, 5u);
  EXPECT_FLOAT_EQ(d.lrn_alpha, 0.0001f);
  EXPECT_FLOAT_EQ(d.lrn_beta, 0.75f);
  EXPECT_EQ(d.maxout_k, 2u);
  EXPECT_FALSE(d.sparseness_penalty());
  EXPECT_FALSE(d.denoising());
  EXPECT_FLOAT_EQ(d.delta_boost_one, 1.0f);
  EXPECT_FLOAT_EQ(d.delta_boost_zero, 1.0f);
  EXPECT_FLOAT_EQ(d.smce.one_target, 0.9f);
  EXPECT_FLOAT_EQ(d.smce.zero_target, 0.1f);
  EXPECT_FLOAT_EQ(d.smce.one_scale, 1.0f);
  EXPECT_FLOAT_EQ(d.smce.zero_scale, 1.0f);
  EXPECT_EQ(d.weights_data, "");
}

TEST(Config, LayerDefaults) {
  const NetworkDescriptor d = parse_network_json(net(R"({"N": 4}, {"N": 2})"));
  ASSERT_EQ(d.layers.size(), 2u);
  const LayerDescriptor& out = d.layers[1];
  EXPECT_EQ(d.layers[0].name, "Input0");
  EXPECT_EQ(out.name, "Output1");
  EXPECT_EQ(out.kind, LayerKind::Output);
  EXPECT_EQ(out.type, LayerType::FullyConnected);
  EXPECT_EQ(out.pooling, PoolingFunction::None);
  EXPECT_EQ(out.sources, std::vector<std::string>{"Input0"});
  EXPECT_TRUE(out.skips.empty());
  EXPECT_EQ(out.activation, Activation::Sigmoid);
  EXPECT_EQ(out.weight_init, WeightInit::Xavier);
  EXPECT_FLOAT_EQ(out.weight_init_scale, 1.0f);
  EXPECT_FLOAT_EQ(out.bias_init, 0.0f);
  EXPECT_FLOAT_EQ(out.p_dropout, 0.0f);
  EXPECT_FALSE(out.sparse);
  EXPECT_FALSE(out.batch_normalization);
  EXPECT_FALSE(out.n_auto);
  EXPECT_EQ(out.n, (std::array<uint32_t, 4>{2, 1, 1, 1}));
  EXPECT_EQ(out.dimensions, 1u);
  EXPECT_EQ(out.kernel, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(out.kernel_stride, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(out.kernel_padding, (std::array<uint32_t, 3>{0, 0, 0}));
  EXPECT_EQ(out.kernel_dimensions, 1u);
  // Inherited activation parameters are resolved, never left NaN.
  EXPECT_FLOAT_EQ(out.relu_slope, 1.0f);
  EXPECT_FLOAT_EQ(out.elu_alpha, 1.0f);
  EXPECT_FLOAT_EQ(out.selu_lambda, 1.050701f);
  EXPECT_FLOAT_EQ(out.weight_norm, 0.0f);
  EXPECT_FLOAT_EQ(out.delta_norm, 0.0f);
}

TEST(Config, LayerWithoutNHasOneUnit) {
  const NetworkDescriptor d = parse_network_json(net(R"({}, {}, {})"));
  EXPECT_EQ(d.layers[1].stride(), 1u);
}

TEST(Config, DefaultKindsNamesAndSourcesByPosition) {
  const NetworkDescriptor d = parse_network_json(
      net(R"({"N": 3}, {"N": 3}, {"N": 3, "Kind": "Target"}, {"N": 3}, {"N": 3})"));
  ASSERT_EQ(d.layers.size(), 5u);
  EXPECT_EQ(d.layers[0].kind, LayerKind::Input);
  EXPECT_EQ(d.layers[1].kind, LayerKind::Hidden);
  EXPECT_EQ(d.layers[2].kind, LayerKind::Target);
  EXPECT_EQ(d.layers[3].kind, LayerKind::Hidden);
  EXPECT_EQ(d.layers[4].kind, LayerKind::Output);
  EXPECT_EQ(d.layers[0].name, "Input0");
  EXPECT_EQ(d.layers[1].name, "Hidden1");
  EXPECT_EQ(d.layers[2].name, "Target2");
  EXPECT_EQ(d.layers[3].name, "Hidden3");
  EXPECT_EQ(d.layers[4].name, "Output4");
  // The default source is the layer just before, whatever its kind.
  EXPECT_TRUE(d.layers[0].sources.empty());
  EXPECT_EQ(d.layers[3].sources, std::vector<std::string>{"Target2"});
  EXPECT_EQ(d.layers[4].sources, std::vector<std::string>{"Hidden3"});
}

TEST(Config, LayersMayBeOneObject) {
  const NetworkDescriptor d = parse_network_json(R"({"Layers": {"N": 7, "DataSet": "x"}})");
  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_EQ(d.layers[0].kind, LayerKind::Input);
  EXPECT_EQ(d.layers[0].name, "Input0");
  EXPECT_EQ(d.layers[0].n[0], 7u);
}

TEST(Config, ExplicitSourceAndEmptySourceList) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "a", "N": 2}, {"Name": "b", "N": 2}, {"Name": "c", "N": 2, "Source": "a"},
         {"Name": "d", "N": 2, "Source": []}, {"Name": "e", "N": 2, "Source": ["a", "b", "c"]})"));
  EXPECT_EQ(d.layer("c").sources, std::vector<std::string>{"a"});
  EXPECT_EQ(d.layer("d").sources, std::vector<std::string>{"c"});  // [] means "default"
  EXPECT_EQ(d.layer("e").sources, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Config, LayerLookupByName) {
  const NetworkDescriptor d = parse_network_json(three(""));
  EXPECT_EQ(d.layer("h").n[0], 4u);
  expect_throw<InvalidArgument>([&] { d.layer("nope"); }, {"nope"});
}

// ---- case rules and aliases ---------------------------------------------------------------------

TEST(Config, KeysAndEnumeratedValuesAreCaseInsensitive) {
  const NetworkDescriptor d = parse_network_json(R"({
    "VERSION": 0.8, "nAmE": "Net", "KIND": "AUTOENCODER", "errorfunction": "L2",
    "shuffleINDICES": false, "DECAY": 0.5,
    "LAYERS": [
      {"NAME": "In", "KIND": "INPUT", "n": 4, "DATASET": "Data", "SPARSE": true},
      {"name": "Hid", "kind": "hidden", "TYPE": "FULLYCONNECTED", "N": 3,
       "activation": "TaNh", "PDROPOUT": 0.25, "batchnormalization": true,
       "WEIGHTINIT": {"SCHEME": "GAUSSIAN", "SCALE": 0.5, "BIAS": 0.1}},
      {"Name": "Out", "Kind": "oUtPuT", "N": 4, "dataset": "Data", "ACTIVATION": "LINEAR"}
    ]})");
  EXPECT_EQ(d.name, "Net");  // free strings keep their case
  EXPECT_EQ(d.kind, NetworkKind::AutoEncoder);
  EXPECT_EQ(d.error_function, ErrorFunction::L2);
  EXPECT_FALSE(d.shuffle_indices);
  EXPECT_FLOAT_EQ(d.decay, 0.5f);
  EXPECT_EQ(d.layer("In").data_set, "Data");
  EXPECT_TRUE(d.layer("In").sparse);
  const LayerDescriptor& h = d.layer("Hid");
  EXPECT_EQ(h.activation, Activation::Tanh);
  EXPECT_FLOAT_EQ(h.p_dropout, 0.25f);
  EXPECT_TRUE(h.batch_normalization);
  EXPECT_EQ(h.weight_init, WeightInit::Gaussian);
  EXPECT_FLOAT_EQ(h.weight_init_scale, 0.5f);
  EXPECT_FLOAT_EQ(h.bias_init, 0.1f);
  EXPECT_EQ(d.layer("Out").activation, Activation::Linear);
}

TEST(Config, FreeStringsAreCaseSensitive) {
  expect_invalid(net(R"({"Name": "In", "N": 2}, {"Name": "Out", "N": 2, "Source": "in"})"),
                 {"'in'", "Out"});
}

TEST(Config, EveryErrorFunctionSpelling) {
  const std::vector<std::pair<std::string, ErrorFunction>> cases = {
      {"L1", ErrorFunction::L1}, {"l2", ErrorFunction::L2},
      {"L2Hinge", ErrorFunction::L2Hinge}, {"Hinge", ErrorFunction::Hinge},
      {"CrossEntropy", ErrorFunction::CrossEntropy}, {"Cross Entropy", ErrorFunction::CrossEntropy},
      {"ScaledMarginalCrossEntropy", ErrorFunction::ScaledMarginalCrossEntropy},
      {"DATASCALEDMARGINALCROSSENTROPY", ErrorFunction::DataScaledMarginalCrossEntropy}};
  for (const auto& [text, ef] : cases)
    EXPECT_EQ(parse_network_json(three("", "\"ErrorFunction\": \"" + text + "\"")).error_function,
              ef)
        << text;
  expect_invalid(three("", R"("ErrorFunction": "SMCE")"), {"'SMCE'", "ErrorFunction", "l2hinge"});
}

TEST(Config, EveryActivationSpelling) {
  const std::vector<std::pair<std::string, Activation>> cases = {
      {"Sigmoid", Activation::Sigmoid}, {"Tanh", Activation::Tanh},
      {"Linear", Activation::Linear}, {"Relu", Activation::RectifiedLinear},
      {"RectifiedLinear", Activation::RectifiedLinear},
      {"LRelu", Activation::LeakyRectifiedLinear},
      {"LeakyRectifiedLinear", Activation::LeakyRectifiedLinear},
      {"Elu", Activation::ExponentialLinear}, {"ExponentialLinear", Activation::ExponentialLinear},
      {"Selu", Activation::ScaledExponentialLinear},
      {"ScaledExponentialLinear", Activation::ScaledExponentialLinear},
      {"SoftPlus", Activation::SoftPlus}, {"SoftSign", Activation::SoftSign},
      {"SoftMax", Activation::SoftMax}, {"ReluMax", Activation::RELUMax},
      {"LinearMax", Activation::LinearMax}};
  for (const auto& [text, a] : cases)
    EXPECT_EQ(parse_network_json(three("\"Activation\": \"" + text + "\"")).layer("h").activation, a)
        << text;
  for (const char* bad : {"PRelu", "ParametricRectifiedLinear", "MaxOut"})
    expect_invalid(three(std::string("\"Activation\": \"") + bad + "\""),
                   {std::string("'") + bad + "'", "Activation", "layer 'h'", "sigmoid", "linearmax"});
}

TEST(Config, EveryWeightInitScheme) {
  const std::vector<std::pair<std::string, WeightInit>> cases = {
      {"Xavier", WeightInit::Xavier},     {"CaffeXavier", WeightInit::CaffeXavier},
      {"Gaussian", WeightInit::Gaussian}, {"Uniform", WeightInit::Uniform},
      {"UnitBall", WeightInit::UnitBall}, {"Constant", WeightInit::Constant},
      {"SELU", WeightInit::SELU}};
  for (const auto& [text, s] : cases)
    EXPECT_EQ(parse_network_json(three("\"WeightInit\": {\"Scheme\": \"" + text + "\"}"))
                  .layer("h")
                  .weight_init,
              s)
        << text;
  expect_invalid(three(R"("WeightInit": {"Scheme": "He"})"), {"'He'", "Scheme", "'h'", "xavier"});
  expect_invalid(three(R"("WeightInit": {"Seed": 3})"), {"'Seed'", "WeightInit", "'h'"});
  expect_invalid(three(R"("WeightInit": {"Bias": "random"})"), {"'Bias'", "'h'", "number"});
  expect_invalid(three(R"("WeightInit": 3)"), {"WeightInit", "'h'", "object"});
}

TEST(Config, ParameterBlocksAndAliases) {
  const NetworkDescriptor d = parse_network_json(three("", R"(
    "LRN": {"K": 3, "N": 7, "Alpha": 0.5, "Beta": 0.25},
    "Maxout": {"k": 4},
    "SparsenessPenalty": {"p": 0.05, "beta": 3},
    "Denoising": {"p": 0.3},
    "DeltaBoost": {"one": 30, "zero": 2},
    "DataScaledMarginalCrossEntropy": {"OneTarget": 0.8, "ZeroTarget": 0.2,
                                       "OneScale": 30, "ZeroScale": 0.5},
    "Slope": 0.1, "ELUAlpha": 0.7, "SELULambda": 1.5, "WeightsData": "w.nc")"));
  EXPECT_FLOAT_EQ(d.lrn_k, 3.0f);
  EXPECT_EQ(d.lrn_n, 7u);
  EXPECT_FLOAT_EQ(d.lrn_alpha, 0.5f);
  EXPECT_FLOAT_EQ(d.lrn_beta, 0.25f);
  EXPECT_EQ(d.maxout_k, 4u);
  EXPECT_FLOAT_EQ(d.sparseness_penalty_p, 0.05f);
  EXPECT_FLOAT_EQ(d.sparseness_penalty_beta, 3.0f);
  EXPECT_TRUE(d.sparseness_penalty());
  EXPECT_FLOAT_EQ(d.denoising_p, 0.3f);
  EXPECT_FLOAT_EQ(d.delta_boost_one, 30.0f);
  EXPECT_FLOAT_EQ(d.delta_boost_zero, 2.0f);
  EXPECT_FLOAT_EQ(d.smce.one_target, 0.8f);
  EXPECT_FLOAT_EQ(d.smce.zero_target, 0.2f);
  EXPECT_FLOAT_EQ(d.smce.one_scale, 30.0f);
  EXPECT_FLOAT_EQ(d.smce.zero_scale, 0.5f);
  EXPECT_FLOAT_EQ(d.relu_slope, 0.1f);
  EXPECT_FLOAT_EQ(d.elu_alpha, 0.7f);
  EXPECT_FLOAT_EQ(d.selu_lambda, 1.5f);
  EXPECT_EQ(d.weights_data, "w.nc");

  const NetworkDescriptor e = parse_network_json(three("", R"(
    "LocalResponseNormalization": {"k": 1}, "ScaledMarginalCrossEntropy": {"oneTarget": 0.7},
    "RELUSlope": 0.3)"));
  EXPECT_FLOAT_EQ(e.lrn_k, 1.0f);
  EXPECT_FLOAT_EQ(e.smce.one_target, 0.7f);
  EXPECT_FLOAT_EQ(e.relu_slope, 0.3f);
}

TEST(Config, UnknownKeysInParameterBlocks) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"LRN", "gamma"},           {"LocalResponseNormalization", "gamma"},
      {"Maxout", "n"},            {"SparsenessPenalty", "q"},
      {"Denoising", "rate"},      {"DeltaBoost", "two"},
      {"ScaledMarginalCrossEntropy", "oneTargets"}, {"DataScaledMarginalCrossEntropy", "scale"}};
  for (const auto& [block, key] : cases)
    expect_invalid(three("", "\"" + block + "\": {\"" + key + "\": 1}"),
                   {"'" + key + "'", "'" + block + "'"});
  expect_invalid(three("", R"("Denoising": 0.2)"), {"'Denoising'", "object"});
  expect_invalid(three("", R"("DeltaBoost": {"one": "big"})"), {"'one'", "DeltaBoost", "number"});
}

TEST(Config, LayerActivationParametersInheritNetworkValues) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "in", "N": 2}, {"Name": "a", "N": 2, "Activation": "LRelu"},
         {"Name": "b", "N": 2, "Slope": 0.5, "ELUAlpha": 0.25, "SELULambda": 2},
         {"Name": "c", "N": 2, "RELUSlope": 0.0})",
      R"("RELUSlope": 0.2, "ELUAlpha": 0.9, "SELULambda": 1.1)"));
  EXPECT_FLOAT_EQ(d.layer("a").relu_slope, 0.2f);
  EXPECT_FLOAT_EQ(d.layer("a").elu_alpha, 0.9f);
  EXPECT_FLOAT_EQ(d.layer("a").selu_lambda, 1.1f);
  EXPECT_FLOAT_EQ(d.layer("b").relu_slope, 0.5f);
  EXPECT_FLOAT_EQ(d.layer("b").elu_alpha, 0.25f);
  EXPECT_FLOAT_EQ(d.layer("b").selu_lambda, 2.0f);
  EXPECT_FLOAT_EQ(d.layer("c").relu_slope, 0.0f);
  EXPECT_FLOAT_EQ(d.layer("in").relu_slope, 0.2f);
}

TEST(Config, OtherLayerKeys) {
  const NetworkDescriptor d = parse_network_json(
      three(R"("WeightNorm": 2.5, "DeltaNorm": 1.5, "Sparse": 1,
               "SparsenessPenalty": {"P": 0.1, "Beta": 4})"));
  const LayerDescriptor& h = d.layer("h");
  EXPECT_FLOAT_EQ(h.weight_norm, 2.5f);
  EXPECT_FLOAT_EQ(h.delta_norm, 1.5f);
  EXPECT_TRUE(h.sparse);  // numbers read as booleans, as DSSTNE did
  EXPECT_FLOAT_EQ(h.sparseness_penalty_p, 0.1f);
  EXPECT_FLOAT_EQ(h.sparseness_penalty_beta, 4.0f);
  expect_invalid(three(R"("SparsenessPenalty": {"alpha": 1})"), {"'alpha'", "'h'"});
}

TEST(Config, DenoisingMarksSparseInputLayers) {
  const std::string layers =
      R"({"Name": "s", "Kind": "Input", "N": 2, "Sparse": true},
         {"Name": "d", "Kind": "Input", "N": 2},
         {"Name": "o", "N": 2, "Source": ["s", "d"], "Sparse": true})";
  const NetworkDescriptor on = parse_network_json(net(layers, R"("Denoising": {"p": 0.2})"));
  EXPECT_TRUE(on.denoising());
  EXPECT_TRUE(on.layer("s").denoising);
  EXPECT_FALSE(on.layer("d").denoising);
  EXPECT_FALSE(on.layer("o").denoising);
  const NetworkDescriptor off = parse_network_json(net(layers, R"("Denoising": {"p": 0})"));
  EXPECT_FALSE(off.layer("s").denoising);
}

TEST(Config, CommentsAreIgnored) {
  const NetworkDescriptor d = parse_network_json(R"({
    // a line comment
    "Name": "c", /* a block comment */
    "Layers": [{"N": 2}, {"N": 2}]
  })");
  EXPECT_EQ(d.name, "c");
}

TEST(Config, CaseVariantsOfOneKeyResolveInSortedOrder) {
  // As with jsoncpp, members are visited sorted by key bytes: "Decay" before "decay".
  const NetworkDescriptor d = parse_network_json(three("", R"("decay": 2, "Decay": 1)"));
  EXPECT_FLOAT_EQ(d.decay, 2.0f);
}

// ---- N, Kernel ----------------------------------------------------------------------------------

TEST(Config, NForms) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "a", "N": [5]}, {"Name": "b", "N": [5, 6]}, {"Name": "c", "N": [5, 6, 7]},
         {"Name": "d", "N": [2, 3, 4, 5]}, {"Name": "e", "N": 3.0},
         {"Name": "f", "N": "AUTO", "DataSet": "y"})"));
  EXPECT_EQ(d.layer("a").dimensions, 1u);
  EXPECT_EQ(d.layer("b").dimensions, 2u);
  EXPECT_EQ(d.layer("b").n, (std::array<uint32_t, 4>{5, 6, 1, 1}));
  EXPECT_EQ(d.layer("c").dimensions, 3u);
  EXPECT_EQ(d.layer("c").n, (std::array<uint32_t, 4>{5, 6, 7, 1}));
  EXPECT_EQ(d.layer("d").dimensions, 4u);
  EXPECT_EQ(d.layer("d").stride(), 120u);
  EXPECT_EQ(d.layer("e").n[0], 3u);  // a whole number written as a float
  EXPECT_TRUE(d.layer("f").n_auto);
  EXPECT_FALSE(d.layer("e").n_auto);
}

TEST(Config, NErrors) {
  expect_invalid(three(R"("N": [1, 2, 3, 4, 5])"), {"'N'", "'h'", "1 to 4"});
  expect_invalid(three(R"("N": [])"), {"'N'", "'h'"});
  expect_invalid(three(R"("N": "auto")"), {"'N'", "'h'", "Hidden"});
  expect_invalid(three(R"("N": "many")"), {"'N'", "'h'", "many"});
  expect_invalid(three(R"("N": -3)"), {"'N'", "'h'"});
  expect_invalid(three(R"("N": [2, "x"])"), {"'N'", "'h'"});
  expect_invalid(three(R"("N": {"x": 1})"), {"'N'", "'h'"});
  // auto needs a data set to take the size from; Target layers cannot have one.
  expect_invalid(net(R"({"Name": "i", "N": "auto"}, {"N": 2})"), {"'i'", "auto", "DataSet"});
  expect_invalid(net(R"({"N": 2}, {"Name": "t", "Kind": "Target", "N": "auto"}, {"N": 2})"),
                 {"'t'", "auto"});
}

TEST(Config, KernelForms) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"N": 4}, {"Name": "a", "N": 2, "Kernel": 3, "KernelStride": 2},
         {"Name": "b", "N": 2, "Kernel": [3, 5], "KernelStride": [1, 2, 3]},
         {"Name": "c", "N": 2, "Kernel": [2, 3, 4]})"));
  EXPECT_EQ(d.layer("a").kernel, (std::array<uint32_t, 3>{3, 1, 1}));
  EXPECT_EQ(d.layer("a").kernel_stride, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(d.layer("a").kernel_dimensions, 1u);
  EXPECT_EQ(d.layer("b").kernel, (std::array<uint32_t, 3>{3, 5, 1}));
  EXPECT_EQ(d.layer("b").kernel_dimensions, 2u);  // only Kernel sets the dimensions
  EXPECT_EQ(d.layer("b").kernel_stride, (std::array<uint32_t, 3>{1, 2, 3}));
  EXPECT_EQ(d.layer("c").kernel_dimensions, 3u);
  expect_invalid(three(R"("Kernel": [1, 2, 3, 4])"), {"'Kernel'", "'h'", "1 to 3"});
  expect_invalid(three(R"("KernelStride": [1, 2, 3, 4])"), {"'KernelStride'", "'h'"});
  expect_invalid(three(R"("Kernel": "big")"), {"'Kernel'", "'h'"});
}

// ---- Skip, SharedWeights ------------------------------------------------------------------------

TEST(Config, SkipForms) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "i", "N": 4}, {"Name": "a", "N": 4}, {"Name": "b", "N": 4, "Skip": "i"},
         {"Name": "c", "N": 4, "Skip": ["i", "a"]})"));
  EXPECT_EQ(d.layer("b").skips, std::vector<std::string>{"i"});
  EXPECT_EQ(d.layer("c").skips, (std::vector<std::string>{"i", "a"}));
  expect_invalid(three(R"("Skip": "ghost")"), {"'ghost'", "'h'", "Skip"});
  expect_invalid(three(R"("Skip": [1])"), {"Skip", "'h'", "string"});
}

TEST(Config, SharedWeightsObjectAndArray) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "in", "N": 8}, {"Name": "enc", "N": 3},
         {"Name": "dec", "N": 8, "SharedWeights": {"InputLayer": "enc",
           "SourceInputLayer": "in", "SourceOutputLayer": "enc", "Transposed": true}},
         {"Name": "two", "Kind": "Output", "N": 8, "Source": ["enc", "in"],
          "sharedweights": [{"inputlayer": "enc", "sourceinputlayer": "in",
                             "SOURCEOUTPUTLAYER": "enc"},
                            {"InputLayer": "in", "SourceInputLayer": "in",
                             "SourceOutputLayer": "dec", "TRANSPOSED": false}]})"));
  const auto& one = d.layer("dec").shared_weights;
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].input_layer, "enc");
  EXPECT_EQ(one[0].source_input_layer, "in");
  EXPECT_EQ(one[0].source_output_layer, "enc");
  EXPECT_TRUE(one[0].transposed);
  const auto& two = d.layer("two").shared_weights;
  ASSERT_EQ(two.size(), 2u);
  EXPECT_FALSE(two[0].transposed);
  EXPECT_EQ(two[1].input_layer, "in");
  EXPECT_EQ(two[1].source_output_layer, "dec");
}

TEST(Config, SharedWeightsErrors) {
  const std::string base = R"({"Name": "in", "N": 8}, {"Name": "enc", "N": 3}, )";
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": {"InputLayer": "in",
                   "SourceInputLayer": "in", "SourceOutputLayer": "enc"}})"),
                 {"'dec'", "InputLayer 'in'", "source"});
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": {"InputLayer": "enc",
                   "SourceInputLayer": "in", "SourceOutputLayer": "nowhere"}})"),
                 {"'dec'", "'nowhere'"});
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": {"InputLayer": "enc",
                   "SourceOutputLayer": "enc"}})"),
                 {"'dec'", "SourceInputLayer"});
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": {"InputLayer": "enc",
                   "Transpose": true}})"),
                 {"'Transpose'", "'dec'"});
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": [3]})"),
                 {"SharedWeights", "'dec'", "object"});
  expect_invalid(net(base + R"({"Name": "dec", "N": 8, "SharedWeights": [
                   {"InputLayer": "enc", "SourceInputLayer": "in", "SourceOutputLayer": "enc"},
                   {"InputLayer": "enc", "SourceInputLayer": "in", "SourceOutputLayer": "enc"}]})"),
                 {"'dec'", "'enc'", "second time"});
}

// ---- which kinds accept which keys (spec §1.5) ------------------------------------------------

TEST(Config, KeysRejectedByKind) {
  struct Case {
    const char* kind;
    const char* key;
    const char* value;
  };
  const Case rejected[] = {
      {"Input", "Source", "\"x\""},        {"Input", "Skip", "\"x\""},
      {"Input", "Kernel", "2"},            {"Input", "Activation", "\"Tanh\""},
      {"Input", "WeightInit", "{}"},       {"Input", "BatchNormalization", "true"},
      {"Hidden", "DataSet", "\"d\""},      {"Output", "BatchNormalization", "true"},
      {"Output", "SparsenessPenalty", "{}"}, {"Target", "Activation", "\"Tanh\""},
      {"Target", "WeightInit", "{}"},      {"Target", "Skip", "\"x\""},
      {"Target", "DataSet", "\"d\""},      {"Target", "SharedWeights", "{}"},
      {"Target", "Slope", "1"},            {"Hidden", "Function", "\"Max\""},
      {"Hidden", "L1Penalty", "1"},        {"Hidden", "ErrorFunction", "\"L2\""},
      {"Hidden", "Dimensions", "2"},       {"Output", "Target", "\"x\""},
      {"Hidden", "Recurrent", "true"}};
  for (const Case& c : rejected) {
    const std::string layer = std::string(R"({"Name": "L", "Kind": ")") + c.kind + R"(", ")" +
                              c.key + "\": " + c.value + "}";
    expect_invalid(net(R"({"Name": "x", "N": 2}, )" + layer + R"(, {"N": 2})"),
                   {"unknown key", std::string("'") + c.key + "'", "'L'"});
  }
  // Function is a key of Pooling layers only (Hidden and Output).
  EXPECT_EQ(parse_network_json(net(R"({"Name": "x", "N": 2}, {"Name": "p", "Type": "Pooling",
                                      "Function": "MAXOUT"}, {"N": 2})"))
                .layer("p")
                .pooling,
            PoolingFunction::Maxout);
  EXPECT_EQ(parse_network_json(net(R"({"Name": "x", "N": 2}, {"Name": "p", "Kind": "Output",
                                      "Type": "Pooling", "Function": "lrn"})"))
                .layer("p")
                .pooling,
            PoolingFunction::LRN);
}

TEST(Config, PoolingFunctionSpellings) {
  const std::vector<std::pair<std::string, PoolingFunction>> cases = {
      {"Max", PoolingFunction::Max}, {"Maxout", PoolingFunction::Maxout},
      {"Average", PoolingFunction::Average}, {"LRN", PoolingFunction::LRN},
      {"LocalResponseNormalization", PoolingFunction::LRN}};
  for (const auto& [text, f] : cases)
    EXPECT_EQ(parse_network_json(three("\"Type\": \"Pooling\", \"Function\": \"" + text + "\""))
                  .layer("h")
                  .pooling,
              f)
        << text;
  for (const char* bad : {"Stochastic", "LocalContrastNormalization", "GlobalTemporal"})
    expect_invalid(three(std::string(R"("Type": "Pooling", "Function": ")") + bad + "\""),
                   {bad, "Function", "'h'", "dotproduct"});
}

// ---- errors -------------------------------------------------------------------------------------

TEST(Config, MalformedJsonReportsPosition) {
  expect_invalid("{\n  \"Name\": \"x\",\n  \"Layers\": [ {\"N\": 2 ]\n}", {"malformed", "line 3"});
  expect_invalid("", {"malformed"});
  expect_invalid("[1, 2]", {"object"});
}

TEST(Config, UnknownTopLevelKeys) {
  expect_invalid(three("", R"("WeightData": "w.nc")"), {"'WeightData'", "top-level"});
  expect_invalid(three("", R"("Optimizer": "Adam")"), {"'Optimizer'"});
}

TEST(Config, Version) {
  EXPECT_NO_THROW(parse_network_json(three("", R"("Version": 0.7)")));
  EXPECT_NO_THROW(parse_network_json(three("", R"("Version": 0.81)")));
  expect_invalid(three("", R"("Version": 0.6)"), {"'Version'", "0.7"});
  expect_invalid(three("", R"("Version": "0.8")"), {"'Version'", "number"});
}

TEST(Config, WrongJsonTypesNameTheKeyAndLayer) {
  expect_invalid(three(R"("pDropout": "half")"), {"'pDropout'", "'h'", "number"});
  expect_invalid(three(R"("Sparse": "yes")"), {"'Sparse'", "'h'"});
  expect_invalid(three(R"("Activation": 3)"), {"'Activation'", "'h'", "string"});
  expect_invalid(three(R"("Source": {"a": 1})"), {"'Source'", "'h'"});
  expect_invalid(three(R"("Name2": 1)"), {"'Name2'", "'h'"});
  expect_invalid(net(R"({"Name": 5, "N": 2}, {"N": 2})"), {"'Name'", "string"});
  expect_invalid(net(R"({"N": 2, "DataSet": 1}, {"N": 2})"), {"'DataSet'", "'Input0'"});
  expect_invalid(three("", R"("ShuffleIndices": "no")"), {"'ShuffleIndices'"});
  expect_invalid(three("", R"("Name": 3)"), {"'Name'"});
  expect_invalid(three("", R"("Kind": "Recurrent")"), {"'Recurrent'", "Kind", "feedforward"});
  expect_invalid(R"({"Layers": 3})", {"'Layers'"});
  expect_invalid(R"({"Layers": [3]})", {"Layers", "object"});
}

TEST(Config, LayerKindAndTypeValues) {
  expect_invalid(three(R"("Kind": "Pooling")"), {"'Pooling'", "Kind", "'h'", "hidden"});
  expect_invalid(three(R"("Type": "Convolution")"), {"'Convolution'", "Type", "'h'"});
}

TEST(Config, DuplicateLayerNames) {
  expect_invalid(net(R"({"Name": "a", "N": 2}, {"Name": "a", "N": 2})"), {"duplicate", "'a'"});
  // A default name can collide with an explicit one too.
  expect_invalid(net(R"({"Name": "Hidden1", "N": 2}, {"N": 2}, {"N": 2})"),
                 {"duplicate", "'Hidden1'"});
}

TEST(Config, StructuralErrors) {
  expect_invalid(three(R"("Source": "ghost")"), {"'ghost'", "'h'", "Source"});
  expect_invalid(R"({"Layers": []})", {"no layers"});
  expect_invalid(R"({"Name": "x"})", {"no layers"});
  // A first layer that is not an Input has no default source.
  expect_invalid(net(R"({"Name": "h", "Kind": "Hidden", "N": 2}, {"N": 2})"), {"'h'", "Source"});
  expect_invalid(three(R"("N": 0)"), {"'h'", "0 units"});
  expect_invalid(net(R"({"Name": "a", "N": 2}, {"Name": "b", "N": 2, "Source": ["a", "c"]},
                        {"Name": "c", "N": 2, "Source": "b"})"),
                 {"cycle", "'b'", "'c'"});
  expect_invalid(net(R"({"Name": "a", "N": 2}, {"Name": "b", "N": 2, "Source": "b"})"),
                 {"cycle", "'b'"});
  expect_invalid(net(R"({"Name": "a", "N": 2}, {"Name": "b", "N": 2, "Skip": "c"},
                        {"Name": "c", "N": 2})"),
                 {"cycle"});
  expect_invalid(net(R"({"Name": "a", "N": 2}, {"N": 2, "Source": ["a", "a", "a", "a", "a"]})"),
                 {"'Output1'", "5 sources", "4"});
}

TEST(Config, ValidateHandBuiltDescriptors) {
  NetworkDescriptor d;
  expect_throw<InvalidArgument>([&] { validate(d); }, {"no layers"});
  LayerDescriptor in;
  in.name = "in";
  in.kind = LayerKind::Input;
  LayerDescriptor out;
  out.name = "out";
  out.kind = LayerKind::Output;
  out.sources = {"in"};
  d.layers = {in, out};
  EXPECT_NO_THROW(validate(d));
  d.layers[0].sources = {"out"};
  expect_throw<InvalidArgument>([&] { validate(d); }, {"Input layer 'in'"});
  d.layers[0].sources.clear();
  d.layers[1].sources.clear();
  expect_throw<InvalidArgument>([&] { validate(d); }, {"'out'", "Source"});
  d.layers[1].skips = {"in"};  // a skip alone is an input
  EXPECT_NO_THROW(validate(d));
  d.layers[1].skips = {"missing"};
  expect_throw<InvalidArgument>([&] { validate(d); }, {"'missing'", "'out'"});
  d.layers[1].skips.clear();
  d.layers[1].sources = {"in"};
  d.layers[1].name = "";
  expect_throw<InvalidArgument>([&] { validate(d); }, {"empty name"});
  d.layers[1].name = "out";
  d.layers[1].type = LayerType::Pooling;
  d.layers[1].pooling = PoolingFunction::Cosine;
  expect_throw<InvalidArgument>([&] { validate(d); }, {"Cosine", "'out'", "2 sources"});
}

TEST(Config, DotProductNeedsTwoSourcesAndIsSizedBySourceCount) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "q", "N": 4}, {"Name": "a", "Kind": "Input", "N": 4},
         {"Name": "b", "Kind": "Input", "N": 4},
         {"Name": "dot", "Type": "Pooling", "Function": "DotProduct", "Source": ["q", "a", "b"]},
         {"Name": "out", "N": 2})"));
  EXPECT_EQ(d.layer("dot").n, (std::array<uint32_t, 4>{2, 1, 1, 1}));
  EXPECT_EQ(d.layer("dot").dimensions, 1u);
  expect_invalid(three(R"("Type": "Pooling", "Function": "Cosine")"), {"Cosine", "'h'", "2"});
}

// ---- convolution and pooling ------------------------------------------------------------------

TEST(Config, ConvolutionalGeometryIsDerived) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "img", "N": [32, 32], "DataSet": "x"},
         {"Name": "c1", "Type": "Convolutional", "N": 16, "Kernel": [5, 5]},
         {"Name": "p1", "Type": "Pooling", "Function": "Max", "Kernel": [2, 2],
          "KernelStride": [2, 2]},
         {"Name": "lrn", "Type": "Pooling", "Function": "LRN"},
         {"Name": "c2", "Type": "Convolutional", "N": 8, "Kernel": [3, 3], "KernelStride": [2, 2]},
         {"Name": "c3", "Type": "Convolutional", "N": 4, "Kernel": 40},
         {"Name": "out", "N": 10, "DataSet": "y"})"));
  const LayerDescriptor& c1 = d.layer("c1");
  EXPECT_EQ(c1.n, (std::array<uint32_t, 4>{32, 32, 16, 1}));  // stride 1 keeps the size
  EXPECT_EQ(c1.dimensions, 3u);
  EXPECT_EQ(c1.kernel_padding, (std::array<uint32_t, 3>{2, 2, 0}));
  const LayerDescriptor& p1 = d.layer("p1");
  // (32-2)/2+1 on x and y; the feature maps on z pass through a kernel of depth 1.
  EXPECT_EQ(p1.n, (std::array<uint32_t, 4>{16, 16, 16, 1}));
  EXPECT_EQ(p1.dimensions, 3u);
  EXPECT_EQ(d.layer("lrn").n, p1.n);
  EXPECT_EQ(d.layer("lrn").dimensions, p1.dimensions);
  const LayerDescriptor& c2 = d.layer("c2");
  EXPECT_EQ(c2.n, (std::array<uint32_t, 4>{7, 7, 8, 1}));  // (16-3)/2+1
  EXPECT_EQ(c2.kernel_padding, (std::array<uint32_t, 3>{0, 0, 0}));
  const LayerDescriptor& c3 = d.layer("c3");
  EXPECT_EQ(c3.n, (std::array<uint32_t, 4>{1, 4, 1, 1}));  // kernel covers the input
  EXPECT_EQ(c3.dimensions, 2u);
  EXPECT_EQ(c3.kernel_padding[0], (40u - 7u + 1u) / 2u);
  EXPECT_NO_THROW(validate(d));
}

TEST(Config, PoolingLayerReadingADotProductDoesNotHang) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "a", "N": 4}, {"Name": "b", "Kind": "Input", "N": 4},
         {"Name": "dot", "Type": "Pooling", "Function": "DotProduct", "Source": ["a", "b"]},
         {"Name": "pool", "Type": "Pooling", "Function": "Max", "Source": "dot"},
         {"Name": "out", "N": 1})"));
  EXPECT_EQ(d.layer("pool").n[0], 1u);
  EXPECT_NO_THROW(validate(d));
}

TEST(Config, ConvGeometryErrors) {
  expect_invalid(net(R"({"Name": "a", "N": [8, 8]}, {"Name": "b", "Kind": "Input", "N": [4, 4]},
                        {"Name": "c", "Type": "Convolutional", "N": 2, "Kernel": [3, 3],
                         "KernelStride": [2, 2], "Source": ["a", "b"]}, {"N": 2})"),
                 {"'c'", "'a'", "'b'"});
  expect_invalid(net(R"({"Name": "a", "N": [8, 8]}, {"Name": "c", "Type": "Pooling",
                         "Function": "Max", "Kernel": [2, 2], "KernelStride": [0, 1]}, {"N": 2})"),
                 {"KernelStride", "'c'", "zero"});
  // A cycle of conv layers is reported, not looped on.
  expect_invalid(net(R"({"Name": "a", "N": [8, 8]},
                        {"Name": "c", "Type": "Convolutional", "N": 2, "Source": "d"},
                        {"Name": "d", "Type": "Convolutional", "N": 2, "Source": "c"},
                        {"N": 2})"),
                 {"cycle"});
}

TEST(Config, ConvLayersFedByAutoSizedInputsAreLeftForLater) {
  const NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "img", "Type": "Convolutional", "N": "auto", "DataSet": "x"},
         {"Name": "c1", "Type": "Convolutional", "N": 16, "Kernel": [5, 5]},
         {"Name": "out", "N": "auto", "DataSet": "y"})"));
  EXPECT_EQ(d.layer("c1").n[0], 16u);  // the JSON N, untouched until sizes are known
  EXPECT_NO_THROW(validate(d));
}

TEST(Config, ConvConfigsStillReportMissingSources) {
  NetworkDescriptor d = parse_network_json(net(
      R"({"Name": "img", "N": [8, 8]}, {"Name": "c", "Type": "Convolutional", "N": 2},
         {"N": 2})"));
  d.layers[2].sources = {"ghost"};
  expect_throw<InvalidArgument>([&] { validate(d); }, {"'ghost'"});
}

}  // namespace
}  // namespace dsstne
