# SPDX-License-Identifier: Apache-2.0
"""The runnable examples stay runnable."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import dsstne.examples

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_movielens_walkthrough(reference_dir, tmp_path):
    ratings = reference_dir / "data" / "movielens_input_1024.txt"
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}"
                                f"{os.environ.get('PATH', '')}")
    run = subprocess.run(["bash", str(REPO / "examples" / "movielens_walkthrough.sh"),
                          str(ratings), str(dsstne.examples.path("movielens_autoencoder.json")),
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = {}
    for line in ratings.read_text().splitlines():
        user, points = line.split("\t", 1)
        seen[user] = {p.split(",")[0] for p in points.split(":") if p}
    lines = (tmp_path / "recs").read_text().splitlines()
    assert len(lines) == 1024
    for line in lines:
        user, recs = line.split("\t")
        items = [r.split(",")[0] for r in recs.split(":") if r]
        assert len(items) == 10 and not set(items) & seen[user]


def test_quickstart_example_runs():
    run = subprocess.run([sys.executable, str(REPO / "examples" / "quickstart.py")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "user 0" in run.stdout and "match the user's taste group" in run.stdout


def _tool_env(**extra):
    """The environment of a subprocess that runs the `dsstne` command of this interpreter."""
    return dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}", **extra)


def test_recommendation_evaluation_example_on_a_slice(reference_dir, tmp_path):
    ratings = reference_dir / "data" / "movielens_input_1024.txt"
    script = REPO / "examples" / "recommend" / "evaluate_movielens.sh"
    run = subprocess.run(["bash", str(script), str(ratings), str(tmp_path)],
                         env=_tool_env(USERS="120", EPOCHS="2", SEEDS="1,2"),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for name, model in (("dae_sigmoid", "dae_sigmoid.json"), ("mult_dae", "mult_dae.json"),
                        ("dsstne_movielens", "movielens_autoencoder.json")):
        result = json.loads((tmp_path / f"{name}.json").read_text())
        assert result["seeds"] == [1, 2] and result["users"] == 120
        models = {m["name"]: m for m in result["models"]}
        assert set(models) == {model, "popularity", "EASE(λ=200)"}
        for m in models.values():
            assert len(m["per_seed"]) == 2 and m["mean"]["users"] == 24
            for k in (10, 20, 50):
                assert 0.0 <= m["mean"][f"recall@{k}"] <= 1.0
        # the baselines beat chance on real data even on 96 training users
        assert models["EASE(λ=200)"]["mean"]["recall@20"] > models["popularity"]["mean"][
            "recall@20"] > 0.02
        assert f"{model} " in run.stdout and "EASE(λ=200)" in run.stdout


def test_quality_sweep_example_runs(reference_dir, tmp_path):
    ratings = tmp_path / "ratings.txt"
    lines = (reference_dir / "data" / "movielens_input_1024.txt").read_text().splitlines()
    ratings.write_text("\n".join(lines[:100]) + "\n")
    run = subprocess.run([sys.executable, str(REPO / "examples" / "recommend" / "sweep.py"),
                          str(ratings), "--seeds", "3", "--epochs", "1,2", "--only",
                          "hidden 200,no denoising", "--jsonl", str(tmp_path / "log.jsonl")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    table = run.stdout.splitlines()
    assert any(line.startswith("hidden 200") and "*" in line for line in table)
    assert any(line.startswith("EASE(λ=200)") for line in table)
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    # 3 EASE + popularity, then 2 variants x 2 epoch counts, one seed
    assert len(records) == 8 and {r["seed"] for r in records} == {3}


def test_digits_convnet_reaches_97_percent(device):
    pytest.importorskip("sklearn", reason="the digits example reads scikit-learn's bundled "
                        "images (pip install scikit-learn)")
    run = subprocess.run([sys.executable, str(REPO / "examples" / "digits.py"), "--device",
                          device], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    accuracy = float(run.stdout.split("held-out accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0, run.stdout
