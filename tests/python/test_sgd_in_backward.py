# SPDX-License-Identifier: Apache-2.0
"""SGD inside the backward pass (docs/design.md "SGD inside the backward pass"): with SGD and no
L1 decay, train() writes each weight step into the matrix from the gradient's product itself
(w ← α·scale·xᵀδ + (1 − α·λ)·w) instead of storing the gradient and sweeping the matrix after.
Nothing may show but speed: minibatch training equals a float64 reference with and without L2
decay, from dense and sparse inputs, beside a tied weight that keeps the usual path; the
gradient that train() no longer keeps is refused by name, and backward_batch() still gives it.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

EXAMPLES, BATCH, N_IN, N_HIDDEN, N_OUT = 24, 8, 10, 5, 4
ALPHA = 0.3


def problem(sparse, seed=11):
    rng = np.random.default_rng(seed)
    if sparse:
        x = sp.random(EXAMPLES, N_IN, density=0.3, format="csr", dtype=np.float32,
                      random_state=seed)
        x.data = rng.uniform(0.5, 1.5, x.nnz).astype(np.float32)
    else:
        x = rng.normal(size=(EXAMPLES, N_IN)).astype(np.float32)
    t = rng.normal(size=(EXAMPLES, N_OUT)).astype(np.float32)
    params = [rng.uniform(-1, 1, (N_IN, N_HIDDEN)).astype(np.float32),
              rng.uniform(-0.5, 0.5, N_HIDDEN).astype(np.float32),
              rng.uniform(-1, 1, (N_HIDDEN, N_OUT)).astype(np.float32),
              rng.uniform(-0.5, 0.5, N_OUT).astype(np.float32)]
    return x, t, params


def build(device, sparse):
    x, t, (w1, b1, w2, b2) = problem(sparse)
    ctx = dsstne.Context(device)
    cfg = {"Version": 0.8, "Name": "sgd", "Kind": "FeedForward", "ShuffleIndices": False,
           "ErrorFunction": "L2",
           "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x",
                       "Sparse": sparse},
                      {"Name": "Hidden", "Kind": "Hidden", "N": N_HIDDEN,
                       "Activation": "Sigmoid"},
                      {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "t",
                       "Activation": "Linear"}]}
    data = [dsstne.DataSet("x", x, context=ctx), dsstne.DataSet("t", t, context=ctx)]
    net = dsstne.Network(cfg, data, batch=BATCH, context=ctx)
    for (a, b), (w, bias) in ((("Input", "Hidden"), (w1, b1)), (("Hidden", "Output"), (w2, b2))):
        net.weight(a, b).weights = w
        net.weight(a, b).bias = bias
    return net, x, t


def sgd_reference(sparse, epochs, lambda_):
    x, t, params = problem(sparse)
    x = (x.toarray() if sparse else x).astype(np.float64)
    t = t.astype(np.float64)
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    for _ in range(epochs):
        for at in range(0, EXAMPLES, BATCH):
            xb, tb = x[at:at + BATCH], t[at:at + BATCH]
            h = 1.0 / (1.0 + np.exp(-(xb @ w1 + b1)))
            d2 = h @ w2 + b2 - tb
            d1 = (d2 @ w2.T) * h * (1.0 - h)
            g2 = -(h.T @ d2) / len(xb) - lambda_ * w2
            g1 = -(xb.T @ d1) / len(xb) - lambda_ * w1
            w2, b2 = w2 + ALPHA * g2, b2 - ALPHA * d2.mean(axis=0)
            w1, b1 = w1 + ALPHA * g1, b1 - ALPHA * d1.mean(axis=0)
    return w1, b1, w2, b2


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("lambda_", [0.0, 0.01])
def test_minibatch_sgd_matches_reference(device, sparse, lambda_):
    net, _, _ = build(device, sparse)
    start = net.weight("Hidden", "Output").weights.copy()
    net.train(3, alpha=ALPHA, lambda_=lambda_, lambda1=0.0, optimizer="sgd")
    w1, b1, w2, b2 = sgd_reference(sparse, 3, lambda_)
    for (a, b), (w, bias) in ((("Input", "Hidden"), (w1, b1)), (("Hidden", "Output"), (w2, b2))):
        np.testing.assert_allclose(net.weight(a, b).weights, w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net.weight(a, b).bias, bias, rtol=1e-5, atol=1e-6)
    assert np.abs(w2 - start).max() > 1e-2, "the reference barely moved"


def test_the_gradient_train_did_not_keep_is_refused_until_backward(device):
    net, _, _ = build(device, False)
    net.train(1, alpha=ALPHA, lambda_=0.01, lambda1=0.0, optimizer="sgd")
    weight = net.weight("Hidden", "Output")
    with pytest.raises(dsstne.DsstneError, match="gradient of Hidden->Output is not kept"):
        weight.gradient
    net.forward_batch(0, mode="training")
    net.backward_batch()
    h = net.layer("Hidden").units.astype(np.float64)
    d2 = net.layer("Output").deltas.astype(np.float64)
    np.testing.assert_allclose(weight.gradient, -(h.T @ d2) / BATCH, rtol=1e-5, atol=1e-7)


def test_l1_decay_and_other_optimizers_keep_the_gradient(device):
    """Only SGD without L1 decay steps inside the product; the rest store the gradient."""
    for kwargs in (dict(optimizer="sgd", lambda1=0.001), dict(optimizer="momentum")):
        net, _, _ = build(device, False)
        net.train(1, alpha=ALPHA, **kwargs)
        assert net.weight("Hidden", "Output").gradient.shape == (N_HIDDEN, N_OUT)


def test_a_tied_weight_beside_steps_as_before(device):
    """An autoencoder whose decoder layer reads an encoder matrix transposed: that matrix takes
    two products, so it keeps the stored gradient while the outer matrices step inside their
    products. Momentum with μ = 0 is the same SGD step through stored gradients everywhere; the
    two runs agree to rounding."""
    x, _, _ = problem(True)
    ctx = dsstne.Context(device, seed=3)

    def hidden(name, n, **extra):
        return dict(Name=name, Kind="Hidden", N=n, Activation="Sigmoid", **extra)

    cfg = {"Version": 0.8, "Name": "tied", "Kind": "FeedForward", "ShuffleIndices": False,
           "ErrorFunction": "L2",
           "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x",
                       "Sparse": True},
                      hidden("Hidden", N_HIDDEN), hidden("Code", 3),
                      hidden("Back", N_HIDDEN,
                             SharedWeights={"InputLayer": "Code", "SourceInputLayer": "Hidden",
                                            "SourceOutputLayer": "Code", "Transposed": True}),
                      {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
                       "Activation": "Linear"}]}
    pairs = (("Input", "Hidden"), ("Hidden", "Code"), ("Back", "Output"))
    finals = []
    for optimizer in ("sgd", "momentum"):
        net = dsstne.Network(cfg, dsstne.DataSet("x", x, context=ctx), batch=BATCH, context=ctx)
        net.train(2, alpha=ALPHA, lambda_=0.0, lambda1=0.0, mu=0.0, optimizer=optimizer)
        finals.append([net.weight(*pair).weights for pair in pairs])
        if optimizer == "sgd":  # the tied matrix kept its gradient, the others did not
            assert net.weight("Hidden", "Code").gradient.shape == (N_HIDDEN, 3)
            with pytest.raises(dsstne.DsstneError, match="not kept"):
                net.weight("Back", "Output").gradient
    for pair, sgd_w, momentum_w in zip(pairs, *finals):
        np.testing.assert_allclose(sgd_w, momentum_w, rtol=1e-5, atol=1e-6, err_msg=str(pair))
