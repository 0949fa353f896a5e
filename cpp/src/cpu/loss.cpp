// SPDX-License-Identifier: Apache-2.0
/// @file loss.cpp
/// @brief CPU reference of the output error and output delta (spec/math.md §3, fixed form).
///
/// Sparse targets are never materialised as a dense row: each row is handled by a raw pass
/// that assumes every target is 0 (loss_raw_pass.cpp, vectorized), then a correction at the
/// stored entries. Per-unit formulas live in loss_terms.hpp, shared with CUDA.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"
#include "loss_raw_pass.hpp"
#include "loss_terms.hpp"

namespace dsstne::cpu {

namespace {

/// Below this many units a parallel region costs more than the work.
constexpr int64_t kParallelMin = 1 << 14;

/// One distinct stored target of a row, in local column coordinates.
struct StoredTarget {
  int64_t col;
  float t;
};

/// Per-thread scratch for resolving the stored targets of one row.
struct RowScratch {
  std::vector<std::pair<uint32_t, float>> entries;  ///< (global index, value), sorted
  std::vector<StoredTarget> local;                  ///< ascending column, no duplicates
};

float example_weight(const TargetView& t, int64_t r) {
  return t.example_weights != nullptr ? t.example_weights[r] : 1.0f;
}

/// After the shared checks: the sparse offsets, host memory here (the CUDA kernels check theirs
/// on the device).
void check_offsets(const char* kernel, int64_t rows, const TargetView& t) {
  if (!t.sparse) return;
  const CsrView& c = t.csr;
  DSSTNE_EXPECTS(c.offsets[0] >= 0, kernel, ": sparse target offsets start at ", c.offsets[0]);
  for (int64_t r = 0; r < rows; ++r) {
    DSSTNE_EXPECTS(c.offsets[r] <= c.offsets[r + 1], kernel,
                   ": sparse target offsets decrease at row ", r);
  }
  DSSTNE_EXPECTS(c.offsets[rows] == c.offsets[0] || c.indices != nullptr, kernel,
                 ": sparse targets without indices");
}

/// Resolves row r of the sparse targets into s.local: distinct stored units inside the local
/// columns, ascending. Boolean duplicates collapse to t = 1, analog duplicates sum (in stored
/// order). A SoftMax output with Boolean targets gets the distribution t = 1/n, n counting
/// the distinct stored indices of the whole row, local or not.
void resolve_row(const CsrView& c, int64_t r, bool softmax, int64_t col_begin, int64_t cols,
                 RowScratch& s) {
  s.entries.clear();
  s.local.clear();
  const int64_t begin = c.offsets[r];
  const int64_t end = c.offsets[r + 1];
  bool ascending = true;
  for (int64_t k = begin; k < end; ++k) {
    s.entries.emplace_back(c.indices[k], c.values != nullptr ? c.values[k] : 1.0f);
    if (k > begin && c.indices[k] <= c.indices[k - 1]) ascending = false;
  }
  if (!ascending) {
    std::stable_sort(s.entries.begin(), s.entries.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  int64_t distinct = 0;
  for (size_t k = 0; k < s.entries.size();) {
    const uint32_t index = s.entries[k].first;
    float t = 0.0f;
    for (; k < s.entries.size() && s.entries[k].first == index; ++k) t += s.entries[k].second;
    if (c.values == nullptr) t = 1.0f;
    ++distinct;
    const int64_t col = static_cast<int64_t>(index) - col_begin;
    if (col >= 0 && col < cols) s.local.push_back(StoredTarget{col, t});
  }
  if (softmax && c.values == nullptr) {
    const float share = 1.0f / static_cast<float>(distinct);
    for (StoredTarget& st : s.local) st.t = share;
  }
}

/// Σ_j e(a_j, t_j) of one row (without the example weight): the raw pass's sum, then the
/// stored units' corrections in column order.
double sparse_row_error(const LossParams& p, bool softmax, bool ignore_zero, const float* a,
                        int64_t cols, const std::vector<StoredTarget>& stored) {
  double sum = ignore_zero ? 0.0 : raw_row_error(p, softmax, a, cols);
  for (const StoredTarget& st : stored) {
    sum += terms::loss_error(p, softmax, a[st.col], st.t);
    if (!ignore_zero) sum -= terms::loss_error(p, softmax, a[st.col], 0.0f);
  }
  return sum;
}

/// Q = Σ_j q_j of one SoftMax row over its local units, in double: dense targets `tr`, or the
/// stored targets assembled like the error (raw + stored correction).
double softmax_row_sum(const LossParams& p, bool ignore_zero, const float* a, const float* tr,
                       int64_t cols, const std::vector<StoredTarget>& stored) {
  double q_sum = 0.0;
  if (tr != nullptr) {
    for (int64_t j = 0; j < cols; ++j) q_sum += terms::softmax_term(p, a[j], tr[j]);
    return q_sum;
  }
  if (!ignore_zero) {
    for (int64_t j = 0; j < cols; ++j) q_sum += terms::softmax_term(p, a[j], 0.0f);
  }
  for (const StoredTarget& st : stored) {
    q_sum += terms::softmax_term(p, a[st.col], st.t);
    if (!ignore_zero) q_sum -= terms::softmax_term(p, a[st.col], 0.0f);
  }
  return q_sum;
}

/// SoftMax delta of one row given its Q: δ_j = w·(q_j − a_j·Q). With sparse targets and
/// ignore_zero the unstored units have g = 0 but still get the −a_j·Q term of the Jacobian.
void softmax_row_delta(const LossParams& p, bool ignore_zero, const float* a, const float* tr,
                       int64_t cols, const std::vector<StoredTarget>& stored, float w, float q,
                       float* delta) {
  if (tr != nullptr) {
    for (int64_t j = 0; j < cols; ++j) delta[j] = w * (terms::softmax_term(p, a[j], tr[j]) - a[j] * q);
    return;
  }
  for (int64_t j = 0; j < cols; ++j) {
    const float q_j = ignore_zero ? 0.0f : terms::softmax_term(p, a[j], 0.0f);
    delta[j] = w * (q_j - a[j] * q);
  }
  for (const StoredTarget& st : stored) {
    delta[st.col] = w * (terms::softmax_term(p, a[st.col], st.t) - a[st.col] * q);
  }
}

/// Calls f(r, a_r, dense targets of r or nullptr, stored targets of r) for every row, each
/// thread owning whole rows.
template <typename F>
void for_each_row(const float* a, int64_t rows, int64_t cols, int64_t col_begin,
                  const TargetView& t, bool softmax, F&& f) {
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    RowScratch scratch;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      if (t.sparse) resolve_row(t.csr, r, softmax, col_begin, cols, scratch);
      f(r, a + r * cols, t.sparse ? nullptr : t.dense + r * cols, scratch.local);
    }
  }
}

/// Non-SoftMax delta of one row with sparse targets: raw pass, then overwrite stored units.
void sparse_delta(const LossParams& p, bool ignore_zero, const float* a, int64_t cols,
                  const std::vector<StoredTarget>& stored, float w, float* delta) {
  if (ignore_zero) {
    std::fill(delta, delta + cols, 0.0f);
  } else {
    raw_row_delta(p, a, cols, w, delta);
  }
  for (const StoredTarget& st : stored) delta[st.col] = w * terms::delta_term(p, a[st.col], st.t);
}

/// DeltaBoost: stored units ×delta_boost_one, the others ×delta_boost_zero.
void boost_row(const LossParams& p, int64_t cols, const std::vector<StoredTarget>& stored,
               float* delta) {
  size_t k = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const bool is_stored = k < stored.size() && stored[k].col == j;
    if (is_stored) ++k;
    delta[j] *= is_stored ? p.delta_boost_one : p.delta_boost_zero;
  }
}

}  // namespace

