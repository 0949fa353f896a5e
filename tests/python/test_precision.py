# SPDX-License-Identifier: Apache-2.0
"""The arithmetic of dense products: Context(precision="fp32" | "tf32" | "bf16") and the tools'
--precision. bf16 rounds both GEMM inputs to bfloat16 and sums in float32, on the CPU too (the
GPU's bf16 tensor cores, emulated), so its effect and its determinism are testable here."""

import numpy as np
import pytest

import dsstne
from dsstne import synthetic

from cli_helpers import make_job, run


def test_precision_names_and_the_tf32_shorthand():
    assert dsstne.Context("cpu").precision == "fp32"
    assert dsstne.Context("cpu", tf32=True).precision == "tf32"
    assert dsstne.Context("cpu", precision="BF16").precision == "bf16"
    assert dsstne.Context("cpu", precision="tf32", tf32=True).tf32
    with pytest.raises(ValueError, match="precision must be one of fp32, tf32, bf16, got 'fp16'"):
        dsstne.Context("cpu", precision="fp16")
    with pytest.raises(ValueError, match="tf32=True contradicts precision='bf16'"):
        dsstne.Context("cpu", precision="bf16", tf32=True)


def autoencoder():
    return {"Version": 0.8, "Name": "ae", "Kind": "FeedForward", "ShuffleIndices": True,
            "ErrorFunction": "CrossEntropy",
            "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x",
                        "Sparse": True},
                       {"Name": "Hidden", "Kind": "Hidden", "N": 32, "Activation": "Sigmoid"},
                       {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
                        "Activation": "Sigmoid", "Sparse": True}]}


def train(precision, matrix):
    ctx = dsstne.Context("cpu", seed=3, precision=precision)
    net = dsstne.Network(autoencoder(), [dsstne.DataSet("x", matrix, context=ctx)], batch=32,
                         context=ctx)
    history = net.train(4, alpha=0.5, lambda_=0.0, optimizer="sgd")
    return net, [h["error"] for h in history]


def test_bf16_training_is_deterministic_close_to_fp32_and_not_fp32():
    matrix = synthetic.interactions(128, 300, per_user=10, seed=2)
    fp32, fp32_errors = train("fp32", matrix)
    bf16, bf16_errors = train("bf16", matrix)
    again, again_errors = train("bf16", matrix)
    assert bf16_errors == again_errors
    for a, b in zip(bf16.weights, again.weights):
        np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_allclose(bf16_errors, fp32_errors, rtol=0.02)
    assert bf16_errors != fp32_errors
    assert bf16_errors[-1] < bf16_errors[0]
    w16, w32 = bf16.weight("Hidden", "Output").weights, fp32.weight("Hidden", "Output").weights
    assert 0 < np.abs(w16 - w32).max() < 0.05 * np.abs(w32).max()


def test_the_tools_take_precision(tmp_path, monkeypatch, capsys):
    pytest.importorskip("netCDF4")
    lines = [f"u{i}\t" + ":".join(f"i{(i * 7 + j) % 40}" for j in range(5)) for i in range(30)]
    make_job(tmp_path, lines)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert run("train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc", "-n", "bf16.nc",
               "-e", 2, "-b", 8, "--device", "cpu", "--precision", "bf16") == 0
    assert "cpu" in capsys.readouterr().out
    status = None
    try:
        status = run("train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc", "-n", "x.nc",
                     "--precision", "fp8")
    except SystemExit as e:
        status = e.code
    assert status not in (0, None)
    assert "--precision" in capsys.readouterr().err
