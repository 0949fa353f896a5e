// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file mpi.hpp
/// @brief For C++ programs that use MPI themselves: a dsstne communicator over an MPI_Comm.
/// (Include it only in a program built with MPI; libdsstne's other headers never include mpi.h.)
///
///     MPI_Init(&argc, &argv);
///     const dsstne::Context ctx(dsstne::Device::CPU, 0, seed, dsstne::make_mpi_communicator());
///     dsstne::Network net(desc, data, batch, ctx);   // every layer split across the ranks

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <type_traits>

#include "dsstne/comm.hpp"

namespace dsstne {

namespace detail {
/// An MPI_Comm as an integer: Open MPI's is a pointer, MPICH's an int.
template <typename Comm>
std::uintptr_t mpi_handle(Comm comm) {
  if constexpr (std::is_pointer_v<Comm>) {
    return reinterpret_cast<std::uintptr_t>(comm);
  } else {
    return static_cast<std::uintptr_t>(comm);
  }
}
}  // namespace detail

/// The communicator of every rank of `comm` (default MPI_COMM_WORLD; MPI must be initialised).
/// A collective that waits longer than `timeout_seconds` raises CommunicationError.
inline std::shared_ptr<Communicator> make_mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD,
                                                           double timeout_seconds = 300.0) {
  return mpi_communicator(detail::mpi_handle(comm), timeout_seconds);
}

}  // namespace dsstne
