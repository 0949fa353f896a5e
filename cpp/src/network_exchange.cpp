// SPDX-License-Identifier: Apache-2.0
// What the ranks of a model-parallel network exchange (docs/design.md "Many ranks"): each
// connection multiplies by its rank's block of the weights, gathering the inputs it needs (split
// by output columns) or reduce-scattering partial products (split by input rows). Exchanged
// buffers hold one block per rank, rank after rank, each rows × that rank's units, so a product
// with "every rank's units" is one GEMM per block and no data is reordered.
//
// A transposed shared weight multiplies by the transpose of its owner's block: the owner's
// column block is, for it, a block of input rows, and the other way round, so it uses the split
// opposite to its owner's and reads the block as the transpose (the `t` branches below).
#include <algorithm>

#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

/// Calls f(offset, part) for every rank's non-empty slice `part` of `units`, where `offset` is
/// where that rank's block starts in a rank-major buffer of `rows` × the slices.
template <typename F>
void for_each_block(const Communicator& comm, int64_t units, int64_t rows, F&& f) {
  for (int r = 0; r < comm.size(); ++r) {
    const Slice part = comm.slice(units, r);
    if (part.size() > 0) f(rows * part.begin, part);
  }
}

}  // namespace

void Network::gather_units(Layer& s) {
  if (s.gathered_valid_) return;
  Communicator& comm = ctx_.comm();
  comm.allgather(ctx_, s.units_.data(), s.gathered_.data(), comm.slice_counts(s.stride(), s.rows_));
  s.gathered_valid_ = true;
}

void Network::gather_deltas(Layer& l) {
  if (l.deltas_gathered_) return;
  Communicator& comm = ctx_.comm();
  comm.allgather(ctx_, l.delta_.data(), l.delta_gathered_.data(),
                 comm.slice_counts(l.stride(), l.rows_));
  l.deltas_gathered_ = true;
}

void Network::gathered_product(Weight& w, Layer& layer) {
  // z (rows × cols) += Σ_r X_r (rows × s_r) · W[rows of r] (s_r × cols)
  Layer& s = w.input();
  gather_units(s);
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  const float* matrix = w.matrix().data();
  const bool t = w.transposed();  // the owner's block is cols × n_in
  for_each_block(comm, s.stride(), rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, false, t, rows, cols, part.size(), 1.0f,
                    s.gathered_.data() + offset, part.size(),
                    t ? matrix + part.begin : matrix + part.begin * cols, t ? s.stride() : cols,
                    1.0f, layer.units_.data(), cols);
  });
}

void Network::row_product(Weight& w, Layer& layer, bool first) {
  // partial block r (rows × s_r) (+)= X_local (rows × local_in) · W[:, units of r]
  Layer& s = w.input();
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, n_in = s.local_units(), n_out = layer.stride();
  const float* matrix = w.matrix().data();
  const bool t = w.transposed();  // the owner's block is n_out × local_in
  for_each_block(comm, n_out, rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, false, t, rows, part.size(), n_in, 1.0f, s.units_.data(), n_in,
                    t ? matrix + part.begin * n_in : matrix + part.begin, t ? n_in : n_out,
                    first ? 0.0f : 1.0f, layer.partial_.data() + offset, part.size());
  });
}

void Network::add_row_products(Layer& layer) {
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  comm.reduce_scatter(ctx_, layer.partial_.data(), layer.reduced_.data(),
                      comm.slice_counts(layer.stride(), rows));
  DSSTNE_DISPATCH(ctx_, add, layer.reduced_.data(), rows * cols, layer.units_.data());
}

void Network::add_skip(const Layer& s, Layer& layer) {
  const int64_t rows = layer.rows_, cols = layer.local_units();
  if (s.local_units() == cols) {
    DSSTNE_DISPATCH(ctx_, add, s.units_.data(), rows * cols, layer.units_.data());
    return;
  }
  // A whole (Input) layer skipping into a sharded one: this rank's columns of each row.
  for (int64_t i = 0; i < rows; ++i)
    DSSTNE_DISPATCH(ctx_, add, s.units_.data() + i * s.stride() + layer.slice().begin, cols,
                    layer.units_.data() + i * cols);
}

void Network::gathered_gradient(Weight& w, Layer& layer, float scale, float beta) {
  // gradient rows of r (s_r × cols) = scale · X_rᵀ · δ + beta · gradient
  Layer& s = w.input();
  gather_units(s);
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  float* grad = w.owner().grad_.data();
  if (w.transposed()) {  // the owner's layout, cols × n_in: columns of r = δᵀ · X_r
    for_each_block(comm, s.stride(), rows, [&](int64_t offset, Slice part) {
      DSSTNE_DISPATCH(ctx_, gemm, true, false, cols, part.size(), rows, scale,
                      layer.delta_.data(), cols, s.gathered_.data() + offset, part.size(), beta,
                      grad + part.begin, s.stride());
    });
    return;
  }
  for_each_block(comm, s.stride(), rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, true, false, part.size(), cols, rows, scale,
                    s.gathered_.data() + offset, part.size(),
                    layer.delta_.data(), cols, beta, grad + part.begin * cols, cols);
  });
}

void Network::gathered_delta(Weight& w, Layer& layer) {
  // every rank's part of ∂E/∂X: block r (rows × s_r) (+)= δ · W[rows of r]ᵀ
  Layer& s = w.input();
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  const float beta = s.grad_partial_written_ ? 1.0f : 0.0f;
  const float* matrix = w.matrix().data();
  const bool t = w.transposed();  // the owner's block is cols × n_in
  for_each_block(comm, s.stride(), rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, false, !t, rows, part.size(), cols, 1.0f, layer.delta_.data(),
                    cols, t ? matrix + part.begin : matrix + part.begin * cols,
                    t ? s.stride() : cols, beta, s.grad_partial_.data() + offset, part.size());
  });
  s.grad_partial_written_ = true;
}

