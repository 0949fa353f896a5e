// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small data sets for the tests that build a network.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dsstne/dataset.hpp"

namespace dsstne::testing {

/// A Boolean sparse data set of `width` units whose example r lists the units rows[r].
inline std::shared_ptr<DataSet> boolean_rows(const Context& ctx, const std::string& name,
                                             uint32_t width,
                                             const std::vector<std::vector<uint32_t>>& rows) {
  std::vector<uint64_t> start, end;
  std::vector<uint32_t> indices;
  for (const auto& row : rows) {
    start.push_back(indices.size());
    indices.insert(indices.end(), row.begin(), row.end());
    end.push_back(indices.size());
  }
  DataSetArrays a;
  a.name = name;
  a.attributes = attr::kSparse | attr::kBoolean;
  a.type = DataType::UInt;
  a.dims.width = width;
  a.records = int64_t(rows.size());
  a.sparse_start = start.data();
  a.sparse_end = end.data();
  a.nnz = int64_t(indices.size());
  a.sparse_indices = indices.data();
  return std::make_shared<DataSet>(ctx, a);  // copies the arrays
}

}  // namespace dsstne::testing
