# SPDX-License-Identifier: Apache-2.0
"""Each training mode: several update steps equal a float64 NumPy reference of spec/math.md
(§4.3 gradients, §4.6 bias gradient, §5.2 update rules, §5.3 WeightNorm, §8.1 Decay) to float32
rounding; optimizer state persists across train() calls, is reset by a switch of optimizer and
by reset_optimizer().

Every network here sees its whole data set in one batch (batch = examples, no shuffling), so one
epoch is exactly one optimizer step.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

ALPHA, LAMBDA, LAMBDA1, MU, MU1 = 0.05, 0.01, 0.001, 0.9, 0.999
OPTIMIZERS = ["sgd", "momentum", "adagrad", "nesterov", "rmsprop", "adadelta", "adam"]
TOPOLOGIES = ["linear", "hidden", "sparse_boolean", "sparse_analog"]
EXAMPLES, N_IN, N_HIDDEN, N_OUT = 4, 3, 3, 2
N_SPARSE = 8  # input width of the sparse variants
RTOL, ATOL = 1e-5, 1e-6


# ---- the network under test ------------------------------------------------------------------

def config(topology, weight_norm=None, decay=None):
    sparse = topology.startswith("sparse")
    layers = [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": sparse}]
    if topology == "hidden":
        layers.append({"Name": "Hidden", "Kind": "Hidden", "N": N_HIDDEN, "Activation": "Sigmoid"})
    output = {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "t",
              "Activation": "Linear"}
    if weight_norm is not None:
        output["WeightNorm"] = weight_norm
    layers.append(output)
    cfg = {"Version": 0.8, "Name": "opt", "Kind": "FeedForward", "ShuffleIndices": False,
           "ErrorFunction": "L2", "Layers": layers}
    if decay is not None:
        cfg["Decay"] = decay
    return cfg


def problem(topology, seed=5):
    """Inputs (dense float64 for the reference, and what the DataSet gets), targets, and the
    initial parameters as a list of (input layer, output layer, W0, b0) in creation order."""
    rng = np.random.default_rng(seed)
    if topology.startswith("sparse"):
        # Every example has 2-3 stored units, one example shares a unit with another.
        rows = [[0, 3], [1, 3, 6], [2, 7], [4, 5, 7]]
        indptr = np.cumsum([0] + [len(r) for r in rows])
        indices = np.concatenate(rows)
        if topology == "sparse_boolean":
            values = np.ones(indices.size, np.float32)
        else:
            values = rng.uniform(0.25, 2.0, indices.size).astype(np.float32)
        x_data = sp.csr_matrix((values, indices, indptr), shape=(EXAMPLES, N_SPARSE))
        x = x_data.toarray().astype(np.float64)
    else:
        x_data = rng.normal(size=(EXAMPLES, N_IN)).astype(np.float32)
        x = x_data.astype(np.float64)
    targets = rng.normal(size=(EXAMPLES, N_OUT)).astype(np.float32)
    n_in = x.shape[1]
    if topology == "hidden":
        shapes = [("Input", "Hidden", n_in, N_HIDDEN), ("Hidden", "Output", N_HIDDEN, N_OUT)]
    else:
        shapes = [("Input", "Output", n_in, N_OUT)]
    params = [(a, b, rng.uniform(-1, 1, (i, o)).astype(np.float32),
               rng.uniform(-0.5, 0.5, o).astype(np.float32)) for a, b, i, o in shapes]
    return x_data, x, targets, params


def build(device, topology, seed=5, **cfg):
    x_data, x, targets, params = problem(topology, seed)
    ctx = dsstne.Context(device)
    data = [dsstne.DataSet("x", x_data, context=ctx), dsstne.DataSet("t", targets, context=ctx)]
    net = dsstne.Network(config(topology, **cfg), data, batch=EXAMPLES, context=ctx)
    for a, b, w0, b0 in params:
        weight = net.weight(a, b)
        weight.weights = w0
        weight.bias = b0
        np.testing.assert_array_equal(weight.weights, w0)
        np.testing.assert_array_equal(weight.bias, b0)
    ref = Reference(x, targets.astype(np.float64),
                    [(w0.astype(np.float64), b0.astype(np.float64)) for _, _, w0, b0 in params])
    return net, ref, params


def train(net, epochs, optimizer, alpha=ALPHA):
    return net.train(epochs, alpha=alpha, lambda_=LAMBDA, lambda1=LAMBDA1, mu=MU, mu1=MU1,
                     optimizer=optimizer)


def engine_params(net, params):
    return [(net.weight(a, b).weights, net.weight(a, b).bias) for a, b, _, _ in params]


def assert_matches(net, params, ref, what=""):
    """Engine parameters equal the reference; so do the displacements from the start (which
    makes the check meaningful for the tiny AdaDelta steps)."""
    moved = 0.0
    for (w, b), (rw, rb), (a, o, w0, b0) in zip(engine_params(net, params), ref.params, params):
        name = f"{what} {a}->{o}"
        np.testing.assert_allclose(w, rw, rtol=RTOL, atol=ATOL, err_msg=name + " weights")
        np.testing.assert_allclose(b, rb, rtol=RTOL, atol=ATOL, err_msg=name + " bias")
        np.testing.assert_allclose(w - w0, rw - w0, rtol=1e-4, atol=ATOL,
                                   err_msg=name + " weight displacement")
        np.testing.assert_allclose(b - b0, rb - b0, rtol=1e-4, atol=ATOL,
                                   err_msg=name + " bias displacement")
        moved = max(moved, np.abs(rw - w0).max(), np.abs(rb - b0).max())
    assert moved > 1e-5, f"{what}: the reference barely moved ({moved}); the check is vacuous"


# ---- the float64 reference of spec/math.md ---------------------------------------------------

class Reference:
    """Full-batch training of the same network in float64.

    params: [(W, b)] in connection creation order; a one-element list is Input → Output
    (Linear), two elements are Input → Hidden (Sigmoid) → Output (Linear). Loss L2.
    """

    def __init__(self, x, targets, params):
        self.x, self.t = x, targets
        self.params = [(w.copy(), b.copy()) for w, b in params]
        self.mode = None
        self.reset_on_switch = True  # a new optimizer starts from zero state
        self.reset()

    def reset(self):
        """Zero velocities and moments and the step counter (reset_optimizer)."""
        self.state = [{k: np.zeros_like(p) for k in ("v", "v2")}
                      for w, b in self.params for p in (w, b)]
        self.steps = 0

    def forward(self):
        acts = [self.x]
        for k, (w, b) in enumerate(self.params):
            z = acts[-1] @ w + b
            last = k == len(self.params) - 1
            acts.append(z if last else 1.0 / (1.0 + np.exp(-z)))
        return acts

    def error(self):
        """Summed L2 error of the batch (§3.3), and the regularisation term (§5.4)."""
        a = self.forward()[-1]
        e = 0.5 * np.sum((a - self.t) ** 2)
        reg = sum(0.5 * LAMBDA * np.sum(w * w) + LAMBDA1 * np.sum(np.abs(w))
                  for w, _ in self.params)
        return e, reg

    def gradients(self):
        """[(g, ḡ)]: g = −(1/B)·Aᵀ·Δ (stored, negated batch mean, §4.3), ḡ = mean Δ (§4.6)."""
        acts = self.forward()
        rows = self.x.shape[0]
        delta = acts[-1] - self.t  # L2 with Linear output: δ = a − t
        grads = [None] * len(self.params)
        for k in reversed(range(len(self.params))):
            w, _ = self.params[k]
            grads[k] = (-(acts[k].T @ delta) / rows, delta.mean(axis=0))
            if k > 0:
                h = acts[k]
                delta = (delta @ w.T) * h * (1.0 - h)  # Sigmoid hidden derivative
        return grads

    def step(self, mode, alpha=ALPHA, decay=0.0, norms=None):
        """One optimizer step; norms[k] > 0 is connection k's WeightNorm (§5.3)."""
        if mode != self.mode and self.reset_on_switch:
            self.reset()
        self.mode = mode
        step_alpha = alpha / (1.0 + decay * self.steps) if decay > 0 else alpha
        self.steps += 1
        grads = self.gradients()
        new = []
        for k, ((w, b), (g, gb)) in enumerate(zip(self.params, grads)):
            g_tilde = g - LAMBDA * w - LAMBDA1 * np.sign(w)
            w = _rule(mode, g_tilde, w, self.state[2 * k], +1.0, self.steps, step_alpha)
            b = _rule(mode, gb, b, self.state[2 * k + 1], -1.0, self.steps, step_alpha)
            c = norms[k] if norms else 0.0
            if c > 0:
                r = np.sqrt(np.sum(w * w, axis=0))
                w = np.where(r > c, w * (c / r), w)
            new.append((w, b))
        self.params = new


