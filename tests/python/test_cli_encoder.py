# SPDX-License-Identifier: Apache-2.0
"""``dsstne encoder FILE.cdl`` (spec/formats.md §4.4, §5): Train, Predict and Validate end to end
on tiny generated data in a temporary directory, DSSTNE's top-k metrics on hand-computed cases,
and one-line errors."""

import json
import math
import re

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
import dsstne.gradcheck  # noqa: E402
from dsstne import cli  # noqa: E402
from dsstne.cli.encoder import dsstne_topk_metrics  # noqa: E402

USERS, ITEMS, BATCH, SEED = 40, 30, 16, 77

CONFIG = {
    "Version": 0.8, "Name": "AE", "ErrorFunction": "CrossEntropy", "ShuffleIndices": True,
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "N": 8, "Activation": "Sigmoid", "pDropout": 0.2},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
         "Activation": "Sigmoid"}]}
TRAINING = {"Epochs": 4, "Alpha": 0.05, "AlphaInterval": 2, "AlphaMultiplier": 0.5,
            "mu": 0.8, "lambda": 0.0005, "Optimizer": "Adam", "MiniBatch": BATCH,
            "Results": "model.nc"}


def items(rng, users=USERS, empty_rows=()):
    rows = np.zeros((users, ITEMS), np.float32)
    for u in range(users):
        if u not in empty_rows:
            rows[u, rng.choice(ITEMS, size=rng.integers(2, 7), replace=False)] = 1
    return sp.csr_matrix(rows)


@pytest.fixture
def job(tmp_path, monkeypatch):
    """A job folder with data.nc and ae.json; the working directory is elsewhere, so relative
    paths must resolve against the CDL file."""
    folder = tmp_path / "job"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rng = np.random.default_rng(5)
    dsstne.write_netcdf(folder / "data.nc", [dsstne.DataSet("items", items(rng), boolean=True)])
    (folder / "ae.json").write_text(json.dumps(CONFIG))
    return folder


def write_cdl(folder, name="job.cdl", **fields):
    (folder / name).write_text(json.dumps(fields))
    return folder / name


def train_cdl(folder, name="train.cdl", **training):
    return write_cdl(folder, name, Version=0.2, Network="ae.json", Command="Train",
                     Data="data.nc", RandomSeed=SEED, TrainingParameters={**TRAINING, **training})


def encoder(*args):
    return cli.main(["encoder", *[str(a) for a in args]])


def direct_network(folder, epochs):
    """The same training through the Python API, in one call."""
    data = dsstne.read_netcdf(folder / "data.nc")
    net = dsstne.Network(str(folder / "ae.json"), data, batch=BATCH, seed=SEED)
    net.train(epochs, alpha=0.05, lambda_=0.0005, mu=0.8, mu1=0.999, optimizer="adam",
              alpha_interval=2, alpha_multiplier=0.5)
    return net, data


# ---- Train -----------------------------------------------------------------------------------
def test_train_matches_the_api(job, capsys):
    assert encoder(train_cdl(job)) == 0
    out = capsys.readouterr().out
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 4
    alphas = [float(re.search(r"alpha (\S+)", line).group(1)) for line in epochs]
    assert alphas == [0.05, 0.05, 0.025, 0.025]
    assert not list(job.glob("check*.nc")), "no checkpoints unless the CDL names them"
    net, data = direct_network(job, 4)
    saved = dsstne.load_network(job / "model.nc", data, batch=BATCH, seed=SEED)
    assert saved.epochs_trained == 4 and saved.training_mode == "Adam"
    np.testing.assert_array_equal(saved.predict(), net.predict())
    for a, b in zip(saved.weights, net.weights):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_checkpoints_as_dsstne_names_them(job, capsys):
    assert encoder(train_cdl(job, CheckpointName="ck", CheckpointInterval=2)) == 0
    assert sorted(p.name for p in job.glob("ck*")) == ["ck2.nc", "ck4.nc"]
    assert f"checkpoint {job / 'ck2.nc'}" in capsys.readouterr().out
    net, data = direct_network(job, 2)
    ck = dsstne.load_network(job / "ck2.nc", data, batch=BATCH, seed=SEED)
    assert ck.epochs_trained == 2
    np.testing.assert_array_equal(ck.predict(), net.predict())


