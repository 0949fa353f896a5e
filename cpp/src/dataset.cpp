// SPDX-License-Identifier: Apache-2.0
#include "dsstne/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "cpu/convert.hpp"
#include "dsstne/error.hpp"

namespace dsstne {
namespace {

/// Range of n typed values as the engine sees them (cpu::to_float: a double beyond the float
/// range is infinite there), and the first value that is NaN or infinite as stored, or -1.
struct ValueScan {
  int64_t first_bad = -1;
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

ValueScan scan_values(DataType type, const void* values, int64_t n) {
  return cpu::visit_data_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* v = static_cast<const T*>(values);
    ValueScan scan;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(double(v[i]))) {
        scan.first_bad = i;
        break;
      }
      const float f = cpu::to_float(v[i]);
      scan.min = std::min(scan.min, f);
      scan.max = std::max(scan.max, f);
    }
    return scan;
  });
}

/// Entries that repeat a unit already listed by their record (sparse data). Rows in ascending
/// order cost one comparison per entry; others are sorted in a scratch copy of the row.
int64_t count_duplicates(const DataSetArrays& a) {
  int64_t duplicates = 0;
  std::vector<uint32_t> row;
  for (int64_t r = 0; r < a.records; ++r) {
    const uint32_t* first = a.sparse_indices + a.sparse_start[r];
    const uint32_t* last = a.sparse_indices + a.sparse_end[r];
    if (std::adjacent_find(first, last, std::greater_equal<uint32_t>()) == last) continue;
    row.assign(first, last);
    std::sort(row.begin(), row.end());
    duplicates += int64_t(row.size()) - (std::unique(row.begin(), row.end()) - row.begin());
  }
  return duplicates;
}

/// Record (row) that owns stored entry k, for error messages.
int64_t record_of_entry(const uint64_t* start, const uint64_t* end, int64_t records, int64_t k) {
  for (int64_t r = 0; r < records; ++r)
    if (uint64_t(k) >= start[r] && uint64_t(k) < end[r]) return r;
  return -1;
}

}  // namespace

DataSet::DataSet(const Context& ctx, const DataSetArrays& a)
    : ctx_(ctx), name_(a.name), attributes_(a.attributes), type_(a.type), dims_(a.dims) {
  validate(a);
  records_ = a.records;
  examples_ = indexed() ? a.index_count : a.records;
  const std::size_t elem = size_of(type_);
  const bool borrow = a.borrow && !ctx.is_cuda();
  const auto* values = static_cast<const unsigned char*>(sparse() ? a.sparse_values : a.dense_data);
  if (sparse()) {
    nnz_ = a.nnz;
    store(start_, a.sparse_start, records_, ".sparse_start", borrow);
    store(end_, a.sparse_end, records_, ".sparse_end", borrow);
    store(indices_, a.sparse_indices, nnz_, ".sparse_index", borrow);
    if (!boolean()) store(values_, values, nnz_ * elem, ".sparse_data", borrow);
  } else {
    store(values_, values, a.dense_count * (boolean() ? sizeof(uint32_t) : elem), ".data", borrow);
  }
  if (weighted()) store(weights_, a.weights, examples_, ".data_weight", borrow);
  if (indexed()) store(index_, a.index, examples_, ".index", borrow);
  if (sparse() && ctx.is_cuda()) {
    host_lengths_.resize(static_cast<std::size_t>(examples_));
    for (int64_t e = 0; e < examples_; ++e) {
      const int64_t r = indexed() ? int64_t(a.index[e]) : e;
      const uint64_t length = a.sparse_end[r] - a.sparse_start[r];
      // A batch's entries are sorted with 32-bit counts (sparse_transposed_product).
      DSSTNE_EXPECTS(length < (uint64_t{1} << 31), "data set '", name_, "', example ", e, ": ",
                     length, " stored entries are more than one batch can hold (2^31)");
      host_lengths_[static_cast<std::size_t>(e)] = static_cast<uint32_t>(length);
    }
  }
}

