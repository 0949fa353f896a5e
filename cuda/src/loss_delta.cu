// SPDX-License-Identifier: Apache-2.0
// Output delta on the GPU, with the semantics of the CPU reference (cpp/src/cpu/loss.cpp) and its
// element formulas (cpp/src/cpu/loss_terms.hpp): element-wise for outputs other than SoftMax
// (sparse targets: a raw pass with t = 0, then the stored units per row, as loss_rows.cuh
// describes), and one block per row for SoftMax outputs, whose delta needs the row's sum Q (a
// split output's ranks share theirs through softmax_delta_sums). Sums are in double over a fixed
// tree: no atomics, bitwise repeatable.
#include <cstdint>

#include "cpu/loss_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "loss_rows.cuh"

namespace dsstne::cuda {

using namespace loss_rows;

namespace {

constexpr unsigned int kWideThreads = 1024;    // SoftMax delta blocks of wide rows
constexpr int64_t kWideRow = 8192;             // columns from which a SoftMax row is wide
constexpr int64_t kDeltaChunk = kThreads * 4;  // columns per block of the element-wise delta

// a, delta (and dense targets): rows × cols, element-wise, for outputs other than SoftMax.
// Dense targets give the final delta; sparse ones the raw pass (t = 0, or 0 with ignore_zero),
// scaled by delta_boost_zero, which the stored units overwrite next.
__global__ void delta_kernel(LossParams p, Targets t, const float* a, int64_t rows, int64_t cols,
                             bool boost, float* delta) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float w = weight_of(t, r);
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < cols;
         j += int64_t(gridDim.x) * blockDim.x) {
      const int64_t i = r * cols + j;
      float d;
      if (!t.sparse) {
        d = __fmul_rn(w, terms::delta_term(p, a[i], t.dense[i]));
      } else {
        d = t.ignore_zero ? 0.0f : __fmul_rn(w, terms::delta_term(p, a[i], 0.0f));
        if (boost) d = __fmul_rn(d, p.delta_boost_zero);
      }
      delta[i] = d;
    }
  }
}

// One block per row: the delta of the distinct local stored targets (non-SoftMax outputs), after
// delta_kernel or output_pass_kernel. Each unit has one owner, so the writes never collide.
__global__ void delta_correction_kernel(LossParams p, Targets t, Units u, int64_t cols,
                                        int64_t col_begin, bool boost, float* delta) {
  const int64_t r = blockIdx.x;
  const RowEntries e = row_entries(t, r);
  if (e.n == 0) return;  // the whole block leaves
  const bool ascending = strictly_ascending(e);
  const float w = weight_of(t, r);
  const float* ar = u.a + r * cols;
  float* dr = delta + r * cols;
  for_each_distinct(e, ascending, [&](uint32_t index, float target) {
    const int64_t col = static_cast<int64_t>(index) - col_begin;
    if (col < 0 || col >= cols) return;
    float d = __fmul_rn(w, terms::delta_term(p, unit_at(u, p.activation, ar, col), target));
    if (boost) d = __fmul_rn(d, p.delta_boost_one);
    dr[col] = d;
  });
}

/// δ = w·(q − a·Q), rounded like the CPU (no fused multiply-add).
__device__ float softmax_delta(float w, float q_j, float a_j, float q) {
  return __fmul_rn(w, __fsub_rn(q_j, __fmul_rn(a_j, q)));
}

