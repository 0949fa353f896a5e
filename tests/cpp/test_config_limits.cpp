// SPDX-License-Identifier: Apache-2.0
// What the JSON language refuses when it is read, so that nothing accepted fails later, trains
// differently from what was written, or cannot be saved: fractions where a count belongs,
// floats beyond float32, NUL in names, out-of-range parameters, deep nesting, endless files,
// binary files, BatchNormalization outside hidden layers, unimplemented pooling functions.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config_test_util.hpp"
#include "dsstne/config.hpp"
#include "dsstne/error.hpp"

namespace dsstne {
namespace {

using testing::expect_invalid;
using testing::expect_throw;
using testing::net;
using testing::three;

TEST(ConfigLimits, FractionsWhereWholeNumbersBelongAreRefused) {
  expect_invalid(three(R"("N": 7.9)"), {"'N'", "'h'", "whole number", "7.9"});
  expect_invalid(three(R"("N": [4, 2.5])"), {"entry 1", "'N'", "whole number"});
  expect_invalid(three("", R"("Maxout": {"k": 2.9})"), {"'k'", "Maxout", "whole number"});
  expect_invalid(three("", R"("LRN": {"n": 5.5})"), {"'n'", "LRN", "whole number"});
  // A whole number written with a decimal point is a whole number.
  EXPECT_EQ(parse_network_json(three(R"("N": 7.0)")).layer("h").n[0], 7u);
}

TEST(ConfigLimits, FloatsBeyondFloat32AreRefused) {
  expect_invalid(three("", R"("RELUSlope": 1e39)"), {"RELUSlope", "32-bit float"});
  expect_invalid(three(R"("ELUAlpha": -1e39)"), {"ELUAlpha", "'h'", "32-bit float"});
  expect_invalid(three("", R"("Denoising": {"p": -1e308})"), {"'p'", "Denoising", "32-bit"});
  expect_invalid(three(R"("WeightInit": {"Scale": 1e300})"), {"'Scale'", "32-bit"});
}

TEST(ConfigLimits, CountsStoredAsInt32MustFit) {
  expect_invalid(three("", R"("Maxout": {"k": 2147483648})"), {"'k'", "Maxout", "2147483647"});
  expect_invalid(three("", R"("Maxout": {"k": 0})"), {"'k'", "Maxout", "from 1"});
  expect_invalid(three("", R"("LRN": {"n": 4294967295})"), {"'n'", "LRN"});
  expect_invalid(three(R"("N": [65536, 65536])"), {"layer 'h'", "units", "at most"});
}

TEST(ConfigLimits, ProbabilitiesAndNormsAreInRange) {
  expect_invalid(three("", R"("Denoising": {"p": 1})"), {"'p'", "Denoising", "[0, 1)"});
  expect_invalid(three("", R"("Denoising": {"p": -0.1})"), {"'p'", "Denoising"});
  expect_invalid(three(R"("pDropout": 1)"), {"pDropout", "'h'", "[0, 1)"});
  expect_invalid(three(R"("pDropout": -0.5)"), {"pDropout", "'h'"});
  expect_invalid(three("", R"("SparsenessPenalty": {"p": 1.5})"),
                 {"'p'", "SparsenessPenalty", "[0, 1]"});
  expect_invalid(three("", R"("SparsenessPenalty": {"beta": -1})"),
                 {"'beta'", "SparsenessPenalty", ">= 0"});
  expect_invalid(three(R"("SparsenessPenalty": {"p": 2})"), {"'p'", "'h'", "[0, 1]"});
  expect_invalid(three("", R"("ScaledMarginalCrossEntropy": {"oneTarget": 1.5})"),
                 {"oneTarget", "[0, 1]"});
  expect_invalid(three("", R"("ScaledMarginalCrossEntropy": {"zeroScale": -2})"),
                 {"zeroScale", ">= 0"});
  expect_invalid(three("", R"("DeltaBoost": {"zero": -1})"), {"'zero'", "DeltaBoost", ">= 0"});
  expect_invalid(three(R"("WeightNorm": -1)"), {"WeightNorm", "'h'", ">= 0"});
  expect_invalid(three(R"("DeltaNorm": -0.5)"), {"DeltaNorm", "'h'", ">= 0"});
  expect_invalid(three("", R"("Decay": -0.1)"), {"Decay", ">= 0"});
}

TEST(ConfigLimits, NamesWithNulAreRefused) {
  expect_invalid(three(R"("Name": "h\u0000x")"), {"NUL"});
  expect_invalid(net(R"({"Name": "in", "N": 8, "DataSet": "x\u0000"}, {"N": 2})"), {"NUL"});
  expect_invalid(three("", R"("Name": "net\u0000")"), {"NUL"});
}

TEST(ConfigLimits, DeepNestingIsRefusedWithoutRecursion) {
  // Tens of thousands of levels, in a known key and in an unknown one.
  for (const std::string key : {"N", "Whatever"}) {
    const int depth = 50000;
    const std::string deep = std::string(depth, '[') + "1" + std::string(depth, ']');
    expect_invalid(three("\"" + key + "\": " + deep), {"nests deeper than"});
  }
  // The deepest real description (a layer's SharedWeights list) is far below the limit.
  EXPECT_NO_THROW(parse_network_json(net(
      R"({"Name": "in", "N": 4, "DataSet": "x"}, {"Name": "h", "N": 3},
         {"Name": "out", "N": 4, "DataSet": "x", "SharedWeights": [{"InputLayer": "h",
          "SourceInputLayer": "in", "SourceOutputLayer": "h", "Transposed": true}]})")));
}

TEST(ConfigLimits, BatchNormalizationIsForHiddenLayers) {
  EXPECT_NO_THROW(validate(parse_network_json(three(R"("BatchNormalization": true)"))));
  EXPECT_NO_THROW(validate(parse_network_json(three(R"("BatchNormalization": false)"))));
  NetworkDescriptor d = parse_network_json(three(R"("BatchNormalization": true)"));
  d.layers.back().batch_normalization = true;  // the JSON language refuses the key on outputs
  expect_throw<InvalidArgument>([&] { validate(d); }, {"Output layer", "for Hidden layers"});
}

TEST(ConfigLimits, PoolingFunctionsDsstneNeverImplementedAreRefused) {
  for (const char* f : {"Stochastic", "LCN", "GlobalTemporal"}) {
    SCOPED_TRACE(f);
    NetworkDescriptor d = parse_network_json(three(R"("BatchNormalization": false)"));
    d.layers[1].type = LayerType::Pooling;
    d.layers[1].pooling = f == std::string("LCN")          ? PoolingFunction::LCN
                          : f == std::string("Stochastic") ? PoolingFunction::Stochastic
                                                           : PoolingFunction::GlobalTemporal;
    expect_throw<NotSupported>([&] { validate(d); }, {"never implemented", "'h'"});
  }
}

TEST(ConfigLimits, FilesThatAreNotJsonTextAreRefused) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "dsstne_config_limits";
  fs::create_directories(dir);
  const auto write = [&](const char* name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  const std::string hdf5 = write("model.nc", std::string("\x89HDF\r\n\x1a\n", 8) + "xyz");
  expect_throw<InvalidArgument>([&] { load_network_json(hdf5); }, {hdf5, "NetCDF file"});
  const std::string binary = write("blob.json", std::string("{\"a\0", 4));
  expect_throw<InvalidArgument>([&] { load_network_json(binary); }, {binary, "binary"});
  // An endless device stops at the cap instead of filling memory.
  if (fs::exists("/dev/zero"))
    expect_throw<InvalidArgument>([&] { load_network_json("/dev/zero"); },
                                  {"/dev/zero", "larger than 16 MiB"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dsstne
