# SPDX-License-Identifier: Apache-2.0
"""A sparse autoencoder trained end to end from Python: error falls, recommendations are
personal, input items are excluded, predictions have the right shapes."""

import json

import numpy as np
import pytest

import dsstne
from dsstne import synthetic

GROUPS = 4


def autoencoder(width=32, activation="Sigmoid", error="ScaledMarginalCrossEntropy"):
    return {
        "Version": 0.8, "Name": "ae", "ShuffleIndices": True,
        "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0,
                                       "zeroScale": 1.0},
        "Layers": [
            {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": True},
            {"Name": "Hidden", "Kind": "Hidden", "N": width, "Activation": activation},
            {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
             "Activation": "Sigmoid"},
        ],
        "ErrorFunction": error,
    }


@pytest.fixture
def items():
    return synthetic.interactions(600, 240, per_user=12, groups=GROUPS, taste=0.9, zipf=0.5,
                                  seed=3)


def test_training_learns_taste_groups(device, items):
    data = dsstne.DataSet("items", items, context=dsstne.Context(device))
    net = dsstne.Network(autoencoder(), data, batch=64, device=device)
    history = net.train(15, alpha=0.01, optimizer="adam", mu=0.9, lambda_=0.0)
    errors = [h["error"] for h in history]
    assert len(errors) == 15 and net.epochs_trained == 15
    assert errors[-1] < 0.5 * errors[0]
    scores, top = net.predict_topk(10, exclude="input")
    assert scores.shape == top.shape == (600, 10)
    assert np.all(np.diff(scores, axis=1) <= 0), "scores must be descending"
    in_group = np.mean(top % GROUPS == (np.arange(600) % GROUPS)[:, None])
    assert in_group > 0.8, in_group
    for user in range(600):  # nothing the user already has
        assert not set(top[user]) & set(items.indices[items.indptr[user]:items.indptr[user + 1]])


def test_predict_shapes_and_consistency(items):
    data = dsstne.DataSet("items", items)
    net = dsstne.Network(autoencoder(), data, batch=100)
    net.train(2, alpha=0.01, optimizer="adam", mu=0.9)
    out = net.predict()
    assert out.shape == (600, 240) and out.dtype == np.float32
    assert np.all((out > 0) & (out < 1))
    hidden = net.predict(layer="Hidden")
    assert hidden.shape == (600, 32)
    # top-k without exclusions is the argsort of the predictions (ties by index)
    scores, top = net.predict_topk(7)
    expected = np.argsort(-out, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(top, expected)
    np.testing.assert_array_equal(scores, np.take_along_axis(out, expected, axis=1))
    # predicting other data (fewer examples) works and leaves the training binding in place
    other = dsstne.DataSet("other", items[:10])
    # (BLAS may round differently for another batch shape, hence a tolerance)
    np.testing.assert_allclose(net.predict(other), out[:10], rtol=1e-5, atol=1e-7)
    assert net.examples == 600


def test_topk_any_k_and_padding(items):
    data = dsstne.DataSet("items", items)
    net = dsstne.Network(autoencoder(), data, batch=128)
    scores, top = net.predict_topk(500)  # DSSTNE capped k at 128
    assert scores.shape == (600, 500)
    assert np.all(top[:, :240] < 240)
    assert top.dtype == np.int32
    assert np.all(top[:, 240:] == -1) and np.all(np.isneginf(scores[:, 240:]))


def test_validation_error_and_callback(items):
    train = dsstne.DataSet("items", items[:500])
    valid = dsstne.DataSet("items", items[500:])
    net = dsstne.Network(autoencoder(), train, batch=64)
    seen = []
    history = net.train(3, alpha=0.01, optimizer="adam", mu=0.9, validation=valid,
                        callback=seen.append)
    assert [h["epoch"] for h in seen] == [1, 2, 3]
    assert all(h["validation_error"] is not None and h["validation_error"] > 0 for h in history)
    assert net.examples == 500
    assert history[-1]["validation_error"] == pytest.approx(net.error(valid), rel=1e-6)


def test_callback_exception_stops_training(items):
    net = dsstne.Network(autoencoder(), dsstne.DataSet("items", items), batch=64)

    def boom(stats):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        net.train(5, callback=boom)
    assert net.epochs_trained == 1


def test_alpha_schedule(items):
    net = dsstne.Network(autoencoder(), dsstne.DataSet("items", items), batch=128)
    history = net.train(5, alpha=0.1, alpha_interval=2, alpha_multiplier=0.5)
    assert [h["alpha"] for h in history] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


@pytest.fixture
def python_sigint():
    # Python's own SIGINT handler for the test: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and Python keeps it so, where a Ctrl-C test
    # would train on for good instead of failing.
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_training_between_batches(items, python_sigint):
    import os
    import signal
    import threading

    net = dsstne.Network(autoencoder(width=64), dsstne.DataSet("items", items), batch=8)
    before = net.weight("Input", "Hidden").weights
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            net.train(100000)
    finally:
        timer.cancel()
    assert net.epochs_trained < 100000
    assert net.steps > 0  # the batches before Ctrl-C were applied, not lost
    assert not np.array_equal(before, net.weight("Input", "Hidden").weights)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_that_python_drops_in_a_finalizer_still_stops_training(items, python_sigint):
    # The garbage collector can run a finalizer during an epoch callback; a Ctrl-C whose handler
    # runs inside it raises a KeyboardInterrupt that Python reports as unraisable and drops. The
    # interrupt must still stop training at the next batch (it once trained on for good).
    import _thread

    class ArmsCtrlCInItsFinalizer:
        def __del__(self):
            _thread.interrupt_main()
            for _ in range(3):  # the loop lets the handler run here, inside the finalizer
                pass

    def callback(stats):
        if stats["epoch"] == 1:
            ArmsCtrlCInItsFinalizer()

    net = dsstne.Network(autoencoder(), dsstne.DataSet("items", items), batch=64)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2 at example 0"):
        net.train(20, callback=callback)
    assert net.epochs_trained == 1


def test_training_restores_the_sigint_handler(items):
    import signal

    before = signal.getsignal(signal.SIGINT)
    net = dsstne.Network(autoencoder(), dsstne.DataSet("items", items), batch=64)
    net.train(1)
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(RuntimeError, match="stop"):
        net.train(2, callback=lambda stats: (_ for _ in ()).throw(RuntimeError("stop")))
    assert signal.getsignal(signal.SIGINT) is before


def test_config_and_optimizer_state_let_training_continue_exactly(items):
    cfg = dict(autoencoder(), Denoising={"p": 0.2})
    cfg["Layers"][1]["pDropout"] = 0.3
    data = dsstne.DataSet("items", items)
    whole = dsstne.Network(cfg, data, batch=64)
    whole.train(2, optimizer="adam", alpha=0.01, mu=0.9)
    # a second network from the first's description, weights, optimizer state and progress
    copy = dsstne.Network(whole.config, data, batch=64)
    assert json.loads(copy.config) == json.loads(whole.config)
    copy.set_progress(whole.epochs_trained, whole.steps, whole.training_mode)
    for a, b in zip(whole.weights, copy.weights):
        b.weights, b.bias, b.optimizer_state = a.weights, a.bias, a.optimizer_state
    assert whole.training_mode == "Adam" and copy.steps == whole.steps
    whole.train(2, optimizer="adam", alpha=0.01, mu=0.9)
    copy.train(2, optimizer="adam", alpha=0.01, mu=0.9)
    for a, b in zip(whole.weights, copy.weights):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
