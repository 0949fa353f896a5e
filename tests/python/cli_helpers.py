# SPDX-License-Identifier: Apache-2.0
"""Helpers of the tool tests that need a whole job on disk: data text, its indexes, the input
and output data sets and a trained model, made with the tools themselves."""

import json

import pytest

from dsstne import cli


def autoencoder(hidden=4, in_n="auto", out_n="auto"):
    """A small autoencoder config reading x_input and predicting x_output."""
    return {"Version": 0.8, "Name": "AE", "ErrorFunction": "CrossEntropy", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": in_n, "DataSet": "x_input", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "N": hidden, "Activation": "Sigmoid"},
        {"Name": "Output", "Kind": "Output", "N": out_n, "DataSet": "x_output",
         "Activation": "Sigmoid", "Sparse": True}]}


def run(*args):
    """``dsstne ARGS`` in this process; returns the exit status."""
    return cli.main([str(a) for a in args])


def make_job(folder, lines, config=None, batch=8):
    """In `folder`: data.txt (`lines`), ae.json (`config`, default :func:`autoencoder`), the
    indexes features and samples, in.nc (data set x_input), out.nc (x_output) and m.nc trained
    one epoch."""
    (folder / "data.txt").write_text("\n".join(lines) + "\n")
    (folder / "ae.json").write_text(json.dumps(config or autoencoder()))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name, out, create in (("x_input", "in.nc", ["-c"]), ("x_output", "out.nc", [])):
            assert run("generateNetCDF", "-i", "data.txt", "-o", out, "-d", name, "-f",
                       "features", "-s", "samples", "--force", *create) == 0
        assert run("train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc", "-n", "m.nc",
                   "-e", 1, "-b", batch) == 0
    return folder



def enter(folder, monkeypatch, capsys):
    """`folder` as the working directory, with nothing captured yet (for a `work` fixture)."""
    monkeypatch.chdir(folder)
    capsys.readouterr()
    return folder
