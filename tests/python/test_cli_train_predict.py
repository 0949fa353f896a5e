# SPDX-License-Identifier: Apache-2.0
"""``dsstne train`` and ``dsstne predict`` (spec/formats.md §4.2, §4.3, §4.5.3–4.5.4, §3.6),
end to end in a temporary directory on tiny generated data."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import cli, textformats as tf  # noqa: E402

USERS, ITEMS = 48, 150

CONFIG = {
    "Version": 0.7, "Name": "AE", "Kind": "FeedForward", "ShuffleIndices": True,
    "Denoising": {"p": 0.2},
    "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0,
                                   "zeroScale": 1.0},
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x_input", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "Type": "FullyConnected", "N": 8,
         "Activation": "Sigmoid", "Sparse": True},
        {"Name": "Output", "Kind": "Output", "Type": "FullyConnected", "DataSet": "x_output",
         "N": "auto", "Activation": "Sigmoid", "Sparse": True}],
    "ErrorFunction": "ScaledMarginalCrossEntropy",
}


def run(*args):
    return cli.main([str(a) for a in args])


@pytest.fixture
def work(tmp_path, monkeypatch):
    """Data text, indexes, data sets and a config for a tiny autoencoder; CWD = tmp_path."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    lines = []
    for u in range(USERS):
        items = rng.choice(ITEMS, size=rng.integers(3, 9), replace=False)
        cover = [(4 * u + j) % ITEMS for j in range(4)]      # every item is somebody's
        items = list(dict.fromkeys(cover + items.tolist()))
        lines.append(f"u{u}\t" + ":".join(f"i{i},{1000 + i}" for i in items))
    (tmp_path / "data.txt").write_text("\n".join(lines) + "\n")
    assert run("generateNetCDF", "-i", "data.txt", "-o", "in.nc", "-d", "x_input",
               "-f", "fin", "-s", "samples", "-c") == 0
    assert run("generateNetCDF", "-i", "data.txt", "-o", "out.nc", "-d", "x_output",
               "-f", "fout", "-s", "samples", "-c") == 0
    (tmp_path / "ae.json").write_text(json.dumps(CONFIG))
    return tmp_path


def train(*extra, model="m.nc"):
    return run("train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc", "-n", model, "-b", 16,
               *extra)


def errors_of(out):
    return [float(line.split("error")[1].split()[0]) for line in out.splitlines()
            if line.startswith("epoch")]


def weights(path):
    net = dsstne.load_network(path, batch=16)
    return [(w.weights.copy(), w.bias.copy()) for w in net.weights], net


def same_weights(a, b):
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def parse(path):
    """recommendation lines -> [(sample, [(item, score), ...])]; checks the line grammar."""
    out = []
    for line in open(path, encoding="utf-8").read().splitlines():
        sample, rest = line.split("\t")
        assert rest == "" or rest.endswith(":")
        entries = [e.split(",") for e in rest.split(":")[:-1]] if rest else []
        out.append((sample, [(i, float(s)) for i, s in entries]))
    return out


def seen_items(path):
    return {line.split("\t")[0]: {p.split(",")[0] for p in line.split("\t")[1].split(":")}
            for line in open(path).read().splitlines() if line}


# ---------------------------------------------------------------------------------------------
# train


def test_train_end_to_end(work, capsys):
    assert train("-e", 6, "-alpha", 0.5) == 0
    out = capsys.readouterr().out
    errors = errors_of(out)
    assert len(errors) == 6 and errors[-1] < errors[0], out
    _, net = weights("m.nc")
    assert net.epochs_trained == 6 and net.training_mode == "SGD"
    # no side files: no initial_network.nc, no checkpoints
    assert sorted(os.listdir(work)) == sorted(["data.txt", "in.nc", "out.nc", "fin", "fout",
                                               "samples", "ae.json", "m.nc"])


