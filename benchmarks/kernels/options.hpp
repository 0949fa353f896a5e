// SPDX-License-Identifier: Apache-2.0
#pragma once
// What bench_kernels measures: the backend, the shapes of a preset (with overrides from the
// command line), how many calls it times, and where it writes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dsstne::bench {

/// The shapes of one training step of a sparse autoencoder, and of the top-K of its predictions.
struct Shapes {
  int64_t rows = 0;         ///< batch rows
  int64_t items = 0;        ///< sparse input units = output units
  int64_t hidden = 0;       ///< units of the layer the sparse input feeds
  int64_t nnz_per_row = 0;  ///< mean stored entries per row (inputs and targets)
  int64_t topk_rows = 0;    ///< rows of the top-K score matrix (its columns are the items)
  std::vector<int64_t> ks;  ///< the k of each top-K case
};

struct Options {
  std::string backend = "cpu";  ///< "cpu" or "cuda"
  int device = 0;               ///< CUDA ordinal
  std::string preset = "movielens";
  Shapes shapes;
  int iterations = 0;           ///< timed calls per case
  int warmup = 0;               ///< untimed calls before them (at least 1: workspaces grow there)
  std::vector<std::string> only;  ///< kernel names to run; empty: all
  std::string json_path;
  std::size_t copy_bytes = 0;   ///< size of the copy that measures the bandwidth
  std::size_t scrub_bytes = 0;  ///< memory overwritten before each timed call (0: the default)
  uint64_t seed = 12134;
  bool help = false;
};

/// The kernel names --only accepts, in the order the benchmark runs them.
const std::vector<std::string>& kernel_names();

/// Parses argv: a preset first sets every shape and count, then explicit flags override it.
/// @throws InvalidArgument naming the flag or value that is wrong.
Options parse_options(int argc, char** argv);

/// The --help text.
std::string usage();

}  // namespace dsstne::bench
