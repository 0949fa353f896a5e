# SPDX-License-Identifier: Apache-2.0
"""Finite-difference gradient checks through whole small networks (spec/math.md §2-§4).

The engine's analytic gradients come from one ``backward_batch``: a weight's stored gradient is
−(1/(sharing·B))·∂E/∂W of its owner matrix, and the bias of a connection src→L has
∂E/∂b = Σ_rows δ_L. They are compared with central differences of ``batch_error`` (the error
summed over the batch) after perturbing every matrix and bias element in turn.

Coverage: every activation × every error function, on the hidden layer (all losses) and on the
output layer (every activation for L1/L2/L2Hinge/Hinge; Sigmoid and SoftMax for the
cross-entropy family), each with dense and sparse input and dense, sparse and SparseIgnoreZero
targets; then skips, multiple sources and input layers, shared and transposed-shared weights,
an output feeding another output, weighted examples, SMCE margins, activation parameters and
dropout (off in validation mode, and its fixed mask in training mode).

Kinks (ReLU at 0, the clips of RELUMax/LinearMax, L1 at a = t, Hinge at t·a = 1, the SMCE
margins) are detected explicitly: each perturbation recomputes the "region" of every unit from
the engine's activations and targets, and an element whose ±h points land in another region
than the base point is not compared (another seed is tried when more than a few are).
"""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

B = 6          # examples; the batch holds all of them
N_IN = 8
N_HID = 5
N_OUT = 6
H = 3e-3       # finite-difference step (float32 engine, float64 differences)
TOL = 1e-2     # ||fd − analytic|| / max(||analytic||, 1e-3), per matrix and per bias
MAX_SKIPPED = 0.1  # fraction of elements allowed to sit next to a kink before another seed
SEEDS = range(1, 9)
GAUSS = {"Scheme": "Gaussian", "Scale": 0.5}

ACTIVATIONS = ["Sigmoid", "Tanh", "Linear", "RectifiedLinear", "LeakyRectifiedLinear",
               "ExponentialLinear", "ScaledExponentialLinear", "SoftPlus", "SoftSign",
               "SoftMax", "RELUMax", "LinearMax"]
ACTIVATION_PARAMS = {"LeakyRectifiedLinear": {"Slope": 0.1}}
LOSSES = ["L1", "L2", "L2Hinge", "Hinge", "CrossEntropy", "ScaledMarginalCrossEntropy",
          "DataScaledMarginalCrossEntropy"]
PROBABILITY_LOSSES = ["CrossEntropy", "ScaledMarginalCrossEntropy",
                      "DataScaledMarginalCrossEntropy"]
INPUTS = ["dense", "sparse"]
TARGETS = ["dense", "sparse", "sparse_ignore_zero"]
SMCE_PLAIN = {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0, "zeroScale": 1.0}


# ---- data ------------------------------------------------------------------------------------
def sparse_pattern(rng, n, density=0.3):
    """B × n Boolean pattern, every row with at least one stored and one unstored unit."""
    mask = rng.random((B, n)) < density
    for r in range(B):
        if not mask[r].any():
            mask[r, rng.integers(n)] = True
        if mask[r].all():
            mask[r, rng.integers(n)] = False
    return mask


def input_array(kind, rng, n=N_IN):
    """Dense normal data, or a CSR matrix (~30% dense) with normal values or Boolean ones."""
    if kind == "dense":
        return rng.normal(size=(B, n)).astype(np.float32)
    mask = sparse_pattern(rng, n)
    if kind == "sparse_bool":
        return sp.csr_matrix(mask.astype(np.float32))
    values = rng.normal(0.0, 1.2, size=(B, n)).astype(np.float32)
    return sp.csr_matrix(np.where(mask, values, 0.0).astype(np.float32))


def input_set(name, kind, rng, ctx, n=N_IN):
    data = input_array(kind, rng, n)
    return dsstne.DataSet(name, data, boolean=(kind == "sparse_bool") if kind != "dense" else None,
                          context=ctx)