// One block per row of a SoftMax output: Q = Σ_j q(a_j, t_j) in double (raw pass + stored
// corrections for sparse targets), then δ_j = w·(q_j − a_j·Q) for every unit, then the stored
// units are rewritten with their targets. a, delta (and dense targets): rows × cols. Wide rows
// get 1024 threads, so that one block keeps enough loads in flight when the batch is small; the
// block size depends on cols alone, so results stay repeatable. With `sums_out` the kernel only
// writes Q (a split output's part of it); with `sums_in` it takes Q from there (every rank's).
__global__ void softmax_delta_kernel(LossParams p, Targets t, const float* a, int64_t cols,
                                     int64_t col_begin, bool boost, const float* sums_in,
                                     float* sums_out, float* delta) {
  const int64_t r = blockIdx.x;
  const float w = weight_of(t, r);
  const float* ar = a + r * cols;
  float* dr = delta + r * cols;
  double q_sum = 0.0;
  if (!t.sparse) {
    const float* tr = t.dense + r * cols;
    float q = 0.0f;
    if (sums_in != nullptr) {
      q = sums_in[r];
    } else {
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        q_sum += terms::softmax_term(p, ar[j], tr[j]);
      }
      q = static_cast<float>(block_sum(q_sum));
    }
    if (sums_out != nullptr) {
      if (threadIdx.x == 0) sums_out[r] = q;
      return;
    }
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      dr[j] = softmax_delta(w, terms::softmax_term(p, ar[j], tr[j]), ar[j], q);
    }
    return;
  }
  const RowEntries e = row_entries(t, r);
  const bool ascending = strictly_ascending(e);
  const float share = softmax_share(true, e, ascending);
  // Local stored target of this index, or false when it lies outside the slice.
  auto local = [&](uint32_t index, float& target, int64_t& col) {
    col = static_cast<int64_t>(index) - col_begin;
    if (share >= 0.0f) target = share;
    return col >= 0 && col < cols;
  };
  float q = 0.0f;
  if (sums_in != nullptr) {
    q = sums_in[r];
  } else {
    if (!t.ignore_zero) {
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        q_sum += terms::softmax_term(p, ar[j], 0.0f);
      }
    }
    for_each_distinct(e, ascending, [&](uint32_t index, float target) {
      int64_t col;
      if (!local(index, target, col)) return;
      q_sum += terms::softmax_term(p, ar[col], target);
      if (!t.ignore_zero) q_sum -= terms::softmax_term(p, ar[col], 0.0f);
    });
    q = static_cast<float>(block_sum(q_sum));
  }
  if (sums_out != nullptr) {
    if (threadIdx.x == 0) sums_out[r] = q;
    return;
  }
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float q_j = t.ignore_zero ? 0.0f : terms::softmax_term(p, ar[j], 0.0f);
    float d = softmax_delta(w, q_j, ar[j], q);
    if (boost) d = __fmul_rn(d, p.delta_boost_zero);
    dr[j] = d;
  }
  __syncthreads();  // the stored units are rewritten after every thread's raw write
  for_each_distinct(e, ascending, [&](uint32_t index, float target) {
    int64_t col;
    if (!local(index, target, col)) return;
    float d = softmax_delta(w, terms::softmax_term(p, ar[col], target), ar[col], q);
    if (boost) d = __fmul_rn(d, p.delta_boost_one);
    dr[col] = d;
  });
}

void launch_softmax_delta(const StreamScope& s, const LossParams& p, const Targets& targets,
                          const float* a, int64_t rows, int64_t cols, int64_t col_begin,
                          bool boost, const float* sums_in, float* sums_out, float* delta) {
  const unsigned int threads = cols >= kWideRow ? kWideThreads : kThreads;
  softmax_delta_kernel<<<static_cast<unsigned int>(rows), threads, 0, s.stream()>>>(
      p, targets, a, cols, col_begin, boost, sums_in, sums_out, delta);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace

void loss_rows::launch_delta_correction(const StreamScope& s, const LossParams& p,
                                        const Targets& t, const Units& units, int64_t rows,
                                        int64_t cols, int64_t col_begin, bool boost,
                                        float* delta) {
  delta_correction_kernel<<<static_cast<unsigned int>(rows), kThreads, 0, s.stream()>>>(
      p, t, units, cols, col_begin, boost, delta);
  DSSTNE_CHECK_LAST_KERNEL();
}

void softmax_delta_sums(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                        int64_t cols, int64_t col_begin, const TargetView& t, float* sums) {
  if (!checks::softmax_delta_sums(ctx, p, a, rows, cols, col_begin, t, sums)) return;
  const StreamScope s(ctx);
  launch_softmax_delta(s, p, targets_of(t), a, rows, cols, col_begin, false, nullptr, sums,
                       nullptr);
}

void softmax_output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                          int64_t cols, int64_t col_begin, const TargetView& t,
                          const float* sums, float* delta) {
  if (!checks::softmax_output_delta(ctx, p, a, rows, cols, col_begin, t, sums, delta)) return;
  const StreamScope s(ctx);
  launch_softmax_delta(s, p, targets_of(t), a, rows, cols, col_begin,
                       terms::boosts_deltas(p, t.sparse), sums, nullptr, delta);
}

void output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                  int64_t cols, int64_t col_begin, const TargetView& t, float* delta) {
  if (!checks::output_delta(ctx, p, a, rows, cols, col_begin, t, delta)) return;
  const StreamScope s(ctx);
  const bool boost = terms::boosts_deltas(p, t.sparse);
  const Targets targets = targets_of(t);

  if (terms::is_softmax(p)) {
    launch_softmax_delta(s, p, targets, a, rows, cols, col_begin, boost, nullptr, nullptr, delta);
    return;
  }
  const int64_t x_blocks = (cols + kDeltaChunk - 1) / kDeltaChunk;
  delta_kernel<<<row_grid(x_blocks, rows), kThreads, 0, s.stream()>>>(p, targets, a, rows, cols,
                                                                      boost, delta);
  DSSTNE_CHECK_LAST_KERNEL();
  if (t.sparse) {
    launch_delta_correction(s, p, targets, Units{a, nullptr, false}, rows, cols, col_begin, boost,
                            delta);
  }
}

}  // namespace dsstne::cuda
