#!/usr/bin/env python3
"""What matters for recommendation quality: variants of dae_sigmoid.json, each trained once per
seed on a strong-generalization split and measured at several epoch counts (one training run per
seed serves every count). The "what matters" table of examples/README.md comes from it.

Usage: python3 examples/recommend/sweep.py RATINGS.txt [--device cuda] [--seeds 1,2,3]
           [--epochs 25,50,100,150,200,250,300] [--only NAME,...] [--jsonl FILE]
"""

import argparse
import copy
import json
import sys
import time

import numpy as np

import dsstne
from dsstne import evaluate as ev
from dsstne import examples, textformats

BASE = json.loads(examples.path("dae_sigmoid.json").read_text())
ADAM = dict(optimizer="adam", alpha=1e-3, lambda_=0.0, mu=0.9, mu1=0.999)


def variant(hidden=1500, activation="Tanh", output="Sigmoid", loss="CrossEntropy", p=0.5,
            depth=1):
    """dae_sigmoid.json with the hidden width/activation, output activation, loss, denoising
    and number of hidden layers replaced."""
    config = copy.deepcopy(BASE)
    first, hidden_layer, out = config["Layers"]
    widths = [hidden] if depth == 1 else [hidden, hidden // 3, hidden][:depth]
    layers, source = [first], "Input"
    for i, width in enumerate(widths):
        layers.append(dict(hidden_layer, Name=f"Hidden{i}", N=width, Activation=activation,
                           Source=source))
        source = f"Hidden{i}"
    layers.append(dict(out, Activation=output, Source=source))
    config["Layers"] = layers
    config["ErrorFunction"] = loss
    if p:
        config["Denoising"] = {"p": p}
    else:
        config.pop("Denoising", None)
    return config


# name -> (network description, Network.train parameters, batch)
VARIANTS = {
    "dae_sigmoid.json": (variant(), ADAM, 128),
    "hidden 600": (variant(hidden=600), ADAM, 128),
    "hidden 1000": (variant(hidden=1000), ADAM, 128),
    "hidden 200": (variant(hidden=200), ADAM, 128),
    "ReLU hidden 600": (variant(hidden=600, activation="RectifiedLinear"), ADAM, 128),
    "3 hidden 600-200-600": (variant(hidden=600, depth=3), ADAM, 128),
    "no denoising": (variant(p=0.0), ADAM, 128),
    "denoising 0.2": (variant(p=0.2), ADAM, 128),
    "denoising 0.7": (variant(p=0.7), ADAM, 128),
    "softmax (Mult-DAE) 600, lr 3e-4, batch 64": (
        variant(hidden=600, output="SoftMax"), dict(ADAM, alpha=3e-4), 64),
    "softmax (Mult-DAE) 600, lr 1e-3": (variant(hidden=600, output="SoftMax"), ADAM, 128),
    "sigmoid + ScaledMarginalCrossEntropy": (
        variant(loss="ScaledMarginalCrossEntropy"), ADAM, 128),
    "lr 2e-3": (variant(), dict(ADAM, alpha=2e-3), 128),
    "L2 1e-5": (variant(), dict(ADAM, lambda_=1e-5), 128),
    "batch 512": (variant(), ADAM, 512),
    "RMSProp": (variant(), dict(optimizer="rmsprop", alpha=1e-3, lambda_=0.0, mu=0.9), 128),
    "SGD, alpha 0.025 (DSSTNE's defaults)": (
        variant(), dict(optimizer="sgd", alpha=0.025, lambda_=1e-4, mu=0.5), 128),
}


def ints(text):
    return [int(t) for t in text.split(",") if t]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ratings")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--seeds", type=ints, default=[1, 2, 3])
    ap.add_argument("--epochs", type=ints, default=[25, 50, 100, 150, 200, 250, 300])
    ap.add_argument("--only", type=lambda t: t.split(","), default=None)
    ap.add_argument("--jsonl", default=None, help="append every measurement to this file")
    args = ap.parse_args()
    unknown = set(args.only or ()) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")

    matrix = textformats.read_data(args.ratings).matrix.tocsr()
    splits = [ev.strong_generalization(matrix, seed=s) for s in args.seeds]
    log = open(args.jsonl, "a") if args.jsonl else None
    recall = {}   # (name, epochs) -> [recall@20 per seed]

    def record(name, epochs, seed, result):
        recall.setdefault((name, epochs), []).append(result["recall@20"])
        if log:
            log.write(json.dumps({"variant": name, "epochs": epochs, "seed": seed, **result})
                      + "\n")

    for split in splits:
        for l2 in (100.0, 200.0, 500.0):
            record(f"EASE(λ={l2:g})", 0, split.seed, ev.evaluate(ev.EASE(l2).fit(split.train),
                                                                   split))
        record("popularity", 0, split.seed, ev.evaluate(ev.Popularity().fit(split.train), split))
    for name, (config, params, batch) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        for split in splits:
            data = [dsstne.DataSet(n, split.train, boolean=True) for n in ("gl_input", "gl_output")]
            net = dsstne.Network(config, data, batch=batch, device=args.device, seed=split.seed)
            model = ev.NetworkRecommender(net)
            for epoch in range(1, max(args.epochs) + 1):
                net.train(1, **params)
                if epoch in args.epochs:
                    record(name, epoch, split.seed, ev.evaluate(model, split))
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    print(f"Recall@20, mean over seeds {args.seeds} (strong generalization, 20% of users held "
          f"out); best epoch count marked *")
    names = list(dict.fromkeys(name for name, _ in recall))
    print(f"{'variant':44s}" + "".join(f"{e:>9d}" for e in args.epochs))
    for name in names:
        if (name, 0) in recall:
            print(f"{name:44s}{np.mean(recall[name, 0]):9.4f}")
            continue
        means = [np.mean(recall[name, e]) for e in args.epochs]
        best = int(np.argmax(means))
        print(f"{name:44s}" + "".join(f"{m:8.4f}{'*' if i == best else ' '}"
                                       for i, m in enumerate(means)))


if __name__ == "__main__":
    main()
