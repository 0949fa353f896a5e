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
from ._ncread import Reader, check_finite, naming_the_file

__all__ = ["save_network", "load_network", "NN_VERSION"]

#: The ``version`` attribute DSSTNE writes.
NN_VERSION = 0.9

# DSSTNE's enum codes, by the names the JSON language and the engine use.
NETWORK_KINDS = {"FeedForward": 0, "AutoEncoder": 1}
LAYER_KINDS = {"Input": 0, "Hidden": 1, "Output": 2, "Target": 3}
LAYER_TYPES = {"FullyConnected": 0, "Convolutional": 1, "Pooling": 2}
ACTIVATIONS = {"Sigmoid": 0, "Tanh": 1, "RectifiedLinear": 2, "Linear": 3,
               "ParametricRectifiedLinear": 4, "SoftPlus": 5, "SoftSign": 6, "SoftMax": 7,
               "RELUMax": 8, "LinearMax": 9, "ExponentialLinear": 10, "LeakyRectifiedLinear": 11,
               "ScaledExponentialLinear": 12}
WEIGHT_INITS = {"Xavier": 0, "CaffeXavier": 1, "Gaussian": 2, "Uniform": 3, "UnitBall": 4,
                "Constant": 5, "SELU": 6}
POOLING_FUNCTIONS = {"None": 0, "Max": 1, "Average": 2, "LRN": 3, "Maxout": 4, "DotProduct": 5,
                     "Cosine": 6, "Stochastic": 7, "LCN": 8, "GlobalTemporal": 9}
ERROR_FUNCTIONS = {"L1": 0, "L2": 1, "CrossEntropy": 2, "ScaledMarginalCrossEntropy": 3,
                   "DataScaledMarginalCrossEntropy": 4, "Hinge": 5, "L2Hinge": 6}
# Codes that exist in DSSTNE's enums but have no spelling in its JSON language.
_NO_JSON = {"ParametricRectifiedLinear", "Stochastic", "LCN", "GlobalTemporal"}

_SPARSE, _DENOISING, _BATCH_NORM = 1, 2, 4  # layer attribute bits
_STATE_NAMES = ("velocity", "velocity2", "bias_velocity", "bias_velocity2")
# A batch-normalized layer's buffers: DSSTNE's variable suffixes of the ones it stores, and the
# optimizer state of scale and bias that only these files keep (as layer<i>_dsstne_<name>).
_BN_VARIABLES = {"scaleBN": "scale", "biasBN": "bias", "runningMeanBN": "running_mean",
                 "runningVarianceBN": "running_variance"}
_BN_STATE_NAMES = ("scale_velocity", "scale_velocity2", "bias_velocity", "bias_velocity2")

_u32, _u64, _i32, _f32 = np.uint32, np.uint64, np.int32, np.float32


def _netcdf4():
    try:
        import netCDF4
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("dsstne.model needs the netCDF4 package (pip install 'netCDF4>=1.6')"
                          ) from e
    return netCDF4


def _text(value):
    """Bytes, so that netCDF4 writes NC_CHAR (never NC_STRING)."""
    return str(value).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Writing


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


def _parameters(w):
    """What is saved of connection `w`: the whole matrix (unless shared), bias and optimizer
    state, gathered from every rank."""
    return {"weights": None if w.shared else w.weights.ravel(), "bias": w.bias,
            "state": w.optimizer_state}


