# SPDX-License-Identifier: Apache-2.0
"""Wide recommenders on one GPU: items → hidden → items, seconds per epoch beside PyTorch and the
GEMM floor of the same shapes, in one run.

Network: sparse input of every item → `hidden` sigmoid → every item, sigmoid, CrossEntropy, SGD
(alpha 0.01, no weight decay), batch 256. Data: generated, 50 interactions per user with
Zipf-like popularity (synthetic.interactions, fixed seed). Sizes of issue 12: 1M items with
65,536 users, and 10M items with 2,560 users (--preset 1m / 10m).

Beside it, in the same run and precision:
- the GEMM floor: the output layer's three dense products of every batch (forward, delta back to
  the hidden layer, weight gradient) through cuBLAS (torch.mm) and nothing else; the sparse input
  layer costs no dense product (bf16: the same products on bf16 tensors);
- the step floor: the GEMM floor plus the three sweeps of the batch's output that no step skips
  (the output pass reads z and writes the delta, the bias gradient reads the delta) at the copy
  bandwidth measured in the same run;
- PyTorch eager and torch.compile: EmbeddingBag input, Linear output, BCEWithLogitsLoss (sum),
  SGD, the data resident on the GPU.

Usage: python benchmarks/bench_wide.py [--preset 1m|10m] [--users N] [--items N] [--hidden 256]
       [--epochs 2] [--precision fp32,tf32,bf16] [--no-torch] [--no-compile] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import dsstne
import torch_peers
from dsstne import synthetic

BATCH = 256
ALPHA = 0.01
TRAIN = dict(alpha=ALPHA, lambda_=0.0, optimizer="sgd")
PRESETS = {"1m": (1_000_000, 65_536), "10m": (10_000_000, 2_560)}


def config(hidden: int) -> dict:
    return {"Version": 0.8, "Name": "wide", "Kind": "FeedForward", "ShuffleIndices": False,
            "ErrorFunction": "CrossEntropy",
            "Layers": [
                {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "gl_input",
                 "Sparse": True},
                {"Name": "Hidden", "Kind": "Hidden", "N": hidden, "Activation": "Sigmoid",
                 "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01}},
                {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "gl_output",
                 "Activation": "Sigmoid", "Sparse": True,
                 "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01}}]}


def wide_data(users: int, items: int, seed: int = 7):
    return synthetic.interactions(users, items, per_user=50.0, groups=16, taste=0.5, zipf=0.8,
                                  seed=seed)


def bench_dsstne(matrix, hidden: int, epochs: int, precision: str) -> dict:
    ctx = dsstne.Context("cuda", seed=12134, precision=precision)
    inp = dsstne.DataSet("gl_input", matrix, context=ctx)
    out = dsstne.DataSet("gl_output", matrix, context=ctx)
    net = dsstne.Network(config(hidden), [inp, out], batch=BATCH, context=ctx)
    history = net.train(epochs, **TRAIN)
    seconds = [h["seconds"] for h in history]
    result = {"seconds_per_epoch": min(seconds[1:] or seconds), "epochs": seconds,
              "errors": [h["error"] for h in history]}
    del net, inp, out, ctx
    return result


def bench_torch(matrix, hidden: int, epochs: int, tf32: bool, compile_model: bool) -> dict:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device("cuda")
    torch.manual_seed(0)
    items = matrix.shape[1]
    crow, cols = torch_peers.csr_tensors(matrix, dev)

    class Wide(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.EmbeddingBag(items, hidden, mode="sum")
            self.bias = torch.nn.Parameter(torch.zeros(hidden))
            self.out = torch.nn.Linear(hidden, items)

        def forward(self, idx, offsets):
            return self.out(torch.sigmoid(self.inp(idx, offsets) + self.bias))

    model = Wide().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=ALPHA / BATCH)
    run = torch_peers.bce_step(model, opt, compile_model)
    times = torch_peers.epoch_seconds(run, crow, cols, items, BATCH, epochs)
    del model, opt
    torch.cuda.empty_cache()
    return {"seconds_per_epoch": min(times[1:] or times), "epochs": times}


def bench_gemm_floor(users: int, items: int, hidden: int, precision: str,
                     repeats: int = 3) -> dict:
    """The output layer's three products of every batch through cuBLAS alone (bf16: on bf16
    tensors, the fastest those products can be)."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    dev = torch.device("cuda")
    kw = {"device": dev, "dtype": torch.bfloat16 if precision == "bf16" else torch.float32}
    # Held in a dict so that they can be freed before the next contender allocates.
    t = {"a": torch.randn(BATCH, hidden, **kw), "w": torch.randn(hidden, items, **kw),
         "d": torch.randn(BATCH, items, **kw), "g": torch.empty(hidden, items, **kw),
         "back": torch.empty(BATCH, hidden, **kw), "z": torch.empty(BATCH, items, **kw)}
    batches = (users + BATCH - 1) // BATCH

    def one_batch():
        torch.mm(t["a"], t["w"], out=t["z"])
        torch.mm(t["d"], t["w"].t(), out=t["back"])
        torch.mm(t["a"].t(), t["d"], out=t["g"])
    best = torch_peers.best_epoch(one_batch, batches, repeats, cuda=True)
    t.clear()
    torch.cuda.empty_cache()
    return {"seconds_per_epoch": best}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="1m")
    parser.add_argument("--users", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--precision", default="fp32,tf32,bf16")
    parser.add_argument("--no-torch", action="store_true", help="dsstne and the floor alone")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    items, users = PRESETS[args.preset]
    items, users = args.items or items, args.users or users

    start = time.perf_counter()
    matrix = wide_data(users, items)
    print(f"data: {users} users x {items} items, {matrix.nnz} interactions, hidden "
          f"{args.hidden} ({time.perf_counter() - start:.1f} s to make)", flush=True)
    results = {"users": users, "items": items, "hidden": args.hidden, "nnz": int(matrix.nnz)}
    results["bandwidth_gb_s"] = bandwidth = torch_peers.copy_bandwidth() / 1e9
    # What no step can skip beyond the products: the output pass reads z and writes the delta,
    # the bias gradient reads the delta: three sweeps of batch × items floats per batch.
    sweeps = 3 * BATCH * items * 4 * ((users + BATCH - 1) // BATCH) / (bandwidth * 1e9)
    print(f"copy bandwidth {bandwidth:.0f} GB/s; the output's three sweeps {sweeps:.3f} s/epoch",
          flush=True)
    for tag in args.precision.split(","):
        tf32 = tag == "tf32"
        row = results[tag] = {}
        row["gemm_floor"] = floor = bench_gemm_floor(users, items, args.hidden, tag)
        row["step_floor"] = step = floor["seconds_per_epoch"] + sweeps
        row["dsstne"] = r = bench_dsstne(matrix, args.hidden, args.epochs, tag)
        line = (f"{tag}: dsstne {r['seconds_per_epoch']:.3f} s/epoch, GEMM floor "
                f"{floor['seconds_per_epoch']:.3f} "
                f"({r['seconds_per_epoch'] / floor['seconds_per_epoch']:.2f}x), step floor "
                f"{step:.3f} ({r['seconds_per_epoch'] / step:.2f}x)")
        peers = [] if args.no_torch or tag == "bf16" else [False, True]
        peers = peers[:1] if args.no_compile else peers
        for compiled in peers:
            name = "torch_compile" if compiled else "torch_eager"
            try:
                row[name] = t = bench_torch(matrix, args.hidden, args.epochs, tf32, compiled)
                line += (f"; {name} {t['seconds_per_epoch']:.3f} "
                         f"({t['seconds_per_epoch'] / r['seconds_per_epoch']:.2f}x dsstne)")
            except Exception as exc:  # report, keep the other numbers
                row[name] = {"error": repr(exc)}
                line += f"; {name} failed: {exc!r}"
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
