// SPDX-License-Identifier: Apache-2.0
// Replicated layers under `mpiexec -np N` (CTest runs N = 1, 2 and 3): a convolutional network
// (convolution with batch normalization whose output channels the ranks divide, max pooling,
// LRN, a fully-connected layer the ranks divide, a batch-normalized one they replicate, a
// SoftMax output they divide) built on every rank twice, once over the world communicator and
// once alone, trains to the same weights within rounding, predicts its replicated layers
// bitwise alike, holds the same bits on every rank, and what several ranks cannot run is
// refused naming the layers.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "dsstne/comm.hpp"
#include "dsstne/config.hpp"
#include "dsstne/context.hpp"
#include "dsstne/dataset.hpp"
#include "dsstne/error.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

constexpr int64_t kExamples = 40, kClasses = 4;
constexpr uint64_t kSeed = 7;

std::shared_ptr<Communicator> world() {
  return mpi_communicator(reinterpret_cast<std::uintptr_t>(MPI_COMM_WORLD), 60.0);
}

/// Dense float data of `examples` × width × height × maps, with `dimensions` axes.
std::shared_ptr<DataSet> dense(const Context& ctx, const std::string& name, Dims dims,
                               const std::vector<float>& values) {
  DataSetArrays a;
  a.name = name;
  a.type = DataType::Float;
  a.dims = dims;
  a.records = kExamples;
  a.dense_data = values.data();
  a.dense_count = int64_t(values.size());
  return std::make_shared<DataSet>(ctx, a);  // copies the arrays
}

/// 6×6 images of 2 maps and one-hot targets of 4 classes, alike on every rank.
std::vector<DataSetPtr> images(const Context& ctx) {
  std::vector<float> x(std::size_t(kExamples * 72)), y(std::size_t(kExamples * kClasses), 0.0f);
  uint32_t state = 12345u;
  const auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1u << 24);
  };
  for (float& v : x) v = 2.0f * next() - 1.0f;
  for (int64_t i = 0; i < kExamples; ++i)
    y[std::size_t(i * kClasses + int64_t(next() * kClasses) % kClasses)] = 1.0f;
  return {dense(ctx, "x", Dims{6, 6, 2, 3}, x), dense(ctx, "y", Dims{kClasses, 1, 1, 1}, y)};
}

const char* kConvnet = R"({
  "Version": 0.8, "Name": "mpconv", "Kind": "FeedForward", "ErrorFunction": "CrossEntropy",
  "ShuffleIndices": true,
  "Layers": [
    {"Name": "img", "Kind": "Input", "Type": "Convolutional", "N": "auto", "DataSet": "x"},
    {"Name": "c1", "Kind": "Hidden", "Type": "Convolutional", "N": 3, "Kernel": [3, 3],
     "Activation": "RectifiedLinear", "BatchNormalization": true},
    {"Name": "p1", "Kind": "Hidden", "Type": "Pooling", "Function": "Max", "Kernel": [2, 2],
     "KernelStride": [2, 2]},
    {"Name": "lrn", "Kind": "Hidden", "Type": "Pooling", "Function": "LRN"},
    {"Name": "fc", "Kind": "Hidden", "N": 7, "Activation": "Tanh"},
    {"Name": "bn", "Kind": "Hidden", "N": 5, "Activation": "Tanh", "BatchNormalization": true,
     "pDropout": 0.2},
    {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y", "Activation": "SoftMax"}
  ]})";

struct Pair {
  Context alone{Device::CPU, 0, kSeed};
  Context shared = alone.with_communicator(world());
  Network one{parse_network_json(kConvnet), images(alone), 16, alone};
  Network many{parse_network_json(kConvnet), images(shared), 16, shared};
};

std::vector<float> whole(const Network& net, const Weight& w, int which) {
  std::vector<float> out(std::size_t(net.parameter_size(w, which)));
  net.gather_parameter(w, which, out.data());
  return out;
}

double relative(const std::vector<float>& reference, const std::vector<float>& got) {
  double scale = 1e-30, diff = 0.0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    scale = std::max(scale, double(std::fabs(reference[i])));
    diff = std::max(diff, double(std::fabs(reference[i] - got[i])));
  }
  return diff / scale;
}

/// Whether every rank holds these bits.
bool alike_on_every_rank(Communicator& comm, const std::vector<float>& values) {
  const auto all = comm.allgather_bytes(values.data(), int64_t(values.size() * sizeof(float)));
  for (const auto& bytes : all)
    if (bytes.size() != values.size() * sizeof(float) ||
        std::memcmp(bytes.data(), values.data(), bytes.size()) != 0)
      return false;
  return true;
}

