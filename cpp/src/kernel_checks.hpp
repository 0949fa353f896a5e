// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file kernel_checks.hpp
/// @brief The argument checks of every kernel, written once for both backends (and the CUDA stubs
/// of a build without CUDA), so a bad call raises the same error with the same message wherever
/// it goes. checks::name takes exactly the parameters of kernel `name` in kernels.inc, raises
/// InvalidArgument naming the kernel and the culprit, and returns whether there is anything to
/// compute. Each kernel calls it first.
///
/// Only what the host can see is checked here: sizes, codes, pointers being set. Data in device
/// memory (sparse offsets and indices) are checked by each backend where they live, and limits of
/// one backend (grid sizes, 32-bit sort counts) by that backend.
///
/// The definitions are compiled once, into libdsstne, and called by both backends: the CUDA
/// objects link against them, so the messages cannot drift. The sections below are defined in
/// kernel_checks_<family>.cpp: _activation (activation, rows), _loss, _dense, _sparse, _gather,
/// _random (random, dropout), _optimizer (regularize, optimizer), _topk, _pooling,
/// _spatial_pooling, _conv, _batch_norm; helpers several of them use, in kernel_checks_util.hpp.

#include <cstdint>

#include "dsstne/kernels.hpp"

namespace dsstne::checks {

// ---- activation --------------------------------------------------------------------------------
bool activation_forward(const Context& ctx, const ActivationParams& p, float* z, int64_t rows,
                        int64_t cols);
bool activation_backward(const Context& ctx, const ActivationParams& p, const float* a, float* g,
                         int64_t rows, int64_t cols);

// ---- loss: the target pointers and shapes; each backend checks the sparse offsets ---------------
bool output_error(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                  int64_t cols, int64_t col_begin, const TargetView& t);
bool output_error_sum(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                      int64_t cols, int64_t col_begin, const TargetView& t, double* total);
bool output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                  int64_t cols, int64_t col_begin, const TargetView& t, float* delta);
bool output_pass(const Context& ctx, const LossParams& p, const float* bias,
                 const float* z, int64_t rows, int64_t cols, int64_t col_begin,
                 const TargetView& t, double* total, float* delta);
bool softmax_delta_sums(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                        int64_t cols, int64_t col_begin, const TargetView& t, float* sums);
bool softmax_output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                          int64_t cols, int64_t col_begin, const TargetView& t,
                          const float* sums, float* delta);

// ---- rows --------------------------------------------------------------------------------------
bool row_stats(const Context& ctx, RowStat stat, const float* a, const float* b, int64_t rows,
               int64_t cols, float* out);
bool transform_rows(const Context& ctx, RowOp op, float* x, const float* a, int64_t rows,
                    int64_t cols, const float* v, float max_norm);
bool column_square_sums(const Context& ctx, const float* w, int64_t rows, int64_t cols,
                        float* out);
bool clip_columns(const Context& ctx, float* w, int64_t rows, int64_t cols, const float* sq,
                  float max_norm);
bool sum_blocks(const Context& ctx, const float* blocks, int64_t nblocks, int64_t count,
                float* out);

// ---- dense: gemm returns true also when k == 0 (C is only scaled) ------------------------------
bool gemm(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc);
bool gemm_device_scalars(const Context& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, const float* scalars, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc);
bool broadcast_rows(const Context& ctx, const float* v, int64_t rows, int64_t cols,
                    bool accumulate, float* z);
bool add(const Context& ctx, const float* x, int64_t n, float* y);
/// True whenever cols > 0: zero rows still write a mean of 0.
bool column_mean(const Context& ctx, const float* x, int64_t rows, int64_t cols, float* out);
bool fill(const Context& ctx, float* x, int64_t n, float v);
/// False also when max_norm <= 0 (the constraint is off).
bool clip_row_norms(const Context& ctx, float* x, int64_t rows, int64_t cols, float max_norm);
bool clip_column_norms(const Context& ctx, float* w, int64_t n_in, int64_t n_out,
                       float max_norm);

// ---- sparse ------------------------------------------------------------------------------------
bool sparse_product(const Context& ctx, const CsrView& x, const float* w, int64_t n_out,
                    float* z);
/// True when grad must change: beta != 1 scales it even for an empty batch.
bool sparse_transposed_product(const Context& ctx, const CsrView& x, const float* delta,
                               int64_t n_in, int64_t n_out, float alpha, float beta, float* grad);
bool csr_to_dense(const Context& ctx, const CsrView& x, int64_t col_begin, int64_t cols,
                  float* out);
/// Always true: *count is written even for an empty batch.
bool sparse_distinct_indices(const Context& ctx, const CsrView& x, int64_t n_in, uint32_t* rows,
                             int64_t* count);
bool zero_listed_rows(const Context& ctx, const uint32_t* rows, const int64_t* count,
                      int64_t max_count, int64_t n_rows, int64_t row_len, float* m);

// ---- gather ------------------------------------------------------------------------------------
bool sparse_row_counts(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, int64_t* counts);
bool sparse_batch_fill(const Context& ctx, const SparseStorageView& s, const uint32_t* examples,
                       int64_t rows, const int64_t* offsets, bool apply_weights,
                       const DenoiseParams& dn, uint32_t* indices, float* values);
bool dense_batch_fill(const Context& ctx, const DenseStorageView& s, const uint32_t* examples,
                      int64_t rows, int64_t col_begin, int64_t cols, bool apply_weights,
                      float* out);
bool gather_weights(const Context& ctx, const float* weights, const uint32_t* examples,
                    int64_t rows, float* out);

