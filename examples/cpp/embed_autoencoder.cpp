// SPDX-License-Identifier: Apache-2.0
// Embedding dsstne in a C++ program with no Python: a JSON network, a sparse data set built from
// arrays, a few epochs of training, and the top-5 recommendations of the first users.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include "dsstne/config.hpp"
#include "dsstne/network.hpp"
#include "dsstne/rng.hpp"

namespace {

constexpr const char* kConfig = R"({
  "Version": 0.8, "Name": "embedded autoencoder", "Kind": "FeedForward",
  "ShuffleIndices": true,
  "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0, "zeroScale": 1.0},
  "Layers": [
    {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": true},
    {"Name": "Hidden", "Kind": "Hidden", "N": 32, "Activation": "Sigmoid"},
    {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items", "Activation": "Sigmoid"}
  ],
  "ErrorFunction": "ScaledMarginalCrossEntropy"
})";

// Users who like items of one of four "genres" (blocks of 50 items), 8 items each.
std::shared_ptr<dsstne::DataSet> make_items(const dsstne::Context& ctx, int users, int items) {
  std::vector<uint64_t> start, end;
  std::vector<uint32_t> indices;
  for (int u = 0; u < users; ++u) {
    start.push_back(indices.size());
    const int genre = u % 4;
    for (int j = 0; j < 8; ++j) {
      const float r = dsstne::random_uniform(7, uint64_t(u), uint64_t(j));
      indices.push_back(uint32_t(genre * (items / 4) + int(r * float(items / 4 - 1))));
    }
    end.push_back(indices.size());
  }
  dsstne::DataSetArrays a;
  a.name = "items";
  a.attributes = dsstne::attr::kSparse | dsstne::attr::kBoolean;
  a.type = dsstne::DataType::UInt;
  a.dims.width = uint32_t(items);
  a.records = users;
  a.sparse_start = start.data();
  a.sparse_end = end.data();
  a.nnz = int64_t(indices.size());
  a.sparse_indices = indices.data();
  return std::make_shared<dsstne::DataSet>(ctx, a);
}

}  // namespace

int main() {
  try {
    const dsstne::Context ctx(dsstne::Device::CPU, 0, 12134);
    auto items = make_items(ctx, 400, 200);
    dsstne::Network net(dsstne::parse_network_json(kConfig), {items}, 64, ctx);
    dsstne::TrainParams params;
    params.mode = dsstne::TrainingMode::Adam;
    params.alpha = 0.01f;
    params.lambda = 0.0f;
    params.mu = 0.9f;
    const auto history = net.train(8, params);
    for (const auto& e : history) std::printf("epoch %d  error %.4f\n", e.epoch, e.error);
    if (!(history.back().error < history.front().error)) {
      std::fprintf(stderr, "error did not fall\n");
      return 1;
    }
    std::vector<float> scores;
    std::vector<uint32_t> top;
    net.predict_topk("Output", 5, items.get(), scores, top);
    for (int u = 0; u < 4; ++u) {
      std::printf("user %d (genre %d):", u, u % 4);
      for (int j = 0; j < 5; ++j) std::printf(" %u(%.3f)", top[u * 5 + j], scores[u * 5 + j]);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
