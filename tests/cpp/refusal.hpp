// SPDX-License-Identifier: Apache-2.0
#pragma once
// The message a refused kernel call raises, for tests that check what a refusal names.
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "dsstne/error.hpp"

namespace dsstne::testing {

/// The InvalidArgument message of `f` (a failure when it raises nothing or something else).
template <typename F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidArgument, got " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected InvalidArgument, nothing was raised";
  return "";
}

}  // namespace dsstne::testing
