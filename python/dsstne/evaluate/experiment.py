# SPDX-License-Identifier: Apache-2.0
"""Experiments: train a network on a split, evaluate recommenders on it, repeat over seeds and
report the mean and spread of every metric beside the popularity and EASE baselines."""

from __future__ import annotations

import json
import math
import os
import re
import time

import numpy as np

from .metrics import METRICS, ranking_metrics
from .recommenders import EASE, NetworkRecommender, Popularity
from .splits import make_split

__all__ = ["config_data_sets", "train_network", "network_model", "evaluate", "compare",
           "format_table"]

_JSON_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)


def _config_dict(config):
    """The parsed JSON description from a dict, a JSON string or a file (comments allowed, as
    the engine's parser allows them)."""
    if isinstance(config, dict):
        return config
    text = os.fspath(config)
    if not text.lstrip().startswith("{"):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    stripped = _JSON_TOKENS.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)
    try:
        parsed = json.loads(stripped)
    except ValueError as e:
        where = f"{os.fspath(config)}: " if not str(config).lstrip().startswith("{") else ""
        raise ValueError(f"{where}not a valid JSON network description: {e}") from e
    if not isinstance(parsed, dict):
        raise ValueError("a network description must be a JSON object")
    return parsed


def _get(obj, key):
    """`obj[key]` with DSSTNE's case-insensitive keys (the last in sorted order wins)."""
    found = None
    for k in sorted(obj):
        if k.lower() == key.lower():
            found = obj[k]
    return found


def config_data_sets(config):
    """(input data set names, output data set names) of a network description, in layer
    order: the ``DataSet`` of its Input and Output layers."""
    layers = _get(_config_dict(config), "Layers")
    if isinstance(layers, dict):
        layers = [layers]
    names = {"input": [], "output": []}
    for layer in layers or []:
        if not isinstance(layer, dict):
            continue
        kind = str(_get(layer, "Kind") or "").lower()
        data_set = _get(layer, "DataSet")
        if kind in names and isinstance(data_set, str) and data_set not in names[kind]:
            names[kind].append(data_set)
    return names["input"], names["output"]


def train_network(config, split, *, epochs=40, batch=1024, device="cpu", seed=12134,
                  precision="fp32", callback=None, **train_params):
    """A :class:`dsstne.Network` trained as an autoencoder on ``split.train``.

    Every Input and Output layer's data set is the training matrix under that layer's
    ``DataSet`` name, so ``"N": "auto"`` resolves to ``split.n_items``. Training runs one epoch
    per ``Network.train`` call, as ``dsstne train`` does, so a model trained by ``dsstne train``
    on the same data, seed, batch and parameters has the same weights. `train_params` go to
    ``Network.train`` (alpha, lambda_, mu, optimizer, ...); `callback` gets each epoch's stats;
    `precision` is the dense products' arithmetic (``dsstne.Context(precision=...)``).
    """
    from .. import Context, DataSet, Network

    inputs, outputs = config_data_sets(config)
    if len(inputs) != 1 or not outputs:
        raise ValueError(f"the network description has {len(inputs)} input and {len(outputs)} "
                         "output data sets; evaluation trains autoencoders with one input "
                         "data set and at least one output data set")
    data = [DataSet(name, split.train, boolean=True) for name in dict.fromkeys(inputs + outputs)]
    net = Network(config, data, batch=batch,
                  context=Context(device, seed, precision=precision))
    for _ in range(int(epochs)):
        (stats,) = net.train(1, **train_params)
        if callback is not None:
            callback(stats)
    return net


def evaluate(recommender, split, ks=(10, 20, 50), *, batch=None):
    """Metrics of `recommender` (already fitted) on the evaluated users of `split`: the dict of
    :func:`ranking_metrics` plus ``"seconds"`` (time to recommend)."""
    ks = sorted({int(k) for k in ks})
    start = time.perf_counter()
    top = recommender.recommend(split.eval_input, ks[-1], batch=batch)
    seconds = time.perf_counter() - start
    result = ranking_metrics(top, split.eval_target, ks, split.n_items)
    result["seconds"] = seconds
    return result


