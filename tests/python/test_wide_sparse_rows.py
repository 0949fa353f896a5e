# SPDX-License-Identifier: Apache-2.0
"""A wide sparse input's gradient kept row by row (docs/design.md "Wide sparse inputs"): a batch
touches a few rows of the input matrix, the engine clears only the rows the previous batch wrote
and, with SGD and no weight decay, steps only the rows this batch wrote. Nothing may show: the
stored gradient is the batch's alone, minibatch training equals a float64 reference, and rows no
batch touches keep their bits."""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

N_FEATURES, N_OUT, EXAMPLES, BATCH = 400, 3, 24, 6  # ≤ 24 entries a batch: ≤ 1/4 of the rows
ALPHA, MU = 0.2, 0.9


def problem(seed=3):
    """Sparse inputs over the first 300 features (the last 100 are never touched), dense
    targets, initial weights with a −0 in an untouched row."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(300, size=rng.integers(1, 5), replace=False) for _ in range(EXAMPLES)]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    values = rng.uniform(0.5, 1.5, indptr[-1]).astype(np.float32)
    x = sp.csr_matrix((values, np.concatenate(rows), indptr), shape=(EXAMPLES, N_FEATURES))
    t = rng.normal(size=(EXAMPLES, N_OUT)).astype(np.float32)
    w0 = rng.uniform(-1, 1, (N_FEATURES, N_OUT)).astype(np.float32)
    w0[350, 1] = -0.0
    b0 = rng.uniform(-0.5, 0.5, N_OUT).astype(np.float32)
    return x, t, w0, b0


def build(device):
    x, t, w0, b0 = problem()
    ctx = dsstne.Context(device)
    cfg = {"Version": 0.8, "Name": "wide", "Kind": "FeedForward", "ShuffleIndices": False,
           "ErrorFunction": "L2",
           "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x",
                       "Sparse": True},
                      {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "t",
                       "Activation": "Linear"}]}
    data = [dsstne.DataSet("x", x, context=ctx), dsstne.DataSet("t", t, context=ctx)]
    net = dsstne.Network(cfg, data, batch=BATCH, context=ctx)
    weight = net.weight("Input", "Output")
    weight.weights = w0
    weight.bias = b0
    return net, weight, x, t, w0, b0


def reference(x, t, w0, b0, epochs, optimizer, lambda_):
    """Minibatch training in float64, batches in order (spec/math.md §4.3, §5.2)."""
    x = x.toarray().astype(np.float64)
    t = t.astype(np.float64)
    w, b = w0.astype(np.float64), b0.astype(np.float64)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(epochs):
        for at in range(0, EXAMPLES, BATCH):
            xb, tb = x[at:at + BATCH], t[at:at + BATCH]
            delta = xb @ w + b - tb
            g = -(xb.T @ delta) / len(xb) - lambda_ * w
            gb = delta.mean(axis=0)
            if optimizer == "sgd":
                w, b = w + ALPHA * g, b - ALPHA * gb
            else:  # momentum
                vw, vb = MU * vw + ALPHA * g, MU * vb - ALPHA * gb
                w, b = w + vw, b + vb
    return w, b


def test_the_stored_gradient_is_the_batchs_alone(device):
    """After a batch over other rows, the rows the first batch wrote are zero again."""
    net, weight, x, _, _, _ = build(device)
    net.forward_batch(0, mode="training")
    net.backward_batch()
    first = np.unique(x[0:BATCH].indices)
    assert np.any(weight.gradient[first] != 0)
    net.forward_batch(BATCH, mode="training")
    net.backward_batch()
    xb = x[BATCH:2 * BATCH].toarray().astype(np.float64)
    deltas = net.layer("Output").deltas.astype(np.float64)
    expected = -(xb.T @ deltas) / BATCH
    g = weight.gradient
    touched = np.unique(x[BATCH:2 * BATCH].indices)
    untouched = np.setdiff1d(np.arange(N_FEATURES), touched)
    assert np.setdiff1d(first, touched).size > 0, "the test needs rows only the first batch has"
    assert np.all(g[untouched] == 0)
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("optimizer,lambda_", [("sgd", 0.0), ("sgd", 0.01), ("momentum", 0.0)])
def test_minibatch_training_matches_reference(device, optimizer, lambda_):
    net, weight, x, t, w0, b0 = build(device)
    net.train(3, alpha=ALPHA, lambda_=lambda_, lambda1=0.0, mu=MU, optimizer=optimizer)
    w, b = reference(x, t, w0, b0, 3, optimizer, lambda_)
    np.testing.assert_allclose(weight.weights, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weight.bias, b, rtol=1e-5, atol=1e-6)
    assert np.abs(w - w0).max() > 1e-2, "the reference barely moved"


def test_rows_no_batch_touches_keep_their_bits(device):
    """SGD without decay steps only touched rows: the untouched ones, a −0 among them, keep
    their exact bits (a whole-matrix step would add +0 and turn −0 into +0)."""
    net, weight, x, _, w0, _ = build(device)
    net.train(2, alpha=ALPHA, lambda_=0.0, lambda1=0.0, optimizer="sgd")
    untouched = np.setdiff1d(np.arange(N_FEATURES), np.unique(x.indices))
    np.testing.assert_array_equal(weight.weights[untouched].view(np.uint32),
                                  w0[untouched].view(np.uint32))
    assert np.signbit(weight.weights[350, 1])