def _write_network(nc, net, c):
    put = nc.setncattr
    put("version", _f32(NN_VERSION))
    put("name", _text(c.get("Name", "")))
    put("kind", _u32(NETWORK_KINDS[c.get("Kind", "FeedForward")]))
    put("errorFunction", _u32(ERROR_FUNCTIONS[net.error_function]))
    put("maxout_k", _i32(c["Maxout"]["k"]))
    put("decay", _f32(c.get("Decay", 0.0)))
    for key in ("k", "n", "alpha", "beta"):
        put(f"LRN_{key}", (_i32 if key == "n" else _f32)(c["LRN"][key]))
    sp = c["SparsenessPenalty"]
    put("bSparsenessPenalty", _u32(sp["beta"] > 0))
    put("sparsenessPenalty_p", _f32(sp["p"]))
    put("sparsenessPenalty_beta", _f32(sp["beta"]))
    put("bDenoising", _u32(c["Denoising"]["p"] > 0))
    put("denoising_p", _f32(c["Denoising"]["p"]))
    for key in ("one", "zero"):
        put(f"deltaBoost_{key}", _f32(c["DeltaBoost"][key]))
    smce = c["ScaledMarginalCrossEntropy"]
    for key in ("oneScale", "zeroScale", "oneTarget", "zeroTarget"):
        put(f"SMCE_{key}", _f32(smce[key]))
    put("ShuffleIndices", _u32(bool(c.get("ShuffleIndices", True))))
    put("checkpoint_name", _text("checkpoint"))
    put("checkpoint_interval", _i32(0))
    put("checkpoint_epochs", _i32(0))
    put("layers", _u32(len(net.layers)))
    put("weights", _u32(len(net.weights)))
    # What DSSTNE ignores and exact continued training needs.
    put("dsstne_config", _text(net.config))
    put("dsstne_epochs", _u64(net.epochs_trained))
    put("dsstne_steps", _u64(net.steps))
    put("dsstne_training_mode", _text(net.training_mode))


def _write_layer(nc, i, layer, c, net_config):
    def put(suffix, value):
        nc.setncattr(f"layer{i}_{suffix}", value)

    kind = c.get("Kind", layer.kind)
    ltype = c.get("Type", "FullyConnected")
    put("name", _text(layer.name))
    put("kind", _u32(LAYER_KINDS[kind]))
    put("type", _u32(LAYER_TYPES[ltype]))
    put("poolingfunction", _u32(POOLING_FUNCTIONS[c.get("Function", "None")]))
    put("dataSet", _text(c.get("DataSet", "")))
    # The sizes the engine derived (a convolution's JSON N is only its number of maps), x first.
    n = list(layer.dims[::-1])
    for axis, value in zip("xyzw", n + [1] * (4 - len(n))):
        put(f"N{axis}", _u32(value))
    put("dimensions", _u32(len(n)))
    geometry = layer.kernel
    kernel = geometry["Kernel"]
    for axis, k, s, pad in zip("XYZ", kernel + [1, 1], geometry["KernelStride"] + [1, 1],
                               geometry["KernelPadding"] + [0, 0]):
        put(f"kernel{axis}", _u32(k))
        put(f"kernelStride{axis}", _u32(s))
        put(f"kernelPadding{axis}", _u32(pad))
    put("kernelDimensions", _u32(len(kernel)))
    put("pDropout", _f32(c.get("pDropout", 0.0)))
    init = c.get("WeightInit", {})
    put("weightInit", _u32(WEIGHT_INITS[init.get("Scheme", "Xavier")]))
    put("weightInitScale", _f32(init.get("Scale", 1.0)))
    put("biasInit", _f32(init.get("Bias", 0.0)))
    put("weightNorm", _f32(c.get("WeightNorm", 0.0)))
    put("deltaNorm", _f32(c.get("DeltaNorm", 0.0)))
    put("activation", _u32(ACTIVATIONS[c.get("Activation", "Sigmoid")]))
    for key in ("p", "beta"):
        put(f"sparsenessPenalty_{key}", _f32(c.get("SparsenessPenalty", {}).get(key, 0.0)))
    for key, default in (("RELUSlope", 1.0), ("ELUAlpha", 1.0), ("SELULambda", 1.050701)):
        put(key, _f32(c.get(key, net_config.get(key, default))))
    sparse = bool(c.get("Sparse", False))
    bits = _SPARSE if sparse else 0
    if kind == "Input" and sparse and net_config["Denoising"]["p"] > 0:
        bits |= _DENOISING
    bn = layer.batch_norm
    if bn is not None:
        bits |= _BATCH_NORM
    put("attributes", _u32(bits))
    sources = layer.sources if kind != "Input" else []
    put("sources", _u32(len(sources)))
    for k, s in enumerate(sources):
        put(f"source{k}", _text(s))
    put("skips", _u32(len(layer.skips)))
    for k, s in enumerate(layer.skips):
        put(f"skip{k}", _text(s))
    if bn is not None:
        dim = f"layer{i}_bnDim"
        nc.createDimension(dim, bn["scale"].size)
        for suffix, name in _BN_VARIABLES.items():
            _put_values(nc, dim, f"layer{i}_{suffix}", bn[name])
        for name in _BN_STATE_NAMES:  # zero until an optimizer with state has run
            _put_values(nc, dim, f"layer{i}_dsstne_{name}", bn[name])


