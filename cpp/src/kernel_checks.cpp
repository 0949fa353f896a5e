// SPDX-License-Identifier: Apache-2.0
// The kernels' argument checks (kernel_checks.hpp). Compiled once, into libdsstne, and called by
// both backends: the CUDA objects link against these definitions, so the messages cannot drift.
#include "kernel_checks.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include "cpu/init_law.hpp"
#include "cpu/loss_terms.hpp"
#include "cpu/topk_terms.hpp"
#include "dsstne/error.hpp"

namespace dsstne::checks {
namespace {

void check_csr(const CsrView& x, const char* kernel) {
  DSSTNE_EXPECTS(x.rows >= 0, kernel, ": negative row count ", x.rows);
  DSSTNE_EXPECTS(x.rows == 0 || (x.offsets != nullptr), kernel, ": CSR batch of ", x.rows,
                 " rows has no offsets");
}

void check_blas_int(int64_t v, const char* name) {
  DSSTNE_EXPECTS(v >= 0 && v <= INT_MAX, "gemm: ", name, " = ", v,
                 " is outside the range BLAS accepts [0, ", INT_MAX, "]");
}

bool activation_shape(const char* kernel, const ActivationParams& p, int64_t rows, int64_t cols) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, kernel, ": bad shape rows=", rows, " cols=", cols);
  DSSTNE_EXPECTS(terms::known_activation(p.kind), kernel, ": unknown activation code ",
                 static_cast<uint32_t>(p.kind));
  return rows * cols != 0;
}

/// Shapes, codes, the DataScaledMarginalCrossEntropy rules and the target pointers.
bool loss_arguments(const char* kernel, const LossParams& p, const float* a, int64_t rows,
                    int64_t cols, int64_t col_begin, const TargetView& t) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0, kernel, ": bad shape rows=", rows,
                 " cols=", cols, " col_begin=", col_begin);
  DSSTNE_EXPECTS(terms::known_error_function(p.function), kernel, ": unknown error function code ",
                 static_cast<uint32_t>(p.function));
  DSSTNE_EXPECTS(terms::known_activation(p.activation.kind), kernel, ": unknown activation code ",
                 static_cast<uint32_t>(p.activation.kind));
  if (p.function == ErrorFunction::DataScaledMarginalCrossEntropy) {
    DSSTNE_EXPECTS(t.sparse, "DataScaledMarginalCrossEntropy needs sparse targets");
    DSSTNE_EXPECTS(!terms::is_softmax(p),
                   "DataScaledMarginalCrossEntropy is not defined for a SoftMax output layer");
  }
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr, kernel, ": the activation pointer is null");
  if (!t.sparse) {
    DSSTNE_EXPECTS(t.dense != nullptr, kernel, ": dense targets without a target pointer");
    return true;
  }
  DSSTNE_EXPECTS(t.csr.offsets != nullptr, kernel, ": sparse targets without offsets");
  DSSTNE_EXPECTS(t.csr.rows >= rows, kernel, ": sparse targets have ", t.csr.rows,
                 " rows for a batch of ", rows);
  return true;
}

