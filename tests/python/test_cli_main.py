# SPDX-License-Identifier: Apache-2.0
"""``python -m dsstne`` is the ``dsstne`` command, and the example configs are installed with the
package: ``dsstne.examples`` and ``python -m dsstne.examples``."""

import json
import subprocess
import sys

import pytest

import dsstne
from dsstne import examples


def python_m(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_python_m_dsstne_help_lists_the_tools():
    done = python_m("dsstne", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: dsstne <tool>")
    for tool in ("generateNetCDF", "train", "predict", "encoder", "evaluate"):
        assert tool in done.stdout


def test_python_m_dsstne_runs_a_tool():
    done = python_m("dsstne", "train", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: dsstne train")
    assert "--continue" in done.stdout


def test_python_m_dsstne_errors_are_one_line_with_status_1(tmp_path):
    (tmp_path / "model.nc").write_bytes(b"CDF\x01 not really")
    done = python_m("dsstne", "train", "-c", "model.nc", "-i", "x.nc", "-o", "x.nc",
                    "-n", "m.nc", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("dsstne train: error: -c model.nc: a NetCDF file, not the JSON network "
                           "description\n")


def test_examples_names_and_paths():
    names = examples.names()
    assert {"autoencoder.json", "movielens_autoencoder.json", "dae_sigmoid.json",
            "mult_dae.json"} <= set(names)
    for name in names:
        assert json.loads(examples.path(name).read_text())["Layers"]
    assert examples.path("autoencoder") == examples.path("autoencoder.json")
    with pytest.raises(ValueError, match="no example config 'nope'.*autoencoder.json"):
        examples.path("nope")


def test_an_example_config_trains():
    from dsstne import synthetic
    data = dsstne.DataSet("ratings", synthetic.interactions(40, 30, per_user=4, seed=2))
    net = dsstne.Network(examples.path("autoencoder.json"), data, batch=16)
    assert len(net.train(1)) == 1


def test_python_m_dsstne_examples(tmp_path):
    listed = python_m("dsstne.examples")
    assert listed.returncode == 0 and listed.stdout.split() == examples.names()
    shown = python_m("dsstne.examples", "dae_sigmoid.json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout) == json.loads(examples.path("dae_sigmoid.json").read_text())
    where = python_m("dsstne.examples", "--path", "mult_dae.json")
    assert where.returncode == 0 and where.stdout.strip() == str(examples.path("mult_dae.json"))
    missing = python_m("dsstne.examples", "nope.json")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no example config 'nope.json'" in missing.stderr


def test_write_data_text_reads_back(tmp_path):
    from dsstne import synthetic, textformats as tf
    matrix = synthetic.interactions(30, 12, per_user=3, seed=4)
    synthetic.write_data_text(tmp_path / "r.txt", matrix)
    lines = (tmp_path / "r.txt").read_text().splitlines()
    assert len(lines) == 30 and lines[0].startswith("u0\t")
    features = {f"i{i}": i for i in range(12)}
    back = tf.read_data(tmp_path / "r.txt", features=features, feature_mode="fixed")
    assert back.samples == [f"u{u}" for u in range(30)]
    back.matrix.sort_indices()
    assert (back.matrix.indptr == matrix.indptr).all()     # values are left out: the pattern
    assert (back.matrix.indices == matrix.indices).all()
