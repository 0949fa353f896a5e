// SPDX-License-Identifier: Apache-2.0
// Tests of loading network files, DSSTNE's reference configs, and the enum names.

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
using testing::reference_configs;
using testing::three;

// ---- files --------------------------------------------------------------------------------------

TEST(Config, LoadNetworkJsonFromFiles) {
  const fs::path dir = fs::temp_directory_path() / "dsstne_test_config";
  fs::create_directories(dir);
  const fs::path good = dir / "good.json";
  const fs::path bad = dir / "bad.json";
  std::ofstream(good) << three("", R"("Name": "fromfile")");
  std::ofstream(bad) << "{\"Layers\": [}";
  EXPECT_EQ(load_network_json(good.string()).name, "fromfile");
  expect_throw<InvalidArgument>([&] { load_network_json(bad.string()); },
                                {bad.string(), "malformed"});
  const std::string missing = (dir / "missing.json").string();
  expect_throw<InvalidArgument>([&] { load_network_json(missing); }, {missing});
  expect_throw<InvalidArgument>([&] { load_network_json(dir.string()); }, {dir.string()});
  fs::remove_all(dir);
}


bool has_conv(const NetworkDescriptor& d) {
  return std::any_of(d.layers.begin(), d.layers.end(), [](const LayerDescriptor& l) {
    return l.type == LayerType::Convolutional || l.type == LayerType::Pooling;
  });
}

TEST(ConfigReference, EveryReferenceConfigLoads) {
  const fs::path dir = reference_configs();
  if (!fs::is_directory(dir))
    GTEST_SKIP() << "the shared reference configs are absent (looked in " << dir
                 << "; set DSSTNE_REFERENCE_DIR)";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  std::vector<std::string> conv;
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    NetworkDescriptor d;
    ASSERT_NO_THROW(d = load_network_json(f.string()));
    EXPECT_FALSE(d.layers.empty());
    if (has_conv(d)) conv.push_back(f.filename().string());
    EXPECT_NO_THROW(validate(d));
  }
  EXPECT_EQ(conv, (std::vector<std::string>{"cifar10_convnet.json", "seed_alexnet.json"}));
}

TEST(ConfigReference, MovielensAutoencoderValues) {
  const fs::path file = reference_configs() / "movielens_autoencoder.json";
  if (!fs::exists(file)) GTEST_SKIP() << "the shared reference configs are absent: " << file;
  const NetworkDescriptor d = load_network_json(file.string());
  EXPECT_EQ(d.name, "AE");
  EXPECT_FALSE(d.shuffle_indices);
  EXPECT_EQ(d.error_function, ErrorFunction::ScaledMarginalCrossEntropy);
  EXPECT_FLOAT_EQ(d.smce.one_target, 1.0f);
  EXPECT_FLOAT_EQ(d.smce.zero_target, 0.0f);
  EXPECT_FLOAT_EQ(d.smce.one_scale, 1.0f);
  EXPECT_FLOAT_EQ(d.smce.zero_scale, 1.0f);
  EXPECT_FLOAT_EQ(d.sparseness_penalty_p, 0.5f);
  EXPECT_FLOAT_EQ(d.sparseness_penalty_beta, 2.0f);
  EXPECT_TRUE(d.sparseness_penalty());
  EXPECT_FLOAT_EQ(d.denoising_p, 0.2f);
  ASSERT_EQ(d.layers.size(), 3u);
  const LayerDescriptor& in = d.layer("Input");
  EXPECT_TRUE(in.n_auto);
  EXPECT_EQ(in.data_set, "gl_input");
  EXPECT_TRUE(in.sparse);
  EXPECT_TRUE(in.denoising);
  const LayerDescriptor& hidden = d.layer("Hidden");
  EXPECT_EQ(hidden.n[0], 128u);
  EXPECT_FALSE(hidden.n_auto);
  EXPECT_TRUE(hidden.sparse);
  EXPECT_EQ(hidden.sources, std::vector<std::string>{"Input"});
  const LayerDescriptor& out = d.layer("Output");
  EXPECT_TRUE(out.n_auto);
  EXPECT_EQ(out.data_set, "gl_output");
  EXPECT_EQ(out.sources, std::vector<std::string>{"Hidden"});
  EXPECT_FALSE(out.denoising);
}

