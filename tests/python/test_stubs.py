# SPDX-License-Identifier: Apache-2.0
"""The type stubs of dsstne._core agree with the module (mypy's stubtest), and help() and
inspect show the real signatures of the classes."""

import inspect
import pathlib
import subprocess
import sys

import pytest

import dsstne

ALLOWLIST = pathlib.Path(__file__).with_name("stubtest_allowlist.txt")


def test_stubs_pass_stubtest(tmp_path):
    pytest.importorskip("mypy", reason="stubtest comes with mypy (pip install '.[test]')")
    # Run in an empty directory: mypy writes its cache into the working directory.
    run = subprocess.run([sys.executable, "-m", "mypy.stubtest", "dsstne._core", "--allowlist",
                          str(ALLOWLIST)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("cls, parameters", [
    (dsstne.Network, ["config", "data", "batch", "context", "device", "seed"]),
    (dsstne.DataSet, ["name", "data", "boolean", "weights", "index", "dims",
                      "sparse_ignore_zero", "context", "copy"]),
    (dsstne.Context, ["device", "seed", "tf32", "comm", "transport", "precision",
                     "conv_algorithms"]),
])
def test_classes_show_their_real_signature(cls, parameters):
    signature = inspect.signature(cls)
    assert list(signature.parameters) == parameters
    import pydoc
    assert f"{cls.__name__}{signature}" in pydoc.render_doc(cls, renderer=pydoc.plaintext)


def test_methods_show_their_signature():
    assert "alpha_interval=0" in str(inspect.signature(dsstne.Network.train))
    assert str(inspect.signature(dsstne.Network.predict_topk)).startswith("(self, k, data=None")