class Targets:
    """A target data set plus what the kink detector needs: the effective target of every
    output unit (as the engine resolves it) and the units the loss looks at."""

    def __init__(self, data, t, considered):
        self.data, self.t, self.considered = data, t, considered


def make_targets(name, loss, kind, rng, ctx, n=N_OUT, softmax=False, boolean=None,
                 weights=None):
    """Targets suited to `loss`: values in (0,1) or 0/1 for the cross-entropy family, ±1 for
    Hinge, values of both signs for L1/L2/L2Hinge. Sparse targets of CE/SMCE are Boolean unless
    `boolean` says otherwise; DSMCE's are analog relevances."""
    if kind == "dense":
        if loss == "Hinge":
            t = rng.choice([-1.0, 1.0], size=(B, n))
        elif loss == "ScaledMarginalCrossEntropy":
            t = (rng.random((B, n)) < 0.4).astype(float)
        elif loss in PROBABILITY_LOSSES:
            t = rng.uniform(0.05, 0.95, size=(B, n))
        else:
            t = rng.uniform(-0.5, 1.0, size=(B, n))
        t = t.astype(np.float32)
        data = dsstne.DataSet(name, t, weights=weights, context=ctx)
        return Targets(data, t.astype(np.float64), np.ones((B, n), bool))
    mask = sparse_pattern(rng, n)
    if boolean is None:
        boolean = loss in ("CrossEntropy", "ScaledMarginalCrossEntropy")
    if boolean:
        values = np.ones((B, n))
    elif loss == "Hinge":
        values = rng.choice([-1.0, 1.0], size=(B, n))
    elif loss in PROBABILITY_LOSSES:
        values = rng.uniform(0.2, 1.0, size=(B, n))
    else:
        values = rng.uniform(-0.5, 1.0, size=(B, n))
    stored = np.where(mask, values, 0.0).astype(np.float32)
    csr = sp.csr_matrix(mask.astype(np.float32))
    csr.data = stored[mask]  # csr_matrix keeps row-major order, as boolean indexing does
    ignore_zero = kind == "sparse_ignore_zero"
    data = dsstne.DataSet(name, csr, boolean=boolean, weights=weights,
                          sparse_ignore_zero=ignore_zero, context=ctx)
    t = stored.astype(np.float64)
    if softmax and boolean:  # a SoftMax output reads Boolean targets as the distribution 1/n
        t = mask / mask.sum(axis=1, keepdims=True)
    considered = mask if ignore_zero else np.ones((B, n), bool)
    return Targets(data, t, considered)


# ---- configs ---------------------------------------------------------------------------------
def hidden(name, n, activation, **extra):
    return {"Name": name, "Kind": "Hidden", "N": n, "Activation": activation,
            **ACTIVATION_PARAMS.get(activation, {}), "WeightInit": GAUSS, **extra}


def output(name, data_set, activation, **extra):
    return {"Name": name, "Kind": "Output", "N": "auto", "DataSet": data_set,
            "Activation": activation, **ACTIVATION_PARAMS.get(activation, {}),
            "WeightInit": GAUSS, **extra}


def input_layer(name, data_set, kind, **extra):
    return {"Name": name, "Kind": "Input", "N": "auto", "DataSet": data_set,
            "Sparse": kind != "dense", **extra}


def network(layers, loss, smce=SMCE_PLAIN):
    return {"Version": 0.8, "Name": "gradcheck", "ErrorFunction": loss, "ShuffleIndices": False,
            "ScaledMarginalCrossEntropy": dict(smce), "Layers": layers}


# ---- kink detection --------------------------------------------------------------------------
def activation_region(layer, a):
    """Which smooth piece of its activation each unit is on (empty for smooth activations)."""
    act = layer.get("Activation", "Sigmoid")
    if act in ("RectifiedLinear", "LeakyRectifiedLinear", "ExponentialLinear",
               "ScaledExponentialLinear"):
        return (a > 0).astype(np.int8).ravel()
    if act == "RELUMax":
        return ((a > 0).astype(np.int8) + 2 * (a < 1)).ravel()
    if act == "LinearMax":
        return ((a > -1).astype(np.int8) + 2 * (a < 1)).ravel()
    return np.zeros(0, np.int8)