def test_checkpoint_name_alone_means_every_epoch(job):
    assert encoder(train_cdl(job, Epochs=2, CheckpointName="out/ck")) == 1  # no such folder
    (job / "out").mkdir()
    assert encoder(train_cdl(job, Epochs=2, CheckpointName="out/ck")) == 0
    assert sorted(p.name for p in (job / "out").iterdir()) == ["ck1.nc", "ck2.nc"]


def test_existing_results_are_refused_without_force(job, capsys):
    (job / "model.nc").write_text("keep me")
    cdl = train_cdl(job)
    assert encoder(cdl) == 1
    err = capsys.readouterr().err
    assert err == (f"dsstne encoder: error: {cdl}: TrainingParameters.Results {job / 'model.nc'} "
                   "exists; pass --force to replace it\n")
    assert (job / "model.nc").read_text() == "keep me"
    assert encoder(cdl, "--force") == 0
    assert dsstne.load_network(job / "model.nc").epochs_trained == 4


def test_existing_checkpoint_is_refused_before_training(job, capsys):
    (job / "ck2.nc").write_text("old")
    assert encoder(train_cdl(job, CheckpointName="ck", CheckpointInterval=2)) == 1
    assert "ck2.nc exists; pass --force" in capsys.readouterr().err
    assert not (job / "model.nc").exists()


def test_shuffle_indices_overrides_the_network(job):
    assert encoder(train_cdl(job, Epochs=2, ShuffleIndices=False)) == 0
    data = dsstne.read_netcdf(job / "data.nc")
    net = dsstne.Network({**CONFIG, "ShuffleIndices": False}, data, batch=BATCH, seed=SEED)
    net.train(2, alpha=0.05, lambda_=0.0005, mu=0.8, mu1=0.999, optimizer="adam",
              alpha_interval=2, alpha_multiplier=0.5)
    saved = dsstne.load_network(job / "model.nc", data, batch=BATCH, seed=SEED)
    np.testing.assert_array_equal(saved.predict(), net.predict())


def test_data_sets_from_several_files(job):
    rng = np.random.default_rng(8)
    dsstne.write_netcdf(job / "in.nc", [dsstne.DataSet("x_in", items(rng), boolean=True)])
    dsstne.write_netcdf(job / "out.nc", [dsstne.DataSet("x_out", items(rng), boolean=True)])
    cfg = json.loads(json.dumps(CONFIG))
    cfg["Layers"][0]["DataSet"], cfg["Layers"][2]["DataSet"] = "x_in", "x_out"
    (job / "io.json").write_text(json.dumps(cfg))
    cdl = write_cdl(job, Network="io.json", Command="Train", Data=["in.nc", "out.nc"],
                    TrainingParameters={"Epochs": 1, "MiniBatch": BATCH})
    assert encoder(cdl) == 0
    assert (job / "network.nc").exists()  # DSSTNE's default Results


# ---- Predict ---------------------------------------------------------------------------------
def metric(p, r, n, k):
    return f"{k},{p:6.4f},{r:6.4f},{n:6.4f}"


def test_predict_prints_dsstnes_ten_lines(job, capsys):
    assert encoder(train_cdl(job)) == 0
    capsys.readouterr()
    cdl = write_cdl(job, "predict.cdl", Network="model.nc", Command="Predict", Data="data.nc",
                    TrainingParameters={"MiniBatch": 8})
    assert encoder(cdl) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    for k, line in enumerate(lines, 1):
        assert re.fullmatch(rf"{k},[01]\.\d{{4}},[01]\.\d{{4}},[01]\.\d{{4}}", line), line
    data = dsstne.read_netcdf(job / "data.nc")
    net = dsstne.load_network(job / "model.nc", data, batch=8, seed=12345)
    _, units = net.predict_topk(10)
    precision, recall, ndcg, skipped = dsstne_topk_metrics(units, data[0].to_scipy())
    assert skipped == 0
    assert lines == [metric(precision[k], recall[k], ndcg[k], k + 1) for k in range(10)]


