// SPDX-License-Identifier: Apache-2.0
// The MPI communicator (compiled when MPI is found, DSSTNE_ENABLE_MPI): host buffers, with
// device buffers of GPU contexts staged through host memory, so several ranks can share a GPU.
//
// Every collective is non-blocking MPI polled against a deadline: a rank that failed, left or
// hangs makes the others raise CommunicationError instead of waiting forever. Reductions are an
// all-gather (or all-to-all) followed by a sum in rank order, so they are deterministic whatever
// algorithm MPI chooses.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>
#include <type_traits>

#include "dsstne/comm.hpp"
#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, std::size_t(length));
}

/// MPI counts are ints: refuse what does not fit rather than wrap around.
int as_count(int64_t n, const char* what) {
  DSSTNE_EXPECTS(n >= 0 && n <= INT_MAX, what, ": ", n, " elements exceed what one MPI call moves (",
                 INT_MAX, ")");
  return int(n);
}

/// `count` elements of ctx's device memory at `src` in host memory (no copy on the CPU).
template <typename T>
const T* on_host(const Context& ctx, const T* src, int64_t count, std::vector<T>& staging) {
  if (!ctx.is_cuda()) return src;
  staging.resize(std::size_t(count));
  if (count > 0) detail::copy_to_host(ctx, staging.data(), src, std::size_t(count) * sizeof(T));
  return staging.data();
}

