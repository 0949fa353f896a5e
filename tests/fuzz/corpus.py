# SPDX-License-Identifier: Apache-2.0
"""Seed files for the fuzz targets: tiny data set and model files in this port's layout and in
DSSTNE's (plain netCDF4 calls, generateNetCDF's types, no dsstne_* extras), and DSSTNE text
files; plus the readers each target runs and the checks of what a reader returns."""

import os
import warnings

import numpy as np
import scipy.sparse as sp

import dsstne
from dsstne import textformats


def _matrix(seed, rows=12, cols=20):
    m = sp.random(rows, cols, density=0.25, format="csr", random_state=seed, dtype=np.float32)
    m.data = np.round(m.data * 4, 2).astype(np.float32)
    return m


def _data_ours(path, format):
    m = _matrix(1)
    weights = np.linspace(0.5, 2.0, m.shape[0]).astype(np.float32)
    dense = np.arange(3 * 4, dtype=np.uint8).reshape(3, 4)
    dsstne.write_netcdf(path, [dsstne.DataSet("input", m, weights=weights),
                               dsstne.DataSet("dense", dense)], format=format)


def _data_dsstne(path):
    """generateNetCDF's layout: NC_UINT attributes and offsets, float values."""
    import netCDF4
    m = _matrix(2)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for k, v in (("datasets", 1), ("attributes0", 1), ("kind0", 0), ("dataType0", 4),
                     ("dimensions0", 1), ("width0", 128)):
            nc.setncattr(k, np.uint32(v))
        nc.setncattr("name0", b"input")
        nc.createDimension("examplesDim0", m.shape[0])
        nc.createDimension("sparseDataDim0", m.nnz)
        for name, dim, values, t in (("sparseStart0", "examplesDim0", m.indptr[:-1], "u4"),
                                     ("sparseEnd0", "examplesDim0", m.indptr[1:], "u4"),
                                     ("sparseIndex0", "sparseDataDim0", m.indices, "u4"),
                                     ("sparseData0", "sparseDataDim0", m.data, "f4")):
            nc.createVariable(name, t, (dim,))[:] = values


def _network(data):
    # L2: the data are analog values beyond [0, 1], which the cross-entropies refuse.
    config = {"Kind": "FeedForward", "ErrorFunction": "L2",
              "Layers": [{"Kind": "Input", "N": "auto", "DataSet": "input", "Sparse": True},
                         {"Kind": "Hidden", "N": 4, "Activation": "Sigmoid"},
                         {"Kind": "Output", "N": "auto", "DataSet": "input"}]}
    net = dsstne.Network(config, data, batch=4)
    net.train(epochs=1, alpha=0.05, optimizer="Momentum")
    return net


def _model_ours(path):
    dsstne.save_network(_network(dsstne.DataSet("input", _matrix(3, cols=10))), path)


def _model_dsstne(path):
    """The same network with only DSSTNE's attributes and variables (no dsstne_* extras)."""
    import netCDF4
    tmp = path + ".full"
    _model_ours(tmp)
    with netCDF4.Dataset(tmp) as src, netCDF4.Dataset(path, "w", format="NETCDF4") as dst:
        src.set_auto_maskandscale(False)
        for k in src.ncattrs():
            if not k.startswith("dsstne_"):
                v = src.getncattr(k)
                dst.setncattr(k, v.encode() if isinstance(v, str) else v)
        for name, d in src.dimensions.items():
            if "dsstne_" not in name:
                dst.createDimension(name, len(d))
        for name, v in src.variables.items():
            if "dsstne_" not in name:
                dst.createVariable(name, v.dtype, v.dimensions)[:] = v[:]
    os.unlink(tmp)


def _text(path, kind):
    body = {"data": "u1\ta,1.5:b:c,2\nu2\tb,0.25\r\nu3\t\n\nu4\td:e,1e-3::\n",
            "index": "a\t0\nb\t1\nc\t2\nd\t7\n",
            "filter": "u1\ta:b,1\nu2\tc\n\nu9\tz,3\n"}[kind]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(body)