def loss_region(loss, smce, a, targets):
    """Which smooth piece of the loss each considered output unit is on."""
    t, m = targets.t, targets.considered
    if loss == "L1":
        r = np.sign(a - t)
    elif loss == "Hinge":
        r = t * a < 1
    elif loss == "L2Hinge":
        r = np.where(t > 0, a < t, a > t)
    elif loss == "ScaledMarginalCrossEntropy":
        r = (a < smce["oneTarget"]).astype(np.int8) + 2 * (a > smce["zeroTarget"])
    elif loss == "DataScaledMarginalCrossEntropy":
        r = np.where(t > 0, a < smce["oneTarget"], a > smce["zeroTarget"])
    else:
        return np.zeros(0, np.int8)
    return np.asarray(r, np.int8)[m]


class Case:
    """A network under test with its data and what is needed to spot kinks."""

    def __init__(self, config, data, targets, ctx):
        self.config, self.targets = config, targets
        self.net = dsstne.Network(config, data, batch=B, context=ctx)

    def regions(self):
        cfg, parts = self.config, []
        for layer in cfg["Layers"]:
            if layer["Kind"] == "Input":
                continue
            a = self.net.layer(layer["Name"]).units
            parts.append(activation_region(layer, a))
            if layer["Name"] in self.targets:
                parts.append(loss_region(cfg["ErrorFunction"], cfg["ScaledMarginalCrossEntropy"],
                                         a, self.targets[layer["Name"]]))
        return np.concatenate(parts)


# ---- the check -------------------------------------------------------------------------------
def analytic_gradients(net, mode):
    """(label, weight view, attribute, ∂E/∂param) for every owner matrix and every bias."""
    net.forward_batch(0, mode)
    net.backward_batch()
    groups = []
    for w in net.weights:
        rows = net.layer(w.output).batch_rows
        assert rows == B
        if not w.shared:
            g = -w.gradient.astype(np.float64) * w.sharing_count * rows
            groups.append((f"{w.input}->{w.output} weights", w, "weights", g))
        db = net.layer(w.output).deltas.astype(np.float64).sum(axis=0)
        groups.append((f"{w.input}->{w.output} bias", w, "bias", db))
    return groups


def finite_differences(case, groups, mode, h):
    """Central differences of the batch error; NaN where a ±h point crosses a kink."""
    net = case.net
    net.forward_batch(0, mode)
    base_error = net.batch_error()
    base_regions = case.regions()
    assert np.isfinite(base_error)
    out = []
    for _label, w, attr, _g in groups:
        base = getattr(w, attr).copy()
        fd = np.full(base.shape, np.nan)
        for idx in np.ndindex(*base.shape):
            errors = []
            steps = []
            crossed = False
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[idx] = np.float32(float(base[idx]) + sign * h)
                steps.append(float(moved[idx]))
                setattr(w, attr, moved)
                net.forward_batch(0, mode)
                errors.append(net.batch_error())
                crossed = crossed or not np.array_equal(case.regions(), base_regions)
            if not crossed:
                fd[idx] = (errors[0] - errors[1]) / (steps[0] - steps[1])
        setattr(w, attr, base)
        out.append(fd)
    net.forward_batch(0, mode)
    assert net.batch_error() == base_error, "restoring the parameters must restore the error"
    return out


