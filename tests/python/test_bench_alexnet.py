# SPDX-License-Identifier: Apache-2.0
"""benchmarks/bench_alexnet.py runs end to end on the CPU at its smallest settings (two 83×83
images, ten classes): dsstne's AlexNet builds, its PyTorch twin matches every layer size, and
the table has a row for each, with the JSON beside it. Timing is not checked."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "bench_alexnet.py"


def test_bench_alexnet_cpu_smoke(reference_dir, tmp_path):
    pytest.importorskip("torch", reason="the benchmark's PyTorch peer needs torch")
    out = tmp_path / "alexnet.json"
    env = {**os.environ, "DSSTNE_REFERENCE_DIR": str(reference_dir)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--batch", "2", "--batches", "1",
         "--epochs", "2", "--image", "83", "--classes", "10", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| **dsstne** | fp32 |" in proc.stdout, proc.stdout
    assert "| PyTorch eager (deterministic) | fp32 |" in proc.stdout, proc.stdout
    assert "Hidden10 256×1×1" in proc.stdout
    results = json.loads(out.read_text())
    row = results["rows"]["fp32"]
    assert row["dsstne"]["train_s_per_batch"] > 0 and row["torch_eager"]["train_s_per_batch"] > 0
    assert results["layers"]["Hidden1"] == [96, 19, 19]   # (83 − 11)/4 + 1
