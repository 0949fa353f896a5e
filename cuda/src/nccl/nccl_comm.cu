// SPDX-License-Identifier: Apache-2.0
// The NCCL communicator (compiled when NCCL is found, DSSTNE_ENABLE_NCCL): the collectives of
// a CUDA context move device memory between GPUs directly (NVLink, PCIe, InfiniBand), with no
// host staging. A host communicator (MPI) carries the NCCL id at start-up and everything in
// host memory afterwards.
//
// Determinism as in the MPI communicator: sums are an all-gather (or a send/receive all-to-all)
// followed by sum_blocks, the ranks' blocks added in rank order, never an order NCCL picks; a
// maximum is exact in any order, so it is NCCL's own. Every call runs on the context's stream in
// NCCL's non-blocking mode and is polled against the deadline: a rank that failed or hangs makes
// the others abort the communicator and raise CommunicationError instead of waiting forever.
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "dsstne/comm.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

using clock_type = std::chrono::steady_clock;

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<Communicator> host, int device, double timeout)
      : host_(std::move(host)), device_(device), timeout_(timeout) {
    DSSTNE_EXPECTS(host_ != nullptr, "the NCCL communicator needs a host communicator");
    DSSTNE_EXPECTS(timeout > 0, "the communication timeout must be > 0 seconds, got ", timeout);
    // Rank 0 makes the id; the host communicator hands it to every rank.
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (host_->rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    const auto ids = host_->allgather_bytes(&id, host_->rank() == 0 ? sizeof id : 0);
    DSSTNE_EXPECTS_T(CommunicationError, ids[0].size() == sizeof id,
                     "rank 0 sent an NCCL id of ", ids[0].size(), " bytes, not ", sizeof id);
    std::memcpy(&id, ids[0].data(), sizeof id);

    const cuda::DeviceScope scope(device_);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // returns at once; settle() polls, so a missing rank cannot hang us
    check(ncclCommInitRankConfig(&comm_, host_->size(), id, host_->rank(), &config),
          "ncclCommInitRankConfig");
    settle("ncclCommInitRankConfig", deadline());
  }

  ~NcclCommunicator() override {
    if (comm_ == nullptr) return;
    const cuda::DeviceScope scope(device_, std::nothrow);
    // A communicator that lost a rank cannot finish its operations: abort it.
    if (failed_ || ncclCommFinalize(comm_) != ncclSuccess || !finalised()) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  std::string name() const override { return "nccl"; }

  void allreduce_sum(double* host_values, int64_t count) override {
    host_->allreduce_sum(host_values, count);
  }

  void allreduce_sum(const Context& ctx, float* values, int64_t count) override {
    if (!on_device(ctx, "allreduce_sum")) return host_->allreduce_sum(ctx, values, count);
    if (count == 0) return;
    const cuda::StreamScope s(ctx);
    cuda::Scratch scratch(s, cuda::Scratch::round_up(sizeof(float) * std::size_t(count) * ranks()),
                          "NCCL allreduce_sum");
    float* all = scratch.take<float>(std::size_t(count) * ranks());
    run("allreduce_sum", [&] {
      return ncclAllGather(values, all, std::size_t(count), ncclFloat, comm_, s.stream());
    });
    cuda::sum_blocks(ctx, all, size(), count, values);
    wait(s, "allreduce_sum");
  }

  void allreduce_max(const Context& ctx, float* values, int64_t count) override {
    if (!on_device(ctx, "allreduce_max")) return host_->allreduce_max(ctx, values, count);
    if (count == 0) return;
    const cuda::StreamScope s(ctx);
    run("allreduce_max", [&] {
      return ncclAllReduce(values, values, std::size_t(count), ncclFloat, ncclMax, comm_,
                           s.stream());
    });
    wait(s, "allreduce_max");
  }

  void allgather(const Context& ctx, const float* send, float* recv,
                 const std::vector<int64_t>& counts) override {
    if (!on_device(ctx, "allgather")) return host_->allgather(ctx, send, recv, counts);
    const std::vector<int64_t> offsets = layout(counts, "allgather");
    // NCCL gathers in place only from this rank's own block of `recv`.
    const float* own = recv + offsets[std::size_t(rank())];
    const int64_t total = offsets.back() + counts.back();
    DSSTNE_EXPECTS(send == own || send + counts[std::size_t(rank())] <= recv || send >= recv + total,
                   "allgather: the send buffer overlaps the receive buffer other than as this "
                   "rank's block");
    const cuda::StreamScope s(ctx);
    const bool even = std::all_of(counts.begin(), counts.end(),
                                  [&](int64_t c) { return c == counts[0]; });
    run("allgather", [&] {
      if (even) {
        return ncclAllGather(send, recv, std::size_t(counts[0]), ncclFloat, comm_, s.stream());
      }
      // Uneven slices: one broadcast from each rank, grouped into one operation.
      ncclResult_t result = ncclGroupStart();
      for (int q = 0; q < size() && result == ncclSuccess; ++q) {
        float* block = recv + offsets[std::size_t(q)];
        result = ncclBroadcast(q == rank() ? send : block, block, std::size_t(counts[std::size_t(q)]),
                               ncclFloat, q, comm_, s.stream());
      }
      const ncclResult_t end = ncclGroupEnd();
      return result == ncclSuccess ? end : result;
    });
    wait(s, "allgather");
  }

  void reduce_scatter(const Context& ctx, const float* send, float* recv,
                      const std::vector<int64_t>& counts) override {
    if (!on_device(ctx, "reduce_scatter")) return host_->reduce_scatter(ctx, send, recv, counts);
    const std::vector<int64_t> offsets = layout(counts, "reduce_scatter");
    const int64_t mine = counts[std::size_t(rank())];
    const cuda::StreamScope s(ctx);
    cuda::Scratch scratch(s, cuda::Scratch::round_up(sizeof(float) * std::size_t(mine) * ranks()),
                          "NCCL reduce_scatter");
    float* received = scratch.take<float>(std::size_t(mine) * ranks());
    // Block q of `send` goes to rank q; this rank receives every rank's copy of its own block.
    run("reduce_scatter", [&] {
      ncclResult_t result = ncclGroupStart();
      for (int q = 0; q < size() && result == ncclSuccess; ++q) {
        if (counts[std::size_t(q)] > 0)
          result = ncclSend(send + offsets[std::size_t(q)], std::size_t(counts[std::size_t(q)]),
                            ncclFloat, q, comm_, s.stream());
        if (result == ncclSuccess && mine > 0)
          result = ncclRecv(received + std::size_t(q) * std::size_t(mine), std::size_t(mine),
                            ncclFloat, q, comm_, s.stream());
      }
      const ncclResult_t end = ncclGroupEnd();
      return result == ncclSuccess ? end : result;
    });
    cuda::sum_blocks(ctx, received, size(), mine, recv);
    wait(s, "reduce_scatter");
  }

  void broadcast(const Context& ctx, void* data, int64_t bytes, int root) override {
    if (!on_device(ctx, "broadcast")) return host_->broadcast(ctx, data, bytes, root);
    DSSTNE_EXPECTS(root >= 0 && root < size(), "broadcast: root ", root, " is not a rank of ",
                   size());
    DSSTNE_EXPECTS(bytes >= 0, "broadcast: ", bytes, " bytes");
    if (bytes == 0) return;
    const cuda::StreamScope s(ctx);
    run("broadcast", [&] {
      return ncclBroadcast(data, data, std::size_t(bytes), ncclUint8, root, comm_, s.stream());
    });
    wait(s, "broadcast");
  }

  std::vector<std::vector<unsigned char>> allgather_bytes(const void* data,
                                                          int64_t bytes) override {
    return host_->allgather_bytes(data, bytes);
  }
  void barrier() override { host_->barrier(); }

 private:
  std::size_t ranks() const { return static_cast<std::size_t>(size()); }
  clock_type::time_point deadline() const {
    return clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(timeout_));
  }

  /// Whether the call moves device memory of this communicator's GPU (host memory goes through
  /// the host communicator).
  bool on_device(const Context& ctx, const char* what) const {
    if (!ctx.is_cuda()) return false;
    DSSTNE_EXPECTS(ctx.device_ordinal() == device_, what, ": the NCCL communicator of cuda:",
                   device_, " was given memory of ", ctx.device_string());
    DSSTNE_EXPECTS_T(CommunicationError, !failed_, what, ": rank ", rank(),
                     " already lost contact with the other ranks");
    return true;
  }

  std::vector<int64_t> layout(const std::vector<int64_t>& counts, const char* what) const {
    DSSTNE_EXPECTS(counts.size() == ranks(), what, ": ", counts.size(), " counts for ", size(),
                   " ranks");
    std::vector<int64_t> offsets(ranks(), 0);
    int64_t total = 0;
    for (std::size_t q = 0; q < ranks(); ++q) {
      DSSTNE_EXPECTS(counts[q] >= 0, what, ": negative count ", counts[q], " for rank ", q);
      offsets[q] = total;
      total += counts[q];
    }
    return offsets;
  }

  void check(ncclResult_t result, const char* call) {
    if (result == ncclSuccess || result == ncclInProgress) return;
    failed_ = true;
    const char* detail = comm_ != nullptr ? ncclGetLastError(comm_) : nullptr;
    DSSTNE_FAIL(CommunicationError, call, " failed on rank ", rank(), ": ",
                ncclGetErrorString(result), detail != nullptr && *detail ? " (" : "",
                detail != nullptr ? detail : "", detail != nullptr && *detail ? ")" : "");
  }

  [[noreturn]] void time_out(const char* what) {
    failed_ = true;
    ncclCommAbort(comm_);
    comm_ = nullptr;
    DSSTNE_FAIL(CommunicationError, what, ": rank ", rank(), " of ", size(), " waited ", timeout_,
                " s for the other ranks; one of them failed, exited or is stuck (set "
                "DSSTNE_COMM_TIMEOUT to wait longer)");
  }

  /// Polls the communicator until its pending calls are issued (non-blocking mode).
  void settle(const char* what, clock_type::time_point until) {
    auto pause = std::chrono::microseconds(1);
    for (;;) {
      ncclResult_t state = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclInProgress) return check(state, what);
      if (clock_type::now() > until) time_out(what);
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }

  /// Issues one NCCL operation (or group) on the stream and waits until NCCL has enqueued it.
  template <typename Issue>
  void run(const char* what, Issue issue) {
    check(issue(), what);
    settle(what, deadline());
  }

  /// Waits for the stream, polling it and the communicator's errors against the deadline: a
  /// collective that waits on a rank that never comes would otherwise block the stream forever.
  void wait(const cuda::StreamScope& s, const char* what) {
    cudaEvent_t done = nullptr;
    DSSTNE_CUDA_TRY(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    const cudaError_t recorded = cudaEventRecord(done, s.stream());
    const auto until = deadline();
    auto pause = std::chrono::microseconds(1);
    cudaError_t status = recorded;
    while (status == cudaSuccess || status == cudaErrorNotReady) {
      status = cudaEventQuery(done);
      if (status != cudaErrorNotReady) break;
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state != ncclSuccess && state != ncclInProgress) {
        cudaEventDestroy(done);
        check(state, what);
      }
      if (clock_type::now() > until) {
        cudaEventDestroy(done);
        time_out(what);
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
    cudaEventDestroy(done);
    DSSTNE_CUDA_TRY(status);
  }

  bool finalised() {
    const auto until = deadline();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) return false;
      if (state == ncclSuccess) return true;
      if (state != ncclInProgress || clock_type::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::shared_ptr<Communicator> host_;
  int device_;
  double timeout_;
  ncclComm_t comm_ = nullptr;
  bool failed_ = false;
};

}  // namespace

bool nccl_built() { return true; }

std::shared_ptr<Communicator> nccl_communicator(std::shared_ptr<Communicator> host,
                                                int device_ordinal, double timeout_seconds) {
  return std::make_shared<NcclCommunicator>(std::move(host), device_ordinal, timeout_seconds);
}

}  // namespace dsstne
