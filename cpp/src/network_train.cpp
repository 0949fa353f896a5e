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
  reset_batch_norm_state();
  step_ = 0;
}

namespace {

/// How far below zero an example's error may round before it counts as negative.
constexpr double kNegativeErrorTolerance = 1e-3;

/// The error and regularisation of each batch, written by the kernels into memory of the
/// network's device and read by the host a block of batches at a time: a GPU epoch waits for the
/// device once per block instead of once per batch (and a block holds every batch of most
/// epochs).
class BatchErrors {
 public:
  static constexpr int64_t kBlock = 1024;
  explicit BatchErrors(const Context& ctx) : slots_(ctx, 2 * kBlock, "batch_errors") {}
  /// The slots of the batch being computed, 0 until kernels add to them.
  double* error_slot() { return slots_.data() + 2 * pending_; }
  double* regularization_slot() { return slots_.data() + 2 * pending_ + 1; }
  /// Closes the current batch; true when the block is full and must be read.
  bool next() { return ++pending_ == kBlock; }
  /// Appends the closed batches' values to `error` and `regularization` and clears the slots.
  void read(std::vector<double>& error, std::vector<double>& regularization) {
    if (pending_ == 0) return;
    const std::size_t n = static_cast<std::size_t>(pending_);
    host_.resize(2 * n);
    slots_.download_to(host_.data(), 2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      error.push_back(host_[2 * i]);
      regularization.push_back(host_[2 * i + 1]);
    }
    detail::device_zero(slots_.context(), slots_.data(), 2 * n * sizeof(double));
    pending_ = 0;
  }

 private:
  DeviceBuffer<double> slots_;
  std::vector<double> host_;
  int64_t pending_ = 0;
};

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
  if (mode != state_mode_) reset_batch_norm_state();
  state_mode_ = mode;
  epoch_ = epochs;
  step_ = steps;
}

