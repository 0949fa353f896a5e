// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file kernel_checks_util.hpp
/// @brief Helpers of the argument checks used by more than one family's kernel_checks_*.cpp.
/// Internal to those files.

#include <cstdint>

#include "dsstne/error.hpp"

namespace dsstne::checks::detail {

/// The names of the three axes of a geometry (PoolGeometry, ConvGeometry), as messages give them.
inline constexpr const char* kAxisNames[3] = {"x", "y", "z"};

/// One axis of a window geometry (PoolGeometry, ConvGeometry): extents, kernel and stride at
/// least 1, pad in [0, kernel), a kernel no wider than the padded input, and an output extent
/// in [1, the number of whole windows]. Sizes must be small enough that in + 2·pad fits int64.
template <typename Geometry>
void window_axis(const char* kernel, const Geometry& g, int axis) {
  const char* name = kAxisNames[axis];
  const int64_t in = g.in[axis], k = g.kernel[axis], s = g.stride[axis], p = g.pad[axis];
  DSSTNE_EXPECTS(in >= 1 && k >= 1 && s >= 1, kernel, ": axis ", name, " has input ", in,
                 ", kernel ", k, ", stride ", s, "; each must be at least 1");
  DSSTNE_EXPECTS(p >= 0 && p < k, kernel, ": axis ", name, " pad ", p,
                 " is outside [0, kernel ", k, ")");
  DSSTNE_EXPECTS(in + 2 * p >= k, kernel, ": axis ", name, " kernel ", k,
                 " is wider than the padded input ", in + 2 * p);
  const int64_t most = (in + 2 * p - k) / s + 1;
  DSSTNE_EXPECTS(g.out[axis] >= 1 && g.out[axis] <= most, kernel, ": axis ", name, " output ",
                 g.out[axis], " is outside [1, ", most, "] for input ", in, ", kernel ", k,
                 ", stride ", s, ", pad ", p);
}

/// The listed-rows arguments shared by zero_listed_rows and update_listed_rows; true when some
/// row may be listed.
inline bool listed_rows_arguments(const char* who, const uint32_t* rows, const int64_t* count,
                                  int64_t max_count, int64_t n_rows, int64_t row_len) {
  DSSTNE_EXPECTS(max_count >= 0 && n_rows >= 0 && row_len >= 0, who, ": negative size max_count=",
                 max_count, " n_rows=", n_rows, " row_len=", row_len);
  if (max_count == 0 || n_rows == 0 || row_len == 0) return false;
  DSSTNE_EXPECTS(rows != nullptr && count != nullptr, who, ": the ",
                 rows == nullptr ? "rows" : "count", " pointer is null");
  return true;
}

}  // namespace dsstne::checks::detail