template <typename T>
void DataSet::store(DeviceBuffer<T>& buffer, const T* data, std::size_t n, const char* suffix,
                    bool borrow) {
  if (borrow) {
    buffer = DeviceBuffer<T>::borrow(data, n, name_ + suffix);
    return;
  }
  buffer = DeviceBuffer<T>(ctx_, n, name_ + suffix);
  buffer.upload(data, n);
}

void DataSet::validate(const DataSetArrays& a) {
  const std::string& n = a.name;
  DSSTNE_EXPECTS(!n.empty(), "a data set needs a name");
  DSSTNE_EXPECTS((a.attributes & ~attr::kAll) == 0, "data set '", n, "': unknown attribute bits ",
                 a.attributes);
  size_of(a.type);  // rejects unknown type codes
  DSSTNE_EXPECTS(a.dims.width > 0 && a.dims.height > 0 && a.dims.length > 0, "data set '", n,
                 "': width, height and length must be > 0, got ", a.dims.width, "x", a.dims.height,
                 "x", a.dims.length);
  DSSTNE_EXPECTS(a.dims.dimensions >= 1 && a.dims.dimensions <= 3, "data set '", n,
                 "': dimensions must be 1, 2 or 3, got ", a.dims.dimensions);
  DSSTNE_EXPECTS(a.records > 0, "data set '", n, "' is empty: it has no examples");
  const bool is_sparse = a.attributes & attr::kSparse;
  const bool is_boolean = a.attributes & attr::kBoolean;
  DSSTNE_EXPECTS(is_sparse || !(a.attributes & attr::kSparseIgnoreZero), "data set '", n,
                 "': SparseIgnoreZero needs sparse data");
  const uint64_t stride = a.dims.stride();

  if (is_sparse) {
    DSSTNE_EXPECTS(a.sparse_start && a.sparse_end, "data set '", n,
                   "': sparse data needs start and end offsets");
    DSSTNE_EXPECTS(a.nnz >= 0 && (a.nnz == 0 || a.sparse_indices), "data set '", n,
                   "': sparse data needs indices");
    DSSTNE_EXPECTS(is_boolean || a.nnz == 0 || a.sparse_values, "data set '", n,
                   "': analog sparse data needs values (or set the Boolean attribute)");
    for (int64_t r = 0; r < a.records; ++r) {
      DSSTNE_EXPECTS(a.sparse_start[r] <= a.sparse_end[r], "data set '", n, "', example ", r,
                     ": sparse start ", a.sparse_start[r], " is after end ", a.sparse_end[r]);
      DSSTNE_EXPECTS(a.sparse_end[r] <= uint64_t(a.nnz), "data set '", n, "', example ", r,
                     ": sparse end ", a.sparse_end[r], " is beyond the ", a.nnz, " stored values");
    }
    for (int64_t k = 0; k < a.nnz; ++k) {
      if (a.sparse_indices[k] >= stride) {
        DSSTNE_FAIL(OutOfRange, "data set '", n, "', example ",
                    record_of_entry(a.sparse_start, a.sparse_end, a.records, k), ": index ",
                    a.sparse_indices[k], " is beyond the width ", stride);
      }
    }
    duplicates_ = count_duplicates(a);
    // Every example has implied zeros unless it lists every unit; counting them is harmless.
    value_min_ = 0.0f;
    value_max_ = a.nnz > 0 ? 1.0f : 0.0f;
    if (!is_boolean) {
      const ValueScan scan = scan_values(a.type, a.sparse_values, a.nnz);
      DSSTNE_EXPECTS(scan.first_bad < 0, "data set '", n, "', example ",
                     record_of_entry(a.sparse_start, a.sparse_end, a.records, scan.first_bad),
                     ": value is NaN or infinite (stored entry ",
                     scan.first_bad, ")");
      value_min_ = std::min(0.0f, scan.min);
      value_max_ = std::max(0.0f, scan.max);
    }
  } else {
    DSSTNE_EXPECTS(a.dense_data != nullptr, "data set '", n, "': dense data needs values");
    if (is_boolean) {
      DSSTNE_EXPECTS(a.dense_count == a.records, "data set '", n, "': one-hot data needs ",
                     a.records, " hot indices, got ", a.dense_count);
      const uint32_t* hot = static_cast<const uint32_t*>(a.dense_data);
      for (int64_t r = 0; r < a.records; ++r)
        DSSTNE_EXPECTS_T(OutOfRange, hot[r] < stride, "data set '", n, "', example ", r,
                         ": hot index ", hot[r], " is beyond the width ", stride);
      value_min_ = stride > 1 ? 0.0f : 1.0f;
      value_max_ = 1.0f;
    } else {
      DSSTNE_EXPECTS(uint64_t(a.dense_count) == uint64_t(a.records) * stride, "data set '", n,
                     "': dense data of ", a.records, " examples x ", stride, " units needs ",
                     uint64_t(a.records) * stride, " values, got ", a.dense_count);
      const ValueScan scan = scan_values(a.type, a.dense_data, a.dense_count);
      const int64_t bad = scan.first_bad;
      DSSTNE_EXPECTS(bad < 0, "data set '", n, "', example ", bad / int64_t(stride), ", unit ",
                     bad % int64_t(stride), ": value is NaN or infinite");
      value_min_ = scan.min;
      value_max_ = scan.max;
    }
  }

  const bool is_indexed = a.attributes & attr::kIndexed;
  DSSTNE_EXPECTS(is_indexed == (a.index != nullptr), "data set '", n,
                 "': the Indexed attribute and the index array must come together");
  int64_t examples = a.records;
  if (is_indexed) {
    DSSTNE_EXPECTS(a.index_count > 0, "data set '", n, "' is empty: its index has no examples");
    for (int64_t e = 0; e < a.index_count; ++e)
      DSSTNE_EXPECTS_T(OutOfRange, a.index[e] < uint64_t(a.records), "data set '", n,
                       "', example ", e, ": index ", a.index[e], " is beyond the ", a.records,
                       " stored records");
    examples = a.index_count;
  }
  const bool is_weighted = a.attributes & attr::kWeighted;
  DSSTNE_EXPECTS(is_weighted == (a.weights != nullptr), "data set '", n,
                 "': the Weighted attribute and the weights array must come together");
  if (is_weighted) {
    DSSTNE_EXPECTS(a.weight_count == examples, "data set '", n, "' has ", examples,
                   " examples but ", a.weight_count, " weights");
    for (int64_t e = 0; e < examples; ++e)
      DSSTNE_EXPECTS(std::isfinite(a.weights[e]), "data set '", n, "', example ", e,
                     ": weight is NaN or infinite");
  }
}

