// SPDX-License-Identifier: Apache-2.0
// Whole-data-set prediction and top-K. With several ranks every rank computes its slice of the
// layer; predict gathers the slices, and top-K merges each rank's best k of its slice, so the
// results equal one rank's.
#include <algorithm>
#include <limits>

#include "cpu/topk_terms.hpp"
#include "rank_blocks.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/network.hpp"

namespace dsstne {
namespace {

/// The best k of each row among every rank's candidates (rank-major blocks of rows × k), ranked
/// as the top-K kernel ranks: descending score, ties by ascending unit; padding last.
void merge_candidates(int ranks, int64_t rows, int64_t k, const std::vector<float>& scores,
                      const std::vector<uint32_t>& units, float* out_scores,
                      uint32_t* out_units) {
  std::vector<std::pair<uint64_t, int64_t>> row;  // (rank key, position)
  for (int64_t i = 0; i < rows; ++i) {
    row.clear();
    for (int r = 0; r < ranks; ++r) {
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (int64_t(r) * rows + i) * k + j;
        if (units[std::size_t(at)] == terms::kNoIndex) break;  // the rest is padding
        row.emplace_back(terms::rank_key(scores[std::size_t(at)], units[std::size_t(at)]), at);
      }
    }
    const std::size_t take = std::min<std::size_t>(row.size(), std::size_t(k));
    std::partial_sort(row.begin(), row.begin() + std::ptrdiff_t(take), row.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int64_t j = 0; j < k; ++j) {
      const bool real = std::size_t(j) < take;
      out_scores[i * k + j] = real ? scores[std::size_t(row[std::size_t(j)].second)]
                                   : -std::numeric_limits<float>::infinity();
      out_units[i * k + j] = real ? units[std::size_t(row[std::size_t(j)].second)]
                                  : terms::kNoIndex;
    }
  }
}

}  // namespace

std::vector<float> Network::predict(const std::string& name) {
  require_data(false);
  const Layer& l = layer(name);
  const double values = double(examples_) * double(l.stride());
  check_fits(Device::CPU, {{detail::concat("the predictions of layer '", name, "' (", examples_,
                                           " x ", l.stride(), " floats)"),
                            values * sizeof(float)}},
             "predict");
  std::vector<float> out(std::size_t(examples_) * std::size_t(l.stride()));
  predict(name, out.data(), int64_t(out.size()));
  return out;
}

void Network::predict(const std::string& name, float* out, int64_t capacity) {
  require_data(false);
  Layer& l = layer(name);
  const int64_t units = l.stride();
  DSSTNE_EXPECTS(capacity >= examples_ * units, "predict: room for ", capacity,
                 " values, layer '", name, "' needs ", examples_, " x ", units);
  DeviceBuffer<float> all(ctx_, l.sharded() ? std::size_t(batch_ * units) : 0, name + ".predicted");
  std::vector<float> host;
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    densify(l);
    if (!l.sharded()) {
      l.units_.download_to(out + pos * units, std::size_t(l.rows_ * units));
      continue;
    }
    Communicator& comm = ctx_.comm();
    comm.allgather(ctx_, l.units_.data(), all.data(), comm.slice_counts(units, l.rows_));
    host.resize(std::size_t(l.rows_ * units));
    all.download_to(host.data(), host.size());
    unpack_rows(comm, host, l.rows_, units, out + pos * units);
  }
}

void Network::predict_topk(const std::string& name, int64_t k, const DataSet* exclude,
                           std::vector<float>& scores, std::vector<uint32_t>& indices) {
  DSSTNE_EXPECTS(k >= 1, "top-k needs k >= 1, got ", k);
  const double entries = double(examples_) * double(k);
  check_fits(Device::CPU, {{detail::concat("top-", k, " scores and indices of ", examples_,
                                           " examples"),
                            entries * double(sizeof(float) + sizeof(uint32_t))}},
             "predict_topk");
  scores.assign(std::size_t(entries), 0.0f);
  indices.assign(std::size_t(entries), 0u);
  predict_topk(name, k, exclude, scores.data(), indices.data(), int64_t(entries));
}