double output_error(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                    int64_t cols, int64_t col_begin, const TargetView& t) {
  if (!checks::output_error(ctx, p, a, rows, cols, col_begin, t)) return 0.0;
  check_offsets("output_error", rows, t);
  const bool softmax = terms::is_softmax(p);

  // a: rows × cols; dense targets rows × cols. Each row's weighted error goes to its own slot
  // and the slots are added in row order, so the total does not depend on the thread count.
  std::vector<double> row_error(static_cast<size_t>(rows));
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    RowScratch scratch;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* ar = a + r * cols;
      double sum = 0.0;
      if (t.sparse) {
        resolve_row(t.csr, r, softmax, col_begin, cols, scratch);
        sum = sparse_row_error(p, softmax, t.ignore_zero, ar, cols, scratch.local);
      } else {
        const float* tr = t.dense + r * cols;
        for (int64_t j = 0; j < cols; ++j) sum += terms::loss_error(p, softmax, ar[j], tr[j]);
      }
      row_error[static_cast<size_t>(r)] = static_cast<double>(example_weight(t, r)) * sum;
    }
  }
  double total = 0.0;
  for (double e : row_error) total += e;
  return total;
}

void output_error_sum(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                      int64_t cols, int64_t col_begin, const TargetView& t, double* total) {
  // Host memory: the offsets cost nothing to check here, so bad ones raise as in output_error.
  if (checks::output_error_sum(ctx, p, a, rows, cols, col_begin, t, total))
    *total += output_error(ctx, p, a, rows, cols, col_begin, t);
}

