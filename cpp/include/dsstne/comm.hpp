// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file comm.hpp
/// @brief Communication between the ranks that share a model (one process per device).
///
/// Every Layer and Weight is sized by its rank's slice of the units; the single-process
/// implementation is the one-rank case of the same code. Collectives work on the memory of the
/// context they are given (host memory for CPU contexts, device memory for GPU ones).
///
/// Determinism: every reduction sums the ranks' contributions in rank order on each rank (an
/// all-gather or all-to-all followed by a local ordered sum), never in an order an MPI or NCCL
/// algorithm picks, so for a fixed number of ranks every rank gets the same bits on every run;
/// the MPI and NCCL communicators add in the same order, so they get the same bits as well.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dsstne/error.hpp"

namespace dsstne {

class Context;

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

  /// Sums `count` host values over all ranks, in place; every rank adds the ranks' values in
  /// rank order, so all get the same result.
  virtual void allreduce_sum(double* host_values, int64_t count) = 0;
  /// The same for floats in the memory of `ctx`'s device.
  virtual void allreduce_sum(const Context& ctx, float* values, int64_t count) = 0;
  /// Element-wise maximum over all ranks, in place.
  virtual void allreduce_max(const Context& ctx, float* values, int64_t count) = 0;
  /// Rank r contributes `counts[r]` floats (`send`); `recv` receives every rank's block, in rank
  /// order, on every rank.
  virtual void allgather(const Context& ctx, const float* send, float* recv,
                         const std::vector<int64_t>& counts) = 0;
  /// `send` holds one block per rank (block r: `counts[r]` floats); rank r receives in `recv`
  /// the sum over ranks of their block r, added in rank order.
  virtual void reduce_scatter(const Context& ctx, const float* send, float* recv,
                              const std::vector<int64_t>& counts) = 0;
  /// Copies `bytes` of `data` from rank `root` to every rank.
  virtual void broadcast(const Context& ctx, void* data, int64_t bytes, int root) = 0;
  /// Every rank's bytes (any length, host memory), on every rank, in rank order.
  virtual std::vector<std::vector<unsigned char>> allgather_bytes(const void* data,
                                                                  int64_t bytes) = 0;
  virtual void barrier() = 0;

  /// The contiguous slice of n units owned by `rank`: [⌊n·rank/size⌋, ⌊n·(rank+1)/size⌋).
  Slice slice(int64_t n, int rank_id) const {
    return Slice{n * rank_id / size(), n * (rank_id + 1) / size()};
  }
  Slice slice(int64_t n) const { return slice(n, rank()); }
  /// The sizes of every rank's slice of n units, times `per_unit` (a batch's rows).
  std::vector<int64_t> slice_counts(int64_t n, int64_t per_unit = 1) const {
    std::vector<int64_t> counts(static_cast<std::size_t>(size()));
    for (int r = 0; r < size(); ++r) counts[std::size_t(r)] = slice(n, r).size() * per_unit;
    return counts;
  }
};

/// One process owns everything.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_sum(const Context&, float*, int64_t) override {}
  void allreduce_max(const Context&, float*, int64_t) override {}
  void allgather(const Context& ctx, const float* send, float* recv,
                 const std::vector<int64_t>& counts) override;
  void reduce_scatter(const Context& ctx, const float* send, float* recv,
                      const std::vector<int64_t>& counts) override;
  void broadcast(const Context&, void*, int64_t, int) override {}
  std::vector<std::vector<unsigned char>> allgather_bytes(const void* data,
                                                          int64_t bytes) override;
  void barrier() override {}
};

/// Whether this build of libdsstne contains the MPI communicator.
bool mpi_built();

/// The MPI communicator over a duplicate of the MPI_Comm whose handle is `handle` (MPI must be
/// initialised; for Open MPI and MPICH the handle is the MPI_Comm value itself, as mpi4py's
/// MPI._handleof returns it). A collective that waits longer than `timeout_seconds` for another
/// rank raises CommunicationError instead of hanging.
/// @throws NotSupported in a build without MPI.
std::shared_ptr<Communicator> mpi_communicator(std::uintptr_t handle, double timeout_seconds);

/// Whether this build of libdsstne contains the NCCL communicator.
bool nccl_built();

/// The NCCL communicator of this rank's GPU `device_ordinal`, over the ranks of `host` (one GPU
/// per rank; NCCL refuses two ranks on one GPU). Collectives of CUDA contexts on that device move
/// device memory GPU to GPU; host memory, and CPU contexts, go through `host`, which also carries
/// NCCL's id at start-up (a collective: every rank of `host` calls it). A rank that waits longer
/// than `timeout_seconds` aborts the communicator and raises CommunicationError.
/// @throws NotSupported in a build without NCCL.
std::shared_ptr<Communicator> nccl_communicator(std::shared_ptr<Communicator> host,
                                                int device_ordinal, double timeout_seconds);

}  // namespace dsstne
