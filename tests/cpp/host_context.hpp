// SPDX-License-Identifier: Apache-2.0
#pragma once
// The CPU context the tests pass to the reference kernels (dsstne::cpu uses it only for the
// argument checks it shares with the CUDA kernels).
#include "dsstne/context.hpp"

namespace dsstne::testing {
inline const Context host;
}  // namespace dsstne::testing