std::shared_ptr<DataSet> DataSet::to(const Context& ctx) const {
  const std::vector<uint64_t> start = sparse_start(), end = sparse_end();
  const std::vector<uint32_t> indices = sparse_indices(), idx = index();
  const std::vector<unsigned char> values = raw_values();
  const std::vector<float> w = weights();
  DataSetArrays a;
  a.name = name_;
  a.attributes = attributes_;
  a.type = type_;
  a.dims = dims_;
  a.records = records_;
  if (sparse()) {
    a.sparse_start = start.data();
    a.sparse_end = end.data();
    a.nnz = nnz_;
    a.sparse_indices = indices.data();
    a.sparse_values = boolean() ? nullptr : values.data();
  } else {
    a.dense_data = values.data();
    a.dense_count = boolean() ? records_ : records_ * int64_t(stride());
  }
  if (weighted()) {
    a.weights = w.data();
    a.weight_count = int64_t(w.size());
  }
  if (indexed()) {
    a.index = idx.data();
    a.index_count = int64_t(idx.size());
  }
  return std::make_shared<DataSet>(ctx, a);
}

double DataSet::density() const {
  if (!sparse()) return 1.0;
  return double(nnz_) / (double(records_) * double(stride()));
}

void DataSet::set_sparse_ignore_zero(bool on) {
  DSSTNE_EXPECTS(sparse() || !on, "data set '", name_, "': SparseIgnoreZero needs sparse data");
  attributes_ = on ? (attributes_ | attr::kSparseIgnoreZero) : (attributes_ & ~attr::kSparseIgnoreZero);
}

