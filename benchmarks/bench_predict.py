# SPDX-License-Identifier: Apache-2.0
"""predict against predict_topk: seconds and peak memory against the size of the result.

`predict` writes every score of the output layer into one numpy array that the engine fills
directly; the goal is that it costs at most 1.5x the time and 1.5x the memory of the result it
returns, with `predict_topk` (which returns k scores per row) as the peer measured in the same
run. Peak memory is the process's resident-set growth during the call (getrusage), which also
counts the engine's batch buffers.

Usage: python benchmarks/bench_predict.py [--device cpu|cuda] [--users 2000] [--items 20000]
       [--hidden 128] [--k 100] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time

import numpy as np

import dsstne
from dsstne import synthetic


def network(users, items, hidden, device):
    ctx = dsstne.Context(device)
    data = dsstne.DataSet("x", synthetic.interactions(users, items, per_user=30, seed=7),
                          context=ctx)
    config = {"Kind": "FeedForward", "ErrorFunction": "CrossEntropy", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "N": hidden, "Activation": "Sigmoid"},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
         "Activation": "Sigmoid"}]}
    return dsstne.Network(config, data, batch=512, context=ctx)


def max_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(fn, repeats):
    """Best seconds over `repeats` calls, and the growth of the peak RSS over the first call."""
    gc.collect()
    before = max_rss()
    start = time.perf_counter()
    result = fn()
    seconds = [time.perf_counter() - start]
    growth = max_rss() - before
    del result
    for _ in range(repeats - 1):
        gc.collect()
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return min(seconds), growth


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=20000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    net = network(a.users, a.items, a.hidden, a.device)
    # predict first: its result is the larger, so the RSS peak it sets is its own.
    predict_s, predict_peak = measure(net.predict, a.repeats)
    topk_s, topk_peak = measure(lambda: net.predict_topk(a.k), a.repeats)
    result = a.users * a.items * 4
    topk_result = a.users * a.k * 8
    rows = {
        "device": a.device, "users": a.users, "items": a.items, "hidden": a.hidden, "k": a.k,
        "predict_s": predict_s, "predict_peak_bytes": predict_peak, "predict_result_bytes": result,
        "topk_s": topk_s, "topk_peak_bytes": topk_peak, "topk_result_bytes": topk_result,
        "predict_time_over_topk": predict_s / topk_s,
        "predict_peak_over_result": predict_peak / result,
    }
    print(f"{a.users} x {a.items} scores on {a.device}:")
    print(f"  predict       {predict_s:8.3f} s  peak +{predict_peak / 1e6:8.1f} MB  "
          f"(result {result / 1e6:.1f} MB, {predict_peak / result:.2f}x)")
    print(f"  predict_topk  {topk_s:8.3f} s  peak +{topk_peak / 1e6:8.1f} MB  "
          f"(result {topk_result / 1e6:.1f} MB, k={a.k})")
    print(f"  predict / predict_topk time: {predict_s / topk_s:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    np.random.seed(0)
    main()
