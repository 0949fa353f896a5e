# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's MovieLens benchmark: seconds per epoch of the 3 × 1024 sparse autoencoder.

Network (DSSTNE's benchmark_movielens_3x1024): sparse 27,278 → 3 × 1,024 sigmoid with dropout
0.5 → 27,278 sigmoid, ScaledMarginalCrossEntropy (targets 1/0, scales 1 = binary cross-entropy),
RMSProp, batch 256, on generated data shaped like MovieLens-20M (138,493 users, ~20M
interactions, Zipf-like popularity, fixed seed). Beside it, in the same run: PyTorch (EmbeddingBag
input, data resident on the GPU, eager and torch.compile, float32 and TF32) and the GEMM-only
floor (the same dense products alone), and torch.topk of 1,024 × 1,000,000 with k = 100. The step
floor adds to the GEMM floor RMSProp's own memory traffic (20 bytes a weight per batch) at the
copy bandwidth measured in the same run. On a GPU dsstne also runs with precision "bf16" (bf16
GEMM inputs, float32 sums), to be read against the TF32 floor.

Usage: python benchmarks/bench_movielens.py [--device cuda] [--users N] [--epochs 2]
       [--torch] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

import dsstne
import torch_peers
from dsstne import synthetic

ITEMS = 27278
HIDDEN = 1024
BATCH = 256

CONFIG = {
    "Version": 0.8, "Name": "movielens 3x1024", "Kind": "FeedForward", "ShuffleIndices": False,
    "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0,
                                   "zeroScale": 1.0},
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "gl_input", "Sparse": True},
        *[{"Name": f"Hidden{i}", "Kind": "Hidden", "N": HIDDEN, "Activation": "Sigmoid",
           "pDropout": 0.5, "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01}}
          for i in (1, 2, 3)],
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "gl_output",
         "Activation": "Sigmoid", "Sparse": True,
         "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01, "Bias": -10.2}},
    ],
    "ErrorFunction": "ScaledMarginalCrossEntropy",
}


def movielens_like(users: int, cache: pathlib.Path | None):
    """MovieLens-20M-shaped interactions (cached as .npz)."""
    import scipy.sparse as sp
    if cache is not None and cache.exists():
        return sp.load_npz(cache)
    m = synthetic.interactions(users, ITEMS, per_user=180.0,
                               groups=16, taste=0.5, zipf=0.8, seed=2016)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        sp.save_npz(cache, m)
    return m


def bench_dsstne(matrix, device: str, epochs: int, precision: str) -> dict:
    ctx = dsstne.Context(device, seed=12134, precision=precision)
    inp = dsstne.DataSet("gl_input", matrix, context=ctx)
    out = dsstne.DataSet("gl_output", matrix, context=ctx)
    net = dsstne.Network(CONFIG, [inp, out], batch=BATCH, context=ctx)
    history = net.train(epochs, alpha=0.001, mu=0.9, lambda_=0.0, optimizer="rmsprop")
    seconds = [h["seconds"] for h in history]
    return {"seconds_per_epoch": min(seconds[1:] or seconds), "epochs": seconds,
            "errors": [h["error"] for h in history]}


def bench_torch(matrix, epochs: int, tf32: bool, compile_model: bool) -> dict:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = torch.device("cuda")
    torch.manual_seed(0)
    crow, cols = torch_peers.csr_tensors(matrix, dev)

    class AutoEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.EmbeddingBag(ITEMS, HIDDEN, mode="sum")
            self.bias = torch.nn.Parameter(torch.zeros(HIDDEN))
            self.h2 = torch.nn.Linear(HIDDEN, HIDDEN)
            self.h3 = torch.nn.Linear(HIDDEN, HIDDEN)
            self.out = torch.nn.Linear(HIDDEN, ITEMS)
            self.drop = torch.nn.Dropout(0.5)
            torch.nn.init.constant_(self.out.bias, -10.2)

        def forward(self, idx, offsets):
            x = self.drop(torch.sigmoid(self.inp(idx, offsets) + self.bias))
            x = self.drop(torch.sigmoid(self.h2(x)))
            x = self.drop(torch.sigmoid(self.h3(x)))
            return self.out(x)

    model = AutoEncoder().to(dev)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9)
    run = torch_peers.bce_step(model, opt, compile_model)
    times = torch_peers.epoch_seconds(run, crow, cols, ITEMS, BATCH, epochs)
    return {"seconds_per_epoch": min(times[1:] or times), "epochs": times}


