# SPDX-License-Identifier: Apache-2.0
"""Reading DSSTNE's NetCDF model files and rebuilding their JSON description (the helpers of
:func:`dsstne.model.load_network`): see :mod:`dsstne.model`."""

import json

import numpy as np

from ._model_write import (ACTIVATIONS, ERROR_FUNCTIONS, LAYER_KINDS, LAYER_TYPES, NETWORK_KINDS,
                           NN_VERSION, POOLING_FUNCTIONS, WEIGHT_INITS, _BATCH_NORM,
                           _BN_STATE_NAMES, _BN_VARIABLES, _NO_JSON, _SPARSE, _STATE_NAMES)
from ._ncread import Reader, check_finite


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