def _write_weight(nc, j, w, p, net, layers):
    def put(suffix, value):
        nc.setncattr(f"weight{j}_{suffix}", value)

    if w.convolutional:
        # (out maps, in maps, [kz,] [ky,] kx): width, height, then length/depth/breadth in order.
        shape = tuple(w.filter_shape)
        geometry = shape + (1,) * (5 - len(shape))
    else:
        geometry = (net.layer(w.output).size, net.layer(w.input).size, 1, 1, 1)
    put("inputLayer", _text(w.input))
    put("outputLayer", _text(w.output))
    for key, value in zip(("width", "height", "length", "depth", "breadth"), geometry):
        put(key, _u64(value))
    put("bShared", _u32(w.shared))
    put("bLocked", _u32(w.locked))
    put("norm", _f32(w.norm))
    if w.shared:
        entry = next(e for e in layers[w.output].get("SharedWeights", [])
                     if e["InputLayer"] == w.input)
        put("bTransposed", _u32(bool(entry.get("Transposed", False))))
        put("sourceInputLayer", _text(entry["SourceInputLayer"]))
        put("sourceOutputLayer", _text(entry["SourceOutputLayer"]))
    else:
        _put_var(nc, f"weight{j}_weightDim", f"weight{j}_weights", p["weights"])
    _put_var(nc, f"weight{j}_biasDim", f"weight{j}_bias", p["bias"])
    for name, values in p["state"].items():
        if values.size:
            _put_var(nc, f"weight{j}_dsstne_{name}Dim", f"weight{j}_dsstne_{name}", values)


def _put_var(nc, dim, name, values):
    """Variable `name` on a new dimension `dim` of its size."""
    nc.createDimension(dim, np.size(values))
    _put_values(nc, dim, name, values)


def _put_values(nc, dim, name, values):
    # One contiguous write without fill values: the file side of a save runs at disk speed.
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    nc.createVariable(name, "f4", (dim,), fill_value=False, contiguous=True)[:] = values


# ---------------------------------------------------------------------------------------------
# Reading


class _Reader(Reader):
    """Typed access to a model file's attributes and variables; errors name the file and field."""

    def has(self, name):
        return name in self.attrs

    def _get(self, name, required, what):
        if name not in self.attrs:
            if required:
                raise ValueError(f"{self.path}: missing attribute '{name}' ({what})")
            return None
        return self.attribute(name, self.path)

    def uint(self, name, *, required=True, default=None, what="an integer"):
        value = self._get(name, required, what)
        if value is None:
            return default
        if np.asarray(value).dtype.kind == "f":
            raise ValueError(f"{self.path}: attribute '{name}' is a floating-point number "
                             f"({value!r}), expected {what} stored as an integer type")
        value = self.number(name, value, what, self.path)
        if value < 0:
            raise ValueError(f"{self.path}: attribute '{name}' must be a whole number >= 0 "
                             f"({what}), got {value}")
        return int(value)

    def float(self, name, *, required=True, default=None):
        value = self._get(name, required, "a number")
        if value is None:
            return default
        return float(self.number(name, value, "a number", self.path))

    def flag(self, name, *, required=True):
        return bool(self.uint(name, required=required, default=0, what="0 or 1"))

    def enum(self, name, codes, what, *, required=True, default=0):
        code = self.uint(name, required=required, default=default, what=f"the {what} code")
        for key, value in codes.items():
            if value == code:
                return key
        known = ", ".join(f"{v} {k}" for k, v in codes.items())
        raise ValueError(f"{self.path}: attribute '{name}' = {code} is not a known {what} code "
                         f"(DSSTNE's codes: {known})")

    def text(self, name, *, required=True, default=None):
        value = self._get(name, required, "text")
        if value is None:
            return default
        return self.text_of(name, value, self.path)

    def var(self, name, *, required=True):
        v = self.variable(name, self.path, required=required)
        if v is None:
            return None
        arr = self.values(v, name, self.path)
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{self.path}: variable '{name}' has type {arr.dtype}, expected "
                             "numbers")
        arr = arr.astype(np.float32, copy=False)
        check_finite(arr, f"{self.path}: variable '{name}'")
        return arr


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