void output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                  int64_t cols, int64_t col_begin, const TargetView& t, float* delta) {
  if (!checks::output_delta(ctx, p, a, rows, cols, col_begin, t, delta)) return;
  check_offsets("output_delta", rows, t);
  const bool softmax = terms::is_softmax(p);
  const bool boost = terms::boosts_deltas(p, t.sparse);

  // a, delta: rows × cols; dense targets rows × cols.
  for_each_row(a, rows, cols, col_begin, t, softmax,
               [&](int64_t r, const float* ar, const float* tr,
                   const std::vector<StoredTarget>& stored) {
    const float w = example_weight(t, r);
    float* dr = delta + r * cols;
    if (softmax) {
      const float q = static_cast<float>(softmax_row_sum(p, t.ignore_zero, ar, tr, cols, stored));
      softmax_row_delta(p, t.ignore_zero, ar, tr, cols, stored, w, q, dr);
    } else if (tr != nullptr) {
      for (int64_t j = 0; j < cols; ++j) dr[j] = w * terms::delta_term(p, ar[j], tr[j]);
    } else {
      sparse_delta(p, t.ignore_zero, ar, cols, stored, w, dr);
    }
    if (boost) boost_row(p, cols, stored, dr);
  });
}

void output_pass(const Context& ctx, const LossParams& p, const float* bias, const float* z,
                 int64_t rows, int64_t cols, int64_t col_begin, const TargetView& t,
                 double* total, float* delta) {
  // The bias, activation_forward, output_error and output_delta in turn, a row at a time while
  // the row is in cache: each is row by row for an element-wise activation, and the row errors
  // are added in row order as output_error adds them, so the results are those of the calls.
  // The activations go to a row of scratch per thread, so z keeps its pre-activations.
  if (!checks::output_pass(ctx, p, bias, z, rows, cols, col_begin, t, total, delta)) return;
  check_offsets("output_pass", rows, t);
  std::vector<double> row_error(static_cast<size_t>(rows));
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    std::vector<float> a(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      TargetView row = t;  // row r alone
      row.csr.offsets = t.sparse ? t.csr.offsets + r : nullptr;
      row.csr.rows = 1;
      row.csr.nnz = -1;
      row.dense = t.sparse ? nullptr : t.dense + r * cols;
      row.example_weights = t.example_weights != nullptr ? t.example_weights + r : nullptr;
      std::copy(z + r * cols, z + (r + 1) * cols, a.begin());
      if (bias != nullptr) broadcast_rows(ctx, bias, 1, cols, true, a.data());
      activation_forward(ctx, p.activation, a.data(), 1, cols);
      row_error[static_cast<size_t>(r)] = output_error(ctx, p, a.data(), 1, cols, col_begin, row);
      output_delta(ctx, p, a.data(), 1, cols, col_begin, row, delta + r * cols);
    }
  }
  double sum = 0.0;
  for (double e : row_error) sum += e;
  *total += sum;
}

void softmax_delta_sums(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                        int64_t cols, int64_t col_begin, const TargetView& t, float* sums) {
  if (!checks::softmax_delta_sums(ctx, p, a, rows, cols, col_begin, t, sums)) return;
  check_offsets("softmax_delta_sums", rows, t);
  for_each_row(a, rows, cols, col_begin, t, true,
               [&](int64_t r, const float* ar, const float* tr,
                   const std::vector<StoredTarget>& stored) {
    sums[r] = static_cast<float>(softmax_row_sum(p, t.ignore_zero, ar, tr, cols, stored));
  });
}

void softmax_output_delta(const Context& ctx, const LossParams& p, const float* a, int64_t rows,
                          int64_t cols, int64_t col_begin, const TargetView& t,
                          const float* sums, float* delta) {
  if (!checks::softmax_output_delta(ctx, p, a, rows, cols, col_begin, t, sums, delta)) return;
  check_offsets("softmax_output_delta", rows, t);
  const bool boost = terms::boosts_deltas(p, t.sparse);
  for_each_row(a, rows, cols, col_begin, t, true,
               [&](int64_t r, const float* ar, const float* tr,
                   const std::vector<StoredTarget>& stored) {
    float* dr = delta + r * cols;
    softmax_row_delta(p, t.ignore_zero, ar, tr, cols, stored, example_weight(t, r), sums[r], dr);
    if (boost) boost_row(p, cols, stored, dr);
  });
}

}  // namespace dsstne::cpu
