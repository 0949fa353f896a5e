// SPDX-License-Identifier: Apache-2.0
// The MPI communicator's collectives, run under `mpiexec -np N` (CTest runs N = 2 and 3): results
// equal the rank-ordered sums and concatenations computed by hand, bitwise, on every rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "dsstne/comm.hpp"
#include "dsstne/context.hpp"

namespace dsstne {
namespace {

std::shared_ptr<Communicator> world() {
  return mpi_communicator(reinterpret_cast<std::uintptr_t>(MPI_COMM_WORLD), 60.0);
}

/// A value that differs per rank and element and rounds differently in different orders.
float value(int rank, int i) { return 1.0f / float(3 + 7 * rank + i) + float(rank) * 1e4f; }

TEST(MpiComm, RankAndSizeMatchMpi) {
  auto comm = world();
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(comm->rank(), rank);
  EXPECT_EQ(comm->size(), size);
  EXPECT_EQ(comm->name(), "mpi");
}

TEST(MpiComm, AllreduceSumsInRankOrder) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  std::vector<float> v(5);
  std::vector<double> d(5);
  for (int i = 0; i < 5; ++i) {
    v[std::size_t(i)] = value(comm->rank(), i);
    d[std::size_t(i)] = double(value(comm->rank(), i)) / 3.0;
  }
  comm->allreduce_sum(ctx, v.data(), 5);
  comm->allreduce_sum(d.data(), 5);
  for (int i = 0; i < 5; ++i) {
    float expected = value(0, i);
    double expected_d = double(value(0, i)) / 3.0;
    for (int r = 1; r < comm->size(); ++r) {
      expected += value(r, i);
      expected_d += double(value(r, i)) / 3.0;
    }
    EXPECT_EQ(v[std::size_t(i)], expected) << i;
    EXPECT_EQ(d[std::size_t(i)], expected_d) << i;
  }
}

TEST(MpiComm, AllreduceMax) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  std::vector<float> v = {float(comm->rank()), -float(comm->rank()), 7.0f};
  comm->allreduce_max(ctx, v.data(), 3);
  EXPECT_EQ(v[0], float(comm->size() - 1));
  EXPECT_EQ(v[1], 0.0f);
  EXPECT_EQ(v[2], 7.0f);
}

TEST(MpiComm, AllgatherOfUnevenBlocks) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  const std::vector<int64_t> counts = comm->slice_counts(10, 3);  // uneven for 3 ranks
  std::vector<float> mine(std::size_t(counts[std::size_t(comm->rank())]));
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = value(comm->rank(), int(i));
  std::vector<float> all(std::size_t(std::accumulate(counts.begin(), counts.end(), int64_t(0))));
  comm->allgather(ctx, mine.data(), all.data(), counts);
  std::size_t k = 0;
  for (int r = 0; r < comm->size(); ++r)
    for (int64_t i = 0; i < counts[std::size_t(r)]; ++i) EXPECT_EQ(all[k++], value(r, int(i)));
}

TEST(MpiComm, ReduceScatterSumsEachBlockInRankOrder) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  const std::vector<int64_t> counts = comm->slice_counts(11, 2);
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  std::vector<float> send(static_cast<std::size_t>(total));
  for (int64_t i = 0; i < total; ++i) send[std::size_t(i)] = value(comm->rank(), int(i));
  std::vector<float> recv(std::size_t(counts[std::size_t(comm->rank())]));
  comm->reduce_scatter(ctx, send.data(), recv.data(), counts);
  int64_t offset = 0;
  for (int r = 0; r < comm->rank(); ++r) offset += counts[std::size_t(r)];
  for (std::size_t i = 0; i < recv.size(); ++i) {
    float expected = value(0, int(offset + int64_t(i)));
    for (int r = 1; r < comm->size(); ++r) expected += value(r, int(offset + int64_t(i)));
    EXPECT_EQ(recv[i], expected);
  }
}

TEST(MpiComm, BroadcastFromTheLastRank) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  const int root = comm->size() - 1;
  std::vector<double> v(4, double(comm->rank()));
  comm->broadcast(ctx, v.data(), int64_t(v.size() * sizeof(double)), root);
  for (double x : v) EXPECT_EQ(x, double(root));
  EXPECT_THROW(comm->broadcast(ctx, v.data(), 8, comm->size()), InvalidArgument);
}

TEST(MpiComm, AllgatherBytesOfAnyLength) {
  auto comm = world();
  const std::string mine(std::size_t(comm->rank() * 3), char('a' + comm->rank()));
  const auto all = comm->allgather_bytes(mine.data(), int64_t(mine.size()));
  ASSERT_EQ(int(all.size()), comm->size());
  for (int r = 0; r < comm->size(); ++r)
    EXPECT_EQ(std::string(all[std::size_t(r)].begin(), all[std::size_t(r)].end()),
              std::string(std::size_t(r * 3), char('a' + r)));
  comm->barrier();
}

TEST(MpiComm, CountsMustMatchTheRanks) {
  auto comm = world();
  const Context ctx(Device::CPU, 0, 1, comm);
  float x = 0;
  EXPECT_THROW(comm->allgather(ctx, &x, &x, {1}), InvalidArgument);
  EXPECT_THROW(mpi_communicator(reinterpret_cast<std::uintptr_t>(MPI_COMM_WORLD), 0.0),
               InvalidArgument);
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