def test_train_refuses_existing_model_unless_force(work, capsys):
    assert train("-e", 1) == 0
    before = (work / "m.nc").read_bytes()
    capsys.readouterr()
    assert train("-e", 1) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "m.nc exists" in err and "--force" in err
    assert (work / "m.nc").read_bytes() == before
    assert train("-e", 2, "--force") == 0
    assert weights("m.nc")[1].epochs_trained == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nesterov"])
def test_continue_equals_uninterrupted(work, optimizer):
    opt = ["--optimizer", optimizer]
    assert train("-e", 4, *opt, model="full.nc") == 0
    assert train("-e", 2, *opt, model="half.nc") == 0
    # -c is optional with --continue; the saved optimizer is kept without --optimizer
    assert run("train", "--continue", "half.nc", "-i", "in.nc", "-o", "out.nc", "-n",
               "resumed.nc", "-b", 16, "-e", 2) == 0
    full, net_full = weights("full.nc")
    resumed, net_resumed = weights("resumed.nc")
    assert net_resumed.epochs_trained == 4
    assert net_full.training_mode == net_resumed.training_mode
    assert same_weights(full, resumed)
    assert not same_weights(full, weights("half.nc")[0])


def test_continue_into_itself_needs_force(work, capsys):
    assert train("-e", 1) == 0
    args = ("train", "--continue", "m.nc", "-i", "in.nc", "-o", "out.nc", "-n", "m.nc",
            "-b", 16, "-e", 1)
    assert run(*args) == 1 and "exists" in capsys.readouterr().err
    assert run(*args, "--force") == 0
    assert weights("m.nc")[1].epochs_trained == 2


def test_checkpoints_and_save_initial(work):
    assert train("-e", 4, "--checkpoint", 2, "--save-initial", "init.nc") == 0
    final, _ = weights("m.nc")
    assert same_weights(final, weights("m4.nc")[0])
    assert weights("m2.nc")[1].epochs_trained == 2
    assert weights("init.nc")[1].epochs_trained == 0
    assert not (work / "m6.nc").exists() and not (work / "initial_network.nc").exists()


