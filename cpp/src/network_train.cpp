// SPDX-License-Identifier: Apache-2.0
// The training loop (epochs, shuffling, the alpha schedule, validation) and the error over the
// bound data.
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
  // Every rank checks its blocks, and all learn of a bad one: a rank that stopped alone would
  // leave the others waiting in the next exchange. Entry 2i counts bad weights of weight i,
  // entry 2i+1 bad biases.
  std::vector<double> bad(2 * weights_.size(), 0.0);
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const Weight& w = *weights_[i];
    // ½Σw² is finite exactly when every element is (float squares cannot overflow a double).
    const auto finite = [&](const DeviceBuffer<float>& b) {
      return std::isfinite(DSSTNE_DISPATCH(ctx_, regularization_error, b.data(),
                                           int64_t(b.size()), 1.0f, 0.0f));
    };
    bad[2 * i] = !w.shared() && !finite(w.w_) ? 1.0 : 0.0;
    bad[2 * i + 1] = finite(w.b_) ? 0.0 : 1.0;
  }
  ctx_.comm().allreduce_sum(bad.data(), int64_t(bad.size()));
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (bad[2 * i] == 0.0 && bad[2 * i + 1] == 0.0) continue;
    const Weight& w = *weights_[i];
    DSSTNE_FAIL(NumericalError, "training diverged in epoch ", epoch_, ": the ",
                bad[2 * i] > 0.0 ? "weights" : "biases", " of ", w.input().name(), "->",
                w.output().name(), " hold NaN or infinite values (try a smaller alpha)");
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

}  // namespace dsstne