TEST(ConfigReference, BenchmarkMovielensValues) {
  const fs::path file = reference_configs() / "benchmark_movielens_3x1024.json";
  if (!fs::exists(file)) GTEST_SKIP() << "the shared reference configs are absent: " << file;
  const NetworkDescriptor d = load_network_json(file.string());
  ASSERT_EQ(d.layers.size(), 5u);
  for (const char* name : {"Hidden1", "Hidden2", "Hidden3"}) {
    const LayerDescriptor& h = d.layer(name);
    EXPECT_EQ(h.n[0], 1024u) << name;
    EXPECT_FLOAT_EQ(h.p_dropout, 0.5f) << name;
    EXPECT_EQ(h.weight_init, WeightInit::Gaussian) << name;
    EXPECT_FLOAT_EQ(h.weight_init_scale, 0.01f) << name;
    EXPECT_FLOAT_EQ(h.bias_init, 0.0f) << name;
  }
  EXPECT_EQ(d.layer("Hidden2").sources, std::vector<std::string>{"Hidden1"});
  const LayerDescriptor& out = d.layer("Output");
  EXPECT_EQ(out.weight_init, WeightInit::Gaussian);
  EXPECT_FLOAT_EQ(out.weight_init_scale, 0.01f);
  EXPECT_FLOAT_EQ(out.bias_init, -10.2f);
  EXPECT_EQ(out.sources, std::vector<std::string>{"Hidden3"});
  EXPECT_FALSE(d.shuffle_indices);
  EXPECT_FALSE(d.layer("Input").denoising);  // no Denoising block
}

// ---- enums --------------------------------------------------------------------------------------

TEST(Enums, PrintedNames) {
  EXPECT_EQ(to_string(PoolingFunction::LRN), "LocalResponseNormalization");
  EXPECT_EQ(to_string(PoolingFunction::LCN), "LocalContrastNormalization");
  EXPECT_EQ(to_string(PoolingFunction::GlobalTemporal), "GlobalTemporal");
  EXPECT_EQ(to_string(ErrorFunction::DataScaledMarginalCrossEntropy),
            "DataScaledMarginalCrossEntropy");
  EXPECT_EQ(to_string(ErrorFunction::L2Hinge), "L2Hinge");
  EXPECT_EQ(to_string(Activation::ParametricRectifiedLinear), "ParametricRectifiedLinear");
  EXPECT_EQ(to_string(Activation::ScaledExponentialLinear), "ScaledExponentialLinear");
  EXPECT_EQ(to_string(WeightInit::SELU), "SELU");
  EXPECT_EQ(to_string(LayerKind::Target), "Target");
  EXPECT_EQ(to_string(LayerType::Convolutional), "Convolutional");
  EXPECT_EQ(to_string(DataType::RGB16), "RGB16");
  EXPECT_EQ(to_string(TrainingMode::RMSProp), "RMSProp");
  EXPECT_EQ(to_string(Activation(99)), "Activation(99)");
}

TEST(Enums, TrainingModeFromString) {
  EXPECT_EQ(training_mode_from_string("sgd"), TrainingMode::SGD);
  EXPECT_EQ(training_mode_from_string("Momentum"), TrainingMode::Momentum);
  EXPECT_EQ(training_mode_from_string("ADAGRAD"), TrainingMode::AdaGrad);
  EXPECT_EQ(training_mode_from_string("Nesterov"), TrainingMode::Nesterov);
  EXPECT_EQ(training_mode_from_string("RmsProp"), TrainingMode::RMSProp);
  EXPECT_EQ(training_mode_from_string("adadelta"), TrainingMode::AdaDelta);
  EXPECT_EQ(training_mode_from_string("Adam"), TrainingMode::Adam);
  expect_throw<InvalidArgument>([] { training_mode_from_string("lbfgs"); },
                                {"'lbfgs'", "sgd", "adam"});
}

TEST(Enums, SizeOf) {
  EXPECT_EQ(size_of(DataType::UInt), 4u);
  EXPECT_EQ(size_of(DataType::Int), 4u);
  EXPECT_EQ(size_of(DataType::LLInt), 8u);
  EXPECT_EQ(size_of(DataType::ULLInt), 8u);
  EXPECT_EQ(size_of(DataType::Float), 4u);
  EXPECT_EQ(size_of(DataType::Double), 8u);
  EXPECT_EQ(size_of(DataType::RGB8), 1u);
  EXPECT_EQ(size_of(DataType::RGB16), 2u);
  EXPECT_EQ(size_of(DataType::UChar), 1u);
  EXPECT_EQ(size_of(DataType::Char), 1u);
  expect_throw<InvalidArgument>([] { size_of(DataType(42)); }, {"42"});
}

}  // namespace
}  // namespace dsstne