def compare(matrix, *, protocol="strong", seeds=(12134,), ks=(10, 20, 50), heldout=0.2,
            target_fraction=0.2, model=None, model_name="model", baselines=True, ease_l2=500.0,
            on_split=None):
    """Evaluates a model and the baselines on one split per seed.

    Parameters
    ----------
    model : None, a fitted recommender, or a callable ``model(split) -> recommender``
        The callable (e.g. one that trains a network with :func:`train_network`) is called once
        per split; a fitted recommender (e.g. a :class:`NetworkRecommender` of a saved model) is
        evaluated as is on every split.
    baselines : bool
        Also evaluate :class:`Popularity` and :class:`EASE` (with ``l2 = ease_l2``), fitted on
        each split's training rows.
    on_split : callable, optional
        Called with each split before anything is fitted on it.

    Returns
    -------
    dict
        ``protocol``, ``params``, ``seeds``, ``ks``, ``users``, ``items``, ``interactions`` and
        ``models``: per model its ``name``, ``per_seed`` results (:func:`evaluate`'s dict plus
        ``seed`` and ``fit_seconds``), and ``mean`` and ``std`` over seeds of every number (std
        is the sample standard deviation, None with one seed).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("compare needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    ks = sorted({int(k) for k in ks})
    runs = {}
    for seed in seeds:
        split = make_split(matrix, protocol, seed, heldout=heldout,
                           target_fraction=target_fraction)
        if on_split is not None:
            on_split(split)
        makers = []
        if model is not None:
            makers.append((model_name, model if callable(model) and not hasattr(model, "recommend")
                           else (lambda s, fixed=model: fixed)))
        if baselines:
            makers.append(("popularity", lambda s: Popularity().fit(s.train)))
            makers.append((EASE(ease_l2).name, lambda s: EASE(ease_l2).fit(s.train)))
        for name, make in makers:
            start = time.perf_counter()
            recommender = make(split)
            fit_seconds = time.perf_counter() - start
            result = evaluate(recommender, split, ks)
            result.update(seed=seed, fit_seconds=fit_seconds)
            runs.setdefault(name, []).append(result)
    shape = matrix.shape
    return {
        "protocol": protocol,
        "params": ({"heldout": heldout, "target_fraction": target_fraction}
                   if protocol == "strong" else {"test_fraction": target_fraction}),
        "seeds": seeds, "ks": ks, "users": int(shape[0]), "items": int(shape[1]),
        "interactions": int(matrix.nnz),
        "models": [{"name": name, "per_seed": per_seed, **_summary(per_seed)}
                   for name, per_seed in runs.items()],
    }


def _summary(per_seed):
    keys = [k for k in per_seed[0] if k != "seed"]
    mean, std = {}, {}
    for key in keys:
        values = np.array([r[key] for r in per_seed], dtype=np.float64)
        mean[key] = float(values.mean())
        std[key] = float(values.std(ddof=1)) if len(values) > 1 else None
    return {"mean": mean, "std": std}


_HEADINGS = {"recall": "Recall", "ndcg": "NDCG", "precision": "Precision", "map": "MAP",
             "coverage": "Coverage"}


def _cell(mean, std):
    if mean is None or math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def format_table(results):
    """The results of :func:`compare` as a text table: one block of rows per K (a row per
    model), a column per metric (mean ± sample std over seeds), and the users evaluated."""
    seeds = results["seeds"]
    params = ", ".join(f"{k} {v}" for k, v in results["params"].items())
    lines = [f"{results['protocol']} split ({params}); {results['users']} users × "
             f"{results['items']} items, {results['interactions']} interactions; "
             f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} "
             f"({', '.join(map(str, seeds))})"]
    names = [m["name"] for m in results["models"]]
    name_width = max(len("model"), *(len(n) for n in names))
    width = 17 if len(seeds) > 1 else 9
    head = f"{'model':<{name_width}}  {'K':>4}  " + "  ".join(
        f"{_HEADINGS[m] + '@K':>{width}}" for m in METRICS) + f"  {'users':>7}"
    lines += [head, "-" * len(head)]
    for k in results["ks"]:
        for m in results["models"]:
            cells = [_cell(m["mean"][f"{metric}@{k}"], m["std"][f"{metric}@{k}"])
                     for metric in METRICS]
            users = m["mean"]["users"]
            users = f"{users:.0f}" if users == int(users) else f"{users:.1f}"
            lines.append(f"{m['name']:<{name_width}}  {k:>4}  "
                         + "  ".join(f"{c:>{width}}" for c in cells) + f"  {users:>7}")
    return "\n".join(lines) + "\n"


def network_model(config, *, epochs=40, batch=1024, device="cpu", precision="fp32", layer=None,
                  callback=None, **train_params):
    """A `model` for :func:`compare`: trains the network on each split's training rows with
    the split's seed as the network's seed, and wraps it in a :class:`NetworkRecommender`."""
    def make(split):
        net = train_network(config, split, epochs=epochs, batch=batch, device=device,
                            seed=split.seed, precision=precision, callback=callback,
                            **train_params)
        return NetworkRecommender(net, layer).fit(split.train)
    return make
