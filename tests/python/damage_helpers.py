# SPDX-License-Identifier: Apache-2.0
"""Helpers of the damaged-file tests (test_netcdf_damage.py, test_netcdf_values.py): a tiny
model file, and running a reader in a worker process with a time limit."""

import multiprocessing

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

LIMIT_S = 30


def _serve(conn):  # pragma: no cover - runs in the worker process
    while True:
        fn, args = conn.recv()
        try:
            fn(*args)
            result = None
        except BaseException as e:  # noqa: BLE001 - everything is reported to the parent
            result = (type(e).__name__, str(e))
        conn.send(result)


class _Worker:
    """A spawned process that runs readers for the tests. Not a fork of the test process:
    a fork made after the engine's OpenMP threads ran hangs in its first parallel loop."""

    def __init__(self):
        self.process = None

    def start(self):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()

    def run(self, fn, args):
        if self.process is None or not self.process.is_alive():
            self.start()
        self.conn.send((fn, args))
        if not self.conn.poll(LIMIT_S):
            self.process.kill()
            self.process.join()
            self.process = None
            pytest.fail(f"{fn.__name__}{args} still running after {LIMIT_S} s")
        try:
            return self.conn.recv()
        except EOFError:
            code = self.process.exitcode
            self.process = None
            pytest.fail(f"{fn.__name__}{args} killed the worker (exit code {code})")


_WORKER = _Worker()


def bounded(fn, *args):
    """Runs fn(*args) in a worker process; returns (exception type name, message) or None,
    and fails the test if it hangs or dies."""
    return _WORKER.run(fn, args)


def model_file(path, *, train=False):
    """A small sparse auto-encoder saved at `path` (trained one epoch with Adam when `train`,
    so that the file holds optimizer state)."""
    m = sp.random(24, 12, density=0.3, format="csr", random_state=5, dtype=np.float32)
    ds = dsstne.DataSet("input", m)
    config = {"Kind": "FeedForward", "ErrorFunction": "L2",
              "Layers": [{"Kind": "Input", "N": "auto", "DataSet": "input", "Sparse": True},
                         {"Kind": "Hidden", "N": 5, "Activation": "Tanh"},
                         {"Kind": "Output", "N": "auto", "DataSet": "input"}]}
    net = dsstne.Network(config, ds, batch=8)
    if train:
        net.train(epochs=1, alpha=0.01, optimizer="Adam")
    dsstne.save_network(net, path)
    return path
