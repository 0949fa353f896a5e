// SPDX-License-Identifier: Apache-2.0
#pragma once
// The benchmark's results as a markdown table (stdout) and, with --json, a JSON file.
#include <ostream>
#include <string>

#include "harness.hpp"

namespace dsstne::bench {

/// What the header of the report says about where and how it ran.
struct RunInfo {
  std::string device;  ///< e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"
  Options options;
  std::size_t scrub_bytes = 0;
};

void write_markdown(std::ostream& out, const RunInfo& info, const Bench& bench);
/// @throws InvalidArgument naming the file when it cannot be written.
void write_json(const std::string& path, const RunInfo& info, const Bench& bench);

}  // namespace dsstne::bench