def test_predict_skips_examples_without_relevant_units(job, capsys):
    rng = np.random.default_rng(1)
    dsstne.write_netcdf(job / "in.nc", [dsstne.DataSet("x_in", items(rng), boolean=True)])
    dsstne.write_netcdf(job / "out.nc", [dsstne.DataSet("x_out", items(rng, empty_rows=(3, 9)),
                                                        boolean=True)])
    cfg = json.loads(json.dumps(CONFIG))
    cfg["Layers"][0]["DataSet"], cfg["Layers"][2]["DataSet"] = "x_in", "x_out"
    data = dsstne.read_netcdf(job / "in.nc") + dsstne.read_netcdf(job / "out.nc")
    dsstne.save_network(dsstne.Network(cfg, data), job / "m.nc")
    cdl = write_cdl(job, Network="m.nc", Command="Predict", Data=["in.nc", "out.nc"])
    assert encoder(cdl) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 10
    assert captured.err == ("dsstne encoder: 2 of 40 examples have no unit in 'x_out' and are "
                            "left out of the averages\n")


def test_predict_ignores_unused_data_sets_with_a_warning(job, capsys):
    data = dsstne.read_netcdf(job / "data.nc")
    dsstne.save_network(dsstne.Network(CONFIG, data), job / "m.nc")
    rng = np.random.default_rng(6)
    dsstne.write_netcdf(job / "extra.nc", [dsstne.DataSet("extra", items(rng), boolean=True)])
    cdl = write_cdl(job, Network="m.nc", Command="Predict", Data=["data.nc", "extra.nc"])
    assert encoder(cdl) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 10
    assert captured.err == "dsstne encoder: warning: data sets not used by any layer: extra\n"


def test_relevant_units_of_indexed_data():
    from dsstne.cli.encoder import _relevant
    records = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], np.float32))
    ds = dsstne.DataSet("t", records, boolean=True, index=[2, 0, 0, 1])
    np.testing.assert_array_equal(_relevant(ds).toarray(), records[[2, 0, 0, 1]].toarray())


def test_predict_names_a_missing_data_set(job, capsys):
    dsstne.save_network(dsstne.Network(CONFIG, dsstne.read_netcdf(job / "data.nc")),
                        job / "m.nc")
    rng = np.random.default_rng(2)
    dsstne.write_netcdf(job / "other.nc", [dsstne.DataSet("input", items(rng), boolean=True)])
    cdl = write_cdl(job, Network="m.nc", Command="Predict", Data="other.nc")
    assert encoder(cdl) == 1
    assert capsys.readouterr().err == (
        f"dsstne encoder: error: {cdl}: Data: no data set 'items' for input layer 'Input' (the "
        "data files hold: input)\n")


def test_predict_scores_dense_targets_by_their_nonzero_units(job, capsys):
    rng = np.random.default_rng(3)
    values = rng.random((USERS, ITEMS)).astype(np.float32)
    values[values < 0.8] = 0.0
    values[0] = 0.0  # one example without a relevant unit
    dense = dsstne.DataSet("items", values)
    dsstne.write_netcdf(job / "dense.nc", [dense])
    cfg = json.loads(json.dumps(CONFIG))
    cfg["Layers"][0]["Sparse"] = False
    dsstne.save_network(dsstne.Network(cfg, dense), job / "m.nc")
    net = dsstne.Network(cfg, dense)
    dsstne.save_network(net, job / "m.nc", overwrite=True)
    cdl = write_cdl(job, Network="m.nc", Command="Predict", Data="dense.nc")
    assert encoder(cdl) == 0
    out = capsys.readouterr()
    assert f"1 of {USERS} examples have no unit" in out.err
    _, units = net.predict_topk(10)
    precision, recall, ndcg, _ = dsstne_topk_metrics(units, sp.csr_matrix(values != 0))
    lines = out.out.strip().splitlines()
    assert lines[-1] == f"10,{precision[9]:6.4f},{recall[9]:6.4f},{ndcg[9]:6.4f}"