def bench_gemm_floor(users: int, tf32: bool, repeats: int = 3) -> dict:
    """The dense products of one epoch (sparse input layer excluded) through cuBLAS alone."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device("cuda")
    a = torch.randn(BATCH, HIDDEN, device=dev)
    w = torch.randn(HIDDEN, HIDDEN, device=dev)
    wo = torch.randn(HIDDEN, ITEMS, device=dev)
    d = torch.randn(BATCH, ITEMS, device=dev)
    batches = (users + BATCH - 1) // BATCH

    def one_batch():
        torch.mm(a, w), torch.mm(a, w), torch.mm(a, wo)            # forward H1→H2→H3→Out
        torch.mm(d, wo.t()), torch.mm(a, w.t()), torch.mm(a, w.t())  # deltas back to H3, H2, H1
        torch.mm(a.t(), d), torch.mm(a.t(), a), torch.mm(a.t(), a)   # weight gradients
    best = torch_peers.best_epoch(one_batch, batches, repeats, cuda=True, warmups=3)
    return {"seconds_per_epoch": best}


def bench_torch_topk(rows=1024, cols=1_000_000, k=100, repeats=20) -> dict:
    import torch
    x = torch.rand(rows, cols, device="cuda")
    for _ in range(3):
        torch.topk(x, k, dim=1)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        torch.topk(x, k, dim=1)
    torch.cuda.synchronize()
    return {"ms": 1000 * (time.perf_counter() - start) / repeats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--users", type=int, default=138493)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--torch", action="store_true", help="also run the PyTorch baselines")
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(__file__).with_name(".cache") / "ml20m_like.npz")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()

    cache = args.cache if args.users == 138493 else None
    start = time.perf_counter()
    matrix = movielens_like(args.users, cache)
    print(f"data: {matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.nnz} interactions "
          f"({time.perf_counter() - start:.1f} s to make)", flush=True)
    results = {"users": matrix.shape[0], "items": ITEMS, "nnz": int(matrix.nnz),
               "device": args.device, "epochs": args.epochs}
    gpu = args.device.startswith("cuda")
    if args.torch and gpu:
        # RMSProp reads the gradient, weight and velocity of every weight and writes the weight
        # and velocity: 20 bytes a weight, a floor the products leave out.
        weights = 2 * ITEMS * HIDDEN + 2 * HIDDEN * HIDDEN
        results["bandwidth_gb_s"] = bandwidth = torch_peers.copy_bandwidth() / 1e9
        batches = (matrix.shape[0] + BATCH - 1) // BATCH
        results["optimizer_floor"] = optimizer = 20 * weights * batches / (bandwidth * 1e9)
        print(f"copy bandwidth {bandwidth:.0f} GB/s; RMSProp's traffic {optimizer:.3f} s/epoch",
              flush=True)
    for tag in ("fp32", "tf32", "bf16") if gpu else ("fp32",):
        tf32 = tag == "tf32"
        results[f"dsstne_{tag}"] = r = bench_dsstne(matrix, args.device, args.epochs, tag)
        print(f"dsstne {tag}: {r['seconds_per_epoch']:.3f} s/epoch  errors {r['errors']}",
              flush=True)
        if args.torch and tag != "bf16":
            results[f"gemm_floor_{tag}"] = f = bench_gemm_floor(matrix.shape[0], tf32)
            step = f["seconds_per_epoch"] + results["optimizer_floor"]
            results[f"step_floor_{tag}"] = step
            mine = results[f"dsstne_{tag}"]["seconds_per_epoch"]
            print(f"GEMM floor {tag}: {f['seconds_per_epoch']:.3f} s/epoch (dsstne "
                  f"{mine / f['seconds_per_epoch']:.2f}x); step floor {step:.3f} (dsstne "
                  f"{mine / step:.2f}x)", flush=True)
            for compiled in (False, True):
                name = f"torch_{'compile' if compiled else 'eager'}_{tag}"
                try:
                    results[name] = r = bench_torch(matrix, args.epochs, tf32, compiled)
                    print(f"{name}: {r['seconds_per_epoch']:.3f} s/epoch", flush=True)
                except Exception as exc:  # report, keep the other numbers
                    results[name] = {"error": repr(exc)}
                    print(f"{name}: failed: {exc!r}", flush=True)
    if args.torch:
        results["torch_topk_1024x1e6_k100"] = r = bench_torch_topk()
        print(f"torch.topk 1024 x 1,000,000, k=100: {r['ms']:.2f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
