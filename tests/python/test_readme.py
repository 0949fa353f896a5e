# SPDX-License-Identifier: Apache-2.0
"""README.md runs as pasted: its ```python and ```bash blocks (all but the Quick start, which
installs), in order, in a fresh empty directory, with the installed package only (no checkout
on the path, the interpreter's bin first on PATH), twice, as a user running them again would.
Consecutive python blocks form one session, as the README says."""

import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def blocks(text):
    """[(language, code)] of the fenced python and bash blocks outside the Quick start."""
    found, section = [], ""
    for match in re.finditer(r"^## ([^\n]*)$|^```(\w+)\n(.*?)^```$", text, re.M | re.S):
        if match.group(1) is not None:
            section = match.group(1)
        elif match.group(2) in ("python", "bash") and section != "Quick start":
            found.append((match.group(2), match.group(3)))
    return found


def sessions(text):
    """The blocks with consecutive python blocks joined into one session."""
    out = []
    for language, code in blocks(text):
        if out and language == "python" and out[-1][0] == "python":
            out[-1] = ("python", out[-1][1] + code)
        else:
            out.append((language, code))
    return out


def test_the_readme_has_the_blocks_it_should():
    languages = [language for language, _ in blocks(README.read_text(encoding="utf-8"))]
    assert languages.count("python") >= 2 and languages.count("bash") >= 2
    assert [language for language, _ in sessions(README.read_text(encoding="utf-8"))][:2] == [
        "python", "bash"]


def test_readme_blocks_run_twice_in_a_fresh_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DSSTNE_DEVICE")}
    # An install that lives on PYTHONPATH (the GPU machine's) stays; the checkout's sources go.
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and pathlib.Path(p).resolve() != REPO / "python"]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DSSTNE_DEVICE"] = os.environ.get("DSSTNE_DEVICE", "cpu")
    for attempt in (1, 2):
        for n, (language, code) in enumerate(sessions(README.read_text(encoding="utf-8"))):
            command = ([sys.executable, "-c", code] if language == "python"
                       else ["bash", "-e", "-o", "pipefail", "-c", code])
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, (f"run {attempt}, block {n + 1} ({language}) exited "
                                          f"{done.returncode}:\n{code}\n--- stderr:\n"
                                          f"{done.stderr[-3000:]}")
    users = (tmp_path / "ratings.txt").read_text().splitlines()
    recs = (tmp_path / "recs").read_text().splitlines()
    assert len(recs) == len(users) and all(len(r.split("\t")[1].split(":")) == 11 for r in recs)