def test_metrics_by_hand():
    top = np.array([[2, 5, 7], [0, 1, 9], [4, 2**32 - 1, 1], [3, 4, 5]], dtype=np.uint32)
    relevant = sp.csr_matrix((np.ones(9), ([0, 0, 1, 1, 1, 1, 1, 1, 2],
                                           [5, 9, 0, 1, 2, 3, 4, 4, 1])), shape=(4, 12))
    precision, recall, ndcg, skipped = dsstne_topk_metrics(top, relevant)
    assert skipped == 1  # row 3 has no relevant unit
    d = [1 / math.log2(r + 2) for r in range(5)]
    # row 0: hits [0,1,0], 2 relevant; row 1: hits [1,1,0], 5 relevant (4 listed twice);
    # row 2: hits [0,0,1] (2**32-1 is no unit), 1 relevant
    np.testing.assert_allclose(precision, [(0 + 1 + 0) / 3, (0.5 + 1 + 0) / 3,
                                           (1 / 3 + 2 / 3 + 1 / 3) / 3])
    np.testing.assert_allclose(recall, [(0 + 0.2 + 0) / 3, (0.5 + 0.4 + 0) / 3,
                                        (0.5 + 0.4 + 1) / 3])
    idcg = [d[0] + d[1], sum(d), d[0]]
    np.testing.assert_allclose(ndcg, [
        (0 + d[0] / idcg[1] + 0) / 3,
        (d[1] / idcg[0] + (d[0] + d[1]) / idcg[1] + 0) / 3,
        (d[1] / idcg[0] + (d[0] + d[1]) / idcg[1] + d[2] / idcg[2]) / 3])


def test_metrics_perfect_list_and_errors():
    top = np.array([[1, 0]])
    relevant = sp.csr_matrix(np.array([[1.0, 1.0, 0.0]]))
    precision, recall, ndcg, skipped = dsstne_topk_metrics(top, relevant)
    np.testing.assert_allclose(precision, [1, 1])
    np.testing.assert_allclose(recall, [0.5, 1])
    np.testing.assert_allclose(ndcg, [1 / (1 + 1 / math.log2(3)), 1])
    with pytest.raises(ValueError, match="no example has a relevant unit"):
        dsstne_topk_metrics(top, sp.csr_matrix((1, 3)))
    with pytest.raises(ValueError, match="2 top-k rows but 1 rows"):
        dsstne_topk_metrics(np.zeros((2, 2)), relevant)


# ---- Validate --------------------------------------------------------------------------------
@pytest.mark.parametrize("activation,loss,sparse", [("Sigmoid", "CrossEntropy", True),
                                                    ("Tanh", "L2", False)])
def test_validate_passes_on_a_correct_network(job, capsys, activation, loss, sparse):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["ErrorFunction"] = loss
    cfg["Layers"][0]["Sparse"] = sparse
    cfg["Layers"][1]["Activation"] = activation
    (job / "v.json").write_text(json.dumps(cfg))
    cdl = write_cdl(job, Network="v.json", Command="Validate", Data="data.nc",
                    TrainingParameters={"MiniBatch": 8})
    assert encoder(cdl) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "AE: gradient check on the first 8 examples, tolerance 0.01, seed 12345"
    assert lines[1].startswith("Input -> Hidden: max relative error ")
    assert lines[2].startswith("Hidden -> Output: max relative error ")
    assert lines[3].startswith("gradient check passed: ")


def test_validate_fails_naming_the_worst_entry(job, capsys, monkeypatch):
    real = dsstne.gradcheck.check_gradients

    def wrong(net, position):
        groups = dsstne.gradcheck.analytic_gradients(net, position)
        groups[0][3][...] *= 1.2
        return groups

    monkeypatch.setattr(dsstne.gradcheck, "check_gradients",
                        lambda net, **kw: real(net, gradients=wrong, **kw))
    cdl = write_cdl(job, Network="ae.json", Command="Validate", Data="data.nc")
    assert encoder(cdl) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"dsstne encoder: gradient check failed: weight Input -> Hidden "
                        r"\[\d+, \d+\]: analytic \S+, finite difference \S+, relative error "
                        r"\S+\n", err), err


