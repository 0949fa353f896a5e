# SPDX-License-Identifier: Apache-2.0
"""Results come out as numpy arrays the engine writes into directly: no Python lists, no second
copy; top-K's empty slots are -1 everywhere."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne
from dsstne.evaluate import metrics


def items(rows=300, cols=400, seed=0):
    m = sp.random(rows, cols, density=0.02, format="csr", random_state=seed, dtype=np.float32)
    m.data[:] = 1
    return m


CONFIG = {"Kind": "FeedForward", "ErrorFunction": "CrossEntropy", "Layers": [
    {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True},
    {"Name": "Hidden", "Kind": "Hidden", "N": 16, "Activation": "Sigmoid"},
    {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x", "Activation": "Sigmoid"}]}


@pytest.fixture
def net(device):
    ctx = dsstne.Context(device)
    return dsstne.Network(CONFIG, dsstne.DataSet("x", items(), context=ctx), batch=64,
                          context=ctx)


def peak_numpy_bytes(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_allocates_only_its_result(net):
    out, peak = peak_numpy_bytes(net.predict)
    assert out.shape == (300, 400) and out.dtype == np.float32 and out.flags.c_contiguous
    assert out.flags.writeable
    assert peak < 1.1 * out.nbytes + 65536, f"peak {peak} for a {out.nbytes}-byte result"


def test_predict_topk_allocates_only_its_result(net):
    (scores, units), peak = peak_numpy_bytes(lambda: net.predict_topk(50))
    assert scores.dtype == np.float32 and units.dtype == np.int32
    assert peak < 1.1 * (scores.nbytes + units.nbytes) + 65536


def test_empty_top_k_slots_are_minus_one_everywhere(net):
    exclude = sp.csr_matrix(np.ones((300, 400), np.float32))
    exclude[:, :3] = 0
    exclude.eliminate_zeros()
    scores, units = net.predict_topk(5, exclude=exclude)
    assert np.all(units[:, 3:] == -1) and np.all(np.isneginf(scores[:, 3:]))
    assert np.all(units[:, :3] >= 0)
    # dsstne.evaluate's top_k pads the same way.
    top = metrics.top_k(np.zeros((2, 3)), sp.csr_matrix(np.ones((2, 3))), 2)
    assert np.all(top == -1)


def test_weights_units_and_state_come_out_as_writable_copies(net):
    net.train(1, optimizer="adam", alpha=0.01, mu=0.9)
    w = net.weight("Input", "Hidden")
    first = w.weights
    first[:] = 0  # a copy: the network's weights are untouched
    assert np.any(w.weights != 0)
    assert w.bias.shape == (16,) and w.bias.flags.writeable
    assert w.optimizer_state["velocity2"].size == 400 * 16
    net.forward_batch(0)
    assert net.layer("Hidden").units.shape == (64, 16)


def test_data_set_views_are_read_only_on_the_cpu():
    cpu = dsstne.Context("cpu")
    ds = dsstne.DataSet("x", items(), context=cpu)
    arrays = ds.sparse_arrays()
    for name in ("start", "end", "indices"):
        assert not arrays[name].flags.writeable
        with pytest.raises(ValueError):
            arrays[name][0] = 1
    weights = dsstne.DataSet("w", items(), weights=np.ones(300, np.float32), context=cpu).weights
    assert not weights.flags.writeable


def test_to_scipy_round_trips_large_data_without_a_python_loop():
    m = sp.random(20000, 3000, density=0.002, format="csr", random_state=1, dtype=np.float32)
    ds = dsstne.DataSet("x", m, copy=True)
    back = ds.to_scipy()
    assert (back != m).nnz == 0
