// SPDX-License-Identifier: Apache-2.0
// Output error on the GPU, and output_pass, which activates the output on the fly (z is only
// read), sums its raw error and writes its delta in one sweep, with the semantics of the CPU
// reference (cpp/src/cpu/loss.cpp) and its element formulas (cpp/src/cpu/loss_terms.hpp).
// Sparse targets are corrected per row as loss_rows.cuh describes. Every sum is in double over a
// fixed tree, and the rows of the error are added in row order (as the CPU does; on the host, or
// on the device by output_error_sum): no atomics, bitwise repeatable.
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "cpu/activation_terms.hpp"
#include "cpu/loss_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/cuda/reduce.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "loss_kinds.cuh"
#include "loss_rows.cuh"

namespace dsstne::cuda {

using namespace loss_rows;

namespace {

constexpr int64_t kErrorChunk = kThreads * 16;  // columns per block of the raw error pass

/// The columns of [begin, end) that a thread takes, in the order its partial sum adds them:
/// groups of four consecutive columns, group g for thread g mod blockDim.x. `f(j, n)` gets a
/// group's first column and size (4 but at the end). raw_error_kernel and output_pass_kernel both
/// walk this order, so their sums agree bit for bit whether or not they can load 16 bytes at once.
template <typename F>
__device__ __forceinline__ void for_each_group(int64_t begin, int64_t end, F&& f) {
#pragma unroll 4
  for (int64_t j = begin + 4 * int64_t(threadIdx.x); j < end; j += 4 * int64_t(blockDim.x))
    f(j, min(int64_t(4), end - j));
}

/// The n ≤ 4 floats at p, as one 16-byte load when `quad` allows it (then p is 16-byte aligned).
__device__ __forceinline__ void load_group(const float* p, int64_t n, bool quad, float (&v)[4]) {
  if (quad && n == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = i < n ? p[i] : 0.0f;
}

__device__ __forceinline__ void store_group(float* p, int64_t n, bool quad, const float (&v)[4]) {
  if (quad && n == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (i < n) p[i] = v[i];
}

/// Whether rows of `cols` floats at these pointers allow 16-byte groups: every row starts on a
/// 16-byte boundary (null pointers are not read).
bool quad_rows(int64_t cols, std::initializer_list<const void*> pointers) {
  if (cols % 4 != 0) return false;
  for (const void* q : pointers)
    if (reinterpret_cast<std::uintptr_t>(q) % 16 != 0) return false;
  return true;
}

// a (and dense targets): rows × cols. Block (x, y) sums e(a, t) over columns
// [x·kErrorChunk, (x+1)·kErrorChunk) of rows y, y + gridDim.y, ... into partial[row·chunks + x];
// t is the dense target, or 0 for the raw pass of sparse targets.
template <typename Kind>
__global__ void raw_error_kernel(LossParams params, bool softmax, const float* a,
                                 const float* dense, int64_t rows, int64_t cols, int64_t chunks,
                                 bool quad, double* partial) {
  const LossParams p = Kind::of(params);
  const int64_t begin = int64_t(blockIdx.x) * kErrorChunk;
  const int64_t end = min(cols, begin + kErrorChunk);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float* ar = a + r * cols;
    const float* tr = dense != nullptr ? dense + r * cols : nullptr;
    double sum = 0.0;
    for_each_group(begin, end, [&](int64_t j, int64_t n) {
      float av[4], tv[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      load_group(ar + j, n, quad, av);
      if (tr != nullptr) load_group(tr + j, n, quad, tv);
      for (int i = 0; i < n; ++i) {
        sum += Kind::fixed && tr == nullptr ? zero_target_error(p, av[i])
                                            : terms::loss_error(p, softmax, av[i], tv[i]);
      }
    });
    sum = block_sum(sum);
    if (threadIdx.x == 0) partial[r * chunks + blockIdx.x] = sum;
  }
}

// One block per row r: row_error[r] = w_r·(Σ of the row's raw partials + the corrections at its
// distinct local stored targets). status[r] flags what the CPU's validation would reject.
__global__ void row_error_kernel(LossParams p, bool softmax, Targets t, Units u, int64_t rows,
                                 int64_t cols, int64_t col_begin, const double* partial,
                                 int64_t chunks, double* row_error, int* status) {
  const int64_t r = blockIdx.x;
  double sum = 0.0;
  for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) sum += partial[r * chunks + c];
  if (t.sparse) {
    if (threadIdx.x == 0) {
      int flags = t.offsets[r] > t.offsets[r + 1] ? 1 : 0;
      if (r == 0 && t.offsets[0] < 0) flags |= 2;
      if (r == 0 && t.indices == nullptr && t.offsets[rows] != t.offsets[0]) flags |= 4;
      status[r] = flags;
    }
    const RowEntries e = row_entries(t, r);
    const bool ascending = strictly_ascending(e);
    const float share = softmax_share(softmax, e, ascending);
    const float* ar = u.a + r * cols;
    for_each_distinct(e, ascending, [&](uint32_t index, float target) {
      const int64_t col = static_cast<int64_t>(index) - col_begin;
      if (col < 0 || col >= cols) return;
      if (share >= 0.0f) target = share;
      const float a = unit_at(u, p.activation, ar, col);
      sum += terms::loss_error(p, softmax, a, target);
      if (!t.ignore_zero) sum -= terms::loss_error(p, softmax, a, 0.0f);
    });
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) row_error[r] = static_cast<double>(weight_of(t, r)) * sum;
}

// output_pass in one sweep: a = f(z + bias) in registers, never stored (nothing reads it after a
// training step's pass, and the store would be a write of the whole output), the raw error
// partials of raw_error_kernel (when `raw`) and the delta of delta_kernel, each element and each
// sum formed exactly as those kernels form them (the same columns per thread, added in the same
// order), so the results are theirs bit for bit. Blocks as in raw_error_kernel: (x, y) covers
// columns [x·kErrorChunk, (x+1)·kErrorChunk) of rows y, y + gridDim.y, ...
template <typename Kind>
__global__ void output_pass_kernel(LossParams params, Targets t, bool raw, bool boost,
                                   const float* bias, const float* z, int64_t rows, int64_t cols,
                                   int64_t chunks, bool quad, double* partial, float* delta) {
  const LossParams p = Kind::of(params);
  const int64_t begin = int64_t(blockIdx.x) * kErrorChunk;
  const int64_t end = min(cols, begin + kErrorChunk);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float* zr = z + r * cols;
    float* dr = delta + r * cols;
    const float* tr = t.sparse ? nullptr : t.dense + r * cols;
    const float w = weight_of(t, r);
    double sum = 0.0;
    for_each_group(begin, end, [&](int64_t j, int64_t n) {
      float a[4], target[4] = {0.0f, 0.0f, 0.0f, 0.0f}, d[4];
      load_group(zr + j, n, quad, a);
      if (bias != nullptr) {  // broadcast_rows' z + v, rounded alike
        float b[4];
        load_group(bias + j, n, quad, b);
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = __fadd_rn(a[i], b[i]);
      }
      if (tr != nullptr) load_group(tr + j, n, quad, target);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = terms::activate(p.activation, a[i]);
        if (raw && i < n) {
          sum += Kind::fixed && tr == nullptr ? zero_target_error(p, a[i])
                                              : terms::loss_error(p, false, a[i], target[i]);
        }
        if (tr != nullptr) {
          d[i] = __fmul_rn(w, terms::delta_term(p, a[i], target[i]));
        } else {
          d[i] = t.ignore_zero ? 0.0f : __fmul_rn(w, terms::delta_term(p, a[i], 0.0f));
          if (boost) d[i] = __fmul_rn(d[i], p.delta_boost_zero);
        }
      }
      store_group(dr + j, n, quad, d);
    });
    if (raw) {  // uniform over the grid: every thread of the block takes part in the sum
      sum = block_sum(sum);
      if (threadIdx.x == 0) partial[r * chunks + blockIdx.x] = sum;
    }
  }
}

/// Raises the CPU's error for the first problem the device flagged in the sparse offsets, in the
/// CPU's order (output_error checks them on the device; output_delta, which has no host round
/// trip, treats such rows as empty).
void check_offsets(const std::vector<int>& status, const int64_t* offsets, const StreamScope& s) {
  const char* kernel = "output_error";
  if (status[0] & 2) {
    int64_t first = 0;
    DSSTNE_CUDA_TRY(
        cudaMemcpyAsync(&first, offsets, sizeof(first), cudaMemcpyDeviceToHost, s.stream()));
    wait_for_stream(s);
    DSSTNE_EXPECTS(false, kernel, ": sparse target offsets start at ", first);
  }
  for (size_t r = 0; r < status.size(); ++r) {
    DSSTNE_EXPECTS((status[r] & 1) == 0, kernel, ": sparse target offsets decrease at row ", r);
  }
  DSSTNE_EXPECTS((status[0] & 4) == 0, kernel, ": sparse targets without indices");
}

/// The error passes of output_error: row r's weighted error lands in row_error[r] and its offset
/// flags in status[r] (sparse targets), both in `scratch`.
struct RowErrors {
  double* row_error;
  int* status;
};

/// The raw chunks of a row's error: 0 when no raw pass runs (sparse targets that ignore zeros).
int64_t raw_chunks(int64_t cols, const TargetView& t) {
  return !t.sparse || !t.ignore_zero ? (cols + kErrorChunk - 1) / kErrorChunk : 0;
}

/// output_pass's part of the sweep: the units are z, activated (after the bias) wherever the
/// error reads them, and the delta is written in the raw error's pass.
struct FusedPass {
  const float* bias;  // added to z first, or null
  float* delta;
  bool boost;
};

/// The error passes of output_error: row r's weighted error lands in row_error[r] and its offset
/// flags in status[r] (sparse targets), both in `scratch`. With `fused`, `a` is z, and the raw
/// pass is output_pass_kernel's instead of raw_error_kernel's.
RowErrors launch_row_errors(const StreamScope& s, Scratch& scratch, const LossParams& p,
                            const float* a, int64_t rows, int64_t cols, int64_t col_begin,
                            const TargetView& t, const FusedPass* fused = nullptr) {
  const bool softmax = terms::is_softmax(p);
  // rows × chunks raw partials, then rows row errors, then rows status flags.
  const int64_t chunks = raw_chunks(cols, t);
  const size_t n_partial = static_cast<size_t>(rows * chunks), n_rows = static_cast<size_t>(rows);
  double* partial = scratch.take<double>(n_partial);
  RowErrors out{scratch.take<double>(n_rows), scratch.take<int>(n_rows)};
  if (fused != nullptr) {
    const int64_t x_blocks = (cols + kErrorChunk - 1) / kErrorChunk;
    const bool quad = quad_rows(cols, {a, fused->delta, fused->bias, t.sparse ? nullptr : t.dense});
    with_loss_kind(p, [&](auto kind) {
      output_pass_kernel<decltype(kind)><<<row_grid(x_blocks, rows), kThreads, 0, s.stream()>>>(
          p, targets_of(t), chunks > 0, fused->boost, fused->bias, a, rows, cols, chunks, quad,
          partial, fused->delta);
    });
    DSSTNE_CHECK_LAST_KERNEL();
  } else if (chunks > 0) {
    const float* dense = t.sparse ? nullptr : t.dense;
    const bool quad = quad_rows(cols, {a, dense});
    with_loss_kind(p, [&](auto kind) {
      raw_error_kernel<decltype(kind)><<<row_grid(chunks, rows), kThreads, 0, s.stream()>>>(
          p, softmax, a, dense, rows, cols, chunks, quad, partial);
    });
    DSSTNE_CHECK_LAST_KERNEL();
  }
  const Units units = fused != nullptr ? Units{a, fused->bias, true} : Units{a, nullptr, false};
  row_error_kernel<<<static_cast<unsigned int>(rows), kThreads, 0, s.stream()>>>(
      p, softmax, targets_of(t), units, rows, cols, col_begin, partial, chunks, out.row_error,
      out.status);
  DSSTNE_CHECK_LAST_KERNEL();
  return out;
}

std::size_t row_error_bytes(int64_t rows, int64_t cols, const TargetView& t) {
  const int64_t chunks = raw_chunks(cols, t);
  return Scratch::round_up(static_cast<size_t>(rows * chunks) * sizeof(double)) +
         Scratch::round_up(static_cast<size_t>(rows) * sizeof(double)) +
         Scratch::round_up(static_cast<size_t>(rows) * sizeof(int));
}

}  // namespace

