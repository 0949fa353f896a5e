# SPDX-License-Identifier: Apache-2.0
"""The files ``dsstne evaluate`` writes: the ``--save-split`` folder (the split as files for
``dsstne train`` and ``evaluate -n``) and the ``--json`` results."""

from __future__ import annotations

import json
import math
import os

import numpy as np

from .. import textformats as tf
from .common import given


def _write_text(path, labels, matrix, items, overwrite):
    from .._files import replacing
    with replacing(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
            for label, (a, b) in zip(labels, zip(matrix.indptr[:-1], matrix.indptr[1:])):
                fh.write(f"{label}\t" + ":".join(items[matrix.indices[a:b]]) + "\n")


def save_split(opts, split, data, names):
    from .. import DataSet
    from ..netcdf import write_netcdf

    out = opts.save_split
    os.makedirs(out, exist_ok=True)
    in_name, out_names = names
    train_in = os.path.join(out, "train_input.nc")
    write_netcdf(train_in, DataSet(in_name, split.train, boolean=True), overwrite=True)
    outputs = [n for n in out_names if n != in_name]
    train_out = train_in
    if outputs:
        train_out = os.path.join(out, "train_output.nc")
        write_netcdf(train_out, [DataSet(n, split.train, boolean=True) for n in outputs],
                     overwrite=True)
    samples = np.array(data.samples, dtype=object)
    _write_text(os.path.join(out, "heldout_input.txt"), samples[split.eval_users],
                split.eval_input, data.items, True)
    _write_text(os.path.join(out, "heldout_target.txt"), samples[split.eval_users],
                split.eval_target, data.items, True)
    tf.write_index(os.path.join(out, "features"), {label: i for i, label in enumerate(data.items)})
    info = {"protocol": split.protocol, "seed": split.seed, "params": split.params,
            "items": split.n_items, "train_users": samples[split.train_users].tolist(),
            "eval_users": samples[split.eval_users].tolist()}
    write_json(os.path.join(out, "split.json"), info, True)
    print(f"{out}: training set {train_in}" + (f", {train_out}" if outputs else "")
          + "; held-out users in heldout_input.txt / heldout_target.txt; items in features")
    if opts.c is not None:
        print(f"train the same model with: dsstne train -c {opts.c} -i {train_in} -o {train_out}"
              f" -n MODEL.nc -b {opts.b} -e {opts.e} --seed {split.seed}"
              + "".join(f" {flag} {getattr(opts, dest)}" for flag, dest in _given_training(opts)))


def _given_training(opts):
    return [(flag, dest) for flag, dest in (("-alpha", "alpha"), ("-lambda", "lambda_"),
                                            ("-lambda1", "lambda1"), ("-mu", "mu"),
                                            ("-mu1", "mu1"), ("--optimizer", "optimizer"))
            if given(opts, dest)]


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def write_json(path, obj, overwrite):
    from .._files import replacing
    with replacing(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_finite(obj), fh, indent=1, ensure_ascii=False)
            fh.write("\n")
