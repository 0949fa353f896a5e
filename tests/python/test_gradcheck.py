# SPDX-License-Identifier: Apache-2.0
"""dsstne.gradcheck: the numerical gradient check behind ``dsstne encoder`` Validate passes on
correct networks (smooth and kinked), flags a wrong gradient, and leaves the network as it was."""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne
from dsstne.gradcheck import TOLERANCE, analytic_gradients, check_gradients

EXAMPLES, WIDTH = 24, 20


def make_net(device, activation, loss, sparse, hidden=6, batch=8, seed=3):
    rng = np.random.default_rng(seed)
    ctx = dsstne.Context(device, seed)
    if sparse:
        x = sp.random(EXAMPLES, WIDTH, density=0.2, random_state=seed, format="csr")
        x.data[:] = 1
        data = dsstne.DataSet("x", x, boolean=True, context=ctx)
    else:
        data = dsstne.DataSet("x", rng.random((EXAMPLES, WIDTH)).astype(np.float32), context=ctx)
    cfg = {"Version": 0.8, "Name": "check", "ErrorFunction": loss, "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": sparse},
        {"Name": "Hidden", "Kind": "Hidden", "N": hidden, "Activation": activation,
         "pDropout": 0.3},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
         "Activation": "Sigmoid"}]}
    net = dsstne.Network(cfg, data, batch=batch, context=ctx)
    for w in net.weights:
        w.bias = rng.normal(0.0, 0.3, w.bias.size)
    return net


@pytest.mark.parametrize("activation,loss,sparse", [
    ("Sigmoid", "CrossEntropy", True),
    ("Tanh", "L2", False),
    ("RectifiedLinear", "L1", False),       # kinks in the activation and the loss
    ("SoftMax", "ScaledMarginalCrossEntropy", True),
])
def test_correct_gradients_pass(device, activation, loss, sparse):
    net = make_net(device, activation, loss, sparse)
    result = check_gradients(net, weight_samples=10, bias_samples=4, seed=1)
    assert result.passed, "\n".join(str(c) for c in result.connections)
    assert [c.connection for c in result.connections] == ["Input -> Hidden", "Hidden -> Output"]
    assert result.checked >= 12
    assert result.batch_rows == 8 and result.tolerance == TOLERANCE
    assert result.worst.error <= TOLERANCE


def tampered(label, attr, factor):
    def gradients(net, position):
        groups = analytic_gradients(net, position)
        for group_label, _w, group_attr, grad in groups:
            if (group_label, group_attr) == (label, attr):
                grad *= factor
        return groups
    return gradients


@pytest.mark.parametrize("label,attr,kind", [("Input -> Hidden", "weights", "weight"),
                                             ("Hidden -> Output", "bias", "bias")])
def test_a_wrong_gradient_is_caught_and_named(label, attr, kind):
    net = make_net("cpu", "Tanh", "L2", False)
    result = check_gradients(net, weight_samples=10, bias_samples=4, seed=1,
                             gradients=tampered(label, attr, 1.1))
    assert not result.passed
    worst = result.worst
    assert (worst.connection, worst.kind) == (label, kind)
    assert worst.error > 0.05
    assert str(worst).startswith(f"{kind} {label} [")
    bad = {c.connection: c for c in result.connections}[label]
    assert bad.max_error == worst.error and f"{label}: max relative error" in str(bad)


def test_a_sign_error_is_caught():
    net = make_net("cpu", "Sigmoid", "CrossEntropy", True)
    result = check_gradients(net, weight_samples=6, bias_samples=2, seed=2,
                             gradients=tampered("Hidden -> Output", "weights", -1.0))
    assert not result.passed and result.worst.error > 1.0


def test_parameters_and_error_are_restored():
    net = make_net("cpu", "RectifiedLinear", "L2", True)
    before = [(w.weights.copy(), w.bias.copy()) for w in net.weights]
    net.forward_batch(0, "validation")
    error = net.batch_error()
    check_gradients(net, weight_samples=5, bias_samples=2)
    for (weights, bias), w in zip(before, net.weights):
        np.testing.assert_array_equal(w.weights, weights)
        np.testing.assert_array_equal(w.bias, bias)
    net.forward_batch(0, "validation")
    assert net.batch_error() == error


def test_the_sample_is_seeded():
    net = make_net("cpu", "Tanh", "L2", False)
    first = check_gradients(net, weight_samples=5, bias_samples=2, seed=9)
    again = check_gradients(net, weight_samples=5, bias_samples=2, seed=9)
    assert first == again


def test_shared_connections_check_only_their_biases():
    x = dsstne.DataSet("x", np.random.default_rng(0).random((8, 10)).astype(np.float32))
    cfg = {"Version": 0.8, "Name": "tied", "ErrorFunction": "L2", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x"},
        {"Name": "Hidden", "Kind": "Hidden", "N": 4, "Activation": "Tanh"},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x", "Activation": "Linear",
         "SharedWeights": [{"SourceInputLayer": "Input", "SourceOutputLayer": "Hidden",
                            "InputLayer": "Hidden", "Transposed": True}]}]}
    net = dsstne.Network(cfg, x, batch=8)
    result = check_gradients(net, weight_samples=6, bias_samples=3)
    assert result.passed
    tied = {c.connection: c for c in result.connections}["Hidden -> Output"]
    assert tied.weights == 0 and tied.biases + tied.skipped == 3


def test_a_nan_gradient_fails():
    net = make_net("cpu", "Tanh", "L2", False)
    result = check_gradients(net, weight_samples=4, bias_samples=2,
                             gradients=tampered("Input -> Hidden", "bias", np.nan))
    assert not result.passed and result.worst.error == np.inf
    assert result.worst.kind == "bias"