void Network::row_gradient(Weight& w, Layer& layer, float scale, float beta) {
  // gradient columns of r (local_in × s_r) = scale · X_localᵀ · δ_r + beta · gradient
  Layer& s = w.input();
  gather_deltas(layer);
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, n_in = s.local_units(), n_out = layer.stride();
  float* grad = w.owner().grad_.data();
  if (w.transposed()) {  // the owner's layout, n_out × local_in: rows of r = δ_rᵀ · X_local
    for_each_block(comm, n_out, rows, [&](int64_t offset, Slice part) {
      DSSTNE_DISPATCH(ctx_, gemm, true, false, part.size(), n_in, rows, scale,
                      layer.delta_gathered_.data() + offset, part.size(), s.units_.data(), n_in,
                      beta, grad + part.begin * n_in, n_in);
    });
    return;
  }
  for_each_block(comm, n_out, rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, true, false, n_in, part.size(), rows, scale, s.units_.data(),
                    n_in, layer.delta_gathered_.data() + offset,
                    part.size(), beta, grad + part.begin, n_out);
  });
}

void Network::row_delta(Weight& w, Layer& layer) {
  // ∂E/∂X_local (rows × local_in) (+)= Σ_r δ_r · W[:, units of r]ᵀ
  Layer& s = w.input();
  gather_deltas(layer);
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, n_in = s.local_units(), n_out = layer.stride();
  const float* matrix = w.matrix().data();
  const bool t = w.transposed();  // the owner's block is n_out × local_in
  for_each_block(comm, n_out, rows, [&](int64_t offset, Slice part) {
    DSSTNE_DISPATCH(ctx_, gemm, false, !t, rows, n_in, part.size(), 1.0f,
                    layer.delta_gathered_.data() + offset, part.size(),
                    t ? matrix + part.begin * n_in : matrix + part.begin, t ? n_in : n_out,
                    s.grad_written_ ? 1.0f : 0.0f, s.grad_.data(), n_in);
    s.grad_written_ = true;
  });
}

void Network::replicated_delta(Weight& w, Layer& layer) {
  // ∂E/∂X_local (rows × s_local) (+)= δ (rows × n_out) · W[rows of this rank]ᵀ: every rank holds
  // the whole δ and W of a replicated consumer, so each takes its own units' part, whole.
  // (Replicated layers share no weights: W is the connection's own, n_in × n_out.)
  Layer& s = w.input();
  const int64_t rows = layer.rows_, n_out = layer.stride();
  const Slice part = s.slice();
  DSSTNE_DISPATCH(ctx_, gemm, false, true, rows, part.size(), n_out, 1.0f, layer.delta_.data(),
                  n_out, w.matrix().data() + part.begin * n_out, n_out,
                  s.grad_written_ ? 1.0f : 0.0f, s.grad_.data(),
                  std::max<int64_t>(1, part.size()));
  s.grad_written_ = true;
}

void Network::partial_delta(Weight& w, Layer& layer) {
  // this rank's terms of ∂E/∂X (rows × n_in) (+)= δ_local (rows × cols) · W[:, this rank's cols]ᵀ
  Layer& s = w.input();
  const int64_t rows = layer.rows_, cols = layer.local_units(), n_in = s.stride();
  const bool t = w.transposed();  // the owner's block is cols × n_in
  DSSTNE_DISPATCH(ctx_, gemm, false, !t, rows, n_in, cols, 1.0f, layer.delta_.data(), cols,
                  w.matrix().data(), t ? n_in : cols, s.grad_partial_written_ ? 1.0f : 0.0f,
                  s.grad_partial_.data(), n_in);
  s.grad_partial_written_ = true;
}

void Network::partial_skip(Layer& s, Layer& layer) {
  // δ (rows × cols) lands in this rank's columns of the skip source's rows × stride partial; the
  // other ranks add theirs to zeros, so the sum over ranks is δ of every column, exactly.
  const int64_t rows = layer.rows_, cols = layer.local_units(), units = s.stride();
  if (!s.grad_partial_written_) DSSTNE_DISPATCH(ctx_, fill, s.grad_partial_.data(), rows * units,
                                                0.0f);
  for (int64_t i = 0; i < rows; ++i)
    DSSTNE_DISPATCH(ctx_, add, layer.delta_.data() + i * cols, cols,
                    s.grad_partial_.data() + i * units + layer.slice().begin);
  s.grad_partial_written_ = true;
}

void Network::collect_gradient(Layer& layer) {
  if (!layer.grad_partial_written_) return;
  Communicator& comm = ctx_.comm();
  const int64_t rows = layer.rows_, cols = layer.local_units();
  DeviceBuffer<float>* sum = &layer.reduced_;
  if (layer.replicated()) {
    // The ranks' partial gradients, added in rank order on every rank: then what replicated
    // consumers wrote (identical everywhere) plus this sum, in that order, on every rank.
    comm.allreduce_sum(ctx_, layer.grad_partial_.data(), rows * cols);
    sum = &layer.grad_partial_;
  } else {
    comm.reduce_scatter(ctx_, layer.grad_partial_.data(), layer.reduced_.data(),
                        comm.slice_counts(layer.stride(), rows));
  }
  if (layer.grad_written_) {
    DSSTNE_DISPATCH(ctx_, add, sum->data(), rows * cols, layer.grad_.data());
  } else {
    std::swap(*sum, layer.grad_);
  }
  layer.grad_written_ = true;
  layer.grad_partial_written_ = false;
}

}  // namespace dsstne