bool update_arguments(const char* who, const UpdateParams& u, const float* input, int64_t n,
                      const float* p, const float* v, const float* v2) {
  DSSTNE_EXPECTS(n >= 0, who, ": negative element count ", n);
  const TrainingMode mode = u.mode;
  switch (mode) {
    case TrainingMode::SGD:
    case TrainingMode::Momentum:
    case TrainingMode::Nesterov:
    case TrainingMode::AdaGrad:
    case TrainingMode::RMSProp:
    case TrainingMode::AdaDelta:
    case TrainingMode::Adam:
      break;
    default:
      DSSTNE_FAIL(InvalidArgument, who, ": unknown training mode code ",
                  static_cast<uint32_t>(mode));
  }
  DSSTNE_EXPECTS(mode != TrainingMode::Adam || u.step >= 1, who,
                 ": Adam needs a 1-based step count, got ", u.step);
  if (n == 0) return false;
  const bool needs_v = mode != TrainingMode::SGD;
  const bool needs_v2 = mode == TrainingMode::AdaDelta || mode == TrainingMode::Adam;
  DSSTNE_EXPECTS(input != nullptr && p != nullptr, who, ": gradient or parameter pointer is null");
  DSSTNE_EXPECTS(!needs_v || v != nullptr, who, ": training mode code ",
                 static_cast<uint32_t>(mode), " needs optimizer state v, got null");
  DSSTNE_EXPECTS(!needs_v2 || v2 != nullptr, who, ": training mode code ",
                 static_cast<uint32_t>(mode), " needs optimizer state v2, got null");
  return true;
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

// ---- loss --------------------------------------------------------------------------------------

bool output_error(const Context&, const LossParams& p, const float* a, int64_t rows, int64_t cols,
                  int64_t col_begin, const TargetView& t) {
  return loss_arguments("output_error", p, a, rows, cols, col_begin, t);
}

bool output_error_sum(const Context&, const LossParams& p, const float* a, int64_t rows,
                      int64_t cols, int64_t col_begin, const TargetView& t, double* total) {
  if (!loss_arguments("output_error_sum", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(total != nullptr, "output_error_sum: the total pointer is null");
  return true;
}

bool output_delta(const Context&, const LossParams& p, const float* a, int64_t rows, int64_t cols,
                  int64_t col_begin, const TargetView& t, float* delta) {
  if (!loss_arguments("output_delta", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(delta != nullptr, "output_delta: the delta pointer is null");
  return true;
}

bool output_pass(const Context&, const LossParams& p, const float*, float* z, int64_t rows,
                 int64_t cols, int64_t col_begin, const TargetView& t, double* total,
                 float* delta) {
  DSSTNE_EXPECTS(p.activation.kind != Activation::SoftMax,
                 "output_pass: a SoftMax output takes its delta row by row (output_delta)");
  if (!loss_arguments("output_pass", p, z, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(total != nullptr && delta != nullptr, "output_pass: the ",
                 total == nullptr ? "total" : "delta", " pointer is null");
  return true;
}

bool softmax_delta_sums(const Context&, const LossParams& p, const float* a, int64_t rows,
                        int64_t cols, int64_t col_begin, const TargetView& t, float* sums) {
  DSSTNE_EXPECTS(p.activation.kind == Activation::SoftMax,
                 "softmax_delta_sums: the output layer is not a SoftMax");
  if (!loss_arguments("softmax_delta_sums", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(sums != nullptr, "softmax_delta_sums: the sums pointer is null");
  return true;
}

bool softmax_output_delta(const Context&, const LossParams& p, const float* a, int64_t rows,
                          int64_t cols, int64_t col_begin, const TargetView& t,
                          const float* sums, float* delta) {
  DSSTNE_EXPECTS(p.activation.kind == Activation::SoftMax,
                 "softmax_output_delta: the output layer is not a SoftMax");
  if (!loss_arguments("softmax_output_delta", p, a, rows, cols, col_begin, t)) return false;
  DSSTNE_EXPECTS(sums != nullptr && delta != nullptr,
                 "softmax_output_delta: the sums or delta pointer is null");
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

// ---- dense -------------------------------------------------------------------------------------

bool gemm(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float,
          const float*, int64_t lda, const float*, int64_t ldb, float, float*, int64_t ldc) {
  // Stored shapes: A is m × k (or k × m when trans_a), B is k × n (or n × k), C is m × n.
  DSSTNE_EXPECTS(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  // An empty C (a rank owning none of a layer's units) is never touched, whatever its ldc.
  DSSTNE_EXPECTS(ldc >= n, "gemm: ldc=", ldc, " < n=", n);
  if (m == 0 || n == 0) return false;
  if (k == 0) return true;  // no product terms: C = beta·C, and A and B are never read
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  DSSTNE_EXPECTS(lda >= a_cols, "gemm: lda=", lda, " < ", a_cols, " columns of stored A");
  DSSTNE_EXPECTS(ldb >= b_cols, "gemm: ldb=", ldb, " < ", b_cols, " columns of stored B");
  check_blas_int(m, "m");
  check_blas_int(n, "n");
  check_blas_int(k, "k");
  check_blas_int(lda, "lda");
  check_blas_int(ldb, "ldb");
  check_blas_int(ldc, "ldc");
  return true;
}

bool broadcast_rows(const Context&, const float*, int64_t rows, int64_t cols, bool, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "broadcast_rows: negative size ", rows, " × ", cols);
  return rows > 0 && cols > 0;
}

bool add(const Context&, const float*, int64_t n, float*) {
  DSSTNE_EXPECTS(n >= 0, "add: negative size ", n);
  return n > 0;
}

bool column_mean(const Context&, const float*, int64_t rows, int64_t cols, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "column_mean: negative size ", rows, " × ", cols);
  return cols > 0;
}

bool fill(const Context&, float*, int64_t n, float) {
  DSSTNE_EXPECTS(n >= 0, "fill: negative size ", n);
  return n > 0;
}

bool clip_row_norms(const Context&, float*, int64_t rows, int64_t cols, float max_norm) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "clip_row_norms: negative size ", rows, " × ", cols);
  return max_norm > 0.0f && rows > 0 && cols > 0;  // max_norm 0 (the default) disables it
}

bool clip_column_norms(const Context&, float*, int64_t n_in, int64_t n_out, float max_norm) {
  DSSTNE_EXPECTS(n_in >= 0 && n_out >= 0, "clip_column_norms: negative size ", n_in, " × ",
                 n_out);
  return max_norm > 0.0f && n_in > 0 && n_out > 0;
}

// ---- sparse ------------------------------------------------------------------------------------

bool sparse_product(const Context&, const CsrView& x, const float*, int64_t n_out, float*) {
  check_csr(x, "sparse_product");
  DSSTNE_EXPECTS(n_out >= 0, "sparse_product: negative n_out ", n_out);
  return x.rows > 0 && n_out > 0;
}

bool sparse_transposed_product(const Context&, const CsrView& x, const float*, int64_t n_in,
                               int64_t n_out, float, float, float*) {
  check_csr(x, "sparse_transposed_product");
  DSSTNE_EXPECTS(n_in >= 0 && n_out >= 0, "sparse_transposed_product: negative size ", n_in,
                 " × ", n_out);
  return n_in > 0 && n_out > 0;
}

bool csr_to_dense(const Context&, const CsrView& x, int64_t col_begin, int64_t cols, float*) {
  check_csr(x, "csr_to_dense");
  DSSTNE_EXPECTS(cols >= 0 && col_begin >= 0, "csr_to_dense: bad column range begin=", col_begin,
                 " cols=", cols);
  return x.rows > 0 && cols > 0;
}

bool sparse_distinct_indices(const Context&, const CsrView& x, int64_t n_in, uint32_t* rows,
                             int64_t* count) {
  check_csr(x, "sparse_distinct_indices");
  DSSTNE_EXPECTS(n_in >= 0, "sparse_distinct_indices: negative n_in ", n_in);
  DSSTNE_EXPECTS(rows != nullptr && count != nullptr, "sparse_distinct_indices: the ",
                 rows == nullptr ? "rows" : "count", " pointer is null");
  return true;
}

namespace {

/// The listed-rows arguments shared by zero_listed_rows and update_listed_rows; true when some
/// row may be listed.
bool listed_rows_arguments(const char* who, const uint32_t* rows, const int64_t* count,
                           int64_t max_count, int64_t n_rows, int64_t row_len) {
  DSSTNE_EXPECTS(max_count >= 0 && n_rows >= 0 && row_len >= 0, who, ": negative size max_count=",
                 max_count, " n_rows=", n_rows, " row_len=", row_len);
  if (max_count == 0 || n_rows == 0 || row_len == 0) return false;
  DSSTNE_EXPECTS(rows != nullptr && count != nullptr, who, ": the ",
                 rows == nullptr ? "rows" : "count", " pointer is null");
  return true;
}

}  // namespace

bool zero_listed_rows(const Context&, const uint32_t* rows, const int64_t* count,
                      int64_t max_count, int64_t n_rows, int64_t row_len, float* m) {
  if (!listed_rows_arguments("zero_listed_rows", rows, count, max_count, n_rows, row_len))
    return false;
  DSSTNE_EXPECTS(m != nullptr, "zero_listed_rows: the matrix pointer is null");
  return true;
}

// ---- gather ------------------------------------------------------------------------------------

bool sparse_row_counts(const Context&, const SparseStorageView&, const uint32_t*, int64_t rows,
                       int64_t*) {
  DSSTNE_EXPECTS(rows >= 0, "sparse_row_counts: negative row count ", rows);
  return rows > 0;
}

bool sparse_batch_fill(const Context&, const SparseStorageView&, const uint32_t*, int64_t rows,
                       const int64_t*, bool, const DenoiseParams& dn, uint32_t*, float*) {
  DSSTNE_EXPECTS(rows >= 0, "sparse_batch_fill: negative row count ", rows);
  DSSTNE_EXPECTS(dn.p >= 0.0f && dn.p < 1.0f, "sparse_batch_fill: denoising probability ", dn.p,
                 " is outside [0, 1)");
  return rows > 0;
}

bool dense_batch_fill(const Context&, const DenseStorageView& s, const uint32_t*, int64_t rows,
                      int64_t col_begin, int64_t cols, bool, float*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0, "dense_batch_fill: bad shape rows=",
                 rows, " col_begin=", col_begin, " cols=", cols);
  DSSTNE_EXPECTS(s.one_hot || col_begin + cols <= s.stride, "dense_batch_fill: columns [",
                 col_begin, ", ", col_begin + cols, ") exceed the record stride ", s.stride);
  return rows > 0 && cols > 0;
}

bool gather_weights(const Context&, const float*, const uint32_t*, int64_t rows, float*) {
  DSSTNE_EXPECTS(rows >= 0, "gather_weights: negative row count ", rows);
  return rows > 0;
}

// ---- random and dropout ------------------------------------------------------------------------

bool init_weights(const Context&, WeightInit scheme, float scale, const RandomStream&,
                  int64_t n_in, int64_t n_out, const MatrixBlock& b, float* w) {
  DSSTNE_EXPECTS(n_in > 0 && n_out > 0, "init_weights: matrix must be non-empty, got ", n_in,
                 " x ", n_out);
  DSSTNE_EXPECTS(b.col_begin >= 0 && b.cols >= 0 && b.col_begin + b.cols <= n_out,
                 "init_weights: columns [", b.col_begin, ", ", b.col_begin + b.cols,
                 ") outside the ", n_out, " output units");
  DSSTNE_EXPECTS(b.row_begin >= 0 && b.rows >= 0 && b.row_begin + b.rows <= n_in,
                 "init_weights: rows [", b.row_begin, ", ", b.row_begin + b.rows,
                 ") outside the ", n_in, " input units");
  init::init_law(scheme, scale, n_in, n_out);  // raises for an unknown scheme
  if (b.cols == 0 || b.rows == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "init_weights: weight pointer is null");
  return true;
}

bool shuffle_permutation(const Context&, const RandomStream&, int64_t n, uint32_t* perm) {
  DSSTNE_EXPECTS(n >= 0 && n <= (int64_t{1} << 32), "shuffle_permutation: example count ", n,
                 " outside [0, 2^32]");
  if (n == 0) return false;
  DSSTNE_EXPECTS(perm != nullptr, "shuffle_permutation: permutation pointer is null");
  return true;
}

bool dropout_forward(const Context&, const ActivationParams&, float p, const RandomStream&,
                     int64_t row_pitch, int64_t col_begin, int64_t rows, int64_t cols, float* a,
                     float* saved, uint8_t* mask) {
  DSSTNE_EXPECTS(p < 1.0f, "dropout_forward: dropout probability ", p, " must be below 1");
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && col_begin >= 0 && row_pitch >= col_begin + cols,
                 "dropout_forward: bad shape rows=", rows, " cols=", cols, " col_begin=", col_begin,
                 " row_pitch=", row_pitch);
  if (rows * cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr && saved != nullptr && mask != nullptr,
                 "dropout_forward: activation, saved or mask pointer is null");
  return true;
}

bool dropout_backward(const Context&, const ActivationParams&, float p, const uint8_t* mask,
                      int64_t rows, int64_t cols, float* g) {
  DSSTNE_EXPECTS(p < 1.0f, "dropout_backward: dropout probability ", p, " must be below 1");
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "dropout_backward: bad shape rows=", rows, " cols=", cols);
  if (rows * cols == 0) return false;
  DSSTNE_EXPECTS(mask != nullptr && g != nullptr,
                 "dropout_backward: mask or delta pointer is null");
  return true;
}

// ---- regularize --------------------------------------------------------------------------------

bool sparseness_penalty(const Context&, const float* a, int64_t rows, int64_t cols, float, float,
                        float* g) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, "sparseness_penalty: bad shape rows=", rows,
                 " cols=", cols);
  if (rows == 0 || cols == 0) return false;
  DSSTNE_EXPECTS(a != nullptr && g != nullptr,
                 "sparseness_penalty: activation or delta pointer is null");
  return true;
}

bool regularization_error(const Context&, const float* w, int64_t n, float, float) {
  DSSTNE_EXPECTS(n >= 0, "regularization_error: negative weight count ", n);
  if (n == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "regularization_error: weight pointer is null");
  return true;
}

bool regularization_error_sum(const Context&, const float* w, int64_t n, float, float,
                              double* total) {
  DSSTNE_EXPECTS(n >= 0, "regularization_error_sum: negative weight count ", n);
  DSSTNE_EXPECTS(total != nullptr, "regularization_error_sum: the total pointer is null");
  if (n == 0) return false;
  DSSTNE_EXPECTS(w != nullptr, "regularization_error_sum: weight pointer is null");
  return true;
}

// ---- optimizer ---------------------------------------------------------------------------------

bool update_weights(const Context&, const UpdateParams& u, const float* g, int64_t n, float* w,
                    float* v, float* v2) {
  return update_arguments("update_weights", u, g, n, w, v, v2);
}

bool update_biases(const Context&, const UpdateParams& u, const float* mean_delta, int64_t n,
                   float* b, float* v, float* v2) {
  return update_arguments("update_biases", u, mean_delta, n, b, v, v2);
}

bool update_listed_rows(const Context& ctx, const UpdateParams& u, const float* g,
                        const uint32_t* rows, const int64_t* count, int64_t max_count,
                        int64_t n_rows, int64_t row_len, float* w) {
  DSSTNE_EXPECTS(u.mode == TrainingMode::SGD && u.lambda == 0.0f && u.lambda1 == 0.0f,
                 "update_listed_rows: only SGD without weight decay leaves unlisted rows as they "
                 "are; got training mode code ", static_cast<uint32_t>(u.mode), ", lambda ",
                 u.lambda, ", lambda1 ", u.lambda1);
  if (!listed_rows_arguments("update_listed_rows", rows, count, max_count, n_rows, row_len))
    return false;
  return update_weights(ctx, u, g, row_len, w, nullptr, nullptr);
}

bool watch_error(const Context&, const double* error, double tolerance, int32_t* halt) {
  DSSTNE_EXPECTS(error != nullptr && halt != nullptr, "watch_error: the ",
                 error == nullptr ? "error" : "halt", " pointer is null");
  DSSTNE_EXPECTS(tolerance >= 0.0, "watch_error: the tolerance must be >= 0, got ", tolerance);
  return true;
}

// ---- topk --------------------------------------------------------------------------------------

bool topk(const Context&, const float*, int64_t rows, int64_t cols, int64_t col_begin, int64_t k,
          const CsrView* exclude, float*, uint32_t*) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0 && k >= 0, "topk: negative size rows=", rows, " cols=",
                 cols, " k=", k);
  DSSTNE_EXPECTS(col_begin >= 0 && col_begin + cols <= static_cast<int64_t>(terms::kNoIndex),
                 "topk: columns [", col_begin, ", ", col_begin + cols,
                 ") do not fit 32-bit indices below the padding index ", terms::kNoIndex);
  DSSTNE_EXPECTS(exclude == nullptr || exclude->rows == rows, "topk: exclusion list has ",
                 exclude ? exclude->rows : 0, " rows, scores have ", rows);
  return k != 0 && rows != 0;
}

