// SPDX-License-Identifier: Apache-2.0
// The training loop (epochs, shuffling, the alpha schedule, validation) and whole-data-set
// prediction and top-K.
#include <unistd.h>

#include <chrono>
#include <cmath>

#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"
#include "dsstne/log.hpp"
#include "dsstne/network.hpp"
#include "dsstne/rng.hpp"

namespace dsstne {

void Network::reset_optimizer() {
  for (auto& w : weights_) w->reset_state();
  step_ = 0;
}

namespace {

/// How log lines name a network: by its name when it has one.
std::string log_name(const std::string& name) {
  return name.empty() ? std::string("network") : "network '" + name + "'";
}

}  // namespace

void Network::set_progress(int epochs, int64_t steps, TrainingMode mode) {
  DSSTNE_EXPECTS(epochs >= 0 && steps >= 0, "training progress must be >= 0, got ", epochs,
                 " epochs and ", steps, " steps");
  for (auto& w : weights_) {
    w->allocate_state(mode);
    if (mode != state_mode_) w->reset_state();
  }
  state_mode_ = mode;
  epoch_ = epochs;
  step_ = steps;
}

double Network::regularization_error(const TrainParams& params) const {
  if (params.lambda == 0.0f && params.lambda1 == 0.0f) return 0.0;
  double total = 0.0;
  for (const auto& w : weights_)
    if (!w->shared())
      total += DSSTNE_DISPATCH(ctx_, regularization_error, w->w_.data(), int64_t(w->w_.size()),
                               params.lambda, params.lambda1);
  ctx_.comm().allreduce_sum(&total, 1);
  return total;
}

std::vector<EpochStats> Network::train(int epochs, const TrainParams& params,
                                       const Bindings& validation,
                                       const std::function<void(const EpochStats&)>& on_epoch,
                                       const std::function<bool()>& should_stop) {
  DSSTNE_EXPECTS(epochs >= 0, "epochs must be >= 0, got ", epochs);
  DSSTNE_EXPECTS(params.alpha >= 0.0f && std::isfinite(params.alpha), "alpha must be a finite "
                 "number >= 0, got ", params.alpha);
  DSSTNE_EXPECTS(params.alpha_interval >= 0, "alpha interval must be >= 0, got ",
                 params.alpha_interval);
  require_data(true);
  if (params.mode != state_mode_ || step_ == 0) {
    // A new optimizer starts from zero state and step 0 (Adam's bias correction must match its
    // zeroed moments); the same optimizer continues where it stopped.
    for (auto& w : weights_) {
      w->allocate_state(params.mode);
      if (params.mode != state_mode_) w->reset_state();
    }
    if (params.mode != state_mode_) step_ = 0;
    state_mode_ = params.mode;
  }
  if (ctx_.comm().rank() == 0 && epochs > 0) {
    log_event(LogLevel::Info, log_name(desc_.name), ": training epochs ", epoch_ + 1, " to ",
              epoch_ + epochs, " with ", to_string(params.mode), " on ", examples_,
              " examples, batch ", batch_, ", ", ctx_.is_cuda() ? "cuda" : "cpu");
  }
  std::vector<EpochStats> history;
  for (int e = 0; e < epochs; ++e) {
    const auto start = std::chrono::steady_clock::now();
    float alpha = params.alpha;
    if (params.alpha_interval > 0)
      alpha *= std::pow(params.alpha_multiplier, float(epoch_ / params.alpha_interval));
    if (desc_.shuffle_indices) {
      const RandomStream rs{ctx_.seed(), make_stream(RandomPurpose::kShuffle, 0, uint64_t(epoch_))};
      DSSTNE_DISPATCH(ctx_, shuffle_permutation, rs, examples_, order_.data());
    }
    double error = 0.0, regularization = 0.0;
    for (int64_t pos = 0; pos < examples_; pos += batch_) {
      if (should_stop && should_stop())
        DSSTNE_FAIL(Interrupted, "training interrupted in epoch ", epoch_ + 1, " at example ", pos);
      forward_batch(pos, Mode::Training);
      const int64_t rows = std::min(batch_, examples_ - pos);
      const double batch_err = batch_error();
      if (!std::isfinite(batch_err))
        DSSTNE_FAIL(NumericalError, "training diverged in epoch ", epoch_ + 1, " at example ", pos,
                    ": the error is ", batch_err, " (try a smaller alpha)");
      error += batch_err;
      regularization += regularization_error(params) * double(rows);
      const float step_alpha = desc_.decay > 0.0f ? alpha / (1.0f + desc_.decay * float(step_)) : alpha;
      backward_batch();
      ++step_;
      update(params, step_alpha);
    }
    ++epoch_;
    EpochStats stats;
    stats.epoch = epoch_;
    stats.regularization = regularization / double(examples_);
    stats.error = error / double(examples_) + stats.regularization;
    stats.alpha = alpha;
    if (!validation.empty()) {
      const Bindings training = bindings();
      bind(validation, true);
      try {
        stats.validation_error = this->error();
      } catch (...) {
        bind(training, true);
        throw;
      }
      bind(training, true);
    }
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history.push_back(stats);
    if (ctx_.comm().rank() == 0) {
      const std::string validated =
          validation.empty() ? std::string()
                             : detail::concat(", validation ", stats.validation_error);
      log_event(LogLevel::Info, log_name(desc_.name), " epoch ", stats.epoch, ": error ",
                stats.error, validated, ", alpha ", alpha, ", ", stats.seconds, " s");
    }
    if (on_epoch) on_epoch(stats);
  }
  return history;
}

double Network::error() {
  require_data(true);
  double total = 0.0;
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    total += batch_error();
  }
  return total / double(examples_);
}