void Network::predict_topk(const std::string& name, int64_t k, const DataSet* exclude,
                           float* scores, uint32_t* indices, int64_t capacity) {
  require_data(false);
  Layer& l = layer(name);
  DSSTNE_EXPECTS(k >= 1, "top-k needs k >= 1, got ", k);
  DSSTNE_EXPECTS(capacity / k >= examples_, "predict_topk: room for ", capacity, " entries, ",
                 examples_, " examples x k=", k, " are needed");
  if (exclude != nullptr) {
    DSSTNE_EXPECTS(exclude->sparse(), "top-k exclusions must be sparse, data set '",
                   exclude->name(), "' is dense");
    DSSTNE_EXPECTS(exclude->examples() == examples_, "top-k exclusions '", exclude->name(),
                   "' have ", exclude->examples(), " examples, the data has ", examples_);
    DSSTNE_EXPECTS(exclude->context().same_device(ctx_), "top-k exclusions '", exclude->name(),
                   "' live on another device than network '", desc_.name, "'");
  }
  Communicator& comm = ctx_.comm();
  const int ranks = l.sharded() ? comm.size() : 1;
  check_fits(ctx_, {{"the top-k buffers of one batch",
                              double(batch_) * double(k) * 8.0 * (ranks + 1)}},
             "predict_topk");
  DeviceBuffer<float> batch_scores(ctx_, std::size_t(batch_ * k), "topk.scores");
  DeviceBuffer<uint32_t> batch_indices(ctx_, std::size_t(batch_ * k), "topk.indices");
  // Every rank's candidates; the indices travel as the bits of floats.
  DeviceBuffer<float> all_scores(ctx_, ranks > 1 ? std::size_t(ranks * batch_ * k) : 0,
                                 "topk.all_scores");
  DeviceBuffer<float> all_indices(ctx_, ranks > 1 ? std::size_t(ranks * batch_ * k) : 0,
                                  "topk.all_indices");
  std::vector<float> host_scores;
  std::vector<uint32_t> host_indices;
  SparseBatch excluded;
  excluded.offsets = DeviceBuffer<int64_t>(ctx_, 0, "topk.exclude_offsets");
  excluded.indices = DeviceBuffer<uint32_t>(ctx_, 0, "topk.exclude_indices");
  excluded.values = DeviceBuffer<float>(ctx_, 0, "topk.exclude_values");
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    densify(l);
    const int64_t rows = l.rows_;
    CsrView view;
    if (exclude != nullptr) {
      exclude->load_sparse_batch(ctx_, identity_.data() + pos, identity_host_.data() + pos, rows,
                                 false, DenoiseParams{}, excluded);
      view = excluded.view();
    }
    DSSTNE_DISPATCH(ctx_, topk, l.units_.data(), rows, l.local_units(), l.slice().begin, k,
                    exclude ? &view : nullptr, batch_scores.data(), batch_indices.data());
    if (ranks == 1) {
      batch_scores.download_to(scores + pos * k, std::size_t(rows * k));
      batch_indices.download_to(indices + pos * k, std::size_t(rows * k));
      continue;
    }
    const std::vector<int64_t> counts(std::size_t(ranks), rows * k);
    comm.allgather(ctx_, batch_scores.data(), all_scores.data(), counts);
    comm.allgather(ctx_, reinterpret_cast<const float*>(batch_indices.data()), all_indices.data(),
                   counts);
    host_scores.resize(std::size_t(ranks * rows * k));
    host_indices.resize(host_scores.size());
    all_scores.download_to(host_scores.data(), host_scores.size());
    all_indices.download_to(reinterpret_cast<float*>(host_indices.data()), host_indices.size());
    merge_candidates(ranks, rows, k, host_scores, host_indices, scores + pos * k,
                     indices + pos * k);
  }
}

}  // namespace dsstne
