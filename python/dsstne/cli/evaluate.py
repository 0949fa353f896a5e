# SPDX-License-Identifier: Apache-2.0
"""``dsstne evaluate``: recommendation quality of a network beside the popularity and EASE
baselines, on seeded splits of interaction data (not a DSSTNE tool; DSSTNE had no evaluator).

Data: ``-r`` DSSTNE data text (a file or directory; ``-i`` a feature index fixing the item order
and width, as ``generateNetCDF`` wrote it) or ``--netcdf`` a NetCDF data set file
(``--dataset NAME`` when it holds several). Any stored point is one interaction; values are
ignored. Items nobody has
at the end of a NetCDF data set (DSSTNE rounds widths up to 128) are not part of the catalogue.

Model: ``-c`` a JSON network description, trained on each split's training users as an
autoencoder with ``train``'s flags (``-b -e -alpha -lambda -lambda1 -mu -mu1 --optimizer``; the
network's seed is the split's seed), or ``-n`` a trained model file, evaluated as it is (it must
not have seen the held-out users). Neither: the baselines only.

Split: ``--protocol strong`` (default; Liang et al. 2018: ``--heldout`` users are held out and
``--target-fraction`` of each one's items are the targets, the rest its input) or ``random``
(``--target-fraction`` of all interactions are the targets). One split per seed of ``--seeds``.

Output: a table of Recall, NDCG, Precision, MAP and Coverage at each K of ``-k`` (mean ± sample
std over seeds), ``--json FILE`` with every number, ``--save-split DIR`` with the split as files
(``dsstne train`` on them, then ``-n``, gives the numbers of ``-c``). Existing outputs are
replaced only with ``--force``; errors are one line, exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .. import textformats as tf
from . import train as _train
from .common import (FIXED_SEED, add_device_flag, read_data_text, run_tool, tool_parser,
                     warner)
from .common import Once as _Once
from .common import given, one_process
from .evaluate_files import save_split, write_json
from .files import blaming, building, check_index, check_input, check_text, flag_error

_DEFAULT_NAMES = ("gl_input", "gl_output")   # data set names of --save-split without -c


def _int_list(minimum):
    def parse(text):
        try:
            values = [int(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid list of integers {text!r}") from None
        if not values or min(values) < minimum or len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"expected distinct integers >= {minimum} separated "
                                             f"by commas, got {text!r}")
        return values
    return parse


def _fraction(text):
    value = _train.real(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def _heldout(text):
    try:
        count = int(text)
    except ValueError:
        return _fraction(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"a count of users must be >= 1, got {count}")
    return count


def _positive_real(text):
    value = _train.real(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _parser(prog):
    p = tool_parser(prog, "Measure the recommendation quality of a network (trained per "
                          "split with -c, or a trained -n) beside popularity and EASE.")
    p.add_argument("-r", action=_Once, metavar="PATH", help="DSSTNE data text, file or directory")
    p.add_argument("-i", action=_Once, metavar="FILE",
                   help="feature index fixing the items of -r (required with -r and -n)")
    p.add_argument("--netcdf", action=_Once, metavar="NC", help="NetCDF data set file")
    p.add_argument("--dataset", action=_Once, metavar="NAME",
                   help="the data set of --netcdf to use when it holds several")
    p.add_argument("-c", action=_Once, metavar="JSON",
                   help="network description, trained on each split")
    p.add_argument("-n", action=_Once, metavar="NC", help="trained model file, evaluated as is")
    p.add_argument("-l", action=_Once, metavar="LAYER",
                   help="layer to recommend from (default: the single output layer)")
    _train.add_training_flags(p)
    p.add_argument("--protocol", action=_Once, default="strong", choices=("strong", "random"),
                   help="strong: hold out users (default); random: hold out interactions")
    p.add_argument("--heldout", action=_Once, type=_heldout, default=None, metavar="F|N",
                   help="strong: share (0.2, default) or number of users held out")
    p.add_argument("--target-fraction", action=_Once, type=_fraction, default=0.2, metavar="F",
                   help="share of a held-out user's items (strong) or of all interactions "
                        "(random) that are targets (default 0.2)")
    p.add_argument("--seeds", action=_Once, type=_int_list(0), default=[FIXED_SEED],
                   metavar="S,S,...", help=f"one split per seed (default {FIXED_SEED}); with -c "
                                           "also the network's seed")
    p.add_argument("-k", action=_Once, type=_int_list(1), default=[10, 20, 50], metavar="K,K,...",
                   help="list lengths to measure (default 10,20,50)")
    p.add_argument("--ease-lambda", action=_Once, type=_positive_real, default=500.0,
                   metavar="F", help="EASE's L2 regularisation (default 500)")
    p.add_argument("--no-baselines", action="store_true", help="skip popularity and EASE")
    add_device_flag(p, "where the network trains and predicts")
    p.add_argument("--json", action=_Once, metavar="FILE",
                   help="write every number (per seed and averaged) to FILE")
    p.add_argument("--save-split", action=_Once, metavar="DIR",
                   help="write the split (one seed) as files for dsstne train and -n")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --json file and write into an existing DIR")
    return p


def main(argv=None, prog="dsstne evaluate") -> int:
    def interrupted(opts, prog):
        sys.stderr.write(f"{prog}: interrupted\n")

    return run_tool(_parser(prog), argv, prog, run, interrupted)


def _check_flags(opts):
    if (opts.r is None) == (opts.netcdf is None):
        raise ValueError("give the data as exactly one of -r (data text) and --netcdf (NetCDF)")
    if opts.i is not None and opts.r is None:
        raise ValueError("-i (feature index) applies to -r data text only")
    if opts.dataset is not None and opts.netcdf is None:
        raise ValueError("--dataset applies to --netcdf only")
    if opts.c is not None and opts.n is not None:
        raise ValueError("give at most one model: -c (train per split) or -n (trained model)")
    if opts.n is not None and opts.r is not None and opts.i is None:
        raise ValueError("-n with -r needs -i, the feature index the model was trained with")
    for dest, flag in (("e", "-e"), ("alpha", "-alpha"), ("lambda_", "-lambda"),
                       ("lambda1", "-lambda1"), ("mu", "-mu"), ("mu1", "-mu1"),
                       ("optimizer", "--optimizer")):
        if given(opts, dest) and opts.c is None:
            raise ValueError(f"{flag} applies to training (-c) only")
    if opts.l is not None and opts.c is None and opts.n is None:
        raise ValueError("-l applies to a network (-c or -n) only")
    if opts.heldout is not None and opts.protocol != "strong":
        raise ValueError("--heldout applies to --protocol strong only")
    if opts.no_baselines and opts.c is None and opts.n is None:
        raise ValueError("--no-baselines without -c or -n leaves nothing to evaluate")
    if opts.save_split is not None and len(opts.seeds) > 1:
        raise ValueError("--save-split writes one split; give one seed")
    for flag, path, what in (("-r", opts.r, "data text"), ("-i", opts.i, "feature index"),
                             ("--netcdf", opts.netcdf, "NetCDF data set file"),
                             ("-n", opts.n, "model file")):
        if path is not None:
            check_input(flag, path, what, directory=flag == "-r", text=flag in ("-r", "-i"))
    if opts.c is not None:
        check_text("-c", opts.c, "JSON network description")
    if opts.json is not None:
        if os.path.isdir(opts.json):
            raise ValueError(f"--json {opts.json}: is a directory")
        if os.path.exists(opts.json) and not opts.force:
            raise ValueError(f"--json {opts.json} exists; pass --force to replace it")
    if opts.save_split is not None and os.path.exists(opts.save_split):
        if not os.path.isdir(opts.save_split):
            raise ValueError(f"--save-split {opts.save_split}: is a file, not a directory")
        if not opts.force:
            raise ValueError(f"--save-split {opts.save_split} exists; pass --force to write "
                             "into it")


class _Data:
    """The interaction matrix with its user (sample) and item (feature) labels."""

    def __init__(self, matrix, samples, items, *, index=None, data_set=None):
        self.matrix, self.samples, self.items = matrix, samples, items
        self.index, self.data_set = index, data_set  # -r's -i index, or the --netcdf data set


def _read_index(opts):
    if opts.i is None:
        return None
    with blaming("-i", opts.i):
        index = tf.read_index(opts.i)
    if not index:
        raise ValueError(f"-i {opts.i}: the feature index is empty")
    return index


def _read_text(opts, warn, index):
    with blaming("-r", opts.r):
        data = read_data_text(opts.r, warn, index_path=opts.i, features=index,
                              mode="fixed" if index else "new")
    items = np.array([str(i) for i in range(data.matrix.shape[1])], dtype=object)
    for label, unit in data.features.items():
        items[unit] = label
    return _Data(data.matrix.tocsr(), list(data.samples), items, index=index)


def _read_netcdf(opts):
    import scipy.sparse as sp

    from ..netcdf import read_netcdf

    with blaming("--netcdf", opts.netcdf):
        sets = read_netcdf(opts.netcdf)
    names = [s.name for s in sets]
    if opts.dataset is not None:
        if opts.dataset not in names:
            raise ValueError(f"--netcdf {opts.netcdf}: no data set '{opts.dataset}' (it holds "
                             f"{', '.join(names)})")
        ds = sets[names.index(opts.dataset)]
    elif len(sets) != 1:
        raise ValueError(f"--netcdf {opts.netcdf} holds {len(sets)} data sets "
                         f"({', '.join(names)}); choose one with --dataset")
    else:
        ds = sets[0]
    if ds.sparse:
        matrix = ds.to_scipy()
        if ds.indexed:
            matrix = matrix[ds.index.astype(np.int64)]
    else:
        dense = ds.to_numpy().reshape(ds.records, -1)
        matrix = sp.csr_matrix(dense[ds.index.astype(np.int64)] if ds.indexed else dense)
    matrix = sp.csr_matrix(matrix)
    # Trailing items nobody has (DSSTNE rounds widths up to 128) are not part of the catalogue.
    n_items = int(matrix.indices.max()) + 1 if matrix.nnz else 0
    matrix = matrix[:, :n_items]
    return _Data(matrix, [str(r) for r in range(matrix.shape[0])],
                 np.array([str(i) for i in range(n_items)], dtype=object), data_set=ds)


def _layers(net, layer):
    """The input layer and the layer recommended from."""
    return [net.layer(net.input_layers[0]), net.layer(layer)]


def _trained(opts, index):
    """-n as a recommender; -i must label its input and recommended layers (up to DSSTNE's
    padding)."""
    from .. import Context
    from ..evaluate import NetworkRecommender
    from ..model import load_network

    with blaming("-n", opts.n):
        net = load_network(opts.n, batch=opts.b,
                           context=Context(opts.device, precision=opts.precision))
        recommender = NetworkRecommender(net, opts.l, name=os.path.basename(opts.n))
    for layer in _layers(net, recommender.layer):
        if index is not None:
            check_index("-i", opts.i, index, layer, "-n", opts.n)
    return recommender


def _check_width(opts, recommender, ds):
    """The --netcdf data set must be as wide as -n's input and recommended layers."""
    for layer in _layers(recommender.net, recommender.layer):
        if ds.units != layer.size:
            raise flag_error("--netcdf", opts.netcdf,
                             f"data set '{ds.name}' has {ds.units} units but "
                             f"{layer.kind.lower()} layer '{layer.name}' of -n {opts.n} has "
                             f"{layer.size}")


