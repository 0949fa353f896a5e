# SPDX-License-Identifier: Apache-2.0
"""Model parallelism: what each connection of a network exchanges per batch, and seconds per
epoch on N = 1, 2, ... ranks.

Two models: DSSTNE's MovieLens benchmark network (sparse items → 3 × 1,024 sigmoid → items,
on MovieLens-20M-shaped generated data, scaled by --users) and a wide one (1M items → 256 →
1M items). For every connection the table gives its split (DSSTNE's 3:2 rule) and the bytes rank
0 sends per batch forward and backward (an all-gather sends the rank's block to every other
rank; a reduce-scatter sends every other rank its block of the partial sums). Then each N runs
as `mpirun -np N` of this script (--worker) and reports the best epoch time.

Usage: python benchmarks/bench_model_parallel.py [--model movielens|wide] [--ranks 1,2]
       [--users 2000] [--items N] [--epochs 2] [--batch 256] [--device cpu|cuda] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np


def config(model, items):
    hidden = [1024, 1024, 1024] if model == "movielens" else [256]
    layers = [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True}]
    layers += [{"Name": f"H{i}", "Kind": "Hidden", "N": n, "Activation": "Sigmoid"}
               for i, n in enumerate(hidden)]
    layers += [{"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
                "Activation": "Sigmoid"}]
    return {"Version": 0.8, "Name": model, "Kind": "FeedForward", "ShuffleIndices": False,
            "ErrorFunction": "CrossEntropy", "Layers": layers}


def slices(units, ranks):
    return [units * (r + 1) // ranks - units * r // ranks for r in range(ranks)]


def traffic(model, items, batch, ranks):
    """[(connection, split, forward bytes, backward bytes)] that rank 0 sends per batch."""
    sizes = [("Input", items, True)] + [(f"H{i}", n, False) for i, n in
                                        enumerate([1024] * 3 if model == "movielens" else [256])]
    sizes.append(("Output", items, False))
    rows = []
    for (a, n_in, whole), (b, n_out, _) in zip(sizes, sizes[1:]):
        columns = ranks == 1 or whole or 3 * n_out > 2 * n_in
        if ranks == 1 or whole:
            forward = backward = 0
        elif columns:  # all-gather the input forward, reduce-scatter its gradient backward
            mine = slices(n_in, ranks)[0]
            forward = (ranks - 1) * batch * mine * 4
            backward = batch * (n_in - mine) * 4
        else:  # reduce-scatter the partial products forward, all-gather the deltas backward
            mine = slices(n_out, ranks)[0]
            forward = batch * (n_out - mine) * 4
            backward = (ranks - 1) * batch * mine * 4
        rows.append((f"{a}->{b}", "columns" if columns else "rows", forward, backward))
    return rows


def worker(a):
    from mpi4py import MPI
    import dsstne
    from dsstne import synthetic
    comm = MPI.COMM_WORLD
    ctx = dsstne.Context(a.device, seed=1, comm=comm if comm.Get_size() > 1 else None)
    x = synthetic.interactions(a.users, a.items, per_user=a.per_user, seed=2016)
    net = dsstne.Network(config(a.model, a.items), dsstne.DataSet("x", x, context=ctx),
                         batch=a.batch, context=ctx)
    seconds = [net.train(1, alpha=0.01, optimizer="rmsprop", mu=0.9)[0]["seconds"]
               for _ in range(a.epochs)]
    if comm.Get_rank() == 0:
        print(json.dumps({"ranks": comm.Get_size(), "seconds_per_epoch": min(seconds[1:] or
                                                                              seconds)}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("movielens", "wide"), default="movielens")
    p.add_argument("--ranks", default="1,2")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=None)
    p.add_argument("--per-user", type=float, default=150.0)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.items is None:
        a.items = 27278 if a.model == "movielens" else 1_000_000
    if a.worker:
        return worker(a)
    ranks = [int(n) for n in a.ranks.split(",")]
    report = {"model": a.model, "items": a.items, "users": a.users, "batch": a.batch,
              "device": a.device, "runs": []}
    for n in ranks:
        print(f"\n{a.model}: {a.items} items, batch {a.batch}, {n} rank(s); bytes rank 0 sends "
              "per batch:")
        for name, split, forward, backward in traffic(a.model, a.items, a.batch, n):
            print(f"  {name:<14} {split:<8} forward {forward / 1e6:9.3f} MB  backward "
                  f"{backward / 1e6:9.3f} MB")
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--model", a.model,
                   "--users", str(a.users), "--items", str(a.items), "--per-user",
                   str(a.per_user), "--epochs", str(a.epochs), "--batch", str(a.batch),
                   "--device", a.device]
        if n > 1:
            command = [shutil.which("mpirun") or "mpiexec", "-np", str(n), "--oversubscribe",
                       *command]
        start = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True,
                             env=dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
                                      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1"))
        if run.returncode != 0:
            sys.exit(f"{n} ranks failed:\n{run.stdout}{run.stderr}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        result["wall_seconds"] = time.perf_counter() - start
        result["traffic"] = traffic(a.model, a.items, a.batch, n)
        report["runs"].append(result)
        print(f"  {result['seconds_per_epoch']:.3f} s/epoch")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    np.random.seed(0)
    main()