def _read_batch_norm(f, i):
    """Layer i's batch-normalization variables present in the file: {buffer name: (variable
    name, values)}."""
    found = {}
    names = [(f"layer{i}_{suffix}", name) for suffix, name in _BN_VARIABLES.items()]
    names += [(f"layer{i}_dsstne_{name}", name) for name in _BN_STATE_NAMES]
    for var, name in names:
        values = f.var(var, required=False)
        if values is not None:
            found[name] = (var, values)
    return found


def _restore_batch_norm(path, net, saved, names):
    """Copies the buffers `names` of each layer's saved batch normalization into the network;
    those the file lacks keep the engine's values (scale 1, bias 0, running mean 0, running
    variance 1, optimizer state 0)."""
    for layer, found in zip(net.layers, saved):
        present = [name for name in names if name in found]
        if not present:
            continue
        current = layer.batch_norm
        if current is None:
            var = found[present[0]][0]
            raise ValueError(f"{path}: variable '{var}' holds batch-normalization values but "
                             f"layer '{layer.name}' has no BatchNormalization")
        features = current["scale"].size
        for name in present:
            var, values = found[name]
            _check_length(path, var, values, features,
                          f"layer '{layer.name}' normalizes {features} features")
            try:
                layer.batch_norm = {name: values}
            except (ValueError, RuntimeError) as e:
                raise ValueError(f"{path}: variable '{var}': {e}") from e


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"{text} is too large for a floating-point number")
    return value


def _json(f, text):
    try:
        config = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{f.path}: attribute 'dsstne_config' is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{f.path}: attribute 'dsstne_config' must be a JSON object")
    return config


def _field(layer, key):
    """The value of `key` in a layer description, matched without case as the parser does (of
    case variants the last in sorted order wins); None when absent."""
    keys = sorted(k for k in layer if isinstance(k, str) and k.lower() == key.lower())
    return layer[keys[-1]] if keys else None


def _word(layer, key, default):
    """An enumerated value in lower case; None where it is not text."""
    value = _field(layer, key)
    value = default if value is None else value
    return value.lower() if isinstance(value, str) else None


def _whole_numbers(value, default, most):
    """An integer or list of 1 … `most` integers > 0 as a list, else None."""
    value = default if value is None else value
    value = value if isinstance(value, list) else [value]
    if not 1 <= len(value) <= most or not all(
            isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in value):
        return None
    return value


def _derived(layer):
    """Whether the engine derives the layer's size from its sources (a Hidden Convolutional or
    Pooling layer), or may (its Kind left to the position, or not text)."""
    return (_word(layer, "Type", "FullyConnected") != "fullyconnected"
            and _word(layer, "Kind", None) not in ("input", "output", "target"))


def _units(layer):
    """Units of a layer of the description, or None where they are not certain before the
    network is built: sized by the data ("auto") or derived from the sources."""
    if not isinstance(layer, dict) or _derived(layer):
        return None
    n = _whole_numbers(_field(layer, "N"), 1, 4)
    return None if n is None else int(np.prod(n, dtype=object))


