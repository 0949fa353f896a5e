# SPDX-License-Identifier: Apache-2.0
"""Helpers of the damaged-file tests (test_netcdf_damage.py, test_netcdf_values.py): a tiny
model file, and running a reader in a child process with a time limit."""

import os
import pickle
import signal
import time

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

LIMIT_S = 30


def bounded(fn, *args):
    """Runs fn(*args) in a forked child; returns (exception type name, message) or None, and
    fails the test if the child hangs or dies."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            fn(*args)
            result = None
        except BaseException as e:  # noqa: BLE001 - everything is reported to the parent
            result = (type(e).__name__, str(e)[:4000])  # fits the pipe: no blocked child
        os.write(w, pickle.dumps(result))
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        pytest.fail(f"{fn.__name__}{args} still running after {LIMIT_S} s")
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    if os.WIFSIGNALED(status):
        pytest.fail(f"{fn.__name__}{args} died of signal {os.WTERMSIG(status)}")
    return pickle.loads(data)


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