// ---- pooling -----------------------------------------------------------------------------------

namespace {

/// The shape and the source count; when `has_work`, the source list too, and its entries unless
/// the rows have no units to read.
bool pooling_sources(const char* kernel, const float* const* sources, int64_t count,
                     int64_t min_count, int64_t rows, int64_t cols, bool has_work) {
  DSSTNE_EXPECTS(rows >= 0 && cols >= 0, kernel, ": bad shape rows=", rows, " cols=", cols);
  DSSTNE_EXPECTS(count >= min_count && count <= kMaxPoolingSources, kernel, ": ", count,
                 " sources, it takes ", min_count, " to ", kMaxPoolingSources);
  if (!has_work) return false;
  DSSTNE_EXPECTS(sources != nullptr, kernel, ": the source list is null");
  for (int64_t k = 0; k < count && cols != 0; ++k)
    DSSTNE_EXPECTS(sources[k] != nullptr, kernel, ": source ", k, " is null");
  return true;
}

/// The incoming delta and the list of the sources' deltas, whose null entries are skipped. A
/// buffer listed twice would take one source's gradient and then lose it to the other's.
bool pooling_deltas(const char* kernel, const float* delta, int64_t count,
                    float* const* deltas) {
  DSSTNE_EXPECTS(delta != nullptr, kernel, ": the delta pointer is null");
  DSSTNE_EXPECTS(deltas != nullptr, kernel, ": the list of the sources' deltas is null");
  for (int64_t k = 1; k < count; ++k)
    for (int64_t earlier = 0; earlier < k; ++earlier)
      DSSTNE_EXPECTS(deltas[k] == nullptr || deltas[k] != deltas[earlier], kernel, ": sources ",
                     earlier, " and ", k, " share one delta buffer");
  return true;
}

bool pooling_output(const char* kernel, const float* const* sources, int64_t count,
                    int64_t min_count, int64_t rows, int64_t cols, bool has_work,
                    const float* y) {
  if (!pooling_sources(kernel, sources, count, min_count, rows, cols, has_work)) return false;
  DSSTNE_EXPECTS(y != nullptr, kernel, ": the output pointer is null");
  return true;
}

bool pooling_backward(const char* kernel, const float* const* sources, int64_t count,
                      int64_t min_count, int64_t rows, int64_t cols, const float* delta,
                      float* const* deltas) {
  if (!pooling_sources(kernel, sources, count, min_count, rows, cols, rows * cols != 0))
    return false;
  return pooling_deltas(kernel, delta, count, deltas);
}

}  // namespace