def _rule(mode, x, p, st, sign, t, alpha):
    """One §5.2 step. Weights: x = g̃ and sign +1 (move along); biases: x = ḡ, sign −1."""
    floor = 1e-9
    if mode == "sgd":
        return p + sign * alpha * x
    if mode == "momentum":
        st["v"] = MU * st["v"] + sign * alpha * x
        return p + st["v"]
    if mode == "nesterov":
        v_new = MU * st["v"] + sign * alpha * x
        p = p + v_new + MU * (v_new - st["v"])
        st["v"] = v_new
        return p
    if mode == "adagrad":
        st["v"] = st["v"] + x * x
        return p + sign * alpha * x / np.sqrt(np.maximum(floor, st["v"]))
    if mode == "rmsprop":
        st["v"] = MU * st["v"] + (1 - MU) * x * x
        return p + sign * alpha * x / np.sqrt(np.maximum(floor, st["v"]))
    if mode == "adadelta":
        st["v"] = MU * st["v"] + (1 - MU) * x * x
        d = np.sqrt(np.maximum(floor, st["v2"]) / np.maximum(floor, st["v"])) * x
        st["v2"] = MU * st["v2"] + (1 - MU) * d * d
        return p + sign * d
    if mode == "adam":
        st["v"] = MU * st["v"] + (1 - MU) * x
        st["v2"] = MU1 * st["v2"] + (1 - MU1) * x * x
        m_hat = st["v"] / (1 - MU ** t)
        v_hat = st["v2"] / (1 - MU1 ** t)
        return p + sign * alpha * m_hat / (np.sqrt(v_hat) + 1e-8)
    raise ValueError(mode)


