# SPDX-License-Identifier: Apache-2.0
"""``dsstne evaluate`` end to end in a temporary directory: baselines, -c and -n, NetCDF data,
--json, --save-split then ``dsstne train`` then -n, and one-line errors."""

import json

import numpy as np
import pytest

pytest.importorskip("netCDF4")

from dsstne import cli, textformats as tf  # noqa: E402
from dsstne.evaluate import compare  # noqa: E402
from dsstne.evaluate.metrics import binary  # noqa: E402

USERS, ITEMS = 60, 50

CONFIG = {
    "Version": 0.7, "Name": "AE", "Kind": "FeedForward",
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x_input", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "Type": "FullyConnected", "N": 8,
         "Activation": "Sigmoid", "Sparse": True},
        {"Name": "Output", "Kind": "Output", "Type": "FullyConnected", "DataSet": "x_output",
         "N": "auto", "Activation": "Sigmoid", "Sparse": True}],
    "ErrorFunction": "CrossEntropy",
}
TRAINING = ("-e", 3, "-b", 16, "-alpha", 0.5)


def run(*args):
    return cli.main(["evaluate", *[str(a) for a in args]])


@pytest.fixture
def work(tmp_path, monkeypatch):
    """data.txt (users u0…, items i0…, timestamps as values) and ae.json; CWD = tmp_path."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(11)
    lines = []
    for u in range(USERS):
        items = rng.choice(ITEMS, size=rng.integers(4, 12), replace=False)
        items = list(dict.fromkeys([u % ITEMS, (u + 7) % ITEMS] + items.tolist()))
        lines.append(f"u{u}\t" + ":".join(f"i{i},{1000 + i}" for i in items))
    (tmp_path / "data.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "ae.json").write_text(json.dumps(CONFIG))
    return tmp_path


def table_rows(out):
    """{(model, K): [metric values]} from the printed table (means only)."""
    rows = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[1].isdigit():
            rows[(fields[0], int(fields[1]))] = fields[2:]
    return rows


def test_baselines_only(work, capsys):
    assert run("-r", "data.txt", "-k", "5,10") == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert set(rows) == {(m, k) for m in ("popularity", "EASE(λ=500)") for k in (5, 10)}
    assert rows[("popularity", 5)][-1] == str(USERS // 5)   # users evaluated
    assert "strong split (seed 12134)" in out


def test_train_per_split_and_json(work, capsys):
    assert run("-r", "data.txt", "-c", "ae.json", *TRAINING, "--seeds", "1,2", "-k", "5",
               "--ease-lambda", 20, "--json", "r.json") == 0
    out = capsys.readouterr().out
    assert out.count("trained 3 epochs (sgd)") == 2
    assert ("ae.json", 5) in table_rows(out) and "±" in out
    saved = json.loads((work / "r.json").read_text())
    assert saved["seeds"] == [1, 2] and saved["ks"] == [5] and saved["protocol"] == "strong"
    assert [m["name"] for m in saved["models"]] == ["ae.json", "popularity", "EASE(λ=20)"]
    model = saved["models"][0]
    assert len(model["per_seed"]) == 2
    assert model["mean"]["recall@5"] == pytest.approx(
        np.mean([r["recall@5"] for r in model["per_seed"]]))
    assert saved["model"]["epochs"] == 3 and saved["data"].endswith("data.txt")
    # the baselines equal the Python API's on the same matrix
    matrix = tf.read_data(work / "data.txt").matrix
    api = compare(matrix, seeds=(1, 2), ks=(5,), ease_l2=20.0)
    for by_cli, by_api in zip(saved["models"][2]["per_seed"], api["models"][1]["per_seed"]):
        assert without_times(by_cli) == without_times(by_api)


def without_times(result):
    return {k: v for k, v in result.items() if "seconds" not in k}


def test_save_split_then_train_then_n_equals_c(work, capsys):
    common = ("-r", "data.txt", "-k", "5,10", "--protocol", "random", "--no-baselines")
    assert run(*common, "-c", "ae.json", *TRAINING, "--json", "c.json",
               "--save-split", "split") == 0
    out = capsys.readouterr().out
    assert "dsstne train -c ae.json -i split/train_input.nc -o split/train_output.nc" in out
    assert cli.main(["train", "-c", "ae.json", "-i", "split/train_input.nc", "-o",
                     "split/train_output.nc", "-n", "m.nc", "-b", "16", "-e", "3",
                     "-alpha", "0.5"]) == 0
    assert run(*common, "-i", "split/features", "-n", "m.nc", "-b", 16, "--json", "n.json") == 0
    err = capsys.readouterr().err
    assert "m.nc is evaluated as it is" in err
    by_c = json.loads((work / "c.json").read_text())["models"][0]["per_seed"][0]
    by_n = json.loads((work / "n.json").read_text())["models"][0]["per_seed"][0]
    assert without_times(by_c) == without_times(by_n)
    # the split's files: held-out users as data text, the item index, the split's description
    info = json.loads((work / "split" / "split.json").read_text())
    inputs = tf.read_data(work / "split" / "heldout_input.txt",
                          features=tf.read_index(work / "split" / "features"),
                          feature_mode="fixed")
    targets = tf.read_data(work / "split" / "heldout_target.txt",
                           features=tf.read_index(work / "split" / "features"),
                           feature_mode="fixed")
    assert inputs.samples == targets.samples == info["eval_users"]
    full = tf.read_data(work / "data.txt")
    rows = [full.samples.index(s) for s in info["eval_users"]]
    given, held = binary(inputs.matrix), binary(targets.matrix)   # points without values
    assert np.array_equal((given + held).toarray(), binary(full.matrix[rows]).toarray())
    assert given.multiply(held).nnz == 0


def test_netcdf_data_gives_the_text_numbers(work, capsys):
    assert cli.main(["generateNetCDF", "-i", "data.txt", "-o", "data.nc", "-d", "x_input",
                     "-f", "features", "-s", "samples", "-c"]) == 0
    assert run("-r", "data.txt", "-k", 10, "--json", "text.json") == 0
    assert run("--netcdf", "data.nc", "-k", 10, "--json", "nc.json") == 0
    text = json.loads((work / "text.json").read_text())["models"]
    nc = json.loads((work / "nc.json").read_text())["models"]
    for a, b in zip(text, nc):
        assert a["mean"]["ndcg@10"] == b["mean"]["ndcg@10"]
        assert a["mean"]["coverage@10"] == b["mean"]["coverage@10"]   # padding cut
    assert "--dataset" not in capsys.readouterr().err


def test_movielens_slice(reference_dir, tmp_path, capsys):
    lines = (reference_dir / "data" / "movielens_input_1024.txt").read_text().splitlines()
    (tmp_path / "ml.txt").write_text("\n".join(lines[:150]) + "\n")
    config = reference_dir / "configs" / "movielens_autoencoder.json"
    assert run("-r", tmp_path / "ml.txt", "-c", config, "-e", 2, "-b", 64, "-k", "10,20") == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[("movielens_autoencoder.json", 10)][-1] == "30"
    ease, pop = rows[("EASE(λ=500)", 20)], rows[("popularity", 20)]
    assert float(ease[1]) > float(pop[1]) > 0      # NDCG@20: EASE well above popularity


def test_outputs_are_not_replaced_without_force(work, capsys):
    (work / "r.json").write_text("keep")
    assert run("-r", "data.txt", "--json", "r.json") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "r.json exists" in err and "--force" in err
    assert (work / "r.json").read_text() == "keep"
    assert run("-r", "data.txt", "--json", "r.json", "--force", "-k", 3) == 0
    assert json.loads((work / "r.json").read_text())["ks"] == [3]
    (work / "split").mkdir()
    assert run("-r", "data.txt", "--save-split", "split") == 1
    assert "split exists" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    ((), "exactly one of -r"),
    (("-r", "data.txt", "--netcdf", "x.nc"), "exactly one of -r"),
    (("-r", "nope.txt"), "-r nope.txt: no such data text"),
    (("-r", "data.txt", "-c", "ae.json", "-n", "m.nc"), "at most one model"),
    (("-r", "data.txt", "-n", "m.nc"), "needs -i"),
    (("-r", "data.txt", "-e", "3"), "-e applies to training"),
    (("-r", "data.txt", "--protocol", "random", "--heldout", "0.1"), "--heldout applies"),
    (("-r", "data.txt", "--no-baselines"), "nothing to evaluate"),
    (("-r", "data.txt", "--seeds", "1,2", "--save-split", "s"), "one seed"),
    (("-r", "data.txt", "--dataset", "x"), "--dataset applies"),
    (("-r", "data.txt", "-l", "Hidden"), "-l applies to a network"),
    (("-r", "data.txt", "-c", "nope.json"), "-c nope.json: no such JSON network description"),
    (("-r", "data.txt", "--heldout", "60"), "between 1 and 59"),
])
def test_errors(work, capsys, args, message):
    assert run(*args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dsstne evaluate: error:"), err
    assert message in err, err


@pytest.mark.parametrize("args", [
    ("--seeds", "1,1"), ("-k", "0"), ("--target-fraction", "1"), ("--ease-lambda", "0"),
    ("--heldout", "0"), ("--bogus",), ("-k", "5", "-k", "10"), ("--protocol", "weak"),
])
def test_bad_flags(work, capsys, args):
    assert run("-r", "data.txt", *args) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("dsstne evaluate: error:"), err


def test_netcdf_with_several_data_sets_needs_dataset(work, capsys):
    import dsstne
    matrix = tf.read_data(work / "data.txt").matrix
    dsstne.write_netcdf("two.nc", [dsstne.DataSet("a", matrix, boolean=True),
                                   dsstne.DataSet("b", matrix[:, :20], boolean=True)])
    assert run("--netcdf", "two.nc") == 1
    assert "holds 2 data sets (a, b)" in capsys.readouterr().err
    assert run("--netcdf", "two.nc", "--dataset", "c") == 1
    assert "no data set 'c'" in capsys.readouterr().err
    assert run("--netcdf", "two.nc", "--dataset", "b", "-k", 5) == 0
    assert "20 items" in capsys.readouterr().out
