// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file kernels.hpp
/// @brief Declares every numeric kernel twice with one signature: dsstne::cpu (reference) and
/// dsstne::cuda. Device-neutral code calls them through DSSTNE_DISPATCH, never directly.

#include <cstdint>

#include "dsstne/context.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne {

/// Stored sparse records of a data set, as kernels read them.
struct SparseStorageView {
  DataType type = DataType::Float;
  const uint64_t* start = nullptr;   ///< per stored record
  const uint64_t* end = nullptr;     ///< per stored record
  const uint32_t* indices = nullptr; ///< global unit index per entry
  const void* values = nullptr;      ///< typed values per entry, nullptr for Boolean
  const uint32_t* index = nullptr;   ///< Indexed: record of each example, else nullptr
  const float* weights = nullptr;    ///< Weighted: one per example, else nullptr
};

/// Stored dense records of a data set.
struct DenseStorageView {
  DataType type = DataType::Float;
  const void* data = nullptr;      ///< records × stride typed values, or one hot index per record
  bool one_hot = false;            ///< Boolean dense: data holds the hot unit of each record
  int64_t stride = 0;              ///< units per record
  const uint32_t* index = nullptr; ///< Indexed: record of each example, else nullptr
  const float* weights = nullptr;  ///< Weighted: one per example, else nullptr
};

/// Denoising of sparse inputs: entry k of the data set is dropped when its uniform < p.
struct DenoiseParams {
  float p = 0.0f;
  RandomStream rs;
};

namespace cpu {
#include "dsstne/kernels.inc"
}  // namespace cpu

namespace cuda {
#include "dsstne/kernels.inc"
}  // namespace cuda

}  // namespace dsstne

/// Calls dsstne::cuda::name or dsstne::cpu::name by the context's device, with the context first
/// and then the same arguments.
#define DSSTNE_DISPATCH(ctx, name, ...)                        \
  ((ctx).is_cuda() ? ::dsstne::cuda::name((ctx), __VA_ARGS__) \
                   : ::dsstne::cpu::name((ctx), __VA_ARGS__))
