// SPDX-License-Identifier: Apache-2.0
// The output layer's error and delta with sparse targets (an autoencoder's items): sigmoid
// outputs of rows × items units, targets of ~nnz_per_row stored entries per row, never
// materialised as dense rows. output_error reads its row errors back to the host (a wait per
// call); output_error_sum, what a training step calls, adds them into device memory instead.
//
// Byte models (4-byte floats; CSR = offsets 8·(rows+1) + indices and values 8·nnz):
//   output_error, output_error_sum: 4·rows·items (a read) + CSR
//   output_delta:                   8·rows·items (a read, δ written) + CSR
//   output_pass:                    8·rows·items (z read, δ written; a stays in registers) + CSR
#include "dsstne/enums.hpp"
#include "dsstne/kernels.hpp"
#include "families.hpp"
#include "inputs.hpp"

namespace dsstne::bench {

void run_loss_family(Bench& bench) {
  const bool error = bench.wants("output_error"), error_sum = bench.wants("output_error_sum");
  const bool delta_wanted = bench.wants("output_delta"), pass = bench.wants("output_pass");
  if (!error && !error_sum && !delta_wanted && !pass) return;
  const Context& ctx = bench.context();
  const Shapes& s = bench.options().shapes;
  const uint64_t seed = bench.options().seed;
  const double units = float_bytes(s.rows, s.items);
  bench.check_fits({{"activations a", units},
                    {"delta", delta_wanted || pass ? units : 0.0},
                    {"pre-activations z", pass ? units : 0.0},
                    {"sparse targets", 16.0 * double(s.rows) * double(s.nnz_per_row)}},
                   "loss");

  const SparseBatch targets = random_batch(ctx, s.rows, s.items, s.nnz_per_row, seed, 4, "targets");
  TargetView t;
  t.sparse = true;
  t.csr = targets.view();
  const double csr = targets.bytes();
  const std::string shape =
      shape_of(s.rows, s.items) + " (" + count_of(targets.nnz) + " target nnz)";

  ActivationParams sigmoid;
  sigmoid.kind = Activation::Sigmoid;
  DeviceBuffer<float> a = random_matrix(ctx, s.rows, s.items, 4.0f, seed, 5, "activations a");
  DSSTNE_DISPATCH(ctx, activation_forward, sigmoid, a.data(), s.rows, s.items);
  DeviceBuffer<float> z;
  if (pass) z = random_matrix(ctx, s.rows, s.items, 4.0f, seed, 6, "pre-activations z");
  DeviceBuffer<float> delta;
  if (delta_wanted || pass) delta = DeviceBuffer<float>(ctx, std::size_t(s.rows * s.items), "delta");
  DeviceBuffer<double> total(ctx, 1, "error total");

  for (const ErrorFunction f :
       {ErrorFunction::CrossEntropy, ErrorFunction::ScaledMarginalCrossEntropy}) {
    LossParams p;
    p.function = f;
    p.activation = sigmoid;
    const std::string variant = "sigmoid, " + to_string(f);
    if (error) {
      bench.time({"output_error", variant, shape, units + csr, "includes its read of the error"},
                 [&] {
                   static_cast<void>(
                       DSSTNE_DISPATCH(ctx, output_error, p, a.data(), s.rows, s.items, 0, t));
                 });
    }
    if (error_sum) {
      bench.time({"output_error_sum", variant, shape, units + csr, ""}, [&] {
        DSSTNE_DISPATCH(ctx, output_error_sum, p, a.data(), s.rows, s.items, 0, t, total.data());
      });
    }
    if (delta_wanted) {
      bench.time({"output_delta", variant, shape, 2 * units + csr, ""}, [&] {
        DSSTNE_DISPATCH(ctx, output_delta, p, a.data(), s.rows, s.items, 0, t, delta.data());
      });
    }
    if (pass) {
      // z is only read, so every call does the same work.
      bench.time({"output_pass", variant, shape, 2 * units + csr, ""}, [&] {
        DSSTNE_DISPATCH(ctx, output_pass, p, nullptr, z.data(), s.rows, s.items, 0, t,
                        total.data(), delta.data());
      });
    }
  }
}

}  // namespace dsstne::bench