template <typename T>
void to_device(const Context& ctx, T* dst, const T* host, int64_t count) {
  if (ctx.is_cuda() && count > 0)
    detail::copy_to_device(ctx, dst, host, std::size_t(count) * sizeof(T));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm user, double timeout) : timeout_(timeout) {
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    DSSTNE_EXPECTS(initialised && !finalised, "MPI is not initialised (call MPI_Init, or import "
                   "mpi4py's MPI, before making an MPI communicator)");
    DSSTNE_EXPECTS(timeout > 0, "the communication timeout must be > 0 seconds, got ", timeout);
    check(MPI_Comm_dup(user, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised && !failed_) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }

  void allreduce_sum(double* values, int64_t count) override {
    reduce_in_rank_order(values, count, MPI_DOUBLE, [](double a, double b) { return a + b; });
  }
  void allreduce_sum(const Context& ctx, float* values, int64_t count) override {
    reduce_on(ctx, values, count, [](float a, float b) { return a + b; });
  }
  void allreduce_max(const Context& ctx, float* values, int64_t count) override {
    reduce_on(ctx, values, count, [](float a, float b) { return std::max(a, b); });
  }

  void allgather(const Context& ctx, const float* send, float* recv,
                 const std::vector<int64_t>& counts) override {
    check_counts(counts, "allgather");
    std::vector<int> sizes, offsets;
    const int64_t total = layout(counts, sizes, offsets, "allgather");
    std::vector<float> send_host, recv_host;
    const float* s = on_host(ctx, send, counts[std::size_t(rank_)], send_host);
    float* r = recv;
    if (ctx.is_cuda()) {
      recv_host.resize(std::size_t(total));
      r = recv_host.data();
    }
    MPI_Request request;
    check(MPI_Iallgatherv(s, sizes[std::size_t(rank_)], MPI_FLOAT, r, sizes.data(), offsets.data(),
                          MPI_FLOAT, comm_, &request), "MPI_Iallgatherv");
    wait(request, "allgather");
    to_device(ctx, recv, r, total);
  }

  void reduce_scatter(const Context& ctx, const float* send, float* recv,
                      const std::vector<int64_t>& counts) override {
    check_counts(counts, "reduce_scatter");
    std::vector<int> sizes, offsets;
    const int64_t total = layout(counts, sizes, offsets, "reduce_scatter");
    const int mine = sizes[std::size_t(rank_)];
    // Block r goes to rank r; this rank receives every rank's copy of its own block.
    std::vector<int> recv_sizes(ranks(), mine), recv_offsets(ranks());
    for (int q = 0; q < size_; ++q) recv_offsets[std::size_t(q)] = q * mine;
    as_count(int64_t(mine) * size_, "reduce_scatter");
    std::vector<float> send_host, received(std::size_t(mine) * std::size_t(size_));
    const float* s = on_host(ctx, send, total, send_host);
    MPI_Request request;
    check(MPI_Ialltoallv(s, sizes.data(), offsets.data(), MPI_FLOAT, received.data(),
                         recv_sizes.data(), recv_offsets.data(), MPI_FLOAT, comm_, &request),
          "MPI_Ialltoallv");
    wait(request, "reduce_scatter");
    static const Context host;  // the CPU kernels take a context for their checks only
    float* sum = ctx.is_cuda() ? received.data() : recv;
    cpu::sum_blocks(host, received.data(), size_, mine, sum);
    to_device(ctx, recv, sum, mine);
  }

  void broadcast(const Context& ctx, void* data, int64_t bytes, int root) override {
    DSSTNE_EXPECTS(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of ",
                   size_);
    std::vector<unsigned char> host;
    auto* p = static_cast<unsigned char*>(data);
    if (ctx.is_cuda()) {
      host.resize(std::size_t(bytes));
      if (rank_ == root && bytes > 0) detail::copy_to_host(ctx, host.data(), data, std::size_t(bytes));
      p = host.data();
    }
    MPI_Request request;
    check(MPI_Ibcast(p, as_count(bytes, "broadcast"), MPI_BYTE, root, comm_, &request),
          "MPI_Ibcast");
    wait(request, "broadcast");
    if (ctx.is_cuda() && rank_ != root && bytes > 0)
      detail::copy_to_device(ctx, data, host.data(), std::size_t(bytes));
  }

  std::vector<std::vector<unsigned char>> allgather_bytes(const void* data,
                                                          int64_t bytes) override {
    std::vector<int64_t> lengths(ranks());
    int64_t mine = bytes;
    MPI_Request request;
    check(MPI_Iallgather(&mine, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, comm_, &request),
          "MPI_Iallgather");
    wait(request, "allgather_bytes");
    std::vector<int> sizes(ranks()), offsets(ranks());
    int64_t total = 0;
    for (int q = 0; q < size_; ++q) {
      sizes[std::size_t(q)] = as_count(lengths[std::size_t(q)], "allgather_bytes");
      offsets[std::size_t(q)] = as_count(total, "allgather_bytes");
      total += lengths[std::size_t(q)];
    }
    std::vector<unsigned char> all(static_cast<std::size_t>(total));
    check(MPI_Iallgatherv(data, sizes[std::size_t(rank_)], MPI_BYTE, all.data(), sizes.data(),
                          offsets.data(), MPI_BYTE, comm_, &request), "MPI_Iallgatherv");
    wait(request, "allgather_bytes");
    std::vector<std::vector<unsigned char>> out(ranks());
    for (int q = 0; q < size_; ++q)
      out[std::size_t(q)].assign(all.begin() + offsets[std::size_t(q)],
                                 all.begin() + offsets[std::size_t(q)] + sizes[std::size_t(q)]);
    return out;
  }

  void barrier() override {
    MPI_Request request;
    check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
    wait(request, "barrier");
  }

 private:
  std::size_t ranks() const { return static_cast<std::size_t>(size_); }

  void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    failed_ = true;
    DSSTNE_FAIL(CommunicationError, call, " failed on rank ", rank_, ": ", mpi_message(code));
  }

  void check_counts(const std::vector<int64_t>& counts, const char* what) const {
    DSSTNE_EXPECTS(int(counts.size()) == size_, what, ": ", counts.size(), " counts for ", size_,
                   " ranks");
  }

  int64_t layout(const std::vector<int64_t>& counts, std::vector<int>& sizes,
                 std::vector<int>& offsets, const char* what) const {
    sizes.assign(ranks(), 0);
    offsets.assign(ranks(), 0);
    int64_t total = 0;
    for (int q = 0; q < size_; ++q) {
      sizes[std::size_t(q)] = as_count(counts[std::size_t(q)], what);
      offsets[std::size_t(q)] = as_count(total, what);
      total += counts[std::size_t(q)];
    }
    as_count(total, what);
    return total;
  }

  /// Polls `request` until it completes or the deadline passes.
  void wait(MPI_Request& request, const char* what) {
    DSSTNE_EXPECTS_T(CommunicationError, !failed_, what, ": rank ", rank_,
                     " already lost contact with the other ranks");
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::duration<double>(timeout_);
    auto pause = std::chrono::microseconds(1);
    for (;;) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      if (clock::now() > deadline) {
        failed_ = true;
        DSSTNE_FAIL(CommunicationError, what, ": rank ", rank_, " of ", size_, " waited ",
                    timeout_, " s for the other ranks; one of them failed, exited or is stuck "
                    "(set DSSTNE_COMM_TIMEOUT to wait longer)");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }

  template <typename T, typename Op>
  void reduce_in_rank_order(T* values, int64_t count, MPI_Datatype type, Op op) {
    const int n = as_count(count, "allreduce");
    as_count(int64_t(n) * size_, "allreduce");
    std::vector<T> all(std::size_t(n) * std::size_t(size_));
    MPI_Request request;
    check(MPI_Iallgather(values, n, type, all.data(), n, type, comm_, &request), "MPI_Iallgather");
    wait(request, "allreduce");
    for (int i = 0; i < n; ++i) {
      T acc = all[std::size_t(i)];
      for (int q = 1; q < size_; ++q) acc = op(acc, all[std::size_t(q * n + i)]);
      values[i] = acc;
    }
  }

  template <typename Op>
  void reduce_on(const Context& ctx, float* values, int64_t count, Op op) {
    std::vector<float> host;
    float* v = ctx.is_cuda() ? const_cast<float*>(on_host<float>(ctx, values, count, host)) : values;
    reduce_in_rank_order(v, count, MPI_FLOAT, op);
    to_device(ctx, values, v, count);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  double timeout_;
  bool failed_ = false;
};

}  // namespace

bool mpi_built() { return true; }

std::shared_ptr<Communicator> mpi_communicator(std::uintptr_t handle, double timeout_seconds) {
  // Open MPI's and MPICH's MPI_Comm are a pointer and an int, the value mpi4py's _handleof gives.
  static_assert(sizeof(MPI_Comm) <= sizeof(std::uintptr_t), "MPI_Comm does not fit a handle");
  MPI_Comm comm;
  if constexpr (std::is_pointer_v<MPI_Comm>) {
    comm = reinterpret_cast<MPI_Comm>(handle);
  } else {
    comm = MPI_Comm(handle);
  }
  return std::make_shared<MpiCommunicator>(comm, timeout_seconds);
}

}  // namespace dsstne