def test_train_bad_flags(work, capsys):
    cases = [("-e", "x"), ("-b", 0), ("-e", 1, "-e", 2), ("--optimizer", "lbfgs"),
             ("--bogus",), ("-alpha", "nan")]
    for extra in cases:
        assert train(*extra) == 1, extra
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith("dsstne train: error:"), err
    for args, what in ((("-c", "nope.json"), "nope.json"), (("-i", "nope.nc"), "nope.nc")):
        base = {"-c": "ae.json", "-i": "in.nc", "-o": "out.nc", "-n": "m.nc"}
        base.update({args[0]: args[1]})
        assert run("train", *[t for kv in base.items() for t in kv]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and what in err and "error:" in err
    assert run("train", "-i", "in.nc", "-o", "out.nc", "-n", "m.nc") == 1
    assert "-c" in capsys.readouterr().err
    assert not (work / "m.nc").exists()


# ---------------------------------------------------------------------------------------------
# predict


@pytest.fixture
def trained(work):
    assert train("-e", 3, "-alpha", 0.5) == 0
    return work


def predict(*extra, out="recs.txt"):
    return run("predict", "-d", "x", "-n", "m.nc", "-r", "data.txt", "-i", "fin", "-o", "fout",
               "-s", out, *extra)


def raw_scores(work, layer="Output"):
    """Scores of every sample of data.txt (in order) from the model, by the Python API."""
    fin = tf.read_index(work / "fin")
    data = tf.read_data(work / "data.txt", features=fin, feature_mode="fixed")
    net = dsstne.load_network(work / "m.nc", batch=16)
    m = data.matrix
    m.resize((m.shape[0], net.layer("Input").size))
    return data.samples, net.predict(dsstne.DataSet("x_input", m, boolean=True), layer=layer)


def test_predict_removes_filtered_items(trained, capsys):
    assert predict("-k", 10, "-f", "data.txt") == 0
    lines = parse(trained / "recs.txt")
    samples, scores = raw_scores(trained)
    seen = seen_items(trained / "data.txt")
    fout = tf.read_index(trained / "fout")
    label = {v: k for k, v in fout.items()}
    assert [s for s, _ in lines] == samples == [f"u{u}" for u in range(USERS)]
    for row, (sample, entries) in enumerate(lines):
        items = [i for i, _ in entries]
        assert len(entries) == 10 and not set(items) & seen[sample]
        values = [s for _, s in entries]
        assert values == sorted(values, reverse=True)
        # the same as ranking the API's scores with the user's items (and padding) removed
        ranked = [label[u] for u in np.argsort(-scores[row], kind="stable")
                  if u in label and label[u] not in seen[sample]][:10]
        assert items == ranked
        assert values == [float("%4.3f" % scores[row][fout[i]]) for i in items]
    assert not os.path.exists("x_input_predict.nc")
    assert not any(p.name.endswith(".samplesIndex") for p in trained.iterdir())


def test_predict_without_filter_and_input_order(trained):
    (trained / "few.txt").write_text("u7\ti1:i2\nu3\ti4:unknown1:unknown2\nu7\ti3\n")
    assert run("predict", "-n", "m.nc", "-r", "few.txt", "-i", "fin", "-o", "fout", "-s",
               "r.txt", "-k", 5) == 0
    lines = parse(trained / "r.txt")
    assert [s for s, _ in lines] == ["u7", "u3"]       # first appearance; u7 keeps its last line
    assert all(len(e) == 5 for _, e in lines)


def test_predict_warns_unknown_features_and_name(trained, capsys):
    (trained / "few.txt").write_text("a\ti1:zz1:zz2\n")
    assert run("predict", "-d", "other", "-n", "m.nc", "-r", "few.txt", "-i", "fin", "-o",
               "fout", "-s", "r.txt", "-k", 3) == 0
    err = capsys.readouterr().err
    assert "2 data points" in err and "'x_input'" in err and "other_input" in err


def test_predict_filter_multiply(trained):
    # u0: i0 multiplied by 2, i1 by 0 (no value), the others untouched
    (trained / "filter.txt").write_text("u0\ti0,2:i1\n")
    assert predict("-k", ITEMS, "-f", "filter.txt", "-p", ".6f", "--filter-multiply") == 0
    lines = dict(parse(trained / "recs.txt"))
    samples, scores = raw_scores(trained)
    fout = tf.read_index(trained / "fout")
    got = dict(lines["u0"])
    assert len(got) == ITEMS                             # padding units never listed
    assert got["i0"] == pytest.approx(2 * scores[0][fout["i0"]], abs=2e-6)
    assert got["i1"] == 0.0
    assert got["i2"] == pytest.approx(scores[0][fout["i2"]], abs=2e-6)
    values = [s for _, s in parse(trained / "recs.txt")[0][1]]
    assert values == sorted(values, reverse=True)
    # default (remove): the listed items are gone, whatever their value
    assert predict("-k", ITEMS, "-f", "filter.txt", "--force") == 0
    u0 = dict(dict(parse(trained / "recs.txt"))["u0"])
    assert len(u0) == ITEMS - 2 and "i0" not in u0 and "i1" not in u0


def test_predict_k_beyond_128(trained):
    assert predict("-k", 200, "-f", "data.txt") == 0
    seen = seen_items(trained / "data.txt")
    lines = parse(trained / "recs.txt")
    assert len(lines) == USERS
    for sample, entries in lines:
        assert len(entries) == ITEMS - len(seen[sample]) > 128


def test_predict_hidden_layer(trained, capsys):
    # -o labels the units of the layer -l names: the item index does not fit 8 hidden units
    assert predict("-k", 5, "-l", "Hidden") == 1
    err = capsys.readouterr().err
    assert "-o fout: the index labels" in err and "hidden layer 'Hidden' of -n m.nc has 8" in err
    tf.write_index(trained / "hidden", {f"h{u}": u for u in range(8)})
    assert run("predict", "-n", "m.nc", "-r", "data.txt", "-i", "fin", "-o", "hidden",
               "-s", "recs.txt", "-k", 5, "-l", "Hidden") == 0
    samples, hidden = raw_scores(trained, layer="Hidden")
    label = {u: f"h{u}" for u in range(8)}
    for row, (sample, entries) in enumerate(parse(trained / "recs.txt")):
        assert [i for i, _ in entries] == [label[u] for u in np.argsort(-hidden[row],
                                                                        kind="stable")[:5]]


def test_predict_refuses_existing_output(trained, capsys):
    (trained / "recs.txt").write_text("keep\n")
    assert predict("-k", 3) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recs.txt exists" in err
    assert (trained / "recs.txt").read_text() == "keep\n"
    assert predict("-k", 3, "--force") == 0 and len(parse(trained / "recs.txt")) == USERS


def test_predict_bad_flags_and_files(trained, capsys):
    usage = [("-k", 0), ("-k", "many"), ("-b", -1), ("-p", "d"), ("-k", 1, "-k", 2), ("--x",)]
    for extra in usage:
        assert predict(*extra) == 1, extra
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith("dsstne predict: error:"), err
    assert run("predict", "-n", "m.nc", "-r", "data.txt", "-i", "fin", "-o", "fout") == 1
    assert "-s" in capsys.readouterr().err
    for flag, path in (("-n", "none.nc"), ("-r", "none.txt"), ("-i", "none.idx"),
                       ("-o", "none.idx"), ("-f", "none.flt")):
        args = {"-n": "m.nc", "-r": "data.txt", "-i": "fin", "-o": "fout", "-s": "r.txt"}
        args[flag] = path
        assert run("predict", *[t for kv in args.items() for t in kv]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and path in err and flag in err, err
    assert predict("-l", "Nope") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Nope" in err
    (trained / "bad.idx").write_text("a\t1\tb\n")
    assert run("predict", "-n", "m.nc", "-r", "data.txt", "-i", "bad.idx", "-o", "fout",
               "-s", "r.txt") == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not (trained / "r.txt").exists() and not (trained / "recs.txt").exists()


# ---------------------------------------------------------------------------------------------
# the MovieLens walkthrough of DSSTNE's docs


def test_movielens_walkthrough(reference_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ratings = reference_dir / "data" / "movielens_input_1024.txt"
    config = reference_dir / "configs" / "movielens_autoencoder.json"
    assert run("generateNetCDF", "-d", "gl_input", "-i", ratings, "-o", "gl_input.nc",
               "-f", "features_input", "-s", "samples_input", "-c") == 0
    assert run("generateNetCDF", "-d", "gl_output", "-i", ratings, "-o", "gl_output.nc",
               "-f", "features_output", "-s", "samples_input", "-c") == 0
    assert run("train", "-c", config, "-i", "gl_input.nc", "-o", "gl_output.nc", "-n", "gl.nc",
               "-b", 256, "-e", 2) == 0
    assert run("predict", "-b", 256, "-d", "gl", "-i", "features_input", "-o",
               "features_output", "-k", 10, "-n", "gl.nc", "-f", ratings, "-s", "recs",
               "-r", ratings) == 0
    lines = parse(tmp_path / "recs")
    seen = seen_items(ratings)
    assert len(lines) == 1024 == len(seen)
    for sample, entries in lines:
        assert len(entries) == 10 and not {i for i, _ in entries} & seen[sample]
        values = [s for _, s in entries]
        assert values == sorted(values, reverse=True)
    assert sorted(os.listdir(tmp_path)) == sorted(["gl_input.nc", "gl_output.nc", "gl.nc",
                                                   "features_input", "features_output",
                                                   "samples_input", "recs"])
