# SPDX-License-Identifier: Apache-2.0
"""CI-bounded fuzzing of the Python API: hypothesis draws sequences of calls on one network
(training with any arguments, prediction with data of the wrong shape, setters given anything,
batches of any size) and data sets made from arrays that may lie about themselves. Every call
either works or raises a clean exception, and a call that fails (other than training that
diverges) leaves the network exactly as it was. Never a crash, never a hang."""

import faulthandler
import hashlib
import os

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import dsstne  # noqa: E402

HANG_S = 60
CASES = int(os.environ.get("DSSTNE_FUZZ_CASES", "150"))
CLEAN = (ValueError, TypeError, IndexError, MemoryError, NotImplementedError, KeyError,
         dsstne.NumericalError)

CONFIG = {"Kind": "FeedForward", "ErrorFunction": "CrossEntropy", "Layers": [
    {"Name": "Input", "Kind": "Input", "N": 7, "DataSet": "x", "Sparse": True},
    {"Name": "Hidden", "Kind": "Hidden", "N": 4, "Activation": "Tanh", "pDropout": 0.2},
    {"Name": "Output", "Kind": "Output", "N": 7, "DataSet": "x", "Activation": "Sigmoid"}]}


def items(rows, cols, seed):
    m = sp.random(rows, cols, density=0.4, format="csr", random_state=seed, dtype=np.float32)
    m.data[:] = 1
    return m


ODD = st.sampled_from([None, "x", b"\xff", True, -1, 0, 1, 2, 3.5, 2**31, 2**63, 2**64,
                       -2**63, float("nan"), float("inf"), -float("inf"), 1e39, 1e-45, [],
                       [1, 2], {}, object()])
REAL = st.one_of(st.floats(allow_nan=True, allow_infinity=True), ODD,
                 st.sampled_from([0.0, 0.001, 0.5, 0.9, 0.999, 1.0, 1.0001, -0.5]))
WHOLE = st.one_of(st.integers(-3, 70), ODD)
OPTIMIZERS = st.sampled_from(["sgd", "momentum", "adagrad", "nesterov", "rmsprop", "adadelta",
                              "adam", "ADAM", "lbfgs", "", 5])
DATA = st.sampled_from(["good", "narrow", "wide", "dense", "fewer", "weighted", None, "junk"])


def data_set(kind):
    return {"good": lambda: dsstne.DataSet("x", items(12, 7, 3)),
            "narrow": lambda: dsstne.DataSet("x", items(12, 5, 4)),
            "wide": lambda: dsstne.DataSet("x", items(12, 9, 5)),
            "dense": lambda: dsstne.DataSet("x", items(12, 7, 6).toarray()),
            "fewer": lambda: dsstne.DataSet("x", items(5, 7, 7)),
            "weighted": lambda: dsstne.DataSet("x", items(12, 7, 8),
                                               weights=np.linspace(0, 2, 12)),
            "junk": lambda: "junk", None: lambda: None}[kind]()


def array(shape_kind, fill):
    shape = {"weights": (7, 4), "bias": (4,), "short": (3,), "long": (40,),
             "square": (4, 4)}[shape_kind]
    return np.full(shape, fill, dtype=np.float64)


# Plausible values half the time, so that calls also get past their checks and do work.
FRACTION = st.one_of(st.floats(0, 0.99), REAL)
COUNT = st.one_of(st.integers(0, 3), WHOLE)
CALLS = st.one_of(
    st.tuples(st.just("train"), COUNT, FRACTION, FRACTION, FRACTION, OPTIMIZERS, DATA),
    st.tuples(st.just("train"), COUNT, FRACTION, FRACTION, FRACTION, OPTIMIZERS,
              st.just(None)),
    st.tuples(st.just("predict"), DATA, st.sampled_from([None, "Hidden", "Output", "Input",
                                                         "nope", 5])),
    st.tuples(st.just("topk"), WHOLE, DATA, st.sampled_from([None, "input", "junk", "rows"])),
    st.tuples(st.just("batch"), WHOLE),
    st.tuples(st.just("weights"), st.sampled_from(["weights", "bias", "short", "long",
                                                   "square"]), REAL),
    st.tuples(st.just("bias"), st.sampled_from(["bias", "short", "weights"]), REAL),
    st.tuples(st.just("state"), st.sampled_from(["velocity", "velocity2", "bias_velocity",
                                                 "momentum"]), REAL),
    st.tuples(st.just("norm"), REAL),
    st.tuples(st.just("forward"), WHOLE, st.sampled_from(["prediction", "training",
                                                          "validation", "other"])),
    st.tuples(st.just("backward")),
    st.tuples(st.just("error"), DATA),
    st.tuples(st.just("progress"), WHOLE, WHOLE, OPTIMIZERS),
    st.tuples(st.just("attach"), DATA),
)


