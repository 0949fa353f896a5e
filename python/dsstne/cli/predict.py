# SPDX-License-Identifier: Apache-2.0
"""``dsstne predict``: top-k recommendations from a trained model (docs/tools.md).

DSSTNE's flags: ``-d`` data set base name, ``-n`` model file, ``-r`` input text (file or
directory), ``-i`` input feature index, ``-o`` output feature index (labels of the output units),
``-f`` filter file or directory, ``-s`` recommendations file, ``-b`` batch (1024), ``-k``
recommendations per sample (100), ``-p`` score format (``4.3f``), ``-l`` layer. Output: one line
per sample of ``-r``, in order of first appearance, ``sample<TAB>item,score:item,score:…:``
(docs/formats.md, "Recommendation files"), scores descending (ties: ascending unit).

Where it differs from DSSTNE (its traps):

* filter entries **remove** the items they list (DSSTNE's documented intent, e.g. the items a user
  has already seen); ``--filter-multiply`` restores DSSTNE's behaviour at HEAD: each listed
  item's score is multiplied by its value (a missing value is 0.0), then the top k are taken;
* any k (DSSTNE: k < 128); ``-l`` chooses the layer (DSSTNE: always the layer named ``Output``),
  default the network's single output layer;
* the encoded input is bound to the network's single input layer whatever its ``DataSet`` name
  (DSSTNE: it had to be ``<d>_input``); ``-d`` is optional and a mismatch is only a warning;
* nothing is written into the working directory (DSSTNE wrote ``<d>_input_predict.nc`` and
  ``<d>_input_predict.samplesIndex``); everything stays in memory;
* ``-i`` and ``-o`` must label the units of the input layer and of the layer recommended from:
  an index that spans more units, or leaves 128 or more unlabelled (more than DSSTNE's padding to
  a multiple of 128), is refused naming the flag, the layer and both sizes (DSSTNE wrote the
  wrong labels, e.g. user ids as items when ``-o`` was the sample index); an ``-o`` whose labels
  are exactly the samples of ``-r`` is warned about;
* units without a label in ``-o`` (padding units beyond the index) are never recommended and
  do not take a place among the k (DSSTNE dropped them from the first k, leaving lines short);
* ``-f`` is optional; an existing ``-s`` is replaced only with ``--force`` (DSSTNE truncated it),
  and is written atomically; unknown input features are dropped with a warning that counts them
  (DSSTNE: silently); flags given twice, unknown flags, bad numbers are one-line errors, exit 1.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from .. import textformats as tf
from .common import (FIXED_SEED, add_device_flag, read_data_text, run_tool, tool_context,
                     tool_parser, warner)
from .common import Once as _Once
from .common import positive as _positive
from .common import same_file as _same
from .files import blaming, check_index, check_input

_CHUNK_VALUES = 1 << 24  # scores held at once with --filter-multiply


def _format(text):
    try:
        tf.score_format(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _parser(prog):
    p = tool_parser(prog, "Recommend the top k units of a trained network for every sample "
                          "of a DSSTNE data text file.")
    p.add_argument("-d", action=_Once, metavar="NAME",
                   help="data set base name; the input is named <NAME>_input (optional)")
    p.add_argument("-n", action=_Once, required=True, metavar="NC", help="trained model file")
    p.add_argument("-r", action=_Once, required=True, metavar="PATH",
                   help="input data text, a file or a directory")
    p.add_argument("-i", action=_Once, required=True, metavar="FILE",
                   help="input feature index (encodes -r)")
    p.add_argument("-o", action=_Once, required=True, metavar="FILE",
                   help="output feature index (labels of the layer's units)")
    p.add_argument("-f", action=_Once, metavar="PATH",
                   help="filter file or directory (sample<TAB>item[,value]:...)")
    p.add_argument("-s", action=_Once, required=True, metavar="FILE",
                   help="recommendations file to write (must not exist unless --force)")
    p.add_argument("-b", action=_Once, type=_positive, default=1024, metavar="N",
                   help="batch size (default 1024)")
    p.add_argument("-k", action=_Once, type=_positive, default=100, metavar="N",
                   help="recommendations per sample (default 100)")
    p.add_argument("-p", action=_Once, type=_format, default="4.3f", metavar="FMT",
                   help="printf format of the scores (default 4.3f)")
    p.add_argument("-l", action=_Once, metavar="LAYER",
                   help="layer to recommend from (default: the single output layer)")
    p.add_argument("--filter-multiply", action="store_true",
                   help="multiply the listed items' scores by their values (DSSTNE) instead "
                        "of removing them")
    p.add_argument("--force", action="store_true", help="replace an existing -s file")
    p.add_argument("--seed", action=_Once, type=int, default=FIXED_SEED, metavar="N",
                   help=f"random seed (default {FIXED_SEED})")
    add_device_flag(p, "where to predict")
    return p


def main(argv=None, prog="dsstne predict") -> int:
    return run_tool(_parser(prog), argv, prog, run)


def _check_files(opts):
    for flag, path, what, directory in (
            ("-n", opts.n, "model file", False), ("-r", opts.r, "input text", True),
            ("-i", opts.i, "input feature index", False),
            ("-o", opts.o, "output feature index", False),
            ("-f", opts.f, "filter file or directory", True)):
        if path is not None:
            check_input(flag, path, what, directory=directory, text=flag != "-n")
    if os.path.isdir(opts.s):
        raise ValueError(f"-s {opts.s}: is a directory")
    if os.path.exists(opts.s) and not opts.force:
        raise ValueError(f"-s {opts.s} exists; pass --force to replace it")
    for flag, path in (("-n", opts.n), ("-r", opts.r), ("-i", opts.i), ("-o", opts.o),
                       ("-f", opts.f)):
        if path is not None and _same(path, opts.s):
            raise ValueError(f"{flag} and -s name the same file {path}")


def _top(scores, k):
    """(units, scores) of the k best finite scores per row: descending, ties ascending unit."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def run(opts, prog="dsstne predict"):
    """Runs the tool on parsed options; raises ValueError/OSError on bad input."""
    import scipy.sparse as sp

    from .. import DataSet
    from ..model import load_network

    warn = warner(prog)

    _check_files(opts)
    with blaming("-i", opts.i):
        in_index = tf.read_index(opts.i)
    with blaming("-o", opts.o):
        out_index = tf.read_index(opts.o)
    with blaming("-n", opts.n):
        net = load_network(opts.n, batch=opts.b, context=tool_context(opts.device, opts.seed,
                                                                  opts.precision))
    inputs = net.input_layers
    if len(inputs) != 1:
        raise ValueError(f"-n {opts.n}: network '{net.name}' has {len(inputs)} input layers; "
                         "predict needs exactly one")
    in_layer = net.layer(inputs[0])
    name = f"{opts.d}_input" if opts.d else in_layer.data_set
    if opts.d and name != in_layer.data_set:
        warn(f"the input layer '{in_layer.name}' reads data set '{in_layer.data_set}', not "
             f"'{name}'; the input of {opts.r} is bound to it anyway")
    names = [x.name for x in net.layers]
    if opts.l is not None and opts.l not in names:
        raise ValueError(f"-l {opts.l}: -n {opts.n} has no such layer (layers: "
                         f"{', '.join(names)})")
    layer = net._output_layer(opts.l)
    check_index("-i", opts.i, in_index, in_layer, "-n", opts.n)
    check_index("-o", opts.o, out_index, net.layer(layer), "-n", opts.n)
    width, units = in_layer.size, net.layer(layer).size

    labels = np.full(units, None, dtype=object)
    for label, unit in out_index.items():
        labels[unit] = label
    unlabelled = np.flatnonzero(labels == None)  # noqa: E711 (elementwise)

    with blaming("-r", opts.r):
        data = read_data_text(opts.r, warn, index_path=opts.i, index_role="input feature index",
                              features=in_index, mode="fixed")
    rows = data.matrix.shape[0]
    row_of = {label: row for row, label in enumerate(data.samples)}
    # Sizes cannot tell a small sample index from the item index; its labels can.
    if set(out_index) == set(row_of) and set(out_index) != set(in_index):
        warn(f"the labels of -o {opts.o} are the samples of -r {opts.r}, not items: is -o the "
             "sample index? Recommendations are written with these labels")
    filters = {}
    if opts.f is not None:
        with blaming("-f", opts.f):
            filters = tf.read_filters(opts.f, row_of, out_index)
    f_rows, f_units, f_values = [], [], []
    for row, entries in filters.items():
        for unit, value in entries:
            if unit < units:
                f_rows.append(row)
                f_units.append(unit)
                f_values.append(value)
    f_rows = np.asarray(f_rows, dtype=np.int64)
    f_units = np.asarray(f_units, dtype=np.int64)
    f_values = np.asarray(f_values, dtype=np.float32)

    m = data.matrix
    x = sp.csr_matrix((np.ones(m.nnz, dtype=np.float32), m.indices, m.indptr),
                      shape=(rows, width))
    k = min(opts.k, units)
    chunk = max(opts.b, _CHUNK_VALUES // units // opts.b * opts.b)
    fmt = opts.p

    if not opts.filter_multiply:
        # exclusions: the filter entries and the unlabelled units, one row per sample
        ex_rows = np.concatenate([f_rows, np.repeat(np.arange(rows), unlabelled.size)])
        ex_units = np.concatenate([f_units, np.tile(unlabelled, rows)])
        exclude = sp.csr_matrix((np.ones(ex_rows.size, dtype=np.float32), (ex_rows, ex_units)),
                                shape=(rows, units))
        exclude.data[:] = 1.0

    def lines():
        for start in range(0, rows, chunk):
            stop = min(rows, start + chunk)
            ds = DataSet(name, x[start:stop], boolean=True)
            if opts.filter_multiply:
                scores = net.predict(ds, layer=layer)
                sel = (f_rows >= start) & (f_rows < stop)
                np.multiply.at(scores, (f_rows[sel] - start, f_units[sel]), f_values[sel])
                scores[:, unlabelled] = -np.inf
                top_units, top_scores = _top(scores, k)
            else:
                top_scores, top_units = net.predict_topk(k, ds, layer=layer,
                                                         exclude=exclude[start:stop])
            # An empty slot is a negative index (int32 -1) or 2**32 - 1 (uint32): no unit.
            top_units = np.asarray(top_units).astype(np.int64)
            for r in range(stop - start):
                keep = (top_units[r] >= 0) & (top_units[r] < units) & np.isfinite(top_scores[r])
                picked = top_units[r][keep]
                yield data.samples[start + r], labels[picked], top_scores[r][keep]

    from .._files import replacing
    if net.context.rank > 0:  # every rank computes (the calls are collective), rank 0 writes
        count = sum(1 for _ in lines())
        return 0
    with replacing(opts.s, overwrite=opts.force) as tmp:
        count = tf.write_recommendations(tmp, lines(), fmt, overwrite=True)
    mode = "multiplied by filter values" if opts.filter_multiply else "filtered items removed"
    print(f"{opts.s}: {count} samples, up to {k} recommendations each from layer '{layer}' "
          f"({mode if filters else 'no filters'})")
    return 0
