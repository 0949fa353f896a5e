// SPDX-License-Identifier: Apache-2.0
// The argument checks of the top-k kernel (kernel_checks.hpp), shared by both backends.
#include <cstdint>

#include "cpu/topk_terms.hpp"
#include "dsstne/error.hpp"
#include "kernel_checks.hpp"

namespace dsstne::checks {

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

}  // namespace dsstne::checks
