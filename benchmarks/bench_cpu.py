# SPDX-License-Identifier: Apache-2.0
"""The CPU backend beside PyTorch on the CPU: DSSTNE's MovieLens config on the 1,024-user sample.

Network (DSSTNE's movielens_autoencoder.json): sparse input of every item → 128 sigmoid with
denoising 0.2 and a sparseness penalty (p 0.5, beta 2) → every item, sigmoid,
ScaledMarginalCrossEntropy with targets 1/0 and scales 1 (binary cross-entropy over all
outputs). SGD with DSSTNE's defaults (alpha 0.025, lambda 0.0001), batch 256. Data: the real
MovieLens sample of DSSTNE's tutorial (../shared/dsstne-reference/data, or
$DSSTNE_REFERENCE_DIR), every rating as 1.

Beside it, in the same run and with the same threads: PyTorch eager (EmbeddingBag input with a
denoising mask, the same penalty and loss, SGD with weight decay) and, with --compile,
torch.compile; and the dense floor, the three output-layer products of every batch alone.

Epochs of the contenders alternate (dsstne, eager, compiled, dsstne, ...), so that the drift
of a shared machine falls on each alike; the median and the best epoch are reported.

Usage: python benchmarks/bench_cpu.py [--epochs 10] [--no-torch] [--compile]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib

import numpy as np

try:  # before dsstne: a libdsstne built beside a system NCCL would shadow the one PyTorch loads
    import torch  # noqa: F401
except ImportError:  # --no-torch runs without it
    pass

import dsstne
import torch_peers
from dsstne import textformats

BATCH = 256
HIDDEN = 128
ALPHA, LAMBDA = 0.025, 0.0001
REPO = pathlib.Path(__file__).resolve().parent.parent


def reference_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("DSSTNE_REFERENCE_DIR",
                                       REPO.parent / "shared" / "dsstne-reference"))
    if not (path / "data" / "movielens_input_1024.txt").is_file():
        raise SystemExit(f"no MovieLens sample under {path}/data (a development checkout has it "
                         f"in ../shared; set DSSTNE_REFERENCE_DIR)")
    return path


def load(reference: pathlib.Path):
    read = textformats.read_data(reference / "data" / "movielens_input_1024.txt")
    matrix = read.matrix.astype(np.float32)
    matrix.data[:] = 1.0
    config = json.loads((reference / "configs" / "movielens_autoencoder.json").read_text())
    return matrix, config


def dsstne_epoch(matrix, config):
    """A callable that trains dsstne one epoch and returns its seconds."""
    ctx = dsstne.Context("cpu", seed=12134)
    inp = dsstne.DataSet("gl_input", matrix, boolean=True, context=ctx)
    out = dsstne.DataSet("gl_output", matrix, boolean=True, context=ctx)
    net = dsstne.Network(config, [inp, out], batch=BATCH, context=ctx)
    return lambda: net.train(1, alpha=ALPHA, lambda_=LAMBDA, optimizer="sgd")[0]["seconds"]


def torch_epoch(matrix, compile_model: bool):
    """A callable that trains the PyTorch peer one epoch and returns its seconds."""
    import torch
    torch.manual_seed(0)
    items = matrix.shape[1]
    crow, cols = torch_peers.csr_tensors(matrix, "cpu")

    class AutoEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.EmbeddingBag(items, HIDDEN, mode="sum")
            self.bias = torch.nn.Parameter(torch.zeros(HIDDEN))
            self.out = torch.nn.Linear(HIDDEN, items)

        def forward(self, idx, offsets, keep):
            hidden = torch.sigmoid(self.inp(idx, offsets, per_sample_weights=keep) + self.bias)
            return hidden, self.out(hidden)

    model = AutoEncoder()
    opt = torch.optim.SGD(model.parameters(), lr=ALPHA / BATCH, weight_decay=LAMBDA * BATCH)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")

    def step(idx, offsets, keep, target):
        opt.zero_grad(set_to_none=True)
        hidden, logits = model(idx, offsets, keep)
        rho = hidden.mean(0).clamp(1e-6, 1 - 1e-6)
        penalty = 2.0 * (0.5 * torch.log(0.5 / rho) + 0.5 * torch.log(0.5 / (1 - rho))).sum()
        loss = loss_fn(logits, target) + penalty
        loss.backward()
        opt.step()
        return loss

    run = torch.compile(step) if compile_model else step

    def denoised(idx, offsets, target):  # the denoising mask of every batch, as dsstne draws one
        return run(idx, offsets, (torch.rand(idx.shape[0]) >= 0.2).float(), target)
    return lambda: torch_peers.epoch_seconds(denoised, crow, cols, items, BATCH, 1)[0]


def bench_dense_floor(users: int, items: int, repeats: int = 3) -> dict:
    """The output layer's three products of every batch (forward, delta back, weight gradient)
    through PyTorch's BLAS alone: what no implementation of this model can go below."""
    import torch
    hidden = torch.randn(BATCH, HIDDEN)
    w = torch.randn(HIDDEN, items)
    delta = torch.randn(BATCH, items)
    batches = (users + BATCH - 1) // BATCH

    def one_batch():
        torch.mm(hidden, w), torch.mm(delta, w.t()), torch.mm(hidden.t(), delta)
    return {"seconds_per_epoch": torch_peers.best_epoch(one_batch, batches, repeats, cuda=False)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-torch", action="store_true", help="dsstne alone")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow start)")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()

    threads = os.cpu_count() or 1   # dsstne's OpenMP and OpenBLAS take every core; so does torch
    matrix, config = load(reference_dir())
    print(f"data: {matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.nnz} ratings; "
          f"{threads} threads", flush=True)
    results = {"users": matrix.shape[0], "items": matrix.shape[1], "nnz": int(matrix.nnz),
               "threads": threads, "epochs": args.epochs}
    # Epochs of the contenders alternate, so that the drift of a shared 2-core machine falls on
    # all of them alike; the first round warms caches, pages and compilation and is not counted.
    contenders = {"dsstne": dsstne_epoch(matrix, config)}
    if not args.no_torch:
        import torch
        torch.set_num_threads(threads)
        results["dense_floor"] = r = bench_dense_floor(*matrix.shape)
        print(f"dense floor:     {r['seconds_per_epoch']:.3f} s/epoch", flush=True)
        contenders["torch_eager"] = torch_epoch(matrix, False)
        if args.compile:
            contenders["torch_compile"] = torch_epoch(matrix, True)
    seconds = {name: [] for name in contenders}
    for _ in range(args.epochs + 1):
        for name, epoch in contenders.items():
            seconds[name].append(epoch())
    mine = float(np.median(seconds["dsstne"][1:]))
    for name, times in seconds.items():
        med = float(np.median(times[1:]))
        results[name] = {"seconds_per_epoch": med, "min": min(times[1:]), "epochs": times[1:]}
        vs = "" if name == "dsstne" else f"  (dsstne {med / mine:.2f}x faster)"
        print(f"{name + ':':16} {med:.3f} s/epoch median, {min(times[1:]):.3f} best of "
              f"{args.epochs}{vs}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