def _conv_sizes(output, source):
    """(biases, weights) of a convolution into Hidden layer `output` from `source`, each None
    where not certain before the network is built."""
    if _word(output, "Kind", None) != "hidden":
        return None, None
    kernel = _whole_numbers(_field(output, "Kernel"), 1, 3)
    n = _whole_numbers(_field(output, "N"), None, 4)
    if kernel is None or n is None:
        return None, None
    dims = len(kernel)
    # The JSON N is the number of maps; an N with an axis beyond the kernel's holds them there.
    maps = n[dims] if len(n) == dims + 1 else n[0]
    source_n = _whole_numbers(_field(source, "N"), 1, 4) if not _derived(source) else None
    if source_n is None:
        return maps, None
    # A source's maps: its units over the extent of the kernel's axes (as the engine counts).
    spatial = int(np.prod((source_n + [1, 1, 1])[:dims], dtype=object))
    in_maps = int(np.prod(source_n, dtype=object)) // spatial
    return maps, maps * in_maps * int(np.prod(kernel, dtype=object))


def _check_sizes(path, layers, weights):
    """The weights and biases the file holds must match the layer sizes it describes, checked
    before the network is built so that a damaged size cannot make it allocate terabytes.
    Only sizes certain from the description are checked here; the rest after the build."""
    by_name = {lc.get("Name"): lc for lc in layers if isinstance(lc, dict)}
    for j, saved in enumerate(weights):
        source, output = by_name.get(saved["input"]), by_name.get(saved["output"])
        if not isinstance(source, dict) or not isinstance(output, dict):
            continue
        link = f"'{saved['input']}' -> '{saved['output']}'"
        if _word(output, "Type", "FullyConnected") == "convolutional":
            n_bias, n_weights = _conv_sizes(output, source)
            weights_why = f"{link} has {n_weights} filter weights"
            bias_why = f"layer '{saved['output']}' has {n_bias} feature maps"
        else:
            n_in, n_out = _units(source), _units(output)
            n_bias = n_out
            n_weights = None if n_in is None or n_out is None else n_in * n_out
            weights_why = f"{link} has {n_in}x{n_out} weights"
            bias_why = f"layer '{saved['output']}' has {n_out} units"
        if n_bias is not None:
            _check_length(path, f"weight{j}_bias", saved["bias"], n_bias, bias_why)
        if n_weights is not None and saved["weights"] is not None:
            _check_length(path, f"weight{j}_weights", saved["weights"], n_weights, weights_why)


def _check_length(path, name, values, expected, why):
    if values.size != expected:
        raise ValueError(f"{path}: variable '{name}' has {values.size} values but {why} "
                         f"({expected} expected)")


def _check_structure(path, net, weights):
    if len(weights) != len(net.weights):
        raise ValueError(f"{path}: attribute 'weights' = {len(weights)} but the layers described "
                         f"make {len(net.weights)} weight matrices")
    for j, (w, saved) in enumerate(zip(net.weights, weights)):
        for field, got, expected in (("inputLayer", saved["input"], w.input),
                                     ("outputLayer", saved["output"], w.output)):
            if got != expected:
                raise ValueError(f"{path}: attribute 'weight{j}_{field}' is '{got}' but weight "
                                 f"{j} of the network connects '{w.input}' -> '{w.output}'")
        if saved["shared"] != w.shared:
            raise ValueError(f"{path}: attribute 'weight{j}_bShared' is {int(saved['shared'])} "
                             f"but the weight '{w.input}' -> '{w.output}' is "
                             f"{'' if w.shared else 'not '}shared in the layers described")


def _layer_named(f, attr, layer_names):
    """Text attribute `attr`, which must name a layer of the file."""
    name = f.text(attr)
    if name not in layer_names:
        raise ValueError(f"{f.path}: attribute '{attr}' names '{name}', which is no layer of "
                         "the file")
    return name