bool maxout_forward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  return pooling_output("maxout_forward", sources, count, 1, rows, cols, rows * cols != 0, y);
}

bool maxout_backward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool, float* const* deltas) {
  return pooling_backward("maxout_backward", sources, count, 1, rows, cols, delta, deltas);
}

bool dot_product_forward(const Context&, const float* const* sources, int64_t count,
                         int64_t rows, int64_t cols, float* y) {
  return pooling_output("dot_product_forward", sources, count, 2, rows, cols, rows != 0, y);
}

bool dot_product_backward(const Context&, const float* const* sources, int64_t count,
                          int64_t rows, int64_t cols, const float* delta, bool,
                          float* const* deltas) {
  return pooling_backward("dot_product_backward", sources, count, 2, rows, cols, delta, deltas);
}

bool cosine_forward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y) {
  return pooling_output("cosine_forward", sources, count, 2, rows, cols, rows != 0, y);
}

bool cosine_backward(const Context&, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool, float* const* deltas) {
  return pooling_backward("cosine_backward", sources, count, 2, rows, cols, delta, deltas);
}

// ---- spatial pooling ---------------------------------------------------------------------------
//
// The geometry rule. spec/formats.md §1.9 derives, per axis, out = 1 when in ≤ kernel, in when
// stride is 1 ("same"), else ⌊(in − kernel)/stride⌋ + 1, with pad (kernel − in + 1)/2 when
// in < kernel, kernel/2 when stride is 1, else 0. Those do not always meet the usual
// out = ⌊(in + 2·pad − kernel)/stride⌋ + 1 (an even kernel at stride 1 gives one output fewer;
// in = kernel at stride 1 gives one output), so the rule accepted here is the one both satisfy:
// 0 ≤ pad < kernel, in + 2·pad ≥ kernel and 1 ≤ out ≤ ⌊(in + 2·pad − kernel)/stride⌋ + 1. Then
// every window lies inside the padded input and holds at least one real position (the first
// ends at kernel − pad > 0, the last starts at most at in + pad − kernel < in), so a maximum
// always has a winner and an average a nonzero count.

