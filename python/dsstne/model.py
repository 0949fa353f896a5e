# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's NetCDF network (model) files: save a :class:`dsstne.Network` and load it back
(docs/compatibility.md, "NetCDF model files").

:func:`save_network` writes DSSTNE's layout exactly — every global, ``layer<i>_`` and
``weight<j>_`` attribute with DSSTNE's names and types (enums NC_UINT, weight geometry NC_UINT64,
text NC_CHAR), ``version`` 0.9, ``weight<j>_weights`` and ``weight<j>_bias`` — so DSSTNE can read
the file:

* layer sizes are the derived ones (``Nx`` … ``Nw`` and ``dimensions`` of a convolution or
  pooling layer as computed from its sources, a convolution's maps on the axis after its
  kernel's) and ``kernelPadding*`` is the derived padding;
* a fully connected weight is input-major (n_in·n_out floats, ``width`` = n_out, ``height`` =
  n_in); a convolution's filters are in cuDNN order [out maps][in maps][kz][ky][kx] (only the
  layer's kernel axes), with ``width`` = output maps, ``height`` = input maps and ``length``,
  ``depth``, ``breadth`` the kernel sizes in that order, 1 beyond the kernel's axes (1-D:
  length = kx; 2-D: length = ky, depth = kx; 3-D: length = kz, depth = ky, breadth = kx), and
  one bias per output map;
* a batch-normalized layer has dimension ``layer<i>_bnDim`` (one per feature: a unit, or a
  convolution's output map) and variables ``layer<i>_scaleBN``, ``layer<i>_biasBN``,
  ``layer<i>_runningMeanBN`` and ``layer<i>_runningVarianceBN``.

It adds what DSSTNE ignores but exact continued training needs: ``dsstne_config`` (the JSON
description), ``dsstne_epochs``, ``dsstne_steps``, ``dsstne_training_mode``, each weight's
optimizer state (``weight<j>_dsstne_velocity``, ``…_velocity2``, ``…_bias_velocity``,
``…_bias_velocity2``) and that of each batch-normalized layer's scale and bias
(``layer<i>_dsstne_scale_velocity``, ``…_scale_velocity2``, ``…_bias_velocity``,
``…_bias_velocity2``, on ``layer<i>_bnDim``).

:func:`load_network` reads both: files written here (built from ``dsstne_config``, progress and
optimizer state restored) and DSSTNE's own (the JSON description is rebuilt from the
attributes; a batch-normalized layer without the BN variables keeps the engine's starting
values). Where it differs from DSSTNE's loader:

* integer attributes of any integer width are accepted (DSSTNE copied enum and geometry bytes
  raw, so only 4-byte enums and 8-byte sizes worked there); a floating-point or text value where
  an integer belongs is refused, naming the attribute;
* a layer's own ``sparsenessPenalty_p``/``_beta`` are used when present (DSSTNE read the global
  values into every layer, losing layer overrides);
* every error names the file and the attribute or variable at fault; sources, skips and
  weight layers are checked to name layers of the file, and every weight, bias and
  batch-normalization variable must have the size the network gives it.
