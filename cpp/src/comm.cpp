// SPDX-License-Identifier: Apache-2.0
// The one-rank communicator, and the MPI and NCCL entry points of a build without them.
#include "dsstne/comm.hpp"

#include <cstring>

#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"

namespace dsstne {

void LocalCommunicator::allgather(const Context& ctx, const float* send, float* recv,
                                  const std::vector<int64_t>& counts) {
  DSSTNE_EXPECTS(counts.size() == 1, "allgather: ", counts.size(), " counts for 1 rank");
  if (send != recv && counts[0] > 0)
    detail::copy_on_device(ctx, recv, send, std::size_t(counts[0]) * sizeof(float));
}

void LocalCommunicator::reduce_scatter(const Context& ctx, const float* send, float* recv,
                                       const std::vector<int64_t>& counts) {
  DSSTNE_EXPECTS(counts.size() == 1, "reduce_scatter: ", counts.size(), " counts for 1 rank");
  if (send != recv && counts[0] > 0)
    detail::copy_on_device(ctx, recv, send, std::size_t(counts[0]) * sizeof(float));
}

std::vector<std::vector<unsigned char>> LocalCommunicator::allgather_bytes(const void* data,
                                                                           int64_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  return {std::vector<unsigned char>(p, p + bytes)};
}

#ifndef DSSTNE_WITH_MPI
bool mpi_built() { return false; }

std::shared_ptr<Communicator> mpi_communicator(std::uintptr_t, double) {
  DSSTNE_FAIL(NotSupported, "this build of dsstne has no MPI communicator: install an MPI "
              "(Debian: libopenmpi-dev openmpi-bin) and rebuild (DSSTNE_ENABLE_MPI=ON)");
}
#endif

#ifndef DSSTNE_WITH_NCCL
bool nccl_built() { return false; }

std::shared_ptr<Communicator> nccl_communicator(std::shared_ptr<Communicator>, int, double) {
  DSSTNE_FAIL(NotSupported, "this build of dsstne has no NCCL communicator: it needs the CUDA "
              "backend and NCCL at build time (set NCCL_HOME, or pip install nvidia-nccl-cu13, "
              "and rebuild with DSSTNE_ENABLE_NCCL=ON)");
}
#endif

}  // namespace dsstne
