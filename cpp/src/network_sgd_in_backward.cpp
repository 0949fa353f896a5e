// SPDX-License-Identifier: Apache-2.0
// SGD inside the backward pass (docs/design.md "SGD inside the backward pass"). Plain SGD moves a
// matrix by α times its stored gradient scale·xᵀδ, less α·λ of itself, so the gradient's product
// can write the step into the matrix (w ← α·scale·xᵀδ + (1 − α·λ)·w) instead of writing the
// gradient for the update to read back: the update's sweep over the matrix and the gradient's
// write and read are gone, 4 GB of traffic a batch for a 256 × 1M output matrix. train() takes
// this path where it fits; backward_batch() on its own always writes gradients.
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {

bool Network::sgd_fits_backward(const UpdateParams& u) {
  // L1 decay needs the sign of every weight and other optimizers keep state per weight: both
  // need the update's sweep anyway.
  return u.mode == TrainingMode::SGD && u.lambda1 == 0.0f;
}

bool Network::steps_in_backward(const Weight& w) const {
  // The connections whose gradient is one local product of this rank: a shared matrix adds
  // several, a transposed one lands in its owner's layout, row-split and gathered products write
  // partial gradients that are exchanged first, and a convolution has passes of its own. A sparse
  // input's product writes only the rows its batch lists, so it steps alone only when the other
  // rows would not move (no weight decay).
  if (sgd_in_backward_ == nullptr || w.locked() || w.shared() || w.sharing_count() != 1 ||
      w.transposed() || w.convolutional() || w.split() != WeightSplit::Columns ||
      w.input().sharded())
    return false;
  return !w.input().is_sparse_input() || sgd_in_backward_->u.lambda == 0.0f;
}

void Network::step_in_backward(Weight& w, Layer& layer) {
  const UpdateParams& u = sgd_in_backward_->u;
  Layer& s = w.input();
  const int64_t rows = layer.rows_, cols = layer.local_units(), n_in = s.stride();
  float* delta = layer.delta_.data();
  // A batch that diverged on the GPU stops every later update before the host hears of it. The
  // product cannot read that flag, so its operands become zeros and, with the device-side
  // scalars {0, 1} of train_step, it leaves the matrix as it was. Nothing else reads them once
  // the batch is lost.
  if (u.halt != nullptr) DSSTNE_DISPATCH(ctx_, zero_if_halted, u.halt, delta, rows * cols);
  if (s.is_sparse_input()) {
    // The batch's values are finite (data sets refuse others), so zero deltas add zero. Only the
    // rows the batch lists change: the others keep their bits.
    DSSTNE_DISPATCH(ctx_, sparse_transposed_product, s.sparse_batch_.view(), delta, n_in, cols,
                    u.alpha * (-1.0f / float(rows)), 1.0f, w.w_.data());
  } else {
    float* x = s.units_.data();
    if (u.halt != nullptr) DSSTNE_DISPATCH(ctx_, zero_if_halted, u.halt, x, rows * n_in);
    DSSTNE_DISPATCH(ctx_, gemm_device_scalars, true, false, n_in, cols, rows,
                    sgd_in_backward_->scalars, x, n_in, delta, cols, w.w_.data(), cols);
  }
  w.stepped_in_backward_ = true;
}

}  // namespace dsstne
