# SPDX-License-Identifier: Apache-2.0
"""A training step of train() takes an output layer's error and delta in one sweep of its z
(output_pass) and never stores the activations there: the layer's units then hold
pre-activations, so reading them is refused by name; forward_batch() outside train() still
gives the activations.
"""

import numpy as np
import pytest

import dsstne

EXAMPLES, BATCH, N_IN, N_OUT = 16, 8, 6, 4


def build(device, activation, batch=BATCH):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(EXAMPLES, N_IN)).astype(np.float32)
    t = rng.uniform(0.0, 1.0, (EXAMPLES, N_OUT)).astype(np.float32)
    ctx = dsstne.Context(device)
    cfg = {"Version": 0.8, "Name": "pass", "Kind": "FeedForward", "ShuffleIndices": False,
           "ErrorFunction": "CrossEntropy",
           "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x"},
                      {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "t",
                       "Activation": activation}]}
    data = [dsstne.DataSet("x", x, context=ctx), dsstne.DataSet("t", t, context=ctx)]
    return dsstne.Network(cfg, data, batch=batch, context=ctx), x


def test_output_units_after_train_are_refused_until_forward(device):
    net, x = build(device, "Sigmoid")
    net.train(1, alpha=0.1, optimizer="sgd")
    output = net.layer("Output")
    with pytest.raises(dsstne.DsstneError, match="output layer 'Output' are not kept"):
        output.units
    assert output.deltas.shape == (BATCH, N_OUT)  # the pass's delta stays readable

    net.forward_batch(0, mode="training")
    w = net.weight("Input", "Output")
    z = x[:BATCH].astype(np.float64) @ w.weights + w.bias
    np.testing.assert_allclose(output.units, 1.0 / (1.0 + np.exp(-z)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output.units, net.predict()[:BATCH], rtol=1e-6, atol=1e-7)


def test_a_softmax_output_keeps_its_units_through_train(device):
    """SoftMax is row-wise, so its output takes no such pass: train() leaves the activations."""
    net, x = build(device, "SoftMax", batch=EXAMPLES)  # one batch: its units predate the step
    w = net.weight("Input", "Output")
    z = x.astype(np.float64) @ w.weights + w.bias
    net.train(1, alpha=0.1, optimizer="sgd")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(net.layer("Output").units, e / e.sum(axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-6)
