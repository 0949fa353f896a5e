# SPDX-License-Identifier: Apache-2.0
"""Where a training epoch's GPU time goes: every CUDA kernel and copy dsstne launches, timed
through PyTorch's profiler (CUPTI records the whole process's device activity, not only
PyTorch's), beside the epoch's wall time. The difference between the two is time the GPU sat
idle: host round trips and launch gaps.

Usage: python benchmarks/profile_step.py [--model movielens|wide|alexnet] [--users N] [--items N]
       [--hidden N] [--precision fp32|tf32|bf16] [--trace out.json] [--json out.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys
import time

import dsstne

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_movielens  # noqa: E402  (its config and data)
import bench_wide  # noqa: E402
import bench_alexnet  # noqa: E402


def build(args):
    ctx = dsstne.Context("cuda", seed=12134, precision=args.precision)
    if args.model == "alexnet":  # DSSTNE's AlexNet config, batch 128 (bench_alexnet.py)
        config, _ = bench_alexnet.reference_config(None)
        x, _, y = bench_alexnet.make_data(128 * 10, 224, 1000)
        data = [dsstne.DataSet("input", x, context=ctx), dsstne.DataSet("output", y, context=ctx)]
        net = dsstne.Network(config, data, batch=128, context=ctx)
        return net, dict(alpha=0.01, optimizer="sgd")
    if args.model == "movielens":
        matrix = bench_movielens.movielens_like(args.users, None)
        config = bench_movielens.CONFIG
        train = dict(alpha=0.001, mu=0.9, lambda_=0.0, optimizer="rmsprop")
    else:
        matrix = bench_wide.wide_data(args.users, args.items, seed=7)
        config = bench_wide.config(args.hidden)
        train = bench_wide.TRAIN
    inp = dsstne.DataSet("gl_input", matrix, context=ctx)
    out = dsstne.DataSet("gl_output", matrix, context=ctx)
    net = dsstne.Network(config, [inp, out], batch=256, context=ctx)
    return net, train


def torch_alexnet_epoch(args, torch):
    """One epoch (10 batches of 128) of bench_alexnet's PyTorch twin, as a callable."""
    if args.model != "alexnet":
        sys.exit("profile_step: --torch profiles the alexnet model only")
    # Deterministic cuBLAS needs this before its first handle.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    bench_alexnet.setup_torch()
    if args.precision == "bf16":
        sys.exit("profile_step: --torch profiles fp32 or tf32")
    tf32 = args.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    config, _ = bench_alexnet.reference_config(None)
    x, labels, _ = bench_alexnet.make_data(128 * 10, 224, 1000)
    x, labels = torch.from_numpy(x).cuda(), torch.from_numpy(labels).cuda()
    model = torch.nn.Sequential(*bench_alexnet.torch_stages(config, 224, 1000)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01 / 128)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")

    def epoch():
        for pos in range(0, x.shape[0], 128):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[pos:pos + 128]), labels[pos:pos + 128]).backward()
            opt.step()
    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("movielens", "wide", "alexnet"), default="movielens")
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default="fp32")
    parser.add_argument("--tf32", dest="precision", action="store_const", const="tf32",
                        help="the same as --precision tf32")
    parser.add_argument("--torch", action="store_true",
                        help="alexnet: profile the PyTorch twin (cuDNN, deterministic) instead")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--trace", type=pathlib.Path)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    if args.torch:
        epoch = torch_alexnet_epoch(args, torch)
    else:
        net, train = build(args)
        def epoch():
            net.train(1, **train)
    epoch()  # warm: allocations, cuBLAS heuristics, workspace growth
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        epoch()
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    if args.trace:
        prof.export_chrome_trace(str(args.trace))

    kernels = collections.defaultdict(lambda: [0, 0.0])
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            k = kernels[ev.name[:90]]
            k[0] += 1
            k[1] += ev.device_time_total / 1e6  # µs → s
    busy = sum(v[1] for v in kernels.values())
    who = "PyTorch" if args.torch else "dsstne"
    print(f"{who} {args.model} ({args.precision}): wall {wall:.3f} s, GPU busy "
          f"{busy:.3f} s ({100 * busy / wall:.0f}%), idle {wall - busy:.3f} s")
    print(f"{'seconds':>8} {'calls':>7}  kernel")
    ranked = sorted(kernels.items(), key=lambda kv: -kv[1][1])
    for name, (calls, seconds) in ranked[:args.top]:
        print(f"{seconds:8.4f} {calls:7d}  {name}")
    if args.json:
        args.json.write_text(json.dumps({"wall": wall, "busy": busy,
                                         "kernels": {n: v for n, v in ranked}}, indent=1))


if __name__ == "__main__":
    main()
