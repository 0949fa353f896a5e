# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's AlexNet (seed_alexnet.json) beside PyTorch: seconds per training batch of generated
224×224×3 images, batch 128, in one run.

Network: DSSTNE's own config, read from the reference files ($DSSTNE_REFERENCE_DIR or
../shared/dsstne-reference, configs/seed_alexnet.json; --config to name another copy): 11×11/4
convolution to 96 maps, LRN, 3/2 max pooling, 5×5 to 256, LRN, pooling, three 3×3 convolutions
(384, 384, 256), pooling, two 4,096-unit ReLU layers with dropout 0.5, SoftMax over the classes
with CrossEntropy; plain SGD (no weight decay). Data: uniform [0, 1) images and one label per
image (fixed seed), resident on the device, `--batches` batches an epoch.

The PyTorch twin is made from the same JSON: Conv2d with DSSTNE's padding (kernel // 2 at stride
1, none above), LocalResponseNorm with the config's k, n, alpha and beta, MaxPool2d, Linear,
Dropout, CrossEntropyLoss summed over the batch with lr = alpha / batch (dsstne's SGD step takes
the batch mean of the gradient), batches gathered through a fresh permutation each epoch (dsstne
shuffles, ShuffleIndices being on by default). cuDNN in deterministic mode without autotuning,
torch.use_deterministic_algorithms (warn_only: the PyTorch kernels that have no deterministic
version are listed), CUBLAS_WORKSPACE_CONFIG=:4096:8; TF32 off for the fp32 row, on for the TF32
row. Every layer's size is checked against dsstne's before anything is timed.