namespace {

const char* const kAxisNames[3] = {"x", "y", "z"};

void pool_geometry(const char* kernel, const PoolGeometry& g, int64_t rows) {
  DSSTNE_EXPECTS(rows >= 0, kernel, ": negative row count ", rows);
  DSSTNE_EXPECTS(g.channels >= 1, kernel, ": ", g.channels, " channels, it needs at least 1");
  for (int axis = 0; axis < 3; ++axis) {
    const char* name = kAxisNames[axis];
    const int64_t in = g.in[axis], k = g.kernel[axis], s = g.stride[axis], p = g.pad[axis];
    DSSTNE_EXPECTS(in >= 1 && k >= 1 && s >= 1, kernel, ": axis ", name, " has input ", in,
                   ", kernel ", k, ", stride ", s, "; each must be at least 1");
    DSSTNE_EXPECTS(p >= 0 && p < k, kernel, ": axis ", name, " pad ", p,
                   " is outside [0, kernel ", k, ")");
    DSSTNE_EXPECTS(in + 2 * p >= k, kernel, ": axis ", name, " kernel ", k,
                   " is wider than the padded input ", in + 2 * p);
    const int64_t most = (in + 2 * p - k) / s + 1;
    DSSTNE_EXPECTS(g.out[axis] >= 1 && g.out[axis] <= most, kernel, ": axis ", name, " output ",
                   g.out[axis], " is outside [1, ", most, "] for input ", in, ", kernel ", k,
                   ", stride ", s, ", pad ", p);
  }
}

void lrn_arguments(const char* kernel, const LrnParams& p, int64_t rows, int64_t channels,
                   int64_t spatial) {
  DSSTNE_EXPECTS(rows >= 0 && channels >= 0 && spatial >= 0, kernel, ": bad shape rows=", rows,
                 " channels=", channels, " spatial=", spatial);
  DSSTNE_EXPECTS(p.n >= 1, kernel, ": window of ", p.n, " channels, it needs at least 1");
  // k > 0 and alpha ≥ 0 keep the base of the power positive, so y is finite for finite x.
  DSSTNE_EXPECTS(std::isfinite(p.k) && p.k > 0.0f, kernel, ": k = ", p.k,
                 " must be finite and positive");
  DSSTNE_EXPECTS(std::isfinite(p.alpha) && p.alpha >= 0.0f, kernel, ": alpha = ", p.alpha,
                 " must be finite and not negative");
  DSSTNE_EXPECTS(std::isfinite(p.beta) && p.beta >= 0.0f, kernel, ": beta = ", p.beta,
                 " must be finite and not negative");
}

}  // namespace

