// SPDX-License-Identifier: Apache-2.0
// A network split across processes (`mpiexec -np 2 model_parallel_autoencoder`): every rank
// builds the same network on a context that shares it through MPI, so each holds a slice of
// every layer and a block of every weight matrix; training and top-K give the results of one
// process, which rank 0 checks against a copy trained alone.
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include "dsstne/config.hpp"
#include "dsstne/mpi.hpp"
#include "dsstne/network.hpp"
#include "dsstne/rng.hpp"

namespace {

constexpr const char* kConfig = R"({
  "Version": 0.8, "Name": "model-parallel autoencoder", "Kind": "FeedForward",
  "Layers": [
    {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": true},
    {"Name": "Hidden", "Kind": "Hidden", "N": 48, "Activation": "Tanh"},
    {"Name": "Code", "Kind": "Hidden", "N": 16, "Activation": "Sigmoid"},
    {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items", "Activation": "Sigmoid"}
  ],
  "ErrorFunction": "CrossEntropy"
})";

// Users who like items of one of four "genres" (blocks of 75 items), 8 items each.
std::shared_ptr<dsstne::DataSet> make_items(const dsstne::Context& ctx, int users, int items) {
  std::vector<uint64_t> start, end;
  std::vector<uint32_t> indices;
  for (int u = 0; u < users; ++u) {
    start.push_back(indices.size());
    for (int j = 0; j < 8; ++j) {
      const float r = dsstne::random_uniform(7, uint64_t(u), uint64_t(j));
      indices.push_back(uint32_t((u % 4) * (items / 4) + int(r * float(items / 4 - 1))));
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

struct Result {
  double error;
  std::vector<float> scores;
  std::vector<uint32_t> top;
};

Result train(const dsstne::Context& ctx) {
  auto items = make_items(ctx, 320, 300);
  dsstne::Network net(dsstne::parse_network_json(kConfig), {items}, 64, ctx);
  dsstne::TrainParams params;
  params.mode = dsstne::TrainingMode::Adam;
  params.alpha = 0.01f;
  params.mu = 0.9f;
  Result r;
  r.error = net.train(5, params).back().error;
  net.predict_topk("Output", 5, items.get(), r.scores, r.top);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  try {
    const dsstne::Context shared(dsstne::Device::CPU, 0, 12134, dsstne::make_mpi_communicator());
    const Result split = train(shared);
    if (shared.comm().rank() == 0) {
      std::printf("%d ranks: error %.6f after 5 epochs\n", shared.comm().size(), split.error);
      const Result alone = train(dsstne::Context(dsstne::Device::CPU, 0, 12134));
      std::printf("1 rank:  error %.6f\n", alone.error);
      int same = 0;
      for (std::size_t i = 0; i < alone.top.size(); ++i) same += alone.top[i] == split.top[i];
      std::printf("top-5 items equal: %d of %zu\n", same, alone.top.size());
      if (std::fabs(alone.error - split.error) > 1e-5 * std::fabs(alone.error) ||
          same < int(alone.top.size()) * 99 / 100) {
        std::fprintf(stderr, "the split network does not match one process\n");
        status = 1;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