double output_error(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                    int64_t cols, int64_t col_begin, const TargetView& t) {
  if (!checks::output_error(ctx, p, a, rows, cols, col_begin, t)) return 0.0;
  const StreamScope s(ctx);
  Scratch scratch(s, row_error_bytes(rows, cols, t), "output_error");
  const RowErrors e = launch_row_errors(s, scratch, p, a, rows, cols, col_begin, t);

  // The copies wait for the kernels. Rows are added in row order on the host, as on the CPU.
  const size_t n_rows = static_cast<size_t>(rows);
  std::vector<double> errors(n_rows);
  std::vector<int> flags(t.sparse ? n_rows : 0);
  DSSTNE_CUDA_TRY(cudaMemcpyAsync(errors.data(), e.row_error, n_rows * sizeof(double),
                                  cudaMemcpyDeviceToHost, s.stream()));
  if (t.sparse) {
    DSSTNE_CUDA_TRY(cudaMemcpyAsync(flags.data(), e.status, n_rows * sizeof(int),
                                    cudaMemcpyDeviceToHost, s.stream()));
  }
  wait_for_stream(s);
  if (t.sparse) check_offsets(flags, t.csr.offsets, s);
  double total = 0.0;
  for (double x : errors) total += x;
  return total;
}

void output_error_sum(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                      int64_t cols, int64_t col_begin, const TargetView& t, double* total) {
  if (!checks::output_error_sum(ctx, p, a, rows, cols, col_begin, t, total)) return;
  const StreamScope s(ctx);
  Scratch scratch(s, row_error_bytes(rows, cols, t), "output_error_sum");
  const RowErrors e = launch_row_errors(s, scratch, p, a, rows, cols, col_begin, t);
  add_in_order_kernel<<<1, 1, 0, s.stream()>>>(e.row_error, rows, total);
  DSSTNE_CHECK_LAST_KERNEL();
}

void output_pass(const Context& ctx, const LossParams& p, const float* bias, const float* z,
                 int64_t rows, int64_t cols, int64_t col_begin, const TargetView& t,
                 double* total, float* delta) {
  if (!checks::output_pass(ctx, p, bias, z, rows, cols, col_begin, t, total, delta)) return;
  const StreamScope s(ctx);
  const bool boost = terms::boosts_deltas(p, t.sparse);
  {
    Scratch scratch(s, row_error_bytes(rows, cols, t), "output_pass");
    const FusedPass fused{bias, delta, boost};
    const RowErrors e = launch_row_errors(s, scratch, p, z, rows, cols, col_begin, t, &fused);
    add_in_order_kernel<<<1, 1, 0, s.stream()>>>(e.row_error, rows, total);
    DSSTNE_CHECK_LAST_KERNEL();
  }
  if (t.sparse) {
    launch_delta_correction(s, p, targets_of(t), Units{z, bias, true}, rows, cols, col_begin,
                            boost, delta);
  }
}

}  // namespace dsstne::cuda
