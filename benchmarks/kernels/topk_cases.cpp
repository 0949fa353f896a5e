// SPDX-License-Identifier: Apache-2.0
// Top-K of a prediction batch: topk_rows × items random scores, no exclusions, for each k.
//
// Byte model: the scores read once, 4·rows·items, plus the results written, 8·rows·k (a score
// and an index each). Uniform random scores are the easy case for a threshold filter (few
// candidates survive once the k-th best is known); sorted or tied scores would be harder.
#include <algorithm>

#include "dsstne/kernels.hpp"
#include "families.hpp"
#include "inputs.hpp"

namespace dsstne::bench {

void run_topk_family(Bench& bench) {
  if (!bench.wants("topk")) return;
  const Context& ctx = bench.context();
  const Shapes& s = bench.options().shapes;
  int64_t largest_k = 0;
  for (int64_t k : s.ks) largest_k = std::max(largest_k, k);
  const double results_bytes = 8.0 * double(s.topk_rows) * double(largest_k);
  bench.check_fits({{"scores", float_bytes(s.topk_rows, s.items)}, {"results", results_bytes}},
                   "topk");

  const DeviceBuffer<float> scores =
      random_matrix(ctx, s.topk_rows, s.items, 1.0f, bench.options().seed, 7, "scores");
  for (int64_t k : s.ks) {
    DeviceBuffer<float> out_scores(ctx, std::size_t(s.topk_rows * k), "top-K scores");
    DeviceBuffer<uint32_t> out_indices(ctx, std::size_t(s.topk_rows * k), "top-K indices");
    bench.time({"topk", "k=" + count_of(k), shape_of(s.topk_rows, s.items),
                float_bytes(s.topk_rows, s.items) + 8.0 * double(s.topk_rows) * double(k),
                k > s.items ? "k exceeds the columns: rows padded" : ""},
               [&] {
                 DSSTNE_DISPATCH(ctx, topk, scores.data(), s.topk_rows, s.items, 0, k, nullptr,
                                 out_scores.data(), out_indices.data());
               });
  }
}

}  // namespace dsstne::bench