def try_check(case, mode="validation", h=H):
    """Returns (report lines, failures, skipped fraction, analytic norm)."""
    groups = analytic_gradients(case.net, mode)
    fds = finite_differences(case, groups, mode, h)
    total = sum(g.size for *_, g in groups)
    skipped = sum(int(np.isnan(fd).sum()) for fd in fds)
    lines, failures, norm2 = [], [], 0.0
    for (label, _w, _attr, g), fd in zip(groups, fds):
        ok = ~np.isnan(fd)
        an, num = g[ok], fd[ok]
        norm2 += float(np.sum(an * an))
        err = np.linalg.norm(num - an) / max(np.linalg.norm(an), 1e-3)
        line = (f"{label}: rel err {err:.2e} ({ok.sum()}/{g.size} checked)\n"
                f"  analytic {np.array2string(an, precision=5, max_line_width=200)}\n"
                f"  finite-d {np.array2string(num, precision=5, max_line_width=200)}")
        lines.append(line)
        if not err < TOL:
            failures.append(line)
    return lines, failures, skipped / total, np.sqrt(norm2)


def check_network(build, mode="validation", h=H, seeds=SEEDS, min_norm=1e-2):
    """Builds `build(seed)` → Case for the first seed whose batch sits away from the kinks, and
    asserts its analytic gradients match the finite differences."""
    tried = []
    for seed in seeds:
        case = build(seed)
        lines, failures, skipped, norm = try_check(case, mode, h)
        if skipped > MAX_SKIPPED:
            tried.append(f"seed {seed}: {skipped:.0%} of the elements next to a kink")
            continue
        report = "\n".join(lines)
        assert not failures, f"seed {seed}: gradients disagree\n" + "\n".join(failures) + \
            f"\n--- all groups ---\n{report}"
        assert norm > min_norm, f"seed {seed}: gradient too small to be a check ({norm:.3g})\n" \
            + report
        return case
    pytest.fail("every seed put the batch next to a kink: " + "; ".join(tried))


# ---- activation × loss sweeps ----------------------------------------------------------------
def mlp_case(device, loss, hidden_act, output_act, input_kind, target_kind, smce=SMCE_PLAIN,
             boolean=None, weights=False):
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx)
        t = make_targets("t", loss, target_kind, rng, ctx, softmax=output_act == "SoftMax",
                         boolean=boolean,
                         weights=rng.uniform(0.3, 2.0, B) if weights else None)
        cfg = network([input_layer("Input", "x", input_kind),
                       hidden("Hidden", N_HID, hidden_act),
                       output("Output", "t", output_act)], loss, smce)
        case = Case(cfg, [x, t.data], {"Output": t}, ctx)
        for w in case.net.weights:
            w.bias = rng.normal(0.0, 0.3, w.bias.size)
        return case
    return build


def sweep_params(allowed_target):
    out = []
    for loss in LOSSES:
        for inp in INPUTS:
            for tgt in TARGETS:
                if allowed_target(loss, tgt):
                    out.append((loss, inp, tgt))
    return out


def target_allowed(loss, target_kind):
    return not (loss == "DataScaledMarginalCrossEntropy" and target_kind == "dense")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss,input_kind,target_kind", sweep_params(target_allowed))
def test_hidden_activation(device, loss, input_kind, target_kind, activation):
    """Every activation on the hidden layer, with every loss (Sigmoid output)."""
    check_network(mlp_case(device, loss, activation, "Sigmoid", input_kind, target_kind))


def output_params():
    out = []
    for loss, inp, tgt in sweep_params(target_allowed):
        if loss == "DataScaledMarginalCrossEntropy":
            acts = ["Sigmoid"]
        elif loss in PROBABILITY_LOSSES:
            acts = ["Sigmoid", "SoftMax"]
        else:
            acts = ACTIVATIONS
        out += [(loss, act, inp, tgt) for act in acts]
    return out


@pytest.mark.parametrize("loss,activation,input_kind,target_kind", output_params())
def test_output_activation(device, loss, activation, input_kind, target_kind):
    """Every output activation a loss accepts (every one for L1/L2/L2Hinge/Hinge; values in
    (0,1) for the cross-entropy family), Tanh hidden layer."""
    check_network(mlp_case(device, loss, "Tanh", activation, input_kind, target_kind))


