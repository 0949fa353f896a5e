// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file dataset.hpp
/// @brief DataSet: examples stored on a context's device, dense or sparse, in the layouts of
/// docs/design.md "Data sets" (Boolean and analog sparse, Weighted, SparseIgnoreZero, Indexed, the
/// numeric data types, 1-3 dimensions). It owns the batch-dependent loading kernels.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/device_buffer.hpp"
#include "dsstne/enums.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {

/// Size of one example along x, y, z (units are x fastest) and how many axes count.
struct Dims {
  uint32_t width = 1;
  uint32_t height = 1;
  uint32_t length = 1;
  uint32_t dimensions = 1;
  uint64_t stride() const { return uint64_t(width) * height * length; }
};

/// Host arrays describing a data set; DataSet copies them (nothing here is owned), or on the
/// CPU backend with `borrow` keeps pointing at them.
struct DataSetArrays {
  std::string name;
  uint32_t attributes = 0;   ///< attr:: bits; Indexed and Weighted must match index/weights
  DataType type = DataType::Float;
  Dims dims;
  int64_t records = 0;       ///< stored rows (uniqueExamples for Indexed data)
  // Sparse: CSR-like records [start[r], end[r]) into indices/values.
  const uint64_t* sparse_start = nullptr;
  const uint64_t* sparse_end = nullptr;
  int64_t nnz = 0;
  const uint32_t* sparse_indices = nullptr;
  const void* sparse_values = nullptr;  ///< typed by `type`; nullptr when Boolean
  // Dense: records × stride values, or one hot index per record when Boolean.
  const void* dense_data = nullptr;
  int64_t dense_count = 0;
  // Optional.
  const float* weights = nullptr;       ///< one per example (Weighted)
  int64_t weight_count = 0;
  const uint32_t* index = nullptr;      ///< record of each example (Indexed)
  int64_t index_count = 0;
  /// CPU contexts: use the arrays in place instead of copying them. They must outlive the data
  /// set and must not change (the checks made at construction would no longer hold).
  bool borrow = false;
};

/// A batch of sparse rows gathered from a data set, in float, on the device.
struct SparseBatch {
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<uint32_t> indices;
  DeviceBuffer<float> values;
  int64_t rows = 0;
  int64_t nnz = 0;  ///< offsets[rows], known on the host
  /// The offsets as the host computed them (reused from batch to batch).
  std::vector<int64_t> host_offsets;
  CsrView view() const {
    return CsrView{offsets.data(), indices.data(), values.data(), rows, nnz};
  }
};

class DataSet {
 public:
  /// Validates and copies the arrays to the context's device.
  /// @throws InvalidArgument naming the data set and the culprit (empty data, indices beyond the
  ///         width, offsets out of order, NaN/Inf values, inconsistent attributes or sizes).
  DataSet(const Context& ctx, const DataSetArrays& arrays);