// ---- random and dropout ------------------------------------------------------------------------
bool init_weights(const Context& ctx, WeightInit scheme, float scale, const RandomStream& rs,
                  int64_t n_in, int64_t n_out, const MatrixBlock& block, float* w);
bool shuffle_permutation(const Context& ctx, const RandomStream& rs, int64_t n, uint32_t* perm);
bool dropout_forward(const Context& ctx, const ActivationParams& act, float p,
                     const RandomStream& rs, int64_t row_pitch, int64_t col_begin, int64_t rows,
                     int64_t cols, float* a, float* saved, uint8_t* mask);
bool dropout_backward(const Context& ctx, const ActivationParams& act, float p,
                      const uint8_t* mask, int64_t rows, int64_t cols, float* g);

// ---- regularize --------------------------------------------------------------------------------
bool sparseness_penalty(const Context& ctx, const float* a, int64_t rows, int64_t cols, float p,
                        float beta, float* g);
bool regularization_error(const Context& ctx, const float* w, int64_t n, float lambda,
                          float lambda1);
bool regularization_error_sum(const Context& ctx, const float* w, int64_t n, float lambda,
                              float lambda1, double* total);

// ---- optimizer ---------------------------------------------------------------------------------
bool update_weights(const Context& ctx, const UpdateParams& u, const float* g, int64_t n,
                    float* w, float* v, float* v2);
bool update_biases(const Context& ctx, const UpdateParams& u, const float* mean_delta, int64_t n,
                   float* b, float* v, float* v2);
bool update_listed_rows(const Context& ctx, const UpdateParams& u, const float* g,
                        const uint32_t* rows, const int64_t* count, int64_t max_count,
                        int64_t n_rows, int64_t row_len, float* w);
bool watch_error(const Context& ctx, const double* error, double tolerance, int32_t* halt);
bool zero_if_halted(const Context& ctx, const int32_t* halt, float* x, int64_t n);
bool sgd_step_scalars(const Context& ctx, const UpdateParams& u, float scale, float* scalars);

// ---- topk: true also when cols == 0 (every slot is padding) -------------------------------------
bool topk(const Context& ctx, const float* scores, int64_t rows, int64_t cols, int64_t col_begin,
          int64_t k, const CsrView* exclude, float* out_scores, uint32_t* out_indices);

// ---- pooling: the source list and its entries, and no delta buffer listed twice ----------------
/// The forward passes of dot_product and cosine return true whenever rows > 0: rows of zero
/// units still have a dot product (0) and a cosine (0).
bool maxout_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y);
bool maxout_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas);
bool dot_product_forward(const Context& ctx, const float* const* sources, int64_t count,
                         int64_t rows, int64_t cols, float* y);
bool dot_product_backward(const Context& ctx, const float* const* sources, int64_t count,
                          int64_t rows, int64_t cols, const float* delta, bool accumulate,
                          float* const* deltas);
bool cosine_forward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                    int64_t cols, float* y);
bool cosine_backward(const Context& ctx, const float* const* sources, int64_t count, int64_t rows,
                     int64_t cols, const float* delta, bool accumulate, float* const* deltas);

// ---- spatial pooling: the geometry (kernel_checks_spatial_pooling.cpp states the rule), LRN's
// parameters ----------------------------------------------------------------------------------
bool max_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x, int64_t rows,
                      float* y);
bool max_pool_backward(const Context& ctx, const PoolGeometry& g, const float* x,
                       const float* delta, int64_t rows, bool accumulate, float* dx);
bool average_pool_forward(const Context& ctx, const PoolGeometry& g, const float* x,
                          int64_t rows, float* y);
bool average_pool_backward(const Context& ctx, const PoolGeometry& g, const float* delta,
                           int64_t rows, bool accumulate, float* dx);
bool lrn_forward(const Context& ctx, const LrnParams& p, const float* x, int64_t rows,
                 int64_t channels, int64_t spatial, float* y);
bool lrn_backward(const Context& ctx, const LrnParams& p, const float* x, const float* delta,
                  int64_t rows, int64_t channels, int64_t spatial, bool accumulate, float* dx);

// ---- convolution (kernel_checks_conv.cpp): the geometry, shapes and pointers -------------------
bool conv_forward(const Context& ctx, const ConvGeometry& g, const float* x, const float* w,
                  int64_t rows, bool accumulate, float* y);
bool conv_backward_data(const Context& ctx, const ConvGeometry& g, const float* w,
                        const float* delta, int64_t rows, bool accumulate, float* dx);
bool conv_backward_filter(const Context& ctx, const ConvGeometry& g, const float* x,
                          const float* delta, int64_t rows, float scale, float beta, float* dw);
bool add_channel_bias(const Context& ctx, const float* b, int64_t rows, int64_t channels,
                      int64_t spatial, float* y);
bool channel_mean(const Context& ctx, const float* x, int64_t rows, int64_t channels,
                  int64_t spatial, float* out);

// ---- batch normalization (kernel_checks_batch_norm.cpp) -----------------------------------------
bool batch_norm_forward_training(const Context& ctx, const BatchNormShape& s, const float* z,
                                 const float* gamma, const float* beta, float epsilon,
                                 float factor, float* y, float* saved_mean, float* saved_inv_std,
                                 float* running_mean, float* running_var);
bool batch_norm_forward_inference(const Context& ctx, const BatchNormShape& s, const float* z,
                                  const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var,
                                  float epsilon, float* y);
bool batch_norm_backward(const Context& ctx, const BatchNormShape& s, const float* z,
                         const float* dy, const float* gamma, const float* saved_mean,
                         const float* saved_inv_std, float* dz, float* dgamma, float* dbeta);

}  // namespace dsstne::checks
