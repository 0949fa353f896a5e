// SPDX-License-Identifier: Apache-2.0
// The sparse input's products: the forward z += X·W and the weight gradient G = β·G + α·Xᵀ·δ,
// X a batch of rows × items with ~nnz_per_row entries, W and G items × hidden.
//
// Byte models (the least any implementation must move; W's rows are counted once per distinct
// item of the batch, since entries of one item need its row once however many rows hold it):
//   sparse_product:        CSR (offsets 8·(rows+1), indices and values 8·nnz)
//                          + 4·distinct·hidden (the rows of W) + 2·4·rows·hidden (z read, written)
//   sparse_transposed_product β=0: CSR + 4·rows·hidden (δ) + 4·items·hidden (all of G written)
//   sparse_transposed_product β=1: CSR + 4·rows·hidden (δ) + 2·4·distinct·hidden (G's rows of
//                          the batch's items read and written; the others are untouched)
#include "dsstne/kernels.hpp"
#include "families.hpp"
#include "inputs.hpp"

namespace dsstne::bench {

void run_sparse_family(Bench& bench) {
  const bool forward = bench.wants("sparse_product");
  const bool gradient = bench.wants("sparse_transposed_product");
  if (!forward && !gradient) return;
  const Context& ctx = bench.context();
  const Shapes& s = bench.options().shapes;
  const uint64_t seed = bench.options().seed;
  bench.check_fits({{"weights W", float_bytes(s.items, s.hidden)},
                    {"gradient G", gradient ? float_bytes(s.items, s.hidden) : 0.0},
                    {"z and delta", 2 * float_bytes(s.rows, s.hidden)},
                    {"sparse batch", 16.0 * double(s.rows) * double(s.nnz_per_row)}},
                   "sparse");

  const SparseBatch x = random_batch(ctx, s.rows, s.items, s.nnz_per_row, seed, 1, "input batch");
  const CsrView view = x.view();
  const double csr = x.bytes();
  const double per_hidden_row = float_bytes(1, s.hidden);
  const std::string shape = "X " + shape_of(s.rows, s.items) + " (" + count_of(x.nnz) +
                            " nnz) · " + shape_of(s.items, s.hidden);
  const std::string rows_note = count_of(x.distinct) + " distinct items; one row of W per entry " +
                                "would be " + format_bytes(double(x.nnz) * per_hidden_row);

  if (forward) {
    const DeviceBuffer<float> w = random_matrix(ctx, s.items, s.hidden, 0.05f, seed, 2, "W");
    DeviceBuffer<float> z(ctx, static_cast<std::size_t>(s.rows * s.hidden), "z");
    // z accumulates over the calls: 50-odd terms of |w| < 0.05 each time, far from overflow.
    bench.time({"sparse_product", "", shape,
                csr + double(x.distinct) * per_hidden_row + 2 * float_bytes(s.rows, s.hidden),
                rows_note},
               [&] { DSSTNE_DISPATCH(ctx, sparse_product, view, w.data(), s.hidden, z.data()); });
  }
  if (gradient) {
    const DeviceBuffer<float> delta = random_matrix(ctx, s.rows, s.hidden, 1.0f, seed, 3, "delta");
    DeviceBuffer<float> grad(ctx, static_cast<std::size_t>(s.items * s.hidden), "G");
    const float alpha = -1.0f / float(s.rows);  // the engine's scale of a batch-mean gradient
    const double delta_bytes = float_bytes(s.rows, s.hidden);
    const struct {
      float beta;
      const char* variant;
      double g_bytes;
    } betas[] = {{0.0f, "beta=0", float_bytes(s.items, s.hidden)},
                 {1.0f, "beta=1", 2 * double(x.distinct) * per_hidden_row}};
    for (const auto& b : betas) {
      bench.time({"sparse_transposed_product", b.variant, shape,
                  csr + delta_bytes + b.g_bytes, rows_note},
                 [&] {
                   DSSTNE_DISPATCH(ctx, sparse_transposed_product, view, delta.data(), s.items,
                                   s.hidden, alpha, b.beta, grad.data());
                 });
    }
  }
}

}  // namespace dsstne::bench
