// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file comm.hpp
/// @brief Communication between the ranks that share a model (one process per device).
///
/// Every Layer and Weight is sized by its rank's slice of the units; the single-process
/// implementation is the one-rank case of the same code. MPI and NCCL implementations arrive
/// with model parallelism.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace dsstne {

/// Half-open range [begin, end) of the units a rank owns.
struct Slice {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  /// Sums `count` doubles over all ranks, in place (a fixed order on every rank).
  virtual void allreduce_sum(double* values, int64_t count) = 0;

  /// The contiguous slice of n units owned by `rank`: [⌊n·rank/size⌋, ⌊n·(rank+1)/size⌋).
  Slice slice(int64_t n, int rank_id) const {
    return Slice{n * rank_id / size(), n * (rank_id + 1) / size()};
  }
  Slice slice(int64_t n) const { return slice(n, rank()); }
};

/// One process owns everything.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }
  void allreduce_sum(double*, int64_t) override {}
};

}  // namespace dsstne
