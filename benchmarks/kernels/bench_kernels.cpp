// SPDX-License-Identifier: Apache-2.0
// bench_kernels: a per-kernel benchmark of libdsstne in the manner of llm.c's dev/cuda lab. It
// calls the engine's kernels (kernels.hpp, the same DSSTNE_DISPATCH as the network) on random
// inputs of a training step's shapes, times each alone, and reports achieved GB/s against the
// bandwidth of a copy within the same device, measured in the same run:
//   sparse_product, sparse_transposed_product (beta 0 and 1)       sparse_cases.cpp
//   output_error, output_error_sum, output_delta, output_pass       loss_cases.cpp
//     (sparse targets; sigmoid with CrossEntropy and ScaledMarginalCrossEntropy)
//   topk (1,024 rows × the items, several k)                        topk_cases.cpp
//   update_weights (SGD, Adam), column_mean                         update_cases.cpp
// Each case warms up, then times --iters calls, each after overwriting twice the GPU's L2 (or
// 64 MiB of CPU cache), and reports the median: CUDA events on the context's stream on a GPU,
// the steady clock on the CPU. Bytes are each kernel's minimum traffic (models in the *_cases.cpp
// headers), so "% of copy" is how close a kernel comes to streaming its data once.
//
//   bench_kernels --backend cuda --preset wide [--json wide.json]
//   bench_kernels --backend cpu --preset tiny      (the CTest smoke test)
// Exit status: 0 when every case ran, 1 when one failed (the others are still reported), 2 for
// bad flags.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>

#include "dsstne/context.hpp"
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"
#include "families.hpp"
#include "report.hpp"

namespace {

using namespace dsstne;
using namespace dsstne::bench;

std::string describe_device(const Context& ctx) {
  if (!ctx.is_cuda()) return "cpu";
  std::size_t free_bytes = 0, total = 0;
  cuda::memory_info(ctx, &free_bytes, &total);
  return ctx.device_string() + " (" + cuda::device_name(ctx.device_ordinal()) + ", " +
         format_bytes(double(total)) + ")";
}

int run(const Options& options) {
  const Context ctx = options.backend == "cuda"
                          ? Context(Device::CUDA, options.device, options.seed)
                          : Context(Device::CPU, 0, options.seed);
  RunInfo info{describe_device(ctx), options};
  std::fprintf(stderr, "bench_kernels: %s, preset %s\n", info.device.c_str(),
               options.preset.c_str());
  if (!options.json_path.empty()) {  // a path that cannot be written fails now, not after the run
    std::ofstream probe(options.json_path);
    DSSTNE_EXPECTS(probe.good(), "--json: cannot open '", options.json_path, "' for writing");
  }
  Bench bench(ctx, options);
  info.scrub_bytes = bench.scrub_bytes();
  try {
    bench.measure_bandwidth();
  } catch (const std::exception& e) {  // the kernels' GB/s still mean something without it
    bench.fail("device copy", "read + write", e.what());
  }
  const struct {
    const char* name;
    void (*run)(Bench&);
  } families[] = {{"sparse", run_sparse_family},
                  {"loss", run_loss_family},
                  {"topk", run_topk_family},
                  {"update", run_update_family}};
  for (const auto& family : families) {
    try {
      family.run(bench);
    } catch (const std::exception& e) {  // its inputs could not be made: the others still run
      bench.fail(family.name, "(family)", e.what());
    }
  }
  write_markdown(std::cout, info, bench);
  if (!options.json_path.empty()) write_json(options.json_path, info, bench);
  return bench.all_passed() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 1;
  }
}