"""

import json
import os

import numpy as np

from ._files import open_netcdf, replacing
from .errors import CudaError
from ._ncread import naming_the_file
# The writing helpers and the layout's codes live in _model_write, the reading ones in
# _model_read; save_network and load_network look them up here (tests replace some).
from ._model_read import (_Reader, _check_length, _check_sizes, _check_structure, _json,
                          _read_batch_norm, _read_weight, _rebuild_config, _restore_batch_norm)
from ._model_write import (NN_VERSION, _BN_STATE_NAMES, _BN_VARIABLES, _parameters,
                           _write_layer, _write_network, _write_weight)

__all__ = ["save_network", "load_network", "NN_VERSION"]


def _netcdf4():
    try:
        import netCDF4
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("dsstne.model needs the netCDF4 package (pip install 'netCDF4>=1.6')"
                          ) from e
    return netCDF4


def save_network(net, path, *, overwrite=False):
    """Writes `net` to a NetCDF model file in DSSTNE's layout, plus its training progress.

    Parameters
    ----------
    net : dsstne.Network
    path : str or os.PathLike
    overwrite : bool
        Replace an existing file. The file is written under a temporary name in the same
        directory and renamed over `path` only when complete, so an interrupted save leaves any
        previous model intact.

    Raises
    ------
    FileExistsError
        `path` exists and `overwrite` is false.
    """
    nc4 = _netcdf4()
    config = json.loads(net.config)
    # Every rank takes part in gathering the parameters; rank 0 alone writes the file, and
    # every rank learns whether it could.
    parameters = [_parameters(w) for w in net.weights]
    context = net.context
    failure = None
    if context.rank == 0:
        try:
            with replacing(path, overwrite=overwrite) as tmp:
                nc = nc4.Dataset(tmp, "w", format="NETCDF4", clobber=True)
                try:
                    nc.set_auto_maskandscale(False)
                    _write_network(nc, net, config)
                    layers = {c["Name"]: c for c in config["Layers"]}
                    for i, (layer, c) in enumerate(zip(net.layers, config["Layers"])):
                        _write_layer(nc, i, layer, c, config)
                    for j, (w, p) in enumerate(zip(net.weights, parameters)):
                        _write_weight(nc, j, w, p, net, layers)
                finally:
                    nc.close()
        except Exception as e:
            if context.ranks == 1:
                raise
            failure = e
    if context.ranks > 1:
        message = context.allgather_text("" if failure is None else f"{type(failure).__name__}: "
                                         f"{failure}")[0]
        if failure is not None:
            raise failure
        if message:
            raise OSError(f"{os.fspath(path)}: rank 0 could not save the network: {message}")


def load_network(path, data=(), *, batch=512, context=None, device=None, seed=12134):
    """A :class:`dsstne.Network` from a NetCDF model file (written here or by DSSTNE).

    Parameters
    ----------
    path : str or os.PathLike
    data : DataSet or list of DataSet
        Bound to the layers whose ``DataSet`` names match (as for ``dsstne.Network``).
    batch, context, device, seed
        As for ``dsstne.Network``; pass the seed used before to continue training exactly.

    Raises
    ------
    FileNotFoundError
        `path` does not exist.
    ValueError
        The file is not NetCDF, or misses or holds a bad attribute or variable (the message
        names the file and the field).
    """
    from . import Network  # deferred: dsstne's __init__ may import this module

    nc4 = _netcdf4()
    path = os.fspath(path)
    nc, texts = open_netcdf(nc4, path, "NetCDF model file")
    with naming_the_file(path), nc:
        nc.set_auto_maskandscale(False)
        f = _Reader(nc, path, texts)
        f.check_numbers()
        if not f.has("layers") and not f.has("dsstne_config"):
            raise ValueError(f"{path}: missing attribute 'layers' (not a DSSTNE model file?)")
        if f.has("dsstne_config"):
            config = f.text("dsstne_config")
            layers = _json(f, config).get("Layers", [])
        else:
            config = _rebuild_config(f)
            layers = config["Layers"]
        layer_names = [lc.get("Name") for lc in layers if isinstance(lc, dict)]
        weights = [_read_weight(f, j, layer_names) for j in range(f.uint("weights"))]
        batch_norm = [_read_batch_norm(f, i) for i in range(len(layers))]
        progress = (f.uint("dsstne_epochs"), f.uint("dsstne_steps"),
                    f.text("dsstne_training_mode")) if f.has("dsstne_epochs") else None
    _check_sizes(path, layers, weights)
    try:
        net = Network(config, data, batch=batch, context=context, device=device, seed=seed)
    except CudaError:
        raise  # the device's failure, not the file's
    except (ValueError, TypeError, RuntimeError, OverflowError, KeyError) as e:
        raise ValueError(f"{path}: {e}") from e
    _check_structure(path, net, weights)
    for j, (w, saved) in enumerate(zip(net.weights, weights)):
        if w.convolutional:
            shape = tuple(w.filter_shape)
            n_weights, n_bias = int(np.prod(w.shape)), shape[0]
            weights_why = (f"'{w.input}' -> '{w.output}' has {'x'.join(map(str, shape))} "
                           "filter weights (out maps, in maps, kernel)")
            bias_why = f"layer '{w.output}' has {n_bias} feature maps"
        else:
            n_in, n_out = net.layer(w.input).size, net.layer(w.output).size
            n_weights, n_bias = n_in * n_out, n_out
            weights_why = f"'{w.input}' -> '{w.output}' has {n_in}x{n_out} weights"
            bias_why = f"layer '{w.output}' has {n_out} units"
        if saved["weights"] is not None:
            _check_length(path, f"weight{j}_weights", saved["weights"], n_weights, weights_why)
        _check_length(path, f"weight{j}_bias", saved["bias"], n_bias, bias_why)
        try:
            if saved["weights"] is not None:
                w.weights = saved["weights"].reshape(w.shape)
            w.bias, w.locked, w.norm = saved["bias"], saved["locked"], saved["norm"]
        except (ValueError, TypeError, OverflowError) as e:
            raise ValueError(f"{path}: weight {j} ('{w.input}' -> '{w.output}'): {e}") from e
    _restore_batch_norm(path, net, batch_norm, _BN_VARIABLES.values())
    if progress is not None:
        try:
            net.set_progress(*progress)  # first: it allocates the optimizer state
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"{path}: attributes 'dsstne_epochs', 'dsstne_steps', "
                             f"'dsstne_training_mode': {e}") from e
        for j, (w, saved) in enumerate(zip(net.weights, weights)):
            for name, values in saved["state"].items():
                try:
                    w.optimizer_state = {name: values}
                except (ValueError, RuntimeError) as e:
                    raise ValueError(f"{path}: variable 'weight{j}_dsstne_{name}' "
                                     f"({values.size} values): {e}") from e
        # After set_progress, which zeroes this state when the optimizer changes.
        _restore_batch_norm(path, net, batch_norm, _BN_STATE_NAMES)
    return net