# ---- the rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_three_steps_match_reference(device, optimizer, topology):
    net, ref, params = build(device, topology)
    history = train(net, 3, optimizer)
    assert len(history) == 3 and net.steps == 3 and net.epochs_trained == 3
    for _ in range(3):
        ref.step(optimizer)
    assert_matches(net, params, ref, f"{optimizer}/{topology}")


def test_reference_distinguishes_the_rules():
    """Guard on the test itself: after three steps every pair of rules gives clearly different
    weights, so a mode that silently ran another rule could not pass."""
    finals = {}
    for mode in OPTIMIZERS:
        _, x, t, params = problem("hidden")
        ref = Reference(x, t.astype(np.float64),
                        [(w.astype(np.float64), b.astype(np.float64)) for _, _, w, b in params])
        for _ in range(3):
            ref.step(mode)
        finals[mode] = np.concatenate([np.ravel(p) for wb in ref.params for p in wb])
    for i, a in enumerate(OPTIMIZERS):
        for b in OPTIMIZERS[i + 1:]:
            assert np.abs(finals[a] - finals[b]).max() > 1e-4, (a, b)


def test_epoch_error_and_regularization_match_reference(device):
    """The reported epoch error is the training forward pass before the update (mean per
    example) plus the regularisation term (§5.4, §8.1)."""
    net, ref, _ = build(device, "hidden")
    history = train(net, 3, "sgd")
    for h in history:
        e, reg = ref.error()
        assert h["regularization"] == pytest.approx(reg, rel=1e-5)
        assert h["error"] == pytest.approx(e / EXAMPLES + reg, rel=1e-5)
        ref.step("sgd")