SparseStorageView DataSet::sparse_view() const {
  return SparseStorageView{type_,
                           start_.data(),
                           end_.data(),
                           indices_.data(),
                           boolean() ? nullptr : values_.data(),
                           indexed() ? index_.data() : nullptr,
                           weighted() ? weights_.data() : nullptr};
}

DenseStorageView DataSet::dense_view() const {
  return DenseStorageView{type_,
                          values_.data(),
                          boolean(),
                          int64_t(stride()),
                          indexed() ? index_.data() : nullptr,
                          weighted() ? weights_.data() : nullptr};
}

void DataSet::check_loader(const Context& ctx) const {
  DSSTNE_EXPECTS(ctx.same_device(ctx_), "data set '", name_, "' lives on ", ctx_.device_string(),
                 " but its batch was asked for on ", ctx.device_string());
}

int64_t DataSet::example_length(uint32_t e) const {
  if (!host_lengths_.empty()) return host_lengths_[e];
  const uint64_t r = indexed() ? index_.data()[e] : e;  // host memory: the CPU backend
  return int64_t(end_.data()[r] - start_.data()[r]);
}

void DataSet::load_sparse_batch(const Context& ctx, const uint32_t* examples,
                                const uint32_t* host_examples, int64_t rows, bool apply_weights,
                                const DenoiseParams& denoise, SparseBatch& out) const {
  DSSTNE_EXPECTS(sparse(), "data set '", name_, "' is dense; a sparse batch was requested");
  check_loader(ctx);
  std::vector<int64_t>& offsets = out.host_offsets;
  offsets.resize(static_cast<std::size_t>(rows + 1));
  offsets[0] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t e = host_examples[r];
    DSSTNE_EXPECTS_T(OutOfRange, int64_t(e) < examples_, "data set '", name_, "': batch row ", r,
                     " asks for example ", e, " of ", examples_);
    offsets[r + 1] = offsets[r] + example_length(e);
  }
  const int64_t nnz = offsets[rows];
  out.offsets.upload_async(offsets.data(), offsets.size());
  out.indices.resize(nnz);
  out.values.resize(nnz);
  out.rows = rows;
  out.nnz = nnz;
  DSSTNE_DISPATCH(ctx, sparse_batch_fill, sparse_view(), examples, rows, out.offsets.data(),
                  apply_weights, denoise, out.indices.data(), out.values.data());
}

void DataSet::load_dense_batch(const Context& ctx, const uint32_t* examples, int64_t rows,
                               int64_t col_begin, int64_t cols, bool apply_weights,
                               float* out) const {
  DSSTNE_EXPECTS(!sparse(), "data set '", name_, "' is sparse; a dense batch was requested");
  check_loader(ctx);
  DSSTNE_DISPATCH(ctx, dense_batch_fill, dense_view(), examples, rows, col_begin, cols,
                  apply_weights, out);
}

void DataSet::load_weights(const Context& ctx, const uint32_t* examples, int64_t rows,
                           float* out) const {
  DSSTNE_EXPECTS(weighted(), "data set '", name_, "' has no example weights");
  check_loader(ctx);
  DSSTNE_DISPATCH(ctx, gather_weights, weights_.data(), examples, rows, out);
}

}  // namespace dsstne
