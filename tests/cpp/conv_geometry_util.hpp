// SPDX-License-Identifier: Apache-2.0
#pragma once
// Convolution geometries for the CPU and CUDA convolution tests.
#include <cstdint>
#include <vector>

#include "dsstne/kernel_types.hpp"

namespace dsstne::testing {

/// A geometry with out from ⌊(in + 2·pad − kernel)/stride⌋ + 1 on each given axis.
inline ConvGeometry conv(int64_t in_c, int64_t out_c, std::vector<int64_t> in,
                         std::vector<int64_t> k, std::vector<int64_t> stride,
                         std::vector<int64_t> pad) {
  ConvGeometry g;
  g.in_channels = in_c;
  g.out_channels = out_c;
  for (std::size_t a = 0; a < in.size(); ++a) {
    g.in[a] = in[a];
    g.kernel[a] = k[a];
    g.stride[a] = stride[a];
    g.pad[a] = pad[a];
    g.out[a] = (in[a] + 2 * pad[a] - k[a]) / stride[a] + 1;
  }
  return g;
}

inline int64_t volume(const int64_t e[3]) { return e[0] * e[1] * e[2]; }

}  // namespace dsstne::testing