  /// A copy of this data set on another context's device (any device to any other: through the
  /// host).
  std::shared_ptr<DataSet> to(const Context& ctx) const;
  /// The device holding the data.
  Device device() const { return ctx_.device(); }
  /// The context it was made with: its device (kind and ordinal) and stream.
  const Context& context() const { return ctx_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  uint32_t attributes() const { return attributes_; }
  DataType type() const { return type_; }
  const Dims& dims() const { return dims_; }
  uint64_t stride() const { return dims_.stride(); }
  bool sparse() const { return attributes_ & attr::kSparse; }
  bool boolean() const { return attributes_ & attr::kBoolean; }
  bool weighted() const { return attributes_ & attr::kWeighted; }
  bool indexed() const { return attributes_ & attr::kIndexed; }
  bool ignore_zero() const { return attributes_ & attr::kSparseIgnoreZero; }
  /// Number of examples (rows the network sees).
  int64_t examples() const { return examples_; }
  /// Number of stored records (equal to examples unless Indexed).
  int64_t records() const { return records_; }
  int64_t nnz() const { return nnz_; }
  /// Stored non-zeros over records × stride.
  double density() const;
  /// The smallest and largest value an example presents to a network, after the engine's
  /// conversion to float (8-bit types scaled); sparse data count their implied zeros.
  float value_min() const { return value_min_; }
  float value_max() const { return value_max_; }
  /// Stored entries that repeat a unit their record already lists (the engine sums them, so
  /// Boolean data with duplicates count such a unit twice).
  int64_t duplicates() const { return duplicates_; }
  /// Whether the stored arrays are the caller's (DataSetArrays::borrow).
  bool borrowed() const { return indices_.borrowed() || values_.borrowed(); }
  /// Turns the SparseIgnoreZero attribute on or off (sparse data only).
  void set_sparse_ignore_zero(bool on);

  // Copies of the stored arrays (for writing files and for Python).
  std::vector<uint64_t> sparse_start() const { return start_.download(); }
  std::vector<uint64_t> sparse_end() const { return end_.download(); }
  std::vector<uint32_t> sparse_indices() const { return indices_.download(); }
  /// Raw bytes of the typed values (sparse values or dense data).
  std::vector<unsigned char> raw_values() const { return values_.download(); }
  std::vector<float> weights() const { return weights_.download(); }
  std::vector<uint32_t> index() const { return index_.download(); }
  /// The stored arrays themselves (device memory of the data set's context), for copies into
  /// caller-owned memory without intermediate vectors.
  const DeviceBuffer<uint64_t>& sparse_start_buffer() const { return start_; }
  const DeviceBuffer<uint64_t>& sparse_end_buffer() const { return end_; }
  const DeviceBuffer<uint32_t>& sparse_indices_buffer() const { return indices_; }
  const DeviceBuffer<unsigned char>& values_buffer() const { return values_; }
  const DeviceBuffer<float>& weights_buffer() const { return weights_; }
  const DeviceBuffer<uint32_t>& index_buffer() const { return index_; }

  // The batch loaders run on `ctx`, the context of the network that asks (it may be another
  // context than the data set's on the same device): the batch is part of that network's step,
  // so its kernels must be ordered on that network's stream. @throws InvalidArgument for a
  // context on another device.

  /// Gathers the sparse rows of the examples `examples[0..rows)` (device memory; the same list
  /// in host memory is `host_examples`) into `out`. The batch's offsets are formed on the host
  /// from its copy of the row lengths and staged to the device: no wait for the device.
  /// @throws OutOfRange for an example beyond the data set's.
  void load_sparse_batch(const Context& ctx, const uint32_t* examples,
                         const uint32_t* host_examples, int64_t rows, bool apply_weights,
                         const DenoiseParams& denoise, SparseBatch& out) const;
  /// Writes local columns [col_begin, col_begin+cols) of the examples as dense float rows.
  void load_dense_batch(const Context& ctx, const uint32_t* examples, int64_t rows,
                        int64_t col_begin, int64_t cols, bool apply_weights, float* out) const;
  /// Writes the example weights (Weighted data sets only).
  void load_weights(const Context& ctx, const uint32_t* examples, int64_t rows, float* out) const;

 private:
  SparseStorageView sparse_view() const;
  DenseStorageView dense_view() const;
  void check_loader(const Context& ctx) const;
  /// Stored entries of the record example e uses (sparse data).
  int64_t example_length(uint32_t e) const;
  void validate(const DataSetArrays& a);
  template <typename T>
  void store(DeviceBuffer<T>& buffer, const T* data, std::size_t n, const char* suffix,
             bool borrow);

  Context ctx_;
  std::string name_;
  uint32_t attributes_ = 0;
  DataType type_ = DataType::Float;
  Dims dims_;
  int64_t examples_ = 0;
  int64_t records_ = 0;
  int64_t nnz_ = 0;
  int64_t duplicates_ = 0;
  float value_min_ = 0.0f;
  float value_max_ = 0.0f;
  DeviceBuffer<uint64_t> start_, end_;
  DeviceBuffer<uint32_t> indices_;
  DeviceBuffer<unsigned char> values_;  ///< sparse values or dense data, typed by type_
  DeviceBuffer<float> weights_;
  DeviceBuffer<uint32_t> index_;
  /// Sparse data on a GPU: each example's entry count, kept on the host so that batch offsets
  /// need no download (on the CPU the stored arrays are host memory already).
  std::vector<uint32_t> host_lengths_;
};

using DataSetPtr = std::shared_ptr<DataSet>;

}  // namespace dsstne
