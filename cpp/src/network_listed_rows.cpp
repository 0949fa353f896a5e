// SPDX-License-Identifier: Apache-2.0
// The gradient of a wide sparse input, row by row (docs/design.md "Wide sparse inputs"). A batch
// of 256 users touches a few thousand rows of a million-row input matrix; its gradient is zero
// elsewhere. So the engine lists the rows a batch wrote, clears just those before the next batch
// instead of the whole matrix, and lets SGD without weight decay step just those rows.
#include <algorithm>

#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {

namespace {

/// Listing pays when a batch can touch at most a quarter of the rows: the list costs a sort of
/// the batch's entries, the whole-matrix sweeps it saves cost the matrix.
bool worth_listing(int64_t entries, int64_t n_in) { return entries >= 0 && 4 * entries <= n_in; }

}  // namespace

bool Network::sparse_input_gradient(Weight& w, Layer& layer, float scale, float beta) {
  Layer& s = w.input();
  Weight& owner = w.owner();
  const CsrView batch = s.sparse_batch_.view();
  const int64_t n_in = s.stride(), cols = layer.local_units();
  float* grad = owner.grad_.data();
  // Only a first and sole contribution overwrites the gradient: the rows it leaves are zero.
  const bool listing = beta == 0.0f && !w.shared() && w.sharing_count() == 1 &&
                       worth_listing(batch.nnz, n_in);
  if (listing && owner.grad_rows_listed_) {
    DSSTNE_DISPATCH(ctx_, zero_listed_rows, owner.touched_rows_.data(),
                    owner.touched_count_.data(), owner.touched_bound_, n_in, cols, grad);
    beta = 1.0f;  // the gradient is all zero now: adding to it is overwriting, bit for bit
  }
  DSSTNE_DISPATCH(ctx_, sparse_transposed_product, batch, layer.delta_.data(), n_in, cols, scale,
                  beta, grad);
  if (!listing) return false;
  owner.touched_rows_.resize(static_cast<std::size_t>(n_in));  // once: the most a batch can touch
  owner.touched_count_.resize(1);
  DSSTNE_DISPATCH(ctx_, sparse_distinct_indices, batch, n_in, owner.touched_rows_.data(),
                  owner.touched_count_.data());
  owner.touched_bound_ = std::min(n_in, batch.nnz);
  return true;
}

void Network::update_matrix(const UpdateParams& u, Weight& w) {
  const bool rows_alone = w.grad_rows_listed_ && u.mode == TrainingMode::SGD &&
                          u.lambda == 0.0f && u.lambda1 == 0.0f;
  if (rows_alone) {
    const MatrixBlock b = w.block_;
    DSSTNE_DISPATCH(ctx_, update_listed_rows, u, w.grad_.data(), w.touched_rows_.data(),
                    w.touched_count_.data(), w.touched_bound_, b.rows, b.cols, w.w_.data());
    return;
  }
  DSSTNE_DISPATCH(ctx_, update_weights, u, w.grad_.data(), int64_t(w.w_.size()), w.w_.data(),
                  w.w_v_.data(), w.w_v2_.data());
}

}  // namespace dsstne
