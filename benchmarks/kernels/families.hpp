// SPDX-License-Identifier: Apache-2.0
#pragma once
// The kernel families: each makes its inputs for the shapes of the bench's options (only when
// one of its kernels is selected), times its cases, and frees its buffers before the next.
#include "harness.hpp"

namespace dsstne::bench {

/// sparse_product and sparse_transposed_product (sparse_cases.cpp).
void run_sparse_family(Bench& bench);
/// output_error, output_error_sum, output_delta, output_pass on sparse targets (loss_cases.cpp).
void run_loss_family(Bench& bench);
/// topk for each k (topk_cases.cpp).
void run_topk_family(Bench& bench);
/// update_weights (SGD, Adam) and column_mean (update_cases.cpp).
void run_update_family(Bench& bench);

}  // namespace dsstne::bench
