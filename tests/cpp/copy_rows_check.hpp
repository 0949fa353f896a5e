// SPDX-License-Identifier: Apache-2.0
#pragma once
// detail::copy_rows_on_device on any context: the CPU test runs it on the host, the CUDA test on
// a GPU; both must move the same bytes.
#include <gtest/gtest.h>

#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/error.hpp"

namespace dsstne::testing {

inline void expect_rows_copied_between_pitches(const Context& ctx) {
  // Three rows of 5 floats, 7 apart, into rows 9 apart; what lies between the rows stays.
  std::vector<float> src(21), dst(27, -1.0f);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = float(i);
  DeviceBuffer<float> from(ctx, src.size(), "from"), to(ctx, dst.size(), "to");
  from.upload(src.data(), src.size());
  to.upload(dst.data(), dst.size());
  detail::copy_rows_on_device(ctx, to.data() + 1, 9 * sizeof(float), from.data() + 2,
                              7 * sizeof(float), 5 * sizeof(float), 3);
  std::vector<float> got(dst.size());
  to.download_to(got.data(), got.size());
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t j = 0; j < 5; ++j) dst[1 + r * 9 + j] = src[2 + r * 7 + j];
  EXPECT_EQ(got, dst);
  // Nothing to copy is no call; rows longer than a pitch are a caller's bug.
  detail::copy_rows_on_device(ctx, nullptr, 4, nullptr, 4, 0, 3);
  EXPECT_THROW(detail::copy_rows_on_device(ctx, to.data(), 4 * sizeof(float), from.data(),
                                           8 * sizeof(float), 5 * sizeof(float), 2),
               LogicError);
}

}  // namespace dsstne::testing