def test_stored_gradient_and_one_sgd_step(device):
    """One SGD step with λ = λ1 = 0: Δw = α·(−(1/B)·xᵀδ), Δb = −α·mean δ, exactly the stored
    gradient the engine exposes after backward_batch."""
    net, ref, params = build(device, "linear")
    net.forward_batch(0, mode="training")
    net.backward_batch()
    g_ref, gb_ref = ref.gradients()[0]
    weight = net.weight("Input", "Output")
    np.testing.assert_allclose(weight.gradient, g_ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(net.layer("Output").deltas.mean(axis=0), gb_ref, rtol=RTOL,
                               atol=ATOL)
    w0 = weight.weights.copy()
    b0 = weight.bias.copy()
    net.train(1, alpha=0.5, lambda_=0.0, lambda1=0.0, optimizer="sgd")
    np.testing.assert_allclose(weight.weights - w0, 0.5 * g_ref, rtol=1e-4, atol=ATOL)
    np.testing.assert_allclose(weight.bias - b0, -0.5 * gb_ref, rtol=1e-4, atol=ATOL)


# ---- state across train() calls --------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["momentum", "adam", "adadelta"])
def test_state_persists_across_train_calls(device, optimizer):
    """train(1) three times is train(3): velocities, moments and the step count carry over."""
    whole, ref, params = build(device, "hidden")
    split, _, _ = build(device, "hidden")
    train(whole, 3, optimizer)
    for k in range(3):
        train(split, 1, optimizer)
        assert split.steps == k + 1
    for (w1, b1), (w2, b2) in zip(engine_params(whole, params), engine_params(split, params)):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    for _ in range(3):
        ref.step(optimizer)
    assert_matches(split, params, ref, f"{optimizer} split")


def test_switching_optimizer_resets_velocity(device):
    """momentum → sgd → momentum: the second momentum phase starts from zero velocity."""
    net, ref, params = build(device, "hidden")
    schedule = [("momentum", 2), ("sgd", 1), ("momentum", 2)]
    for mode, steps in schedule:
        train(net, steps, mode)
        for _ in range(steps):
            ref.step(mode)
    assert_matches(net, params, ref, "momentum/sgd/momentum")
    # and the reset mattered: keeping the old velocity would give other weights
    keep = build(device, "hidden")[1]
    keep.reset_on_switch = False
    for mode, steps in schedule:
        for _ in range(steps):
            keep.step(mode)
    assert not np.allclose(keep.params[0][0], ref.params[0][0], rtol=RTOL, atol=1e-4)


def test_switching_to_adam_starts_a_fresh_adam(device):
    """Adam after another optimizer starts with zero moments, and its bias correction counts
    from the first Adam step (t = 1): with zeroed moments, any other t mis-corrects the step."""
    net, ref, params = build(device, "hidden")
    train(net, 2, "momentum")
    ref.step("momentum")
    ref.step("momentum")
    assert_matches(net, params, ref, "momentum before adam")
    train(net, 2, "adam")
    ref.step("adam")
    ref.step("adam")
    assert_matches(net, params, ref, "adam after momentum")


def test_reset_optimizer_restarts_adam(device):
    net, ref, params = build(device, "hidden")
    train(net, 2, "adam")
    assert net.steps == 2
    net.reset_optimizer()
    assert net.steps == 0
    train(net, 1, "adam")
    assert net.steps == 1
    ref.step("adam")
    ref.step("adam")
    ref.reset()  # zero moments, t = 0: the next step is Adam's first again
    ref.step("adam")
    assert_matches(net, params, ref, "adam after reset_optimizer")
    # without the reset the result differs (bias correction t = 3, old moments)
    other, cont, _ = build(device, "hidden")
    train(other, 3, "adam")
    for _ in range(3):
        cont.step("adam")
    assert_matches(other, params, cont, "adam continued")
    assert not np.allclose(net.weight("Hidden", "Output").weights,
                           other.weight("Hidden", "Output").weights, rtol=RTOL, atol=1e-4)


# ---- WeightNorm and Decay --------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_norm_clips_output_columns(device, optimizer):
    """WeightNorm c on Output: after each update every output unit's incoming weight column
    has L2 norm ≤ c (§5.3); the Hidden connection (no WeightNorm) is not clipped."""
    w0 = problem("hidden")[3][1][2]  # initial Hidden -> Output matrix
    c = 0.8 * float(np.sqrt((w0.astype(np.float64) ** 2).sum(axis=0)).min())
    net, ref, params = build(device, "hidden", weight_norm=c)
    assert net.weight("Hidden", "Output").norm == pytest.approx(c)
    assert net.weight("Input", "Hidden").norm == 0
    train(net, 3, optimizer)
    for _ in range(3):
        ref.step(optimizer, norms=[0.0, c])
    assert_matches(net, params, ref, f"{optimizer} WeightNorm")
    norms = np.sqrt((net.weight("Hidden", "Output").weights.astype(np.float64) ** 2).sum(axis=0))
    assert np.all(norms <= c * (1 + 1e-5)), (norms, c)
    assert np.any(norms >= c * (1 - 1e-5)), "the clip never engaged"


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_decay_reduces_the_step(device, optimizer):
    """Network "Decay": step k (0-based) uses α/(1 + decay·k) (§8.1), across train() calls."""
    decay = 0.5
    whole, ref, params = build(device, "hidden", decay=decay)
    train(whole, 3, optimizer)
    for _ in range(3):
        ref.step(optimizer, decay=decay)
    assert_matches(whole, params, ref, f"{optimizer} decay")
    split = build(device, "hidden", decay=decay)[0]
    for _ in range(3):
        train(split, 1, optimizer)
    np.testing.assert_array_equal(split.weight("Input", "Hidden").weights,
                                  whole.weight("Input", "Hidden").weights)
    # and the decay is really applied: without it the weights differ
    plain = build(device, "hidden")[0]
    train(plain, 3, optimizer)
    assert not np.allclose(plain.weight("Input", "Hidden").weights,
                           whole.weight("Input", "Hidden").weights, rtol=RTOL, atol=1e-4)