# ---- errors ----------------------------------------------------------------------------------
def test_no_argument_is_a_usage_error(capsys):
    assert encoder() == 1
    err = capsys.readouterr().err
    assert err.startswith("usage: dsstne encoder")
    assert "error: the following arguments are required: FILE.cdl" in err


def test_help(capsys):
    assert encoder("-h") == 0
    assert "FILE.cdl" in capsys.readouterr().out


def test_missing_cdl_file(tmp_path, capsys):
    assert encoder(tmp_path / "none.cdl") == 1
    assert capsys.readouterr().err == (f"dsstne encoder: error: {tmp_path / 'none.cdl'}: no "
                                       "such CDL file\n")


@pytest.mark.parametrize("fields,message", [
    ({"Network": "ae.json", "Command": "Train", "Data": "data.nc"},
     "TrainingParameters.Epochs is required when Command is Train"),
    ({"Network": "ae.json", "Command": "Train", "Data": "data.nc",
      "TrainingParameters": {"Epochs": "ten"}},
     'TrainingParameters.Epochs must be an integer, got "ten"'),
    ({"Network": "ae.json", "Command": "Tune", "Data": "data.nc"}, 'unknown Command "Tune"'),
    ({"Network": "ae.json", "Command": "Predict", "Data": "data.nc", "Seed": 1},
     "unknown key 'Seed'"),
    ({"Network": "nope.json", "Command": "Validate", "Data": ["data.nc", "gone.nc"]},
     "no such file: Network {job}/nope.json, Data {job}/gone.nc"),
])
def test_bad_cdl_is_one_line(job, capsys, fields, message):
    cdl = write_cdl(job, **fields)
    assert encoder(cdl) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dsstne encoder: error: {cdl}: ") and err.count("\n") == 1
    assert message.format(job=job) in err


def test_bad_json_is_one_line(job, capsys):
    (job / "bad.cdl").write_text('{"Network": "ae.json",\n "Command": }')
    assert encoder(job / "bad.cdl") == 1
    assert capsys.readouterr().err == (f"dsstne encoder: error: {job / 'bad.cdl'}: line 2, "
                                       "column 13: invalid JSON: Expecting value\n")


def test_same_data_set_in_two_files(job, capsys):
    rng = np.random.default_rng(4)
    dsstne.write_netcdf(job / "again.nc", [dsstne.DataSet("items", items(rng), boolean=True)])
    cdl = write_cdl(job, Network="ae.json", Command="Validate", Data=["data.nc", "again.nc"])
    assert encoder(cdl) == 1
    assert (f"{cdl}: Data {job / 'again.nc'}: data set 'items' is also in {job / 'data.nc'}"
            in capsys.readouterr().err)


def test_results_may_not_overwrite_an_input(job, capsys):
    assert encoder(train_cdl(job, Results="data.nc")) == 1
    assert "Results and Data name the same file" in capsys.readouterr().err


@pytest.mark.parametrize("name,missing", [
    ("cifar10_train.cdl", [("Network", "config.json"), ("Data", "cifar10_training.nc")]),
    ("cifar10_predict.cdl", [("Network", "network.nc"), ("Data", "cifar10_test.nc")]),
])
def test_reference_cdls_parse_and_name_their_missing_files(reference_dir, capsys, name, missing):
    folder = reference_dir / "configs"
    assert encoder(folder / name) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dsstne encoder: error: {folder / name}: no such file: ")
    for key, entry in missing:
        assert f"{key} {folder / entry}" in err


def test_device_cuda_runs_or_says_why_not(job, capsys):
    cdl = write_cdl(job, Network="ae.json", Command="Validate", Data="data.nc",
                    TrainingParameters={"MiniBatch": 8})
    usable = dsstne.cuda_built() and dsstne.cuda_device_count() > 0
    assert encoder(cdl, "--device", "cuda") == (0 if usable else 1)
    err = capsys.readouterr().err
    assert usable or (err.startswith("dsstne encoder: error: ") and "CUDA" in err)
