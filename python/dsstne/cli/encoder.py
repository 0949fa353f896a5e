# SPDX-License-Identifier: Apache-2.0
"""``dsstne encoder FILE.cdl``: train, evaluate or gradient-check a network as a CDL file says
(docs/tools.md; the CDL keys are in docs/formats.md and, with our choices about them, in
:mod:`dsstne.cdl`).

* **Train** — ``Network`` is a JSON description; every data set of ``Data`` is loaded and bound
  by name; ``Epochs`` epochs are trained with ``Optimizer``, ``Alpha`` (multiplied by
  ``AlphaMultiplier`` every ``AlphaInterval`` epochs), ``lambda`` and ``mu`` (and, for Adam,
  beta2 0.999; L1 decay 0), one progress line per epoch; the model is saved to ``Results``.
* **Predict** — ``Network`` is a model file. For every example the 10 best output units (no
  exclusion) are scored against the units stored in the output data set (binary relevance),
  and DSSTNE's 10 lines ``k,precision,recall,ndcg`` (k = 1..10) are printed: precision@k =
  hits/k, recall@k = hits/(relevant units), NDCG@k = DCG@k/IDCG with IDCG summing
  1/log2(r+2) over *all* the example's relevant units, each averaged over the examples.
* **Validate** — ``Network`` is a JSON description; a numerical gradient check
  (:mod:`dsstne.gradcheck`) of a seeded sample of every connection's weights and biases on the
  first batch; one line per connection; exit status 1 when an entry is off, naming it.

Where it differs from DSSTNE:

* no argument is a usage error, exit 1 (DSSTNE ran a built-in Predict CDL);
* Train trains exactly ``Epochs`` epochs (DSSTNE rounded up to a multiple of ``AlphaInterval``);
* Predict uses the data sets bound to the network's input layers and its single output layer,
  whatever their names (DSSTNE required data sets named ``input`` and ``output`` and a layer
  named ``Output``); a dense output data set (a classifier's one-hot labels) counts its nonzero
  units as the relevant ones. Examples without a relevant unit
  (DSSTNE divided by zero) are left out of the averages, and stderr says how many;
* Validate checks gradients in validation mode (no dropout or denoising) against a relative
  tolerance with kink detection (DSSTNE: an absolute 0.02 and every parameter);
* every input file is checked before any work, and ``Results`` or a checkpoint that exists is
  refused unless ``--force``; models are written atomically;
* ``--device cuda`` runs on the GPU.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .common import add_device_flag, one_process, run_tool, tool_parser
from .common import same_file as _same
from .files import blaming, building, check_input, check_text, origins

TOP_K = 10  # DSSTNE's evaluation depth


def _parser(prog):
    p = tool_parser(prog, "Train, evaluate (top-10 precision, recall, NDCG) or gradient-check "
                          "a network as a DSSTNE CDL file says.")
    p.add_argument("cdl", metavar="FILE.cdl", help="the CDL file (JSON)")
    add_device_flag(p, "where to run")
    p.add_argument("--force", action="store_true",
                   help="replace an existing Results file and checkpoints")
    return p


def main(argv=None, prog="dsstne encoder") -> int:
    def interrupted(opts, prog):
        sys.stderr.write(f"{prog}: interrupted; the files already written are complete\n")

    return run_tool(_parser(prog), argv, prog, run, interrupted)


def run(opts, prog="dsstne encoder"):
    """Runs the CDL file `opts.cdl`; returns the exit status, raises ValueError/OSError."""
    one_process(prog)
    from ..cdl import load_cdl

    check_text("", opts.cdl, "CDL file")
    with blaming("", opts.cdl):
        cdl = load_cdl(opts.cdl)
    for warning in cdl.warnings:
        sys.stderr.write(f"{prog}: warning: {warning}\n")
    _check_inputs(cdl)
    command = {"train": _train, "predict": _predict, "validate": _validate}[cdl.command]
    return command(cdl, opts, prog)


# ---- files -----------------------------------------------------------------------------------
def _key(cdl, key):
    """The 'flag' of a file the CDL names: the CDL file and the key."""
    return f"{cdl.source}: {key}"


def _check_inputs(cdl):
    what = "model file" if cdl.command == "predict" else "network description"
    files = [("Network", cdl.network)] + [("Data", d) for d in cdl.data]
    missing = [f"{key} {path}" for key, path in files if not os.path.exists(path)]
    if missing:
        raise ValueError(f"{cdl.source}: no such file: {', '.join(missing)} (the {what} and "
                         "data set files; relative paths are read from the CDL file's "
                         "directory)")
    for key, path in files:
        check_input(_key(cdl, key), path, what if key == "Network" else "data set file")
    if cdl.command != "predict":
        check_text(_key(cdl, "Network"), cdl.network, "JSON network description")


def _check_output(cdl, key, path, force):
    if os.path.isdir(path):
        raise ValueError(f"{cdl.source}: {key} {path} is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{cdl.source}: {key} {path}: no such directory {folder}")
    for source_key, source in [("Network", cdl.network)] + [("Data", d) for d in cdl.data]:
        if _same(path, source):
            raise ValueError(f"{cdl.source}: {key} and {source_key} name the same file {path}")
    if os.path.exists(path) and not force:
        raise ValueError(f"{cdl.source}: {key} {path} exists; pass --force to replace it")


def checkpoint_path(cdl, epoch):
    """DSSTNE's checkpoint name: ``<CheckpointName><epoch>.nc``."""
    return f"{cdl.checkpoint_name}{epoch}.nc"