@pytest.mark.parametrize("loss", ["L1", "L2", "L2Hinge", "Hinge"])
@pytest.mark.parametrize("target_kind", ["sparse", "sparse_ignore_zero"])
@pytest.mark.parametrize("activation", ["Sigmoid", "Linear", "SoftMax"])
def test_boolean_sparse_targets(device, loss, target_kind, activation):
    """Boolean sparse targets for the losses whose sweep uses analog ones."""
    check_network(mlp_case(device, loss, "Tanh", activation, "sparse", target_kind,
                           boolean=True))


@pytest.mark.parametrize("loss", ["CrossEntropy", "ScaledMarginalCrossEntropy"])
@pytest.mark.parametrize("target_kind", ["sparse", "sparse_ignore_zero"])
@pytest.mark.parametrize("activation", ["Sigmoid", "SoftMax"])
def test_analog_sparse_targets(device, loss, target_kind, activation):
    """Analog sparse targets (values in (0.2, 1)) for CE and SMCE, whose sweep uses Boolean."""
    check_network(mlp_case(device, loss, "Tanh", activation, "dense", target_kind,
                           boolean=False))


@pytest.mark.parametrize("input_kind", INPUTS)
def test_dsmce_rejects_dense_targets(device, input_kind):
    rng = np.random.default_rng(0)
    ctx = dsstne.Context(device)
    x = input_set("x", input_kind, rng, ctx)
    t = dsstne.DataSet("t", rng.uniform(0, 1, (B, N_OUT)).astype(np.float32), context=ctx)
    cfg = network([input_layer("Input", "x", input_kind), hidden("Hidden", N_HID, "Tanh"),
                   output("Output", "t", "Sigmoid")], "DataScaledMarginalCrossEntropy")
    with pytest.raises(ValueError, match="DataScaledMarginalCrossEntropy needs sparse targets"):
        dsstne.Network(cfg, [x, t], batch=B, device=device)


def test_dsmce_rejects_softmax_output(device):
    rng = np.random.default_rng(0)
    ctx = dsstne.Context(device)
    x = input_set("x", "dense", rng, ctx)
    t = make_targets("t", "DataScaledMarginalCrossEntropy", "sparse", rng, ctx)
    cfg = network([input_layer("Input", "x", "dense"), hidden("Hidden", N_HID, "Tanh"),
                   output("Output", "t", "SoftMax")], "DataScaledMarginalCrossEntropy")
    with pytest.raises(ValueError, match="SoftMax"):
        dsstne.Network(cfg, [x, t.data], batch=B, device=device)


MARGIN_PARAMS = [("ScaledMarginalCrossEntropy", act, tgt)
                 for act in ("Sigmoid", "SoftMax") for tgt in TARGETS]
MARGIN_PARAMS += [("DataScaledMarginalCrossEntropy", "Sigmoid", tgt)
                  for tgt in ("sparse", "sparse_ignore_zero")]


@pytest.mark.parametrize("loss,activation,target_kind", MARGIN_PARAMS)
def test_smce_margins_and_scales(device, loss, activation, target_kind):
    """Margins 0.9/0.1 and scales 2/0.5: units beyond their margin contribute nothing (the
    elements whose ±h points cross a margin, where the error jumps, are left out)."""
    smce = {"oneTarget": 0.9, "zeroTarget": 0.1, "oneScale": 2.0, "zeroScale": 0.5}
    check_network(mlp_case(device, loss, "Tanh", activation, "dense", target_kind, smce=smce))


@pytest.mark.parametrize("loss", ["L1", "L2", "CrossEntropy", "ScaledMarginalCrossEntropy"])
@pytest.mark.parametrize("target_kind", TARGETS)
@pytest.mark.parametrize("input_kind", INPUTS)
def test_weighted_examples(device, loss, target_kind, input_kind):
    """Example weights of the target data set scale each example's error and delta."""
    check_network(mlp_case(device, loss, "Tanh", "Sigmoid", input_kind, target_kind,
                           weights=True))