std::vector<float> Network::predict(const std::string& name) {
  require_data(false);
  Layer& l = layer(name);
  const int64_t cols = l.local_units();
  std::vector<float> out(std::size_t(examples_) * std::size_t(cols));
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    densify(l);
    const std::vector<float> units = l.units_.download();
    std::copy(units.begin(), units.begin() + l.rows_ * cols, out.begin() + pos * cols);
  }
  return out;
}

void Network::predict_topk(const std::string& name, int64_t k, const DataSet* exclude,
                           std::vector<float>& scores, std::vector<uint32_t>& indices) {
  require_data(false);
  Layer& l = layer(name);
  DSSTNE_EXPECTS(k >= 1, "top-k needs k >= 1, got ", k);
  if (exclude != nullptr) {
    DSSTNE_EXPECTS(exclude->sparse(), "top-k exclusions must be sparse, data set '",
                   exclude->name(), "' is dense");
    DSSTNE_EXPECTS(exclude->examples() == examples_, "top-k exclusions '", exclude->name(),
                   "' have ", exclude->examples(), " examples, the data has ", examples_);
  }
  // With memory overcommit a huge allocation "succeeds" and the process dies when it is touched,
  // so compare with the machine's memory first.
  const double needed = double(examples_) * double(k) * double(sizeof(float) + sizeof(uint32_t));
  const double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && needed > physical) {
    throw OutOfMemory(detail::concat("top-k with k=", k, " for ", examples_, " examples needs ",
                                     needed, " bytes of host memory; this machine has ",
                                     physical));
  }
  try {
    scores.assign(std::size_t(examples_) * std::size_t(k), 0.0f);
    indices.assign(std::size_t(examples_) * std::size_t(k), 0u);
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(detail::concat("top-k with k=", k, " for ", examples_, " examples needs ",
                                     double(examples_) * double(k) * 8.0,
                                     " bytes of host memory, more than is available"));
  } catch (const std::length_error&) {
    throw OutOfMemory(detail::concat("top-k with k=", k, " for ", examples_,
                                     " examples is too large to hold"));
  }
  DeviceBuffer<float> batch_scores(ctx_, std::size_t(batch_ * k), "topk.scores");
  DeviceBuffer<uint32_t> batch_indices(ctx_, std::size_t(batch_ * k), "topk.indices");
  SparseBatch excluded{DeviceBuffer<int64_t>(ctx_, 0, "topk.exclude_offsets"),
                       DeviceBuffer<uint32_t>(ctx_, 0, "topk.exclude_indices"),
                       DeviceBuffer<float>(ctx_, 0, "topk.exclude_values"), 0};
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    densify(l);
    const int64_t rows = l.rows_;
    CsrView view;
    if (exclude != nullptr) {
      exclude->load_sparse_batch(identity_.data() + pos, rows, false, DenoiseParams{}, excluded);
      view = excluded.view();
    }
    DSSTNE_DISPATCH(ctx_, topk, l.units_.data(), rows, l.local_units(), l.slice().begin, k,
                    exclude ? &view : nullptr, batch_scores.data(), batch_indices.data());
    const std::vector<float> s = batch_scores.download();
    const std::vector<uint32_t> i = batch_indices.download();
    std::copy(s.begin(), s.begin() + rows * k, scores.begin() + pos * k);
    std::copy(i.begin(), i.begin() + rows * k, indices.begin() + pos * k);
  }
}

}  // namespace dsstne
