// SPDX-License-Identifier: Apache-2.0
// The argument checks of the activation kernels and of the row- and column-wise operations
// (kernel_checks.hpp), shared by both backends.
#include <cstdint>

#include "cpu/activation_terms.hpp"
#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {
namespace {

bool activation_shape(const char* kernel, const ActivationParams& p, int64_t rows, int64_t cols) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, kernel, ": bad shape rows=", rows, " cols=", cols);
  DSSTNE_EXPECTS(terms::known_activation(p.kind), kernel, ": unknown activation code ",
                 static_cast<uint32_t>(p.kind));
  return rows * cols != 0;
}

}  // namespace

// ---- activation --------------------------------------------------------------------------------

bool activation_forward(const Context&, const ActivationParams& p, float* z, int64_t rows,
                        int64_t cols) {
  if (!activation_shape("activation_forward", p, rows, cols)) return false;
  DSSTNE_EXPECTS(z != nullptr, "activation_forward: the unit pointer is null");
  return true;
}

bool activation_backward(const Context&, const ActivationParams& p, const float* a, float* g,
                         int64_t rows, int64_t cols) {
  if (!activation_shape("activation_backward", p, rows, cols)) return false;
  DSSTNE_EXPECTS(a != nullptr && g != nullptr,
                 "activation_backward: activation or gradient pointer is null");
  return true;
}

// ---- rows --------------------------------------------------------------------------------------

bool row_stats(const Context&, RowStat stat, const float* a, const float* b, int64_t rows,
               int64_t cols, float* out) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "row_stats: negative size ", rows, " × ", cols);
  DSSTNE_EXPECTS(int(stat) >= 0 && int(stat) <= int(RowStat::Dot), "row_stats: unknown statistic ",
                 int(stat));
  if (rows == 0) return false;
  DSSTNE_EXPECTS(out != nullptr && (cols == 0 || a != nullptr), "row_stats: null pointer");
  DSSTNE_EXPECTS(stat != RowStat::Dot || cols == 0 || b != nullptr,
                 "row_stats: Dot needs its second matrix");
  return true;
}

bool transform_rows(const Context&, RowOp op, float* x, const float* a, int64_t rows,
                    int64_t cols, const float* v, float max_norm) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "transform_rows: negative size ", rows, " × ", cols);
  DSSTNE_EXPECTS(int(op) >= 0 && int(op) <= int(RowOp::SoftmaxBackward),
                 "transform_rows: unknown operation ", int(op));
  DSSTNE_EXPECTS(op != RowOp::ClipNorm || max_norm > 0.0f,
                 "transform_rows: ClipNorm needs a norm > 0, got ", max_norm);
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(x != nullptr && v != nullptr, "transform_rows: null pointer");
  DSSTNE_EXPECTS(op != RowOp::SoftmaxBackward || a != nullptr,
                 "transform_rows: SoftmaxBackward needs the activations");
  return true;
}

bool column_square_sums(const Context&, const float* w, int64_t rows, int64_t cols, float* out) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "column_square_sums: negative size ", rows, " × ", cols);
  if (cols == 0) return false;
  DSSTNE_EXPECTS(out != nullptr && (rows == 0 || w != nullptr),
                 "column_square_sums: null pointer");
  return true;
}

bool clip_columns(const Context&, float* w, int64_t rows, int64_t cols, const float* sq,
                  float max_norm) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "clip_columns: negative size ", rows, " × ", cols);
  DSSTNE_EXPECTS(max_norm > 0.0f, "clip_columns: the norm must be > 0, got ", max_norm);
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(w != nullptr && sq != nullptr, "clip_columns: null pointer");
  return true;
}

bool sum_blocks(const Context&, const float* blocks, int64_t nblocks, int64_t count, float* out) {
  DSSTNE_EXPECTS(nblocks >= 1 && count >= 0, "sum_blocks: ", nblocks, " blocks of ", count,
                 " values (at least one block, no negative size)");
  if (count == 0) return false;
  DSSTNE_EXPECTS(blocks != nullptr && out != nullptr, "sum_blocks: null pointer");
  return true;
}

}  // namespace dsstne::checks