@pytest.mark.parametrize("activation,params", [
    ("LeakyRectifiedLinear", {"Slope": 0.01}),
    ("LeakyRectifiedLinear", {"RELUSlope": 0.5}),
    ("ExponentialLinear", {"ELUAlpha": 0.5}),
    ("ExponentialLinear", {"ELUAlpha": 2.0}),
    ("ScaledExponentialLinear", {"ELUAlpha": 1.6732632, "SELULambda": 1.0507010}),
    ("ScaledExponentialLinear", {"SELULambda": 2.0}),
])
@pytest.mark.parametrize("where", ["hidden", "output"])
def test_activation_parameters(device, activation, params, where):
    """Layer-level Slope / ELUAlpha / SELULambda reach both the forward map and its slope."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", "dense", rng, ctx)
        t = make_targets("t", "L2", "dense", rng, ctx)
        h_layer = hidden("Hidden", N_HID, activation if where == "hidden" else "Tanh")
        o_layer = output("Output", "t", activation if where == "output" else "Sigmoid")
        (h_layer if where == "hidden" else o_layer).update(params)
        cfg = network([input_layer("Input", "x", "dense"), h_layer, o_layer], "L2")
        return Case(cfg, [x, t.data], {"Output": t}, ctx)
    check_network(build)


# ---- structure -------------------------------------------------------------------------------
def randomize_biases(case, rng):
    for w in case.net.weights:
        w.bias = rng.normal(0.0, 0.3, w.bias.size)


@pytest.mark.parametrize("input_kind,loss,target_kind", [
    ("dense", "L2", "dense"),
    ("sparse", "L2", "sparse"),
    ("sparse", "L2", "sparse_ignore_zero"),
    ("sparse_bool", "CrossEntropy", "sparse"),
    ("sparse_bool", "ScaledMarginalCrossEntropy", "sparse"),
    ("sparse_bool", "CrossEntropy", "sparse_ignore_zero"),
])
def test_tied_autoencoder(device, input_kind, loss, target_kind):
    """Input(8) → Hidden(4) → Output(8) whose weight is the transpose of Input→Hidden: the
    owner's gradient is the mean of both uses (sharing count 2)."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        data = input_array(input_kind, rng)
        x = dsstne.DataSet("x", data, boolean=True if input_kind == "sparse_bool" else None,
                           sparse_ignore_zero=target_kind == "sparse_ignore_zero", context=ctx)
        if input_kind == "dense":
            t = np.asarray(data, np.float64)
            considered = np.ones((B, N_IN), bool)
        else:
            t = data.toarray().astype(np.float64)
            considered = (t != 0) if target_kind == "sparse_ignore_zero" else \
                np.ones((B, N_IN), bool)
        out_act = "Linear" if loss == "L2" else "Sigmoid"
        cfg = network([
            input_layer("Input", "x", input_kind),
            hidden("Hidden", 4, "Tanh"),
            output("Output", "x", out_act, SharedWeights=[
                {"SourceInputLayer": "Input", "SourceOutputLayer": "Hidden",
                 "InputLayer": "Hidden", "Transposed": True}]),
        ], loss)
        case = Case(cfg, [x], {"Output": Targets(x, t, considered)}, ctx)
        randomize_biases(case, rng)
        return case
    case = check_network(build)
    net = case.net
    tied, owner = net.weight("Hidden", "Output"), net.weight("Input", "Hidden")
    assert tied.shared and tied.transposed and not owner.shared
    assert owner.sharing_count == 2
    assert tied.weights.shape == owner.weights.shape == (N_IN, 4)