void Network::regularization_error_sum(const TrainParams& params, double* total) const {
  if (params.lambda == 0.0f && params.lambda1 == 0.0f) return;
  // The ranks' sums are added: a matrix every rank holds whole (a replicated fully-connected
  // layer's weights) counts on rank 0 alone; a convolution's filters are divided by channel.
  const bool first_rank = ctx_.comm().rank() == 0;
  for (const auto& w : weights_) {
    const bool whole =
        ctx_.comm().size() > 1 && !w->convolutional() && w->output().replicated();
    if (!w->shared() && (first_rank || !whole))
      DSSTNE_DISPATCH(ctx_, regularization_error_sum, w->w_.data(), int64_t(w->w_.size()),
                      params.lambda, params.lambda1, total);
  }
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
    if (params.mode != state_mode_) reset_batch_norm_state();
    if (params.mode != state_mode_) step_ = 0;
    state_mode_ = params.mode;
  }
  if (ctx_.comm().rank() == 0 && epochs > 0) {
    log_event(LogLevel::Info, log_name(desc_.name), ": training epochs ", epoch_ + 1, " to ",
              epoch_ + epochs, " with ", to_string(params.mode), " on ", examples_,
              " examples, batch ", batch_, ", ", ctx_.is_cuda() ? "cuda" : "cpu");
  }
  // On one GPU the batches' errors stay on the device until the end of the epoch (or of a block
  // of batches): a diverged batch sets `halt` there, which stops every later update, and the host
  // raises when it reads the errors, with the weights and step count the diverged batch found.
  // The CPU and several ranks (which add their errors per batch) read them after every batch.
  const bool deferred = ctx_.is_cuda() && ctx_.comm().size() == 1;
  DeviceBuffer<int32_t> halt(ctx_, 1, "training.halt");
  DeviceBuffer<float> sgd_scalars(ctx_, 2, "training.sgd_scalars");  // train_step's, per batch
  halt_ = halt.data();
  struct ClearTrainingState {  // the flag and the slots live only as long as this call
    Network& net;
    ~ClearTrainingState() {
      net.halt_ = nullptr;
      net.error_slot_ = nullptr;
    }
  } clear_training_state{*this};
  BatchErrors log(ctx_);
  const bool regularized = params.lambda != 0.0f || params.lambda1 != 0.0f;
  std::vector<EpochStats> history;
  for (int e = 0; e < epochs; ++e) {
    const auto start = std::chrono::steady_clock::now();
    float alpha = params.alpha;
    if (params.alpha_interval > 0)
      alpha *= std::pow(params.alpha_multiplier, float(epoch_ / params.alpha_interval));
    if (desc_.shuffle_indices) {
      const RandomStream rs{ctx_.seed(), make_stream(RandomPurpose::kShuffle, 0, uint64_t(epoch_))};
      DSSTNE_DISPATCH(ctx_, shuffle_permutation, rs, examples_, order_.data());
      // The batch loaders form offsets on the host from this copy (one wait per epoch).
      order_.download_to(order_host_.data(), order_host_.size());
    }
    const int64_t first_step = step_;
    std::vector<double> errors, regularizations;  // per batch, summed over the ranks
    // Reads the batches computed so far and raises for the first that diverged.
    const auto settle = [&] {
      std::size_t i = errors.size();
      log.read(errors, regularizations);
      for (; i < errors.size(); ++i) {
        if (ctx_.comm().size() > 1) {
          ctx_.comm().allreduce_sum(&errors[i], 1);
          if (regularized) ctx_.comm().allreduce_sum(&regularizations[i], 1);
        }
        const int64_t pos = int64_t(i) * batch_, rows = std::min(batch_, examples_ - pos);
        const double batch_err = errors[i];
        const bool finite = std::isfinite(batch_err);
        // Every loss is >= 0; the sparse raw-plus-correction sums may round a little below.
        if (finite && batch_err >= -kNegativeErrorTolerance * double(rows)) continue;
        step_ = first_step + int64_t(i);  // the steps the weights have taken
        halt.zero();
        if (!finite)
          DSSTNE_FAIL(NumericalError, "training diverged in epoch ", epoch_ + 1, " at example ",
                      pos, ": the error is ", batch_err, " (try a smaller alpha)");
        DSSTNE_FAIL(NumericalError, "the ", to_string(desc_.error_function), " error of epoch ",
                    epoch_ + 1, " at example ", pos, " is negative (", batch_err,
                    "): the targets are outside the range this error function is defined for");
      }
    };
    for (int64_t pos = 0; pos < examples_; pos += batch_) {
      if (should_stop && should_stop()) {
        settle();
        DSSTNE_FAIL(Interrupted, "training interrupted in epoch ", epoch_ + 1, " at example ", pos);
      }
      error_slot_ = log.error_slot();  // outputs that take their loss in forward add it here
      forward_batch(pos, Mode::Training);
      const int64_t rows = std::min(batch_, examples_ - pos);
      batch_error_sum(log.error_slot());
      if (deferred) {
        DSSTNE_DISPATCH(ctx_, watch_error, log.error_slot(),
                        kNegativeErrorTolerance * double(rows), halt.data());
      }
      regularization_error_sum(params, log.regularization_slot());
      if (log.next() || !deferred) settle();
      const float step_alpha = desc_.decay > 0.0f ? alpha / (1.0f + desc_.decay * float(step_)) : alpha;
      train_step(params, step_alpha, rows, sgd_scalars.data());
    }
    settle();
    double error = 0.0, regularization = 0.0;
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const int64_t pos = int64_t(i) * batch_;
      error += errors[i];
      regularization += regularizations[i] * double(std::min(batch_, examples_ - pos));
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
  BatchErrors log(ctx_);
  std::vector<double> errors, unused;
  for (int64_t pos = 0; pos < examples_; pos += batch_) {
    forward_batch(pos, Mode::Prediction);
    batch_error_sum(log.error_slot());
    if (log.next() || ctx_.comm().size() > 1) {
      const std::size_t first = errors.size();
      log.read(errors, unused);
      for (std::size_t i = first; i < errors.size(); ++i) ctx_.comm().allreduce_sum(&errors[i], 1);
    }
  }
  log.read(errors, unused);
  double total = 0.0;
  for (double e : errors) total += e;
  return total / double(examples_);
}

}  // namespace dsstne