Each contender runs `--epochs` epochs; the first is the warmup (cuDNN plans, allocations,
torch.compile's compilation) and the fastest of the rest is reported, as seconds per batch. The
goal: dsstne within 1.2× of PyTorch eager per training batch. A precision tag may name the
convolution algorithms after a colon (`fp32:gemm-order`: dsstne alone, without FFT or Winograd).

Usage: python benchmarks/bench_alexnet.py [--device cuda] [--batch 128] [--batches 20]
       [--epochs 2] [--precision fp32,fp32:gemm-order,tf32] [--classes 1000] [--image 224]
       [--compile]
       [--no-torch] [--no-predict] [--json out.json]
CPU smoke run: --device cpu --batch 2 --batches 1 --image 83 --classes 10 (83 is the smallest
side whose derived sizes PyTorch's layers reproduce: below it the 3×3 convolutions meet maps of
3×3 or less, which DSSTNE's rule shrinks to 1×1).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import pathlib
import shlex
import sys
import time
import warnings

import numpy as np

import dsstne

GOAL = 1.2
SEED = 12134
REPO = pathlib.Path(__file__).resolve().parents[1]
LRN_DEFAULTS = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}


def reference_config(path: pathlib.Path | None) -> tuple[dict, pathlib.Path]:
    """The AlexNet config: `path`, else seed_alexnet.json among DSSTNE's reference files."""
    if path is None:
        ref = pathlib.Path(os.environ.get("DSSTNE_REFERENCE_DIR",
                                          REPO.parent / "shared" / "dsstne-reference"))
        path = ref / "configs" / "seed_alexnet.json"
    if not path.is_file():
        sys.exit(f"bench_alexnet: {path} not found. DSSTNE's reference files live in the "
                 "development checkout's ../shared/dsstne-reference (device/ref on the GPU "
                 "machine); set DSSTNE_REFERENCE_DIR or pass --config.")
    return json.loads(path.read_text()), path


def make_data(examples: int, side: int, classes: int, seed: int = 2012):
    """Uniform images (examples, 3, side, side), labels, and the labels one-hot."""
    rng = np.random.default_rng(seed)
    x = rng.random((examples, 3, side, side), dtype=np.float32)
    labels = rng.integers(0, classes, examples)
    y = np.zeros((examples, classes), np.float32)
    y[np.arange(examples), labels] = 1.0
    return x, labels, y


def settled(times: list[float]) -> float:
    """The fastest epoch after the warmup (the only one when there is a single epoch)."""
    return min(times[1:] or times)


def bench_dsstne(config: dict, x, y, args, precision: str, check=None) -> dict:
    """check(layers), when given, sees the built network's layer sizes before any timing."""
    precision, _, algorithms = precision.partition(":")
    ctx = dsstne.Context(args.device, seed=SEED, precision=precision,
                         conv_algorithms=algorithms or "deterministic")
    data = [dsstne.DataSet("input", x, context=ctx), dsstne.DataSet("output", y, context=ctx)]
    net = dsstne.Network(config, data, batch=args.batch, context=ctx)
    result = {"layers": {lyr.name: list(lyr.dims) for lyr in net.layers}}
    if check is not None:
        check(result["layers"])
    times, errors = [], []
    for _ in range(args.epochs):
        start = time.perf_counter()
        (stats,) = net.train(1, alpha=args.alpha, lambda_=0.0, optimizer="sgd")
        times.append(time.perf_counter() - start)
        errors.append(stats["error"])
    result.update(train_s_per_batch=settled(times) / args.batches, train_epochs=times,
                  errors=errors)
    if not args.no_predict:
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            net.predict()
            times.append(time.perf_counter() - start)
        result.update(predict_s_per_batch=settled(times) / args.batches, predict_epochs=times)
    del net, data, ctx
    gc.collect()
    return result


def torch_stages(config: dict, side: int, classes: int):
    """One torch.nn.Sequential per layer of the config after the input, so that each stage's
    output can be held against the dsstne layer it stands for."""
    import torch
    from torch import nn
    lrn = {**LRN_DEFAULTS, **config.get("LocalResponseNormalization", {})}
    activations = {"relu": nn.ReLU, "rectifiedlinear": nn.ReLU, "softmax": None, "linear": None}
    shape, stages = (3, side, side), []
    for spec in config["Layers"][1:]:
        kind = spec.get("Type", "FullyConnected")
        # A pooling layer applies no activation; DSSTNE's default for the others is Sigmoid.
        act = spec.get("Activation", "Linear" if kind == "Pooling" else "Sigmoid").lower()
        if act not in activations:
            raise ValueError(f"bench_alexnet: no PyTorch twin for activation {act!r}")
        mods = []
        if kind in ("Convolutional", "Pooling") and spec.get("Function") != "LRN":
            kernel = tuple(spec["Kernel"])
            stride = tuple(spec.get("KernelStride", (1, 1)))
            # DSSTNE's padding: half the kernel at stride 1 ("same"), none above it.
            pad = tuple(k // 2 if s == 1 else 0 for k, s in zip(kernel, stride))
            if kind == "Convolutional":
                mods.append(nn.Conv2d(shape[0], spec["N"], kernel, stride, pad))
            elif spec["Function"] == "Max":
                mods.append(nn.MaxPool2d(kernel, stride, pad))
            else:
                raise ValueError(f"bench_alexnet: no PyTorch twin for pooling {spec['Function']}")
        elif kind == "Pooling":
            mods.append(nn.LocalResponseNorm(int(lrn["n"]), float(lrn["alpha"]),
                                             float(lrn["beta"]), float(lrn["k"])))
        elif kind == "FullyConnected":
            units = classes if spec["N"] == "auto" else spec["N"]
            if len(shape) > 1:
                mods.append(nn.Flatten())
            mods.append(nn.Linear(int(np.prod(shape)), units))
        else:
            raise ValueError(f"bench_alexnet: no PyTorch twin for layer type {kind}")
        if activations[act] is not None:
            mods.append(activations[act]())
        if spec.get("pDropout", 0.0) > 0.0:
            mods.append(nn.Dropout(spec["pDropout"]))
        stages.append(nn.Sequential(*mods))
        with torch.no_grad():
            shape = tuple(stages[-1].eval()(torch.zeros((1,) + shape)).shape[1:])
    return stages


def check_sizes(stages, layers: dict, side: int) -> None:
    """Every PyTorch stage's output has the size of the dsstne layer it stands for."""
    import torch
    names = list(layers)[1:]
    out = torch.zeros(1, 3, side, side)
    with torch.no_grad():
        for name, stage in zip(names, stages):
            out = stage.eval()(out)
            if tuple(out.shape[1:]) != tuple(layers[name]):
                sys.exit(f"bench_alexnet: dsstne's layer {name} is {tuple(layers[name])} but "
                         f"its PyTorch twin gives {tuple(out.shape[1:])} (image side {side}: "
                         "where DSSTNE's rule meets a kernel as large as its map the sizes part; "
                         "224 and 83 work)")


def bench_torch(config: dict, x_dev, labels_dev, args, tf32: bool, compiled: bool) -> dict:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = x_dev.device
    cuda = dev.type == "cuda"
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(*torch_stages(config, args.image, args.classes)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=args.alpha / args.batch)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.detach()
    run = torch.compile(step) if compiled else step
    examples = x_dev.shape[0]

    def sync():
        if cuda:
            torch.cuda.synchronize()
    times, errors = [], []
    model.train()
    for _ in range(args.epochs):
        perm = torch.randperm(examples, device=dev)
        sync()
        start = time.perf_counter()
        total = torch.zeros((), device=dev)
        for pos in range(0, examples, args.batch):
            rows = perm[pos:pos + args.batch]
            total += run(x_dev.index_select(0, rows), labels_dev.index_select(0, rows))
        sync()
        times.append(time.perf_counter() - start)
        errors.append(total.item() / examples)
    result = {"train_s_per_batch": settled(times) / args.batches, "train_epochs": times,
              "errors": errors}
    if not args.no_predict:
        model.eval()
        forward = torch.compile(model) if compiled else model
        out = torch.empty(examples, args.classes, device=dev)
        times = []
        with torch.no_grad():
            for _ in range(args.epochs):
                sync()
                start = time.perf_counter()
                for pos in range(0, examples, args.batch):
                    out[pos:pos + args.batch] = torch.softmax(
                        forward(x_dev[pos:pos + args.batch]), dim=1)
                out.cpu()  # dsstne's predict hands back a host array
                times.append(time.perf_counter() - start)
        result.update(predict_s_per_batch=settled(times) / args.batches, predict_epochs=times)
    return result


def setup_torch():
    """PyTorch in deterministic mode; None when it cannot be imported."""
    try:
        import torch
    except ImportError as exc:
        print(f"PyTorch is not importable ({exc}): dsstne alone", flush=True)
        return None
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch


def device_name(device: str, torch) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name() if torch is not None else "cuda"
    return f"cpu ({os.cpu_count()} cores)"


def fmt(row: dict, key: str) -> str:
    return f"{row[key]:.4f}" if key in row else "-"


def report(results: dict) -> str:
    """The markdown table of the run, with its card, date, command and the goal."""
    lines = [f"## AlexNet (seed_alexnet.json), batch {results['batch']}, "
             f"{results['image']}×{results['image']}×3, {results['classes']} classes — "
             f"{results['device_name']}, {results['date']}", "",
             f"Command: `{results['command']}`", "",
             f"{results['epochs']} epoch(s) of {results['batches']} batch(es): the first "
             "warms up, the fastest of the rest counts; seconds per batch.", "",
             "| run | precision | train s/batch | images/s | predict s/batch | dsstne ÷ run |",
             "|---|---|---|---|---|---|"]
    backend = "cuDNN, deterministic" if results["device"].startswith("cuda") else "deterministic"
    names = {"dsstne": "**dsstne**", "torch_eager": f"PyTorch eager ({backend})",
             "torch_compile": f"PyTorch torch.compile ({backend})"}
    goals = []
    for tag, row in results["rows"].items():
        mine = row["dsstne"].get("train_s_per_batch")
        for name, r in row.items():
            if "error" in r:
                lines.append(f"| {names[name]} | {tag} | failed: {r['error']} | | | |")
                continue
            t = r["train_s_per_batch"]
            ratio = "" if name == "dsstne" or mine is None else f"{mine / t:.2f}×"
            lines.append(f"| {names[name]} | {tag} | {t:.4f} | {results['batch'] / t:.0f} | "
                         f"{fmt(r, 'predict_s_per_batch')} | {ratio} |")
        eager = row.get("torch_eager", {})
        if "train_s_per_batch" in eager and mine is not None:
            ratio = mine / eager["train_s_per_batch"]
            goals.append(f"{tag} {ratio:.2f}× ({'met' if ratio <= GOAL else 'not met'})")
    lines.append("")
    if goals:
        lines.append(f"Goal, dsstne ≤ {GOAL}× PyTorch eager per training batch: "
                     + "; ".join(goals) + ".")
    if results.get("torch_nondeterministic"):
        lines.append("PyTorch kernels without a deterministic version (warn_only): "
                     + ", ".join(results["torch_nondeterministic"]) + ".")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--config", type=pathlib.Path, help="default: seed_alexnet.json of "
                        "$DSSTNE_REFERENCE_DIR or ../shared/dsstne-reference")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=20, help="batches an epoch")
    parser.add_argument("--epochs", type=int, default=2, help="the first is the warmup")
    parser.add_argument("--precision", help="comma-separated fp32, tf32, bf16 (bf16: dsstne "
                        "alone), each optionally :gemm-order; default fp32,fp32:gemm-order,tf32 "
                        "on a GPU, fp32 on the CPU")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--image", type=int, default=224, help="side of the square images")
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--no-torch", action="store_true", help="dsstne alone")
    parser.add_argument("--no-predict", action="store_true", help="skip the forward-only runs")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    if min(args.batch, args.batches, args.epochs, args.classes, args.image) < 1:
        parser.error("--batch, --batches, --epochs, --classes and --image must be positive")
    gpu = args.device.startswith("cuda")
    tags = (args.precision or ("fp32,fp32:gemm-order,tf32" if gpu else "fp32")).split(",")
    # cuBLAS reads this when its first handle is made: before dsstne or PyTorch makes one.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    config, path = reference_config(args.config)
    torch = None if args.no_torch else setup_torch()

    examples = args.batch * args.batches
    start = time.perf_counter()
    x, labels, y = make_data(examples, args.image, args.classes)
    print(f"config {path}; data: {examples} images {args.image}×{args.image}×3, "
          f"{args.classes} classes ({time.perf_counter() - start:.1f} s to make)", flush=True)
    results = {"device": args.device, "device_name": device_name(args.device, torch),
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": shlex.join(["python3", *sys.argv]), "config": str(path),
               "batch": args.batch, "batches": args.batches, "epochs": args.epochs,
               "image": args.image, "classes": args.classes, "alpha": args.alpha, "goal": GOAL,
               "rows": {}}

    def check(layers: dict) -> None:
        """The first network built: print its sizes and hold PyTorch's twin against them."""
        results["layers"] = layers
        print("dsstne layers: " + ", ".join(
            f"{name} {'×'.join(map(str, dims))}" for name, dims in layers.items()), flush=True)
        if torch is not None:
            check_sizes(torch_stages(config, args.image, args.classes), layers, args.image)

    x_dev = labels_dev = None
    caught = []
    for tag in tags:
        row = results["rows"][tag] = {}
        first = "layers" not in results
        try:
            row["dsstne"] = r = bench_dsstne(config, x, y, args, tag, check if first else None)
            del r["layers"]
            print(f"dsstne {tag}: {r['train_s_per_batch']:.4f} s/batch train, errors "
                  f"{[round(e, 4) for e in r['errors']]}", flush=True)
        except Exception as exc:  # report, keep the peers' numbers
            row["dsstne"] = r = {"error": repr(exc)}
            print(f"dsstne {tag} failed: {exc!r}", flush=True)
        if torch is None or tag == "bf16" or ":" in tag:  # no PyTorch twin
            continue
        if x_dev is None:
            # A copy: the DataSet made over x may have marked the array read-only.
            x_dev = torch.tensor(x, device=args.device)
            labels_dev = torch.tensor(labels, device=args.device)
        for compiled in (False, True) if args.compile else (False,):
            name = "torch_compile" if compiled else "torch_eager"
            try:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    row[name] = t = bench_torch(config, x_dev, labels_dev, args, tag == "tf32",
                                                compiled)
                caught += [str(w.message) for w in seen]
                if gpu:  # the model is gone: hand its cached blocks back before the next run
                    torch.cuda.empty_cache()
                ratio = (f" (dsstne {r['train_s_per_batch'] / t['train_s_per_batch']:.2f}×)"
                         if "error" not in r else "")
                print(f"{name} {tag}: {t['train_s_per_batch']:.4f} s/batch train{ratio}, "
                      f"errors {[round(e, 4) for e in t['errors']]}", flush=True)
            except Exception as exc:  # report, keep the other numbers
                row[name] = {"error": repr(exc)}
                print(f"{name} {tag} failed: {exc!r}", flush=True)
    # PyTorch's alerts read "<kernel> does not have a deterministic implementation, ...".
    results["torch_nondeterministic"] = sorted(
        {m.split(" does not have")[0] for m in caught if "deterministic implementation" in m})
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