@pytest.mark.parametrize("input_kind", ["dense", "sparse"])
def test_deep_tied_autoencoder(device, input_kind):
    """Two transposed shares, one between hidden layers: Input(8)→H1(5)→H2(3)→H3(5)→Output(8)
    with H2→H3 = (H1→H2)ᵀ and H3→Output = (Input→H1)ᵀ."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx)
        t = make_targets("t", "L2", "dense", rng, ctx, n=N_IN)
        cfg = network([
            input_layer("Input", "x", input_kind),
            hidden("H1", 5, "Tanh"),
            hidden("H2", 3, "SoftSign"),
            hidden("H3", 5, "Sigmoid", SharedWeights=[
                {"SourceInputLayer": "H1", "SourceOutputLayer": "H2", "InputLayer": "H2",
                 "Transposed": True}]),
            output("Output", "t", "Linear", SharedWeights=[
                {"SourceInputLayer": "Input", "SourceOutputLayer": "H1", "InputLayer": "H3",
                 "Transposed": True}]),
        ], "L2")
        case = Case(cfg, [x, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    net = check_network(build).net
    assert net.weight("Input", "H1").sharing_count == 2
    assert net.weight("H1", "H2").sharing_count == 2


@pytest.mark.parametrize("input_kind", ["dense", "sparse"])
@pytest.mark.parametrize("sharers", [1, 2])
def test_shared_weights_not_transposed(device, input_kind, sharers):
    """Input(6)→H1(6)→H2(6)[→H3(6)] where every later square matrix is Input→H1's: the owner
    sees 1+sharers uses."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx, n=6)
        t = make_targets("t", "L2", "dense", rng, ctx)
        layers = [input_layer("Input", "x", input_kind), hidden("H1", 6, "Tanh")]
        for k in range(sharers):
            prev = f"H{k + 1}"
            layers.append(hidden(f"H{k + 2}", 6, "Sigmoid", SharedWeights=[
                {"SourceInputLayer": "Input", "SourceOutputLayer": "H1", "InputLayer": prev,
                 "Transposed": False}]))
        layers.append(output("Output", "t", "Linear"))
        case = Case(network(layers, "L2"), [x, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    net = check_network(build).net
    assert net.weight("Input", "H1").sharing_count == 1 + sharers
    assert net.weight("H1", "H2").shared and not net.weight("H1", "H2").transposed


@pytest.mark.parametrize("input_kind", ["dense", "sparse"])
@pytest.mark.parametrize("skip_from", ["Input", "H1"])
def test_skip_connections(device, input_kind, skip_from):
    """Input(8)→H1(8)→H2(8, Skip [Input or H1])→H3(5)→H4(5, Skip [H3])→Output."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx)
        t = make_targets("t", "L2", "dense", rng, ctx)
        cfg = network([
            input_layer("Input", "x", input_kind),
            hidden("H1", N_IN, "Tanh"),
            hidden("H2", N_IN, "Sigmoid", Skip=[skip_from]),
            hidden("H3", 5, "SoftPlus"),
            hidden("H4", 5, "Tanh", Skip=["H3"]),
            output("Output", "t", "Linear"),
        ], "L2")
        case = Case(cfg, [x, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    net = check_network(build).net
    assert net.layer("H2").skips == [skip_from]


@pytest.mark.parametrize("sources", [2, 3, 4])
@pytest.mark.parametrize("input_kind", ["dense", "sparse"])
def test_multiple_sources(device, sources, input_kind):
    """Output with Source [H1, …, Hk], k = 2..4 (one bias per connection; DSSTNE misindexed the
    3rd and 4th biases)."""
    acts = ["Tanh", "Sigmoid", "SoftSign", "ExponentialLinear"]

    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx)
        t = make_targets("t", "L2", "dense", rng, ctx)
        names = [f"H{k + 1}" for k in range(sources)]
        layers = [input_layer("Input", "x", input_kind)]
        layers += [hidden(n, 3 + k, acts[k], Source=["Input"]) for k, n in enumerate(names)]
        layers.append(output("Output", "t", "Linear", Source=names))
        case = Case(network(layers, "L2"), [x, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    net = check_network(build).net
    assert net.layer("Output").sources == [f"H{k + 1}" for k in range(sources)]


@pytest.mark.parametrize("loss", ["L2", "CrossEntropy"])
def test_multiple_input_layers(device, loss):
    """A dense and a sparse input layer into one hidden layer, the sparse one also straight
    into the output (Source [Hidden, Sparse])."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        a = input_set("a", "dense", rng, ctx, n=5)
        s = input_set("s", "sparse", rng, ctx, n=7)
        t = make_targets("t", loss, "sparse", rng, ctx)
        cfg = network([
            input_layer("Dense", "a", "dense"),
            input_layer("Sparse", "s", "sparse"),
            hidden("Hidden", N_HID, "Tanh", Source=["Dense", "Sparse"]),
            output("Output", "t", "Sigmoid", Source=["Hidden", "Sparse"]),
        ], loss)
        case = Case(cfg, [a, s, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    check_network(build)


@pytest.mark.parametrize("first_target", ["dense", "sparse"])
def test_output_feeding_another_output(device, first_target):
    """Input→Hidden→Out1→Out2: Out1's delta is its own loss delta plus what Out2 sends back,
    and the batch error sums both outputs."""
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", "dense", rng, ctx)
        t1 = make_targets("t1", "L2", first_target, rng, ctx, n=5)
        t2 = make_targets("t2", "L2", "dense", rng, ctx, n=4)
        cfg = network([
            input_layer("Input", "x", "dense"),
            hidden("Hidden", N_HID, "Tanh"),
            output("Out1", "t1", "Sigmoid"),
            output("Out2", "t2", "Tanh", Source=["Out1"]),
        ], "L2")
        case = Case(cfg, [x, t1.data, t2.data], {"Out1": t1, "Out2": t2}, ctx)
        randomize_biases(case, rng)
        return case
    check_network(build)


# ---- dropout ---------------------------------------------------------------------------------
DROPOUT_ACTS = ["Sigmoid", "Tanh", "RectifiedLinear", "ExponentialLinear",
                "ScaledExponentialLinear"]


def dropout_case(device, activation, input_kind):
    def build(seed):
        rng = np.random.default_rng(seed)
        ctx = dsstne.Context(device, seed)
        x = input_set("x", input_kind, rng, ctx)
        t = make_targets("t", "L2", "dense", rng, ctx)
        extra = {"pDropout": 0.3} if input_kind == "dense" else {}
        cfg = network([
            input_layer("Input", "x", input_kind, **extra),
            hidden("H1", 6, activation, pDropout=0.5),
            hidden("H2", N_HID, "Tanh", pDropout=0.25),
            output("Output", "t", "Linear"),
        ], "L2")
        case = Case(cfg, [x, t.data], {"Output": t}, ctx)
        randomize_biases(case, rng)
        return case
    return build


@pytest.mark.parametrize("input_kind", INPUTS)
@pytest.mark.parametrize("activation", DROPOUT_ACTS)
def test_dropout_off_in_validation(device, activation, input_kind):
    """Layers with pDropout > 0, checked in validation mode: no dropout is applied (units equal
    the prediction pass, unlike the training pass) and the gradient is the plain one."""
    case = check_network(dropout_case(device, activation, input_kind))
    net = case.net
    net.forward_batch(0, "prediction")
    predicted = {n: net.layer(n).units for n in ("H1", "H2", "Output")}
    net.forward_batch(0, "validation")
    for n, units in predicted.items():
        np.testing.assert_array_equal(net.layer(n).units, units, err_msg=n)
    net.forward_batch(0, "training")
    assert not np.array_equal(net.layer("H1").units, predicted["H1"]), "training applies dropout"


@pytest.mark.parametrize("input_kind", INPUTS)
@pytest.mark.parametrize("activation", DROPOUT_ACTS)
def test_dropout_training_mask(device, activation, input_kind):
    """In training mode the mask is fixed until the next update step, so finite differences
    through the dropped network check the dropout backward pass (inverted dropout, alpha
    dropout for ELU/SELU)."""
    build = dropout_case(device, activation, input_kind)
    probe = build(1).net
    probe.forward_batch(0, "training")
    first = probe.layer("H1").units
    probe.forward_batch(0, "training")
    np.testing.assert_array_equal(probe.layer("H1").units, first,
                                  err_msg="the dropout mask changed between two forward passes")
    check_network(build, mode="training")
