# SPDX-License-Identifier: Apache-2.0
"""The runnable examples stay runnable."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_movielens_walkthrough(reference_dir, tmp_path):
    ratings = reference_dir / "data" / "movielens_input_1024.txt"
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}"
                                f"{os.environ.get('PATH', '')}")
    run = subprocess.run(["bash", str(REPO / "examples" / "movielens_walkthrough.sh"),
                          str(ratings), str(REPO / "examples" / "movielens_autoencoder.json"),
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