TEST(ReplicatedLayers, LayersAreReplicatedOrDividedAsDesigned) {
  Pair p;
  const bool ranks = p.shared.comm().size() > 1;
  for (const char* name : {"img", "c1", "p1", "lrn", "bn"}) {
    const Layer& l = p.many.layer(name);
    EXPECT_EQ(l.replicated(), ranks) << name;
    EXPECT_FALSE(l.sharded()) << name;
    EXPECT_EQ(l.local_units(), l.stride()) << name;
  }
  for (const char* name : {"fc", "out"}) {
    EXPECT_FALSE(p.many.layer(name).replicated()) << name;
    EXPECT_EQ(p.many.layer(name).sharded(), ranks) << name;
  }
  // The fc→bn matrix is whole on every rank; the filters and biases of c1's 3 output channels
  // are divided (on 2 ranks 1 and 2 channels), while its maps are whole everywhere.
  EXPECT_EQ(p.many.weight("fc", "bn").matrix().size(), std::size_t(7 * 5));
  const Weight& filters = p.many.weight("img", "c1");
  const Slice mine = p.shared.comm().slice(3);
  EXPECT_TRUE(filters.channel_split() == ranks);
  EXPECT_EQ(filters.block().row_begin, mine.begin);
  EXPECT_EQ(filters.matrix().size(), std::size_t(mine.size() * 2 * 3 * 3));
  EXPECT_EQ(filters.bias().size(), std::size_t(mine.size()));
  EXPECT_EQ(filters.matrix_rows(), 3);
  EXPECT_EQ(filters.local_conv_geometry().out_channels, mine.size());
}

TEST(ReplicatedLayers, UntrainedPredictionsOfReplicatedLayersAreBitwiseOneRanks) {
  Pair p;
  for (const char* name : {"c1", "p1", "lrn"})
    EXPECT_EQ(p.many.predict(name), p.one.predict(name)) << name;
  for (const char* name : {"fc", "bn", "out"})
    EXPECT_LE(relative(p.one.predict(name), p.many.predict(name)), 1e-6) << name;
}

TEST(ReplicatedLayers, NRanksTrainToTheWeightsOfOne) {
  Pair p;
  TrainParams params;
  params.mode = TrainingMode::Nesterov;
  params.alpha = 0.02f;
  params.mu = 0.9f;
  const auto one = p.one.train(2, params);
  const auto many = p.many.train(2, params);
  for (std::size_t e = 0; e < one.size(); ++e)
    EXPECT_NEAR(many[e].error, one[e].error, 1e-6 * std::fabs(one[e].error));
  Communicator& comm = p.shared.comm();
  for (std::size_t i = 0; i < p.one.weights().size(); ++i) {
    const Weight& a = *p.one.weights()[i];
    const Weight& b = *p.many.weights()[i];
    const std::string key = a.input().name() + "->" + a.output().name();
    const std::vector<float> wa = whole(p.one, a, Network::kMatrix);
    const std::vector<float> wb = whole(p.many, b, Network::kMatrix);
    EXPECT_LE(relative(wa, wb), 1e-5) << key;
    EXPECT_TRUE(alike_on_every_rank(comm, wb)) << key;
    const std::vector<float> ba = whole(p.one, a, Network::kBias);
    const std::vector<float> bb = whole(p.many, b, Network::kBias);
    // A bias into batch normalization has a gradient of rounding noise: it stays near zero.
    if (b.output().batch_normalized()) {
      for (std::size_t j = 0; j < ba.size(); ++j) EXPECT_NEAR(bb[j], ba[j], 1e-6) << key;
    } else {
      EXPECT_LE(relative(ba, bb), 1e-5) << key;
    }
  }
  for (const char* name : {"c1", "bn"}) {
    for (int which = 0; which < Layer::kBnBuffers; ++which) {
      const std::vector<float> a = p.one.layer(name).bn_buffer(which);
      const std::vector<float> b = p.many.layer(name).bn_buffer(which);
      EXPECT_LE(relative(a, b), 1e-5) << name << " buffer " << which;
      EXPECT_TRUE(alike_on_every_rank(comm, b)) << name << " buffer " << which;
    }
  }
  const std::vector<float> out = p.many.predict("out");
  EXPECT_LE(relative(p.one.predict("out"), out), 1e-5);
  EXPECT_TRUE(alike_on_every_rank(comm, out));
}

TEST(ReplicatedLayers, WhatSeveralRanksCannotRunIsRefused) {
  Context alone(Device::CPU, 0, kSeed);
  Context shared = alone.with_communicator(world());
  if (shared.comm().size() == 1) GTEST_SKIP() << "one rank runs every network";
  // The convolution reads the divided fully-connected layer.
  const std::string reads = R"({"Layers": [
    {"Name": "img", "Kind": "Input", "Type": "Convolutional", "N": "auto", "DataSet": "x"},
    {"Name": "h", "Kind": "Hidden", "N": [6, 6, 2], "Activation": "Tanh"},
    {"Name": "c", "Kind": "Hidden", "Type": "Convolutional", "N": 2, "Kernel": [3, 3],
     "Activation": "Tanh"},
    {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y", "Activation": "SoftMax"}]})";
  try {
    Network net(parse_network_json(reads), images(shared), 8, shared);
    ADD_FAILURE() << "a convolution of a divided layer was accepted";
  } catch (const NotSupported& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer 'c' is Convolutional and reads layer 'h'"), std::string::npos)
        << what;
  }
  // One rank runs it.
  Network net(parse_network_json(reads), images(alone), 8, alone);
  EXPECT_TRUE(std::isfinite(net.error()));
}

}  // namespace
}  // namespace dsstne

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  MPI_Finalize();
  return status;
}