def _read_weight(f, j, layer_names):
    p = f"weight{j}_"
    saved = {"input": _layer_named(f, p + "inputLayer", layer_names),
             "output": _layer_named(f, p + "outputLayer", layer_names)}
    for key in ("width", "height", "length", "depth", "breadth"):
        f.uint(p + key, what="a size")
    saved["shared"] = f.flag(p + "bShared")
    saved["locked"] = f.flag(p + "bLocked", required=False)
    saved["norm"] = f.float(p + "norm", required=False, default=0.0)
    saved["weights"] = None
    if saved["shared"]:
        f.flag(p + "bTransposed")
        _layer_named(f, p + "sourceInputLayer", layer_names)
        _layer_named(f, p + "sourceOutputLayer", layer_names)
    else:
        saved["weights"] = f.var(p + "weights")
    saved["bias"] = f.var(p + "bias")
    saved["state"] = {}
    for name in _STATE_NAMES:
        values = f.var(f"{p}dsstne_{name}", required=False)
        if values is not None:
            saved["state"][name] = values
    return saved


def _rebuild_config(f):
    """The JSON description (as a dict) of a file without ``dsstne_config`` (DSSTNE's own)."""
    f.float("version")  # required by DSSTNE, value ignored
    config = {
        "Version": NN_VERSION,
        "Name": f.text("name"),
        "Kind": f.enum("kind", NETWORK_KINDS, "network Kind"),
        "ErrorFunction": f.enum("errorFunction", ERROR_FUNCTIONS, "ErrorFunction"),
        "ShuffleIndices": f.flag("ShuffleIndices"),
        "Decay": f.float("decay", required=False, default=0.0),
        "LRN": {"k": f.float("LRN_k"), "n": f.uint("LRN_n"), "alpha": f.float("LRN_alpha"),
                "beta": f.float("LRN_beta")},
        "Maxout": {"k": f.uint("maxout_k")},
    }
    penalty, p = f.flag("bSparsenessPenalty"), f.float("sparsenessPenalty_p")
    beta = f.float("sparsenessPenalty_beta")
    config["SparsenessPenalty"] = {"p": p, "beta": beta if penalty else 0.0}
    denoising, p = f.flag("bDenoising"), f.float("denoising_p")
    config["Denoising"] = {"p": p if denoising else 0.0}
    config["DeltaBoost"] = {"one": f.float("deltaBoost_one"), "zero": f.float("deltaBoost_zero")}
    config["ScaledMarginalCrossEntropy"] = {
        key: f.float(f"SMCE_{key}") for key in ("oneTarget", "zeroTarget", "oneScale",
                                                "zeroScale")}
    count = f.uint("layers")
    layers = [_rebuild_layer(f, i) for i in range(count)]
    names = [lc["Name"] for lc in layers]
    for i, lc in enumerate(layers):
        for key, field in (("Source", "source"), ("Skip", "skip")):
            for k, name in enumerate(lc.get(key, [])):
                if name not in names:
                    raise ValueError(f"{f.path}: attribute 'layer{i}_{field}{k}' names "
                                     f"'{name}', which is no layer of the file")
    by_name = {lc["Name"]: lc for lc in layers}
    for j in range(f.uint("weights")):
        p = f"weight{j}_"
        if not f.flag(p + "bShared"):
            continue
        output = _layer_named(f, p + "outputLayer", names)
        by_name[output].setdefault("SharedWeights", []).append({
            "InputLayer": f.text(p + "inputLayer"),
            "SourceInputLayer": f.text(p + "sourceInputLayer"),
            "SourceOutputLayer": f.text(p + "sourceOutputLayer"),
            "Transposed": f.flag(p + "bTransposed")})
    config["Layers"] = layers
    return config