#: target -> list of (seed name, maker(path))
SEEDS = {
    "data": [("ours_netcdf4", lambda p: _data_ours(p, "NETCDF4")),
             ("ours_cdf5", lambda p: _data_ours(p, "NETCDF3_64BIT_DATA")),
             ("dsstne", _data_dsstne)],
    "model": [("ours", _model_ours), ("dsstne", _model_dsstne)],
    "text": [("data", lambda p: _text(p, "data")), ("index", lambda p: _text(p, "index")),
             ("filter", lambda p: _text(p, "filter"))],
}


def make_seeds(directory):
    """Writes every seed file into `directory`; returns {target: [(name, bytes)]}."""
    out = {}
    for target, seeds in SEEDS.items():
        for name, make in seeds:
            path = os.path.join(directory, f"{target}_{name}.seed")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make(path)
            with open(path, "rb") as fh:
                out.setdefault(target, []).append((name, fh.read()))
    return out


# ---------------------------------------------------------------------------------------------
# what each target runs, and what its results must satisfy


class Unclean(AssertionError):
    """A reader failed in a way the fuzz properties forbid."""


def _finite(arr, what):
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise Unclean(f"{what}: non-finite values loaded")


def _check_data_set(ds):
    units = int(np.prod(ds.dims))
    if ds.sparse:
        s = ds.sparse_arrays()
        if s["start"].size != ds.records or s["end"].size != ds.records:
            raise Unclean("offsets do not match the rows")
        if (s["end"] < s["start"]).any() or (s["indices"] >= units).any():
            raise Unclean("inconsistent sparse arrays loaded")
        if s["values"] is not None:
            _finite(s["values"], "values")
    else:
        arr = ds.to_numpy()
        if arr.shape[0] != ds.examples or int(np.prod(arr.shape[1:])) != units:
            raise Unclean(f"dense data of shape {arr.shape} for {ds.examples} x {ds.dims}")
        _finite(arr, "dense data")
    if ds.weights is not None:
        _finite(ds.weights, "weights")
        if ds.weights.size != ds.examples:
            raise Unclean("weights do not match the examples")
    if ds.index is not None and ((ds.index >= ds.records).any() or ds.index.size != ds.examples):
        raise Unclean("index out of range")


def _check_network(net):
    for w in net.weights:
        n_in, n_out = net.layer(w.input).size, net.layer(w.output).size
        if w.weights.shape != (n_in, n_out) or w.bias.shape != (n_out,):
            raise Unclean(f"weight {w}: shapes {w.weights.shape}, {w.bias.shape}")
        _finite(w.weights, f"{w} weights")
        _finite(w.bias, f"{w} bias")
        for name, values in w.optimizer_state.items():
            _finite(values, f"{w} {name}")


def _read_text(path):
    # Each text reader on the same bytes: data text, index and filter files.
    try:
        textformats.read_data(path)
    except ValueError:
        pass
    try:
        textformats.read_index(path)
    except ValueError:
        pass
    textformats.read_filters(path, {"u1": 0, "u2": 1}, {"a": 0, "b": 1, "c": 2})


def run_target(target, path):
    """Runs the target's reader on `path` and checks what it returns; raises the reader's own
    exception (for the caller to judge with :func:`clean`) or Unclean."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if target == "data":
            for ds in dsstne.read_netcdf(path):
                _check_data_set(ds)
        elif target == "model":
            _check_network(dsstne.load_network(path))
        else:
            _read_text(path)


def clean(exc, path):
    """Whether `exc` is an acceptable failure: a ValueError, IndexError or OSError whose
    message names the file."""
    return isinstance(exc, (ValueError, IndexError, OSError)) and not isinstance(
        exc, Unclean) and str(path) in str(exc)
