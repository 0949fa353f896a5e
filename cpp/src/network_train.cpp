// SPDX-License-Identifier: Apache-2.0
// The training loop (epochs, shuffling, the alpha schedule, validation) and whole-data-set
// prediction and top-K.
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

/// How far below zero an example's error may round before it counts as negative.
constexpr double kNegativeErrorTolerance = 1e-3;

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

void Network::check_train_params(const TrainParams& p) const {
  const auto at_least_zero = [](float v, const char* what) {
    DSSTNE_EXPECTS(std::isfinite(v) && v >= 0.0f, what, " must be a finite number >= 0, got ",
                   v);
  };
  at_least_zero(p.alpha, "alpha (the learning rate)");
  at_least_zero(p.lambda, "lambda (L2 weight decay)");
  at_least_zero(p.lambda1, "lambda1 (L1 weight decay)");
  DSSTNE_EXPECTS(std::isfinite(p.mu) && std::isfinite(p.mu1), "mu and mu1 must be finite, got ",
                 p.mu, " and ", p.mu1);
  // A decay of 1 never forgets (Momentum) or divides by zero (RMSProp, AdaDelta, Adam's bias
  // correction); each optimizer reads only its own parameters.
  const TrainingMode m = p.mode;
  const bool uses_mu = m != TrainingMode::SGD && m != TrainingMode::AdaGrad;
  DSSTNE_EXPECTS(!uses_mu || (p.mu >= 0.0f && p.mu < 1.0f), "mu must be in [0, 1) for ",
                 to_string(m), ", got ", p.mu);
  DSSTNE_EXPECTS(m != TrainingMode::Adam || (p.mu1 >= 0.0f && p.mu1 < 1.0f),
                 "mu1 (Adam's beta2) must be in [0, 1), got ", p.mu1);
  DSSTNE_EXPECTS(p.alpha_interval >= 0, "alpha interval must be >= 0, got ", p.alpha_interval);
  DSSTNE_EXPECTS(std::isfinite(p.alpha_multiplier) && p.alpha_multiplier > 0.0f,
                 "alpha multiplier must be a finite number > 0, got ", p.alpha_multiplier);
}

void Network::check_weights_finite() const {
  for (const auto& w : weights_) {
    // ½Σw² is finite exactly when every element is (float squares cannot overflow a double).
    const auto finite = [&](const DeviceBuffer<float>& b) {
      return std::isfinite(DSSTNE_DISPATCH(ctx_, regularization_error, b.data(),
                                           int64_t(b.size()), 1.0f, 0.0f));
    };
    const char* bad = !w->shared() && !finite(w->w_) ? "weights" : !finite(w->b_) ? "biases"
                                                                                    : nullptr;
    if (bad != nullptr)
      DSSTNE_FAIL(NumericalError, "training diverged in epoch ", epoch_, ": the ", bad, " of ",
                  w->input().name(), "->", w->output().name(),
                  " hold NaN or infinite values (try a smaller alpha)");
  }
}

std::vector<EpochStats> Network::train(int epochs, const TrainParams& params,
                                       const Bindings& validation,
                                       const std::function<void(const EpochStats&)>& on_epoch,
                                       const std::function<bool()>& should_stop) {
  // Everything is checked before anything changes, so an error leaves the network as it was.
  DSSTNE_EXPECTS(epochs >= 0, "epochs must be >= 0, got ", epochs);
  check_train_params(params);
  require_data(true);
  if (!validation.empty()) {
    check_bindings(validation, true);
    for (const auto& l : layers_) {
      if (l->kind() != LayerKind::Input && l->kind() != LayerKind::Output) continue;
      bool bound = false;
      for (const auto& b : validation) bound = bound || b.first == l->name();
      DSSTNE_EXPECTS(bound, "the validation data give layer '", l->name(), "' no data set");
    }
  }
  if (params.mode != state_mode_ || step_ == 0)
    check_fits(ctx_, state_plan(params.mode), describe_for_memory(batch_));
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
      // Every loss is >= 0; the sparse raw-plus-correction sums may round a little below.
      if (batch_err < -kNegativeErrorTolerance * double(rows))
        DSSTNE_FAIL(NumericalError, "the ", to_string(desc_.error_function), " error of epoch ",
                    epoch_ + 1, " at example ", pos, " is negative (", batch_err,
                    "): the targets are outside the range this error function is defined for");
      error += batch_err;
      regularization += regularization_error(params) * double(rows);
      const float step_alpha = desc_.decay > 0.0f ? alpha / (1.0f + desc_.decay * float(step_)) : alpha;
      backward_batch();
      ++step_;
      update(params, step_alpha);
    }
    ++epoch_;
    // An output can stay finite while weights are not (ReLU maps NaN to 0), so look at them.
    check_weights_finite();
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
  const Layer& l = layer(name);
  const double values = double(examples_) * double(l.local_units());
  check_fits(Device::CPU, {{detail::concat("the predictions of layer '", name, "' (", examples_,
                                           " x ", l.local_units(), " floats)"),
                            values * sizeof(float)}},
             "predict");
  std::vector<float> out(std::size_t(examples_) * std::size_t(l.local_units()));
  predict(name, out.data(), int64_t(out.size()));
  return out;
}

void Network::predict(const std::string& name, float* out, int64_t capacity) {
  require_data(false);
  Layer& l = layer(name);
  const int64_t cols = l.local_units();
  DSSTNE_EXPECTS(capacity >= examples_ * cols, "predict: room for ", capacity,
                 " values, layer '", name, "' needs ", examples_, " x ", cols);
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    densify(l);
    l.units_.download_to(out + pos * cols, std::size_t(l.rows_ * cols));
  }
}

void Network::predict_topk(const std::string& name, int64_t k, const DataSet* exclude,
                           std::vector<float>& scores, std::vector<uint32_t>& indices) {
  require_data(false);
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
  check_fits(ctx_, {{"the top-k buffers of one batch", double(batch_) * double(k) * 8.0}},
             "predict_topk");
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
      exclude->load_sparse_batch(ctx_, identity_.data() + pos, rows, false, DenoiseParams{},
                                 excluded);
      view = excluded.view();
    }
    DSSTNE_DISPATCH(ctx_, topk, l.units_.data(), rows, l.local_units(), l.slice().begin, k,
                    exclude ? &view : nullptr, batch_scores.data(), batch_indices.data());
    batch_scores.download_to(scores + pos * k, std::size_t(rows * k));
    batch_indices.download_to(indices + pos * k, std::size_t(rows * k));
  }
}

}  // namespace dsstne