def _trainer(opts):
    """The `model` argument of compare for -c: trains the network on each split."""
    from ..evaluate import network_model

    params = _train.training_params(opts)
    optimizer = params["optimizer"]
    last = {}
    trainer = network_model(opts.c, epochs=opts.e, batch=opts.b, device=opts.device,
                            precision=opts.precision,
                            layer=opts.l, callback=last.update, **params)
    source = f"-r {opts.r}" if opts.r is not None else f"--netcdf {opts.netcdf}"

    def train(split):
        start = time.perf_counter()
        with building("-c", opts.c, {}):
            recommender = trainer(split)
        for layer in _layers(recommender.net, recommender.layer):
            if layer.size != split.n_items:
                raise flag_error("-c", opts.c, f"{layer.kind.lower()} layer '{layer.name}' has "
                                               f"{layer.size} units but the data ({source}) "
                                               f"have {split.n_items} items")
        error = f", error {last['error']:.6g}" if last else ""
        print(f"seed {split.seed}: trained {opts.e} epochs ({optimizer}) on "
              f"{split.train.shape[0]} users in {time.perf_counter() - start:.1f} s{error}",
              flush=True)
        return recommender
    return train


def run(opts, prog="dsstne evaluate"):
    """Runs the tool on parsed options; raises ValueError/OSError on bad input."""
    one_process(prog)
    from ..evaluate import compare, config_data_sets, format_table

    warn = warner(prog)

    _check_flags(opts)
    index = _read_index(opts)
    trained = _trained(opts, index) if opts.n is not None else None
    data = _read_text(opts, warn, index) if opts.r is not None else _read_netcdf(opts)
    if trained is not None and data.data_set is not None:
        _check_width(opts, trained, data.data_set)
    if trained is not None:
        warn(f"{opts.n} is evaluated as it is; its numbers mean something only if it never "
             "trained on the held-out users (use --save-split and dsstne train)")
    flag, source = ("-r", opts.r) if opts.r is not None else ("--netcdf", opts.netcdf)
    if data.matrix.nnz == 0:
        raise ValueError(f"{flag} {source}: no interactions")
    names = (_DEFAULT_NAMES[0], [_DEFAULT_NAMES[1]])
    if opts.c is not None:
        with blaming("-c", opts.c):
            inputs, outputs = config_data_sets(opts.c)
        if len(inputs) != 1 or not outputs:
            raise ValueError(f"-c {opts.c}: the network has {len(inputs)} input and "
                             f"{len(outputs)} output data sets; evaluate trains autoencoders "
                             "with one input and at least one output")
        names = (inputs[0], outputs)
    model = trained if opts.n is not None else _trainer(opts) if opts.c is not None else None
    model_name = os.path.basename(opts.c or opts.n or "model")

    def on_split(split):
        print(split.describe(), flush=True)
        if opts.save_split is not None:
            save_split(opts, split, data, names)

    heldout = opts.heldout if opts.heldout is not None else 0.2
    results = compare(data.matrix, protocol=opts.protocol, seeds=opts.seeds, ks=opts.k,
                      heldout=heldout, target_fraction=opts.target_fraction, model=model,
                      model_name=model_name, baselines=not opts.no_baselines,
                      ease_l2=opts.ease_lambda, on_split=on_split)
    sys.stdout.write(format_table(results))
    if opts.json is not None:
        results["data"] = os.path.abspath(source)
        results["model"] = {"config": opts.c, "model": opts.n, "layer": opts.l,
                            "epochs": opts.e if opts.c else None, "batch": opts.b,
                            "device": opts.device, "precision": opts.precision}
        write_json(opts.json, results, opts.force)
        print(f"{opts.json}: results written")
    return 0
