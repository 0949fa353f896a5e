# SPDX-License-Identifier: Apache-2.0
"""The tools check index sizes and data set widths against the layers they label or feed, and
say which flag, file and layer disagree, with both sizes; and an empty top-k slot is no item
whether predict_topk marks it 2**32 - 1 (uint32) or -1 (int32)."""

import json

import numpy as np
import pytest

pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import textformats as tf  # noqa: E402

from cli_helpers import autoencoder as config  # noqa: E402
from cli_helpers import enter, make_job, run  # noqa: E402

USERS, ITEMS = 300, 40   # the sample index spans 384 units, the item index 128


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("index_sizes")
    rng = np.random.default_rng(9)
    make_job(d, [f"u{u}\t" + ":".join(f"i{i}" for i in {u % ITEMS, *rng.choice(ITEMS, 2)})
                 for u in range(USERS)], batch=64)
    for name, n in (("wide", 256), ("narrow", 64)):
        (d / f"{name}.json").write_text(json.dumps(config(out_n=n)))
    return d


@pytest.fixture
def work(files, monkeypatch, capsys):
    return enter(files, monkeypatch, capsys)


def error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dsstne "), err
    return err


PREDICT = ("predict", "-n", "m.nc", "-r", "data.txt", "-s", "recs", "-k", 3, "--force")


def test_sample_index_as_the_output_index_is_refused(work, capsys):
    assert run(*PREDICT, "-i", "features", "-o", "samples") == 1
    err = error(capsys)
    assert "-o samples: the index labels 300 units" in err
    assert "output layer 'Output' of -n m.nc has 128" in err


def test_sample_index_as_the_input_index_is_refused(work, capsys):
    assert run(*PREDICT, "-i", "samples", "-o", "features") == 1
    err = error(capsys)
    assert "-i samples: the index labels 300 units" in err
    assert "input layer 'Input' of -n m.nc has 128" in err


def test_an_index_with_padding_fits(work, capsys):
    assert tf.index_width(tf.read_index(work / "features")) == ITEMS
    assert run(*PREDICT, "-i", "features", "-o", "features") == 0
    lines = (work / "recs").read_text().splitlines()
    assert len(lines) == USERS and all(len(line.split("\t")[1].split(":")) == 4 for line in lines)


@pytest.mark.parametrize("name", ["wide", "narrow"])
def test_train_refuses_a_data_set_that_does_not_fit_its_layer(work, capsys, name):
    assert run("train", "-c", f"{name}.json", "-i", "in.nc", "-o", "out.nc", "-n", "x.nc",
               "-e", 1, "--force") == 1
    err = error(capsys)
    assert "-o out.nc: data set 'x_output' has 128 units" in err and "layer 'Output'" in err
    assert f"-c {name}.json" in err
    assert ("256" if name == "wide" else "64") in err
    assert not (work / "x.nc").exists()


@pytest.mark.parametrize("name", ["wide", "narrow"])
def test_encoder_refuses_a_data_set_that_does_not_fit_its_layer(work, capsys, name):
    cdl = {"Command": "Train", "Network": f"{name}.json", "Data": ["in.nc", "out.nc"],
           "TrainingParameters": {"Epochs": 1, "Results": "x.nc"}}
    (work / "fit.cdl").write_text(json.dumps(cdl))
    assert run("encoder", "fit.cdl", "--force") == 1
    err = error(capsys)
    assert "fit.cdl: Data" in err and "out.nc: data set 'x_output'" in err
    assert f"Network {work / (name + '.json')}" in err and "layer 'Output'" in err


def test_evaluate_checks_the_index_against_the_model(work, capsys):
    assert run("evaluate", "-r", "data.txt", "-i", "samples", "-n", "m.nc", "--seeds", 1,
               "-k", 5) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert "-i samples: the index labels 300 units" in err and "-n m.nc has 128" in err


def test_evaluate_checks_a_netcdf_data_set_against_the_model(work, capsys, tmp_path):
    wide = tmp_path / "wide.nc"
    matrix = dsstne.read_netcdf(work / "in.nc")[0].to_scipy()
    import scipy.sparse as sp
    dsstne.write_netcdf(wide, dsstne.DataSet("x_input", sp.hstack([matrix, matrix]).tocsr(),
                                             boolean=True))
    assert run("evaluate", "--netcdf", wide, "-n", "m.nc", "--seeds", 1, "-k", 5) == 1
    err = error(capsys)
    assert f"--netcdf {wide}: data set 'x_input' has 256 units" in err
    assert "input layer 'Input' of -n m.nc has 128" in err


def test_evaluate_refuses_a_config_wider_than_the_data(work, capsys):
    (work / "fixed.json").write_text(json.dumps(config(in_n=ITEMS, out_n=64)))
    assert run("evaluate", "-r", "data.txt", "-c", "fixed.json", "-e", 1, "--seeds", 1,
               "-k", 5, "--no-baselines") == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert "-c fixed.json: data set 'x_output' has" in err
    assert "but layer 'Output' has 64" in err


class _Int32TopK:
    """A network whose predict_topk marks empty slots as -1 (int32), the engine's new way."""

    def __init__(self, net):
        self._net = net

    def __getattr__(self, name):
        return getattr(self._net, name)

    def predict_topk(self, k, data=None, **kwargs):
        scores, units = self._net.predict_topk(k, data, **kwargs)
        empty = units == 2**32 - 1
        units = units.astype(np.int32)
        units[empty] = -1
        scores = scores.copy()
        scores[empty] = -np.inf
        return scores, units


@pytest.mark.parametrize("int32", [False, True])
def test_empty_topk_slots_are_no_items(work, monkeypatch, int32):
    import dsstne.model
    if int32:
        real = dsstne.model.load_network
        monkeypatch.setattr(dsstne.model, "load_network", lambda *a, **kw: _Int32TopK(
            real(*a, **kw)))
    # every user has seen about 3 of the 40 items: 60 asked, 37 or so exist
    assert run(*PREDICT[:-3], "-k", 60, "-f", "data.txt", "-i", "features", "-o",
               "features", "--force") == 0
    seen = {line.split("\t")[0]: {p for p in line.split("\t")[1].split(":")}
            for line in (work / "data.txt").read_text().splitlines()}
    for line in (work / "recs").read_text().splitlines():
        user, recs = line.split("\t")
        items = [r.split(",")[0] for r in recs.split(":") if r]
        assert len(items) == ITEMS - len(seen[user]) and not set(items) & seen[user]


def test_a_small_sample_index_as_the_output_index_is_a_warning(work, capsys):
    # 30 samples fit the 128 output units, so only the labels tell: they are -r's samples
    lines = (work / "data.txt").read_text().splitlines()[:30]
    (work / "few.txt").write_text("\n".join(lines) + "\n")
    tf.write_index(work / "few_samples", {f"u{u}": u for u in range(30)})
    assert run(*substituted_r("few.txt"), "-i", "features", "-o", "few_samples") == 0
    err = capsys.readouterr().err
    assert "warning: the labels of -o few_samples are the samples of -r few.txt" in err
    assert run(*substituted_r("few.txt"), "-i", "features", "-o", "features") == 0
    assert capsys.readouterr().err == ""


def substituted_r(path):
    args = list(PREDICT)
    args[args.index("-r") + 1] = path
    return args