def _load_data(cdl):
    """{data set name: (key, path, DataSet)} of every Data file (a file given twice is read
    once)."""
    from ..netcdf import read_netcdf
    loaded, seen, key = [], [], _key(cdl, "Data")
    for path in cdl.data:
        if any(_same(path, p) for p in seen):
            continue
        seen.append(path)
        with blaming(key, path):
            loaded.append((key, path, read_netcdf(path)))
    return origins(loaded)


def _network_config(cdl):
    """The Network file, or its JSON with ``ShuffleIndices`` replaced when the CDL sets it."""
    if cdl.shuffle is None:
        return cdl.network
    try:
        with open(cdl.network, encoding="utf-8") as f:
            config = json.load(f)
    except ValueError:
        return cdl.network  # the engine's parser reports the error with its position
    if not isinstance(config, dict):
        return cdl.network
    config = {k: v for k, v in config.items() if str(k).lower() != "shuffleindices"}
    config["ShuffleIndices"] = cdl.shuffle
    return config


def _build(cdl, opts, found):
    from .. import Context, Network
    config, key = _network_config(cdl), _key(cdl, "Network")
    data = [ds for _, _, ds in found.values()]
    with building(key, cdl.network, found):
        net = Network(config, data, batch=cdl.batch,
                      context=Context(opts.device, cdl.seed, precision=opts.precision))
    if net.examples == 0:
        raise ValueError(f"{cdl.source}: Data: the input data sets have no examples")
    return net