def call(net, c):
    op = c[0]
    w = net.weight("Input", "Hidden")
    if op == "train":
        _, epochs, alpha, mu, lam, optimizer, validation = c
        net.train(epochs, alpha=alpha, mu=mu, lambda_=lam, optimizer=optimizer,
                  validation=data_set(validation) if validation else None)
    elif op == "predict":
        net.predict(data_set(c[1]), layer=c[2])
    elif op == "topk":
        exclude = {"rows": sp.csr_matrix(np.ones((3, 7), np.float32))}.get(c[3], c[3])
        net.predict_topk(c[1], data_set(c[2]), exclude=exclude)
    elif op == "batch":
        net.batch = c[1]
    elif op == "weights":
        w.weights = array(c[1], c[2]) if isinstance(c[2], float) else c[2]
    elif op == "bias":
        w.bias = array(c[1], c[2]) if isinstance(c[2], float) else c[2]
    elif op == "state":
        w.optimizer_state = {c[1]: array("weights", c[2]) if isinstance(c[2], float) else c[2]}
    elif op == "norm":
        w.norm = c[1]
    elif op == "forward":
        net.forward_batch(c[1], c[2])
    elif op == "backward":
        net.backward_batch()
    elif op == "error":
        net.error(data_set(c[1]))
    elif op == "progress":
        net.set_progress(c[1], c[2], c[3])
    elif op == "attach":
        net.attach(data_set(c[1]))


def fingerprint(net):
    h = hashlib.sha256()
    h.update(repr((net.batch, net.examples, net.epochs_trained, net.steps,
                   net.training_mode)).encode())
    for w in net.weights:
        h.update(w.weights.tobytes())
        h.update(w.bias.tobytes())
        h.update(repr((w.norm, w.locked)).encode())
        for name, values in sorted(w.optimizer_state.items()):
            h.update(name.encode() + values.tobytes())
    return h.hexdigest()


@settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(calls=st.lists(CALLS, min_size=1, max_size=6))
def test_any_sequence_of_calls_fails_cleanly_and_leaves_the_network_as_it_was(calls):
    net = dsstne.Network(CONFIG, data_set("good"), batch=5)
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        for c in calls:
            before = fingerprint(net)
            try:
                call(net, c)
            except dsstne.NumericalError:
                pass  # training diverged: the finished batches' updates stay
            except CLEAN:
                assert fingerprint(net) == before, f"{c} failed and changed the network"
    finally:
        faulthandler.cancel_dump_traceback_later()


LIES = st.tuples(
    st.lists(st.integers(-3, 30), min_size=0, max_size=8),          # indptr
    st.lists(st.integers(-3, 2**33), min_size=0, max_size=12),       # indices
    st.lists(st.floats(allow_nan=True), min_size=0, max_size=12),    # values
    st.tuples(st.integers(-2, 9), st.integers(-2, 12)),              # shape
    st.sampled_from([np.int32, np.int64, np.uint32, np.uint64, np.float64]),
    st.sampled_from([None, True, False]))


class FakeCsr:
    def __init__(self, indptr, indices, data, shape):
        self.indptr, self.indices, self.data, self.shape = indptr, indices, data, shape

    def tocsr(self):
        return self


@settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(lie=LIES)
def test_data_sets_from_arrays_that_lie_fail_cleanly(lie):
    indptr, indices, values, shape, index_type, boolean = lie
    try:
        indptr = np.array(indptr, dtype=index_type)
        indices = np.array(indices, dtype=index_type)
    except OverflowError:  # numpy refuses the value itself: nothing reaches dsstne
        return
    fake = FakeCsr(indptr, indices, np.array(values, dtype=np.float32), shape)
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        ds = dsstne.DataSet("x", fake, boolean=boolean)
    except CLEAN:
        return
    finally:
        faulthandler.cancel_dump_traceback_later()
    # What was accepted reads back as what it is.
    back = ds.to_scipy()
    assert back.shape == (shape[0], shape[1]) and np.all(np.isfinite(back.data))
