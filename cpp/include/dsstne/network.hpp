// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file network.hpp
/// @brief Network: layers and weights built from a NetworkDescriptor, bound to DataSets by name;
/// owns the order of work, the batch cursor, shuffling, training, prediction and top-K.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dsstne/context.hpp"
#include "dsstne/dataset.hpp"
#include "dsstne/descriptor.hpp"
#include "dsstne/layer.hpp"
#include "dsstne/memory_budget.hpp"
#include "dsstne/weight.hpp"

namespace dsstne {

/// What a forward pass is for: Training draws dropout, denoising and shuffles; Validation runs
/// the training arithmetic without randomness (gradient checks); Prediction only runs forward.
enum class Mode { Prediction = 0, Training = 1, Validation = 2 };

/// Parameters of Network::train.
struct TrainParams {
  TrainingMode mode = TrainingMode::SGD;
  float alpha = 0.025f;
  float lambda = 0.0001f;
  float lambda1 = 0.0f;
  float mu = 0.5f;
  float mu1 = 0.999f;
  /// Every `alpha_interval` epochs (0 = never) alpha is multiplied by `alpha_multiplier`.
  int alpha_interval = 0;
  float alpha_multiplier = 1.0f;
};

/// The result of one epoch.
struct EpochStats {
  int epoch = 0;               ///< 1-based, counted over the network's life
  double error = 0.0;          ///< mean training error per example (+ regularisation)
  double regularization = 0.0; ///< epoch-average regularisation error
  double validation_error = -1.0;  ///< mean error per example on validation data, or −1
  float alpha = 0.0f;          ///< learning rate used
  double seconds = 0.0;
};

/// The index top-K reports in slots for which a row has no candidate left (all bits set: −1 when
/// read as a signed 32-bit integer, which is how Python returns it).
constexpr uint32_t kNoUnit = 0xFFFFFFFFu;

/// The examples of a batch, in the network's device memory and the same list in host memory.
struct BatchExamples {
  const uint32_t* device = nullptr;
  const uint32_t* host = nullptr;
};

/// Layer name → data set, for binding data other than by data set name.
using Bindings = std::vector<std::pair<std::string, DataSetPtr>>;

class Network {
 public:
  /// Builds layers and weights, resolves "auto" sizes from `data` (by data set name), binds the
  /// data, and initialises the weights from the context's seed.
  /// @throws InvalidArgument for inconsistent descriptors or data (naming layer and data set).
  Network(NetworkDescriptor desc, const std::vector<DataSetPtr>& data, int64_t batch,
          const Context& ctx);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkDescriptor& descriptor() const { return desc_; }
  const Context& context() const { return ctx_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::unique_ptr<Weight>>& weights() const { return weights_; }
  /// @throws InvalidArgument naming the missing layer.
  Layer& layer(const std::string& name) const;
  /// The weight from layer `input` to layer `output`.
  Weight& weight(const std::string& input, const std::string& output) const;
  std::vector<Layer*> layers_of_kind(LayerKind kind) const;

  int64_t batch() const { return batch_; }
  void set_batch(int64_t batch);
  /// Examples of the bound data (all bound data sets agree).
  int64_t examples() const { return examples_; }

  /// Binds data sets to the Input/Output layers whose DataSet names match.
  void attach(const std::vector<DataSetPtr>& data);
  /// Binds data sets to named layers; `exclusive` first unbinds every layer.
  void bind(const Bindings& bindings, bool exclusive = false);
  /// Current bindings (layer name → data set).
  Bindings bindings() const;

  // ---- training ----------------------------------------------------------------------------
  /// Trains `epochs` epochs; returns one EpochStats per epoch. `validation` (may be empty) is
  /// bound in place of the training data to compute a validation error after each epoch.
  /// `on_epoch` is called after each epoch; `should_stop` between batches (Ctrl-C): when it
  /// returns true training stops with Interrupted, the weights of finished batches kept.
  std::vector<EpochStats> train(int epochs, const TrainParams& params,
                                const Bindings& validation = {},
                                const std::function<void(const EpochStats&)>& on_epoch = {},
                                const std::function<bool()>& should_stop = {});
  /// Epochs trained so far.
  int epochs_trained() const { return epoch_; }
  /// Optimizer steps taken so far (drives Adam's bias correction and `Decay`).
  int64_t steps() const { return step_; }
  /// Zeroes velocities and moments, and the step counter.
  void reset_optimizer();
  /// The optimizer whose state the weights hold.
  TrainingMode training_mode() const { return state_mode_; }
  /// Restores the training progress of a saved network: epochs and steps taken and the optimizer
  /// whose state follows (set it with Weight::set_state), so training continues as if it had
  /// never stopped.
  void set_progress(int epochs, int64_t steps, TrainingMode mode);

  // ---- batches (building blocks, gradient checks) --------------------------------------------
  /// Loads the batch at `position` (in stored order for Prediction/Validation) and runs forward.
  void forward_batch(int64_t position, Mode mode);
  /// Error of the current batch summed over its examples (needs output data).
  double batch_error() const;
  /// Back-propagates the current batch: output deltas, hidden deltas, weight gradients and bias
  /// mean deltas (no update).
  void backward_batch();
  /// Applies one optimizer step with the gradients of the last backward_batch.
  /// @throws LogicError after train(), whose SGD steps may keep no gradient (call backward_batch).
  void update(const TrainParams& params, float alpha);

  // ---- parameters as a whole (network_params.cpp; collective: every rank calls them) ------------
  /// Which buffer of a connection: its optimizer state 0-3 (Weight::state), or these.
  static constexpr int kMatrix = -1, kBias = -2, kGradient = -3;
  /// Elements of the whole buffer (0 for optimizer state the optimizer does not keep).
  int64_t parameter_size(const Weight& w, int which) const;
  /// The whole buffer, assembled from every rank's block (the matrix input-major, n_in × n_out).
  void gather_parameter(const Weight& w, int which, float* out) const;
  /// Replaces the buffer with the whole `count` values: each rank keeps its block. Checks the
  /// count and that every value is finite before anything changes.
  void set_parameter(Weight& w, int which, const float* whole, int64_t count);
  /// The current batch's units (or deltas) of `l`, every rank's slice: batch_rows × stride.
  /// Refuses the units of an output whose training step's pass left pre-activations there.
  void gather_layer(const Layer& l, bool deltas, float* out) const;

  // ---- prediction ----------------------------------------------------------------------------
  /// Mean error per example over the bound data (Prediction mode, no regularisation).
  double error();
  /// Units of `layer` for every example, examples × stride, in stored order.
  std::vector<float> predict(const std::string& layer);
  /// The same into caller-owned memory of `capacity` floats (at least examples × stride).
  void predict(const std::string& layer, float* out, int64_t capacity);
  /// Top-k units of `layer` per example (descending, ties by index). Items listed in the rows of
  /// `exclude` (same examples; may be null) are skipped. Scores and indices are examples × k;
  /// slots beyond a row's candidates hold score −inf and index kNoUnit.
  void predict_topk(const std::string& layer, int64_t k, const DataSet* exclude,
                    std::vector<float>& scores, std::vector<uint32_t>& indices);
  /// The same into caller-owned memory of `capacity` entries each (at least examples × k).
  void predict_topk(const std::string& layer, int64_t k, const DataSet* exclude, float* scores,
                    uint32_t* indices, int64_t capacity);

 private:
  void build_weights();
  /// Refuses what several ranks cannot run with this layer (an output that is not
  /// fully-connected; a convolution, pooling or skip that reads a sharded layer into a replicated
  /// one) and marks the replicated sources whose sharded consumers write partial gradients.
  /// @throws NotSupported naming the layers.
  void check_replication(Layer& layer);
  /// Why `layer` is replicated on several ranks: its type, or "batch-normalized".
  std::string replication_reason(const Layer& layer) const;
  void compute_order();
  void check_binding(const Layer& layer, const DataSet& data) const;
  /// Checks `bindings` as bind() would apply them (each pair, then the example counts of the
  /// result) without changing anything; returns the examples of the result.
  int64_t check_bindings(const Bindings& bindings, bool exclusive) const;
  void check_train_params(const TrainParams& params) const;
  /// Throws NumericalError naming the first weight or bias that holds NaN or infinity.
  void check_weights_finite() const;
  // Memory about to be allocated (network_memory.cpp).
  std::vector<MemoryItem> weight_plan() const;
  std::vector<MemoryItem> batch_plan(int64_t batch) const;
  std::vector<MemoryItem> state_plan(TrainingMode mode) const;
  std::string describe_for_memory(int64_t batch) const;
  void require_data(bool need_outputs) const;
  void load_inputs(const BatchExamples& examples, int64_t rows, Mode mode);
  void load_targets(const BatchExamples& examples, int64_t rows);
  void forward_layer(Layer& layer, Mode mode);
  /// z of a fully-connected layer: biases and weighted sources (or output_pass's bias later).
  void dense_products(Layer& layer, const float* pass_bias);
  // Convolutional and pooling layers (network_spatial.cpp).
  void convolve(Layer& layer);
  void pool(Layer& layer);
  void conv_propagate(Weight& w, Layer& layer, float scale, float beta);
  /// A channel-split convolution: the ranks' channel blocks into every rank's units, and this
  /// rank's columns of the deltas into its block.
  void gather_channels(Layer& layer);
  void split_channel_deltas(Layer& layer);
  void unpool(Layer& layer);
  LrnParams lrn_params() const;
  /// Refuses a pooling layer whose sources do not fit its function.
  void check_pooling(const Layer& layer) const;
  // Batch normalization (network_batch_norm.cpp).
  void normalize(Layer& layer, Mode mode);
  void normalize_backward(Layer& layer);
  void update_batch_norm(const UpdateParams& u, Layer& layer);
  /// Zeroes the optimizer state of every batch-norm scale and bias.
  void reset_batch_norm_state();
  void output_delta(Layer& layer);
  void hidden_delta(Layer& layer);
  void propagate(Layer& layer);
  /// The bias output_pass adds for `layer`, or null when the forward pass sums it as usual.
  const float* bias_for_output_pass(const Layer& layer) const;
  // The gradient rows of a wide sparse input (network_listed_rows.cpp).
  bool sparse_input_gradient(Weight& w, Layer& layer, float scale, float beta);
  void update_matrix(const UpdateParams& u, Weight& w);
  /// The step of every weight, bias and batch norm that backward_batch did not already take.
  void apply_update(const UpdateParams& u);
  /// One training step on the current batch of `rows`: back-propagation with SGD inside it where
  /// it fits (its scalars formed into `sgd_scalars`, 2 floats of the network's device), then the
  /// rest of the update.
  void train_step(const TrainParams& params, float alpha, int64_t rows, float* sgd_scalars);
  // SGD inside the backward pass (network_sgd_in_backward.cpp).
  static bool sgd_fits_backward(const UpdateParams& u);
  bool steps_in_backward(const Weight& w) const;
  void step_in_backward(Weight& w, Layer& layer);
  void densify(Layer& source);
  const DeviceBuffer<float>& parameter_buffer(const Weight& w, int which) const;
  // Exchanges between ranks (network_exchange.cpp).
  void gather_units(Layer& source);
  void gather_deltas(Layer& layer);
  void gathered_product(Weight& w, Layer& layer);
  void row_product(Weight& w, Layer& layer, bool first);
  void add_row_products(Layer& layer);
  void add_skip(const Layer& source, Layer& layer);
  void gathered_gradient(Weight& w, Layer& layer, float scale, float beta);
  void gathered_delta(Weight& w, Layer& layer);
  void row_gradient(Weight& w, Layer& layer, float scale, float beta);
  void row_delta(Weight& w, Layer& layer);
  /// A replicated consumer's gradient for this rank's units of a sharded source.
  void replicated_delta(Weight& w, Layer& layer);
  /// A sharded consumer's terms of the gradient of a replicated source (every unit).
  void partial_delta(Weight& w, Layer& layer);
  /// A sharded layer's deltas as this rank's columns of a replicated skip source's gradient.
  void partial_skip(Layer& source, Layer& layer);
  /// Adds what column-split consumers computed for this layer's units on every rank, or, for a
  /// replicated layer, the sum over ranks of its sharded consumers' partial gradients.
  void collect_gradient(Layer& layer);
  // Row-wise operations, reduced over the ranks of a split layer (network_rowwise.cpp).
  void activate(Layer& layer);
  void activation_gradient(Layer& layer, const float* a, float* g);
  void loss_delta(Layer& layer);
  void clip_deltas(Layer& layer);
  void clip_weight_columns(Weight& w);
  LossParams loss_params(const Layer& layer) const;
  TargetView target_view(const Layer& layer) const;
  /// Adds the regularisation error of the weights (no wait for the device) to *total.
  void regularization_error_sum(const TrainParams& params, double* total) const;
  /// Adds the current batch's error on this rank (no wait for the device) to *total: the outputs
  /// whose loss forward_batch did not already add (takes_loss_in_forward).
  void batch_error_sum(double* total) const;
  /// Whether a training forward pass gives this output its error and delta with its activation
  /// (output_pass), into error_slot_.
  bool takes_loss_in_forward(const Layer& layer) const;
  BatchExamples batch_examples(int64_t position, Mode mode) const;

  NetworkDescriptor desc_;
  Context ctx_;
  int64_t batch_;
  int64_t examples_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::unique_ptr<Weight>> weights_;
  std::vector<Layer*> forward_order_;
  std::map<std::string, Layer*> by_name_;
  DeviceBuffer<uint32_t> order_;      ///< example order of the current epoch
  DeviceBuffer<uint32_t> identity_;   ///< stored order
  std::vector<uint32_t> order_host_, identity_host_;  ///< the same orders in host memory
  Mode mode_ = Mode::Prediction;
  int64_t position_ = 0;
  int epoch_ = 0;
  int64_t step_ = 0;
  TrainingMode state_mode_ = TrainingMode::SGD;
  /// While train() runs: its divergence flag in device memory, which stops every update.
  const int32_t* halt_ = nullptr;
  /// While train() runs: the current batch's error slot, where output_pass adds an output's error.
  double* error_slot_ = nullptr;
  /// While train_step back-propagates with SGD that fits it: the step's parameters, and its
  /// alpha and beta for gemm_device_scalars, formed on the device once a batch.
  struct SgdInBackward {
    UpdateParams u;
    const float* scalars;
  };
  const SgdInBackward* sgd_in_backward_ = nullptr;
};

}  // namespace dsstne
