// SPDX-License-Identifier: Apache-2.0
// The streaming steps of a training step's update: the optimizer over the sparse input's
// items × hidden matrix, and the output layer's mean delta over rows × items (its bias step).
//
// Byte models (4-byte floats, n = items·hidden):
//   update_weights SGD:  4·n·3 (g and w read, w written)
//   update_weights Adam: 4·n·7 (g, w, v, v2 read; w, v, v2 written)
//   column_mean:         4·rows·items read + 4·items written
#include "dsstne/kernels.hpp"
#include "families.hpp"
#include "inputs.hpp"

namespace dsstne::bench {
namespace {

void time_optimizers(Bench& bench) {
  const Context& ctx = bench.context();
  const Shapes& s = bench.options().shapes;
  const uint64_t seed = bench.options().seed;
  const int64_t n = s.items * s.hidden;
  const double matrix = float_bytes(s.items, s.hidden);
  bench.check_fits({{"gradient, weights, v and v2", 4 * matrix}}, "update_weights");

  // g is the engine's negated batch-mean gradient: small. v and v2 start at zero, as a fresh
  // Adam does (v2 must stay ≥ 0 for its square root).
  const DeviceBuffer<float> g = random_matrix(ctx, s.items, s.hidden, 1e-3f, seed, 8, "gradient");
  DeviceBuffer<float> w = random_matrix(ctx, s.items, s.hidden, 0.05f, seed, 9, "weights");
  DeviceBuffer<float> v(ctx, std::size_t(n), "optimizer v");
  DeviceBuffer<float> v2(ctx, std::size_t(n), "optimizer v2");
  UpdateParams sgd;
  sgd.mode = TrainingMode::SGD;
  sgd.alpha = 0.01f;
  UpdateParams adam;
  adam.mode = TrainingMode::Adam;
  adam.alpha = 0.001f;
  adam.mu = 0.9f;
  adam.mu1 = 0.999f;
  const struct {
    const UpdateParams* u;
    const char* variant;
    double arrays;  ///< matrices moved: read plus written
  } modes[] = {{&sgd, "SGD", 3}, {&adam, "Adam", 7}};
  for (const auto& m : modes) {
    bench.time({"update_weights", m.variant, shape_of(s.items, s.hidden), m.arrays * matrix, ""},
               [&] {
                 DSSTNE_DISPATCH(ctx, update_weights, *m.u, g.data(), n, w.data(), v.data(),
                                 v2.data());
               });
  }
}

void time_column_mean(Bench& bench) {
  const Context& ctx = bench.context();
  const Shapes& s = bench.options().shapes;
  bench.check_fits({{"deltas", float_bytes(s.rows, s.items)}, {"means", float_bytes(1, s.items)}},
                   "column_mean");
  const DeviceBuffer<float> x =
      random_matrix(ctx, s.rows, s.items, 1.0f, bench.options().seed, 10, "deltas");
  DeviceBuffer<float> mean(ctx, std::size_t(s.items), "column means");
  bench.time({"column_mean", "", shape_of(s.rows, s.items),
              float_bytes(s.rows, s.items) + float_bytes(1, s.items), ""},
             [&] { DSSTNE_DISPATCH(ctx, column_mean, x.data(), s.rows, s.items, mean.data()); });
}

}  // namespace

void run_update_family(Bench& bench) {
  if (bench.wants("update_weights")) time_optimizers(bench);
  if (bench.wants("column_mean")) time_column_mean(bench);
}

}  // namespace dsstne::bench
