// SPDX-License-Identifier: Apache-2.0
#pragma once
// Buffers exchanged between ranks hold one block per rank, rank after rank, each rows × that
// rank's slice of the units; these turn them into ordinary row-major rows × units.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "dsstne/comm.hpp"

namespace dsstne {

/// Rank-major blocks (rows × each rank's slice of `units`) → row-major rows × units at `out`.
inline void unpack_rows(const Communicator& comm, const std::vector<float>& packed, int64_t rows,
                        int64_t units, float* out) {
  for (int r = 0; r < comm.size(); ++r) {
    const Slice part = comm.slice(units, r);
    const float* block = packed.data() + rows * part.begin;
    for (int64_t i = 0; i < rows; ++i)
      std::copy(block + i * part.size(), block + (i + 1) * part.size(),
                out + i * units + part.begin);
  }
}

}  // namespace dsstne