# ---- Train -----------------------------------------------------------------------------------
def _progress(stats, last, tty):
    epoch = stats["epoch"]
    text = (f"epoch {epoch:>4}  alpha {stats['alpha']:.6g}  error {stats['error']:.6g}  "
            f"{stats['seconds']:.2f} s")
    if tty:
        width = 20
        bar = "#" * (epoch * width // last) + "." * (width - epoch * width // last)
        text = f"[{bar}] {epoch}/{last}  " + text
    print(text, flush=True)


def _train(cdl, opts, prog):
    from ..model import save_network

    _check_output(cdl, "TrainingParameters.Results", cdl.results, opts.force)
    checkpoints = {e: checkpoint_path(cdl, e) for e in range(1, cdl.epochs + 1)
                   if cdl.checkpoint_interval and e % cdl.checkpoint_interval == 0}
    for path in checkpoints.values():
        _check_output(cdl, "TrainingParameters.CheckpointName", path, opts.force)
    net = _build(cdl, opts, _load_data(cdl))
    mu1 = 0.999 if cdl.optimizer == "adam" else 0.0
    print(f"{net.name}: {net.examples} examples, batch {cdl.batch}, {cdl.optimizer}, "
          f"{cdl.epochs} epochs on {opts.device}", flush=True)
    tty = sys.stdout.isatty()
    stats = None
    for _ in range(cdl.epochs):
        # The engine derives each epoch's alpha from the network's epoch count, so one-epoch
        # calls follow the same schedule as one call for every epoch.
        (stats,) = net.train(1, alpha=cdl.alpha, lambda_=cdl.lambda_, mu=cdl.mu, mu1=mu1,
                             optimizer=cdl.optimizer, alpha_interval=cdl.alpha_interval,
                             alpha_multiplier=cdl.alpha_multiplier)
        _progress(stats, cdl.epochs, tty)
        path = checkpoints.get(stats["epoch"])
        if path is not None:
            save_network(net, path, overwrite=opts.force)
            print(f"checkpoint {path}", flush=True)
    save_network(net, cdl.results, overwrite=opts.force)
    print(f"{cdl.results}: {net.epochs_trained} epochs trained, error {stats['error']:.6g}")
    return 0


# ---- Predict ---------------------------------------------------------------------------------
def dsstne_topk_metrics(top_units, relevant):
    """DSSTNE's evaluation of top-k lists (docs/formats.md, "encoder Predict: the top-10
    metrics"), per k = 1..K.

    `top_units` (examples × K) lists each example's predicted units best first (entries outside
    the matrix width or negative, such as the 2**32 − 1 or −1 that mark "no unit", never hit);
    `relevant` is a scipy.sparse matrix (examples × units) whose stored entries are the relevant
    units.
    Returns (precision, recall, ndcg, skipped): arrays of length K averaged over the examples
    with at least one relevant unit, and the number of examples without one."""
    import scipy.sparse as sp

    top = np.asarray(top_units, dtype=np.int64)
    rel = sp.csr_matrix(relevant, dtype=np.float32, copy=True)
    rel.data[:] = 1.0
    rel.sum_duplicates()  # sorted, distinct units per row
    n, k = top.shape
    if rel.shape[0] != n:
        raise ValueError(f"{n} top-k rows but {rel.shape[0]} rows of relevant units")
    width = rel.shape[1]
    counts = np.diff(rel.indptr)
    keep = counts > 0
    skipped = int(n - keep.sum())
    if not keep.any():
        raise ValueError("no example has a relevant unit")
    # (row, unit) pairs as one sorted key each, so a hit is one binary search
    keys = np.repeat(np.arange(n, dtype=np.int64), counts) * width + rel.indices
    valid = (top >= 0) & (top < width)
    wanted = np.arange(n, dtype=np.int64)[:, None] * width + np.where(valid, top, 0)
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    hits = valid & (keys[at] == wanted)
    hits, counts = hits[keep], counts[keep]
    found = np.cumsum(hits, axis=1)
    precision = (found / np.arange(1, k + 1)).mean(axis=0)
    recall = (found / counts[:, None]).mean(axis=0)
    discount = 1.0 / np.log2(np.arange(max(k, counts.max())) + 2.0)
    dcg = np.cumsum(hits * discount[:k], axis=1)
    ideal = np.cumsum(discount)[counts - 1]
    ndcg = (dcg / ideal[:, None]).mean(axis=0)
    return precision, recall, ndcg, skipped


def _relevant(ds):
    """The stored units of `ds` per example (Indexed data expanded) as CSR; for dense targets
    (a classifier's one-hot labels) the nonzero units."""
    import scipy.sparse as sp

    if ds.sparse:
        rel = ds.to_scipy()
    else:
        rel = sp.csr_matrix(np.asarray(ds.to_numpy()).reshape(ds.records, -1) != 0)
    return rel[ds.index.astype(np.int64)] if ds.index is not None else rel


def _data_for(cdl, net, found):
    """(the data sets the network's input layers and single output layer name, the output
    one); refuses a missing one."""
    by_name = {name: ds for name, (_, _, ds) in found.items()}
    held = ", ".join(sorted(by_name)) or "none"
    outputs = net.output_layers
    if len(outputs) != 1:
        raise ValueError(f"{cdl.network}: Predict needs one output layer, the network has "
                         f"{len(outputs)} ({', '.join(outputs)})")
    used = {}
    for name in net.input_layers + outputs:
        layer = net.layer(name)
        if layer.data_set not in by_name:
            raise ValueError(f"{cdl.source}: Data: no data set '{layer.data_set}' for "
                             f"{layer.kind.lower()} layer '{name}' (the data files hold: {held})")
        used[layer.data_set] = by_name[layer.data_set]
    target = by_name[net.layer(outputs[0]).data_set]
    return list(used.values()), target


def _predict(cdl, opts, prog):
    from .. import Context
    from ..model import load_network

    found, key = _load_data(cdl), _key(cdl, "Network")
    with blaming(key, cdl.network):
        net = load_network(cdl.network, batch=cdl.batch,
                           context=Context(opts.device, cdl.seed, precision=opts.precision))
    used, target = _data_for(cdl, net, found)
    unused = [name for name, (_, _, d) in found.items() if all(d is not u for u in used)]
    if unused:
        sys.stderr.write(f"{prog}: warning: data sets not used by any layer: "
                         f"{', '.join(unused)}\n")
    with building(key, cdl.network, found):
        net.attach(used)
    if net.examples == 0:
        raise ValueError(f"{cdl.source}: Data: the input data sets have no examples")
    _, units = net.predict_topk(TOP_K)
    precision, recall, ndcg, skipped = dsstne_topk_metrics(units, _relevant(target))
    if skipped:
        sys.stderr.write(f"{prog}: {skipped} of {net.examples} examples have no unit in "
                         f"'{target.name}' and are left out of the averages\n")
    for k in range(TOP_K):
        print(f"{k + 1},{precision[k]:6.4f},{recall[k]:6.4f},{ndcg[k]:6.4f}")
    return 0


# ---- Validate --------------------------------------------------------------------------------
def _validate(cdl, opts, prog):
    from ..gradcheck import check_gradients

    net = _build(cdl, opts, _load_data(cdl))
    result = check_gradients(net, seed=cdl.seed)
    print(f"{net.name}: gradient check on the first {result.batch_rows} examples, tolerance "
          f"{result.tolerance:g}, seed {cdl.seed}")
    for connection in result.connections:
        print(connection)
    if result.checked == 0:
        sys.stderr.write(f"{prog}: gradient check failed: no entry could be compared (all at "
                         "kinks or below float32 resolution)\n")
        return 1
    if not result.passed:
        sys.stderr.write(f"{prog}: gradient check failed: {result.worst}\n")
        return 1
    print(f"gradient check passed: {result.checked} entries, max relative error "
          f"{result.worst.error:.3g}")
    return 0
