// SPDX-License-Identifier: Apache-2.0
// The communicators' collectives, run under `mpiexec -np N` (CTest runs N = 1, 2 and 3): results
// equal the rank-ordered sums and concatenations computed by hand, bitwise, on every rank. Each
// test runs on three transports: MPI with host memory, MPI with CUDA device memory (staged
// through the host; the ranks may share one GPU), and NCCL (one GPU per rank). A transport the
// machine cannot run is skipped on every rank alike (DSSTNE_REQUIRE_GPU=1 makes a missing GPU a
// failure; fewer GPUs than ranks stays a skip for NCCL, which needs one GPU per rank).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "dsstne/comm.hpp"
#include "dsstne/context.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/device_buffer.hpp"

namespace dsstne {
namespace {

enum class Transport { MpiHost, MpiCuda, Nccl };

std::shared_ptr<Communicator> world() {
  return mpi_communicator(reinterpret_cast<std::uintptr_t>(MPI_COMM_WORLD), 60.0);
}

bool gpu_required() {
  const char* v = std::getenv("DSSTNE_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

/// A value that differs per rank and element and rounds differently in different orders.
float value(int rank, int i) { return 1.0f / float(3 + 7 * rank + i) + float(rank) * 1e4f; }

class Collectives : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    auto mpi = world();
    if (GetParam() == Transport::MpiHost) {
      comm_ = mpi;
      ctx_ = Context(Device::CPU, 0, 1, comm_);
      return;
    }
    const int gpus = Context::cuda_built() ? cuda::device_count() : 0;
    if (gpus == 0) {
      if (gpu_required()) FAIL() << "no CUDA device (DSSTNE_REQUIRE_GPU=1)";
      GTEST_SKIP() << "no CUDA device is visible, or this libdsstne has no CUDA backend";
    }
    const int device = mpi->rank() % gpus;
    if (GetParam() == Transport::MpiCuda) {
      comm_ = mpi;
    } else {
      if (!nccl_built()) {
        if (gpu_required()) FAIL() << "this libdsstne has no NCCL communicator";
        GTEST_SKIP() << "this libdsstne has no NCCL communicator";
      }
      if (gpus < mpi->size()) GTEST_SKIP() << "NCCL needs one GPU per rank: " << gpus
                                           << " GPUs for " << mpi->size() << " ranks";
      comm_ = nccl_communicator(mpi, device, 60.0);
    }
    ctx_ = Context(Device::CUDA, device, 1, comm_);
  }

  /// A copy of `host` in the context's memory.
  template <typename T>
  DeviceBuffer<T> put(const std::vector<T>& host) const {
    DeviceBuffer<T> buffer(ctx_, host.size(), "test");
    buffer.upload(host);
    return buffer;
  }

  std::shared_ptr<Communicator> comm_;
  Context ctx_;
};

TEST(MpiComm, RankAndSizeMatchMpi) {
  auto comm = world();
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(comm->rank(), rank);
  EXPECT_EQ(comm->size(), size);
  EXPECT_EQ(comm->name(), "mpi");
}

TEST_P(Collectives, AllreduceSumsInRankOrder) {
  std::vector<float> v(5);
  std::vector<double> d(5);
  for (int i = 0; i < 5; ++i) {
    v[std::size_t(i)] = value(comm_->rank(), i);
    d[std::size_t(i)] = double(value(comm_->rank(), i)) / 3.0;
  }
  auto buffer = put(v);
  comm_->allreduce_sum(ctx_, buffer.data(), 5);
  comm_->allreduce_sum(d.data(), 5);
  v = buffer.download();
  for (int i = 0; i < 5; ++i) {
    float expected = value(0, i);
    double expected_d = double(value(0, i)) / 3.0;
    for (int r = 1; r < comm_->size(); ++r) {
      expected += value(r, i);
      expected_d += double(value(r, i)) / 3.0;
    }
    EXPECT_EQ(v[std::size_t(i)], expected) << i;
    EXPECT_EQ(d[std::size_t(i)], expected_d) << i;
  }
}

TEST_P(Collectives, AllreduceMax) {
  auto buffer = put(std::vector<float>{float(comm_->rank()), -float(comm_->rank()), 7.0f});
  comm_->allreduce_max(ctx_, buffer.data(), 3);
  EXPECT_EQ(buffer.download(), (std::vector<float>{float(comm_->size() - 1), 0.0f, 7.0f}));
}

TEST_P(Collectives, AllgatherOfEvenAndUnevenBlocks) {
  for (int64_t units : {10, 12}) {  // uneven and even for 3 ranks
    const std::vector<int64_t> counts = comm_->slice_counts(units, 3);
    std::vector<float> mine(std::size_t(counts[std::size_t(comm_->rank())]));
    for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = value(comm_->rank(), int(i));
    const auto send = put(mine);
    DeviceBuffer<float> all(ctx_, std::size_t(units * 3), "all");
    comm_->allgather(ctx_, send.data(), all.data(), counts);
    const std::vector<float> got = all.download();
    std::size_t k = 0;
    for (int r = 0; r < comm_->size(); ++r)
      for (int64_t i = 0; i < counts[std::size_t(r)]; ++i)
        EXPECT_EQ(got[k++], value(r, int(i))) << units << " units, rank " << r << " item " << i;
  }
}

TEST_P(Collectives, ReduceScatterSumsEachBlockInRankOrder) {
  const std::vector<int64_t> counts = comm_->slice_counts(11, 2);
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  std::vector<float> send(static_cast<std::size_t>(total));
  for (int64_t i = 0; i < total; ++i) send[std::size_t(i)] = value(comm_->rank(), int(i));
  const auto send_buffer = put(send);
  DeviceBuffer<float> recv(ctx_, std::size_t(counts[std::size_t(comm_->rank())]), "recv");
  comm_->reduce_scatter(ctx_, send_buffer.data(), recv.data(), counts);
  const std::vector<float> got = recv.download();
  int64_t offset = 0;
  for (int r = 0; r < comm_->rank(); ++r) offset += counts[std::size_t(r)];
  for (std::size_t i = 0; i < got.size(); ++i) {
    float expected = value(0, int(offset + int64_t(i)));
    for (int r = 1; r < comm_->size(); ++r) expected += value(r, int(offset + int64_t(i)));
    EXPECT_EQ(got[i], expected) << i;
  }
}

TEST_P(Collectives, BroadcastFromTheLastRank) {
  const int root = comm_->size() - 1;
  auto buffer = put(std::vector<float>(4, float(comm_->rank())));
  comm_->broadcast(ctx_, buffer.data(), int64_t(4 * sizeof(float)), root);
  EXPECT_EQ(buffer.download(), std::vector<float>(4, float(root)));
  EXPECT_THROW(comm_->broadcast(ctx_, buffer.data(), 8, comm_->size()), InvalidArgument);
}

TEST_P(Collectives, AllgatherBytesOfAnyLength) {
  const std::string mine(std::size_t(comm_->rank() * 3), char('a' + comm_->rank()));
  const auto all = comm_->allgather_bytes(mine.data(), int64_t(mine.size()));
  ASSERT_EQ(int(all.size()), comm_->size());
  for (int r = 0; r < comm_->size(); ++r)
    EXPECT_EQ(std::string(all[std::size_t(r)].begin(), all[std::size_t(r)].end()),
              std::string(std::size_t(r * 3), char('a' + r)));
  comm_->barrier();
}

TEST_P(Collectives, CountsMustMatchTheRanks) {
  DeviceBuffer<float> x(ctx_, 2, "x");
  const std::vector<int64_t> wrong(std::size_t(comm_->size() + 1), 1);
  EXPECT_THROW(comm_->allgather(ctx_, x.data(), x.data(), wrong), InvalidArgument);
  EXPECT_THROW(comm_->reduce_scatter(ctx_, x.data(), x.data(), wrong), InvalidArgument);
}

TEST(MpiComm, TimeoutMustBePositive) {
  EXPECT_THROW(mpi_communicator(reinterpret_cast<std::uintptr_t>(MPI_COMM_WORLD), 0.0),
               InvalidArgument);
  if (nccl_built()) {
    EXPECT_THROW(nccl_communicator(world(), 0, 0.0), InvalidArgument);
  } else {
    EXPECT_THROW(nccl_communicator(world(), 0, 60.0), NotSupported);
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, Collectives,
                         ::testing::Values(Transport::MpiHost, Transport::MpiCuda, Transport::Nccl),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return info.param == Transport::MpiHost   ? std::string("MpiHost")
                                  : info.param == Transport::MpiCuda ? std::string("MpiCuda")
                                                                     : std::string("Nccl");
                         });

}  // namespace
}  // namespace dsstne

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  MPI_Finalize();
  return status;
}