def _rebuild_layer(f, i):
    p = f"layer{i}_"
    kind = f.enum(p + "kind", LAYER_KINDS, "layer Kind")
    ltype = f.enum(p + "type", LAYER_TYPES, "layer Type")
    lc = {"Name": f.text(p + "name"), "Kind": kind, "Type": ltype}
    pooling = f.enum(p + "poolingfunction", POOLING_FUNCTIONS, "PoolingFunction",
                     required=ltype == "Pooling")
    computed = kind in ("Hidden", "Output")
    if ltype == "Pooling" and computed and pooling != "None":
        if pooling in _NO_JSON:
            raise ValueError(f"{f.path}: attribute '{p}poolingfunction': {pooling} pooling is not "
                             "supported")
        lc["Function"] = pooling
    data_set = f.text(p + "dataSet")
    if data_set and kind in ("Input", "Output"):
        lc["DataSet"] = data_set
    n = [f.uint(p + f"N{axis}", what="a size") for axis in "xyzw"]
    dims = f.uint(p + "dimensions")
    if not 1 <= dims <= 4:
        raise ValueError(f"{f.path}: attribute '{p}dimensions' must be 1 … 4, got {dims}")
    lc["N"] = n[0] if dims == 1 else n[:dims]
    kernel = [f.uint(p + f"kernel{axis}") for axis in "XYZ"]
    stride = [f.uint(p + f"kernelStride{axis}") for axis in "XYZ"]
    kernel_dims = f.uint(p + "kernelDimensions")
    if kind == "Hidden" and ltype == "Convolutional" and 1 <= kernel_dims <= 3:
        # The file holds the derived sizes; the JSON N of a hidden convolution is its number of
        # maps, stored on the axis after the kernel's (the parser derives the rest again).
        lc["N"] = n[kernel_dims] if dims == kernel_dims + 1 else n[0]
    for axis in "XYZ":
        f.uint(p + f"kernelPadding{axis}")
    attributes = f.uint(p + "attributes")
    if attributes & _SPARSE:
        lc["Sparse"] = True
    lc["pDropout"] = f.float(p + "pDropout")
    if kind != "Input":
        lc["Source"] = [f.text(p + f"source{k}") for k in range(f.uint(p + "sources"))]
        if ltype != "FullyConnected" and 1 <= kernel_dims <= 3:
            lc["Kernel"] = kernel[:kernel_dims]
            lc["KernelStride"] = stride[:kernel_dims]
    skips = [f.text(p + f"skip{k}") for k in range(f.uint(p + "skips"))]
    # Required whatever the kind, as in DSSTNE.
    activation = f.enum(p + "activation", ACTIVATIONS, "Activation")
    scheme = f.enum(p + "weightInit", WEIGHT_INITS, "WeightInitialization")
    values = {key: f.float(p + key) for key in ("weightInitScale", "biasInit", "weightNorm",
                                                "deltaNorm", "RELUSlope", "ELUAlpha", "SELULambda")}
    if computed:
        if activation in _NO_JSON:
            raise ValueError(f"{f.path}: attribute '{p}activation': {activation} (code "
                             f"{ACTIVATIONS[activation]}) is not supported")
        if skips:
            lc["Skip"] = skips
        lc["Activation"] = activation
        for key in ("RELUSlope", "ELUAlpha", "SELULambda"):
            lc[key] = values[key]
        lc["WeightNorm"], lc["DeltaNorm"] = values["weightNorm"], values["deltaNorm"]
        lc["WeightInit"] = {"Scheme": scheme, "Scale": values["weightInitScale"],
                            "Bias": values["biasInit"]}
    elif skips:
        raise ValueError(f"{f.path}: attribute '{p}skips': a {kind} layer takes no skips")
    if kind == "Hidden":
        if attributes & _BATCH_NORM:
            lc["BatchNormalization"] = True
        sp_p = f.float(p + "sparsenessPenalty_p", required=False, default=0.0)
        sp_beta = f.float(p + "sparsenessPenalty_beta", required=False, default=0.0)
        if sp_p > 0 or sp_beta > 0:
            lc["SparsenessPenalty"] = {"p": sp_p, "beta": sp_beta}
    return lc
