// SPDX-License-Identifier: Apache-2.0
// The cuts of a bf16 product too large for its scratch (cpu/gemm_pieces.hpp, used by
// cuda/src/gemm_bfloat16.cu): with a small budget, every piece fits it, the pieces cover each
// term of each element of C once, and running cpu::gemm piece by piece at the pieces' offsets
// (beta for the first piece along k, 1 after) gives the whole product's bits. The data are odd
// multiples of 1/16, so every sum here is exact in float whatever its order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/gemm_pieces.hpp"
#include "dsstne/kernels.hpp"
#include "host_context.hpp"
#include "random_values.hpp"

namespace dsstne {
namespace {

using testing::exact_sixteenths;
using testing::host;

struct Case {
  int64_t m, n, k, budget;
};

TEST(GemmPieces, PiecesFitCoverAndAddUpToTheWholeProduct) {
  // Whole; tiles of C beside a short k; pieces along k; tiles with k cut too; budget 1.
  const Case cases[] = {{5, 7, 3, 1000},  {3, 900, 4, 600},  {4, 5, 3000, 900},
                        {40, 50, 2000, 900}, {2, 3, 5, 1}};
  for (const Case& c : cases) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        const std::string what = "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                                 " k=" + std::to_string(c.k) + " budget " +
                                 std::to_string(c.budget) + (ta ? " Aᵀ" : "") + (tb ? " Bᵀ" : "");
        const int64_t lda = (ta ? c.m : c.k) + 3, ldb = (tb ? c.k : c.n) + 2, ldc = c.n + 1;
        const std::vector<float> a = exact_sixteenths((ta ? c.k : c.m) * lda, 1);
        const std::vector<float> b = exact_sixteenths((tb ? c.n : c.k) * ldb, 2);
        const std::vector<float> c0 = exact_sixteenths(c.m * ldc, 3);
        std::vector<float> whole = c0, pieces = c0;
        std::vector<int64_t> terms(static_cast<std::size_t>(c.m * c.n), 0);
        cpu::gemm(host, ta, tb, c.m, c.n, c.k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f,
                  whole.data(), ldc);
        int64_t count = 0;
        terms::for_each_gemm_piece(c.m, c.n, c.k, c.budget, [&](const terms::GemmPiece& p) {
          ++count;
          EXPECT_LE(p.m * p.k + p.k * p.n, std::max<int64_t>(c.budget, 2)) << what;
          EXPECT_TRUE(p.m > 0 && p.n > 0 && p.k > 0) << what;
          for (int64_t i = p.m0; i < p.m0 + p.m; ++i)
            for (int64_t j = p.n0; j < p.n0 + p.n; ++j) terms[std::size_t(i * c.n + j)] += p.k;
          cpu::gemm(host, ta, tb, p.m, p.n, p.k, 0.5f, a.data() + terms::piece_offset_a(p, ta, lda),
                    lda, b.data() + terms::piece_offset_b(p, tb, ldb), ldb,
                    p.k0 == 0 ? 0.25f : 1.0f, pieces.data() + p.m0 * ldc + p.n0, ldc);
        });
        for (int64_t t : terms) ASSERT_EQ(t, c.k) << what << ": a term counted " << t << " times";
        EXPECT_EQ(whole, pieces) << what;
        if (c.m * c.k + c.k * c.n > c.budget) EXPECT_GT(count, 1) << what;
      }
    }
  }
}

}  // namespace
}  // namespace dsstne