bool max_pool_forward(const Context&, const PoolGeometry& g, const float* x, int64_t rows,
                      float* y) {
  pool_geometry("max_pool_forward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "max_pool_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "max_pool_forward: the output pointer is null");
  return true;
}

bool max_pool_backward(const Context&, const PoolGeometry& g, const float* x,
                       const float* delta, int64_t rows, bool, float* dx) {
  pool_geometry("max_pool_backward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "max_pool_backward: the input pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "max_pool_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "max_pool_backward: the input delta pointer is null");
  return true;
}

bool average_pool_forward(const Context&, const PoolGeometry& g, const float* x,
                          int64_t rows, float* y) {
  pool_geometry("average_pool_forward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "average_pool_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "average_pool_forward: the output pointer is null");
  return true;
}

bool average_pool_backward(const Context&, const PoolGeometry& g, const float* delta,
                           int64_t rows, bool, float* dx) {
  pool_geometry("average_pool_backward", g, rows);
  if (rows == 0) return false;
  DSSTNE_EXPECTS(delta != nullptr, "average_pool_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "average_pool_backward: the input delta pointer is null");
  return true;
}

bool lrn_forward(const Context&, const LrnParams& p, const float* x, int64_t rows,
                 int64_t channels, int64_t spatial, float* y) {
  lrn_arguments("lrn_forward", p, rows, channels, spatial);
  if (rows * channels * spatial == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "lrn_forward: the input pointer is null");
  DSSTNE_EXPECTS(y != nullptr, "lrn_forward: the output pointer is null");
  return true;
}

bool lrn_backward(const Context&, const LrnParams& p, const float* x, const float* delta,
                  int64_t rows, int64_t channels, int64_t spatial, bool, float* dx) {
  lrn_arguments("lrn_backward", p, rows, channels, spatial);
  if (rows * channels * spatial == 0) return false;
  DSSTNE_EXPECTS(x != nullptr, "lrn_backward: the input pointer is null");
  DSSTNE_EXPECTS(delta != nullptr, "lrn_backward: the delta pointer is null");
  DSSTNE_EXPECTS(dx != nullptr, "lrn_backward: the input delta pointer is null");
  return true;
}

}  // namespace dsstne::checks
