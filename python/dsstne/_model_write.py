# SPDX-License-Identifier: Apache-2.0
"""Writing DSSTNE's NetCDF model files (the helpers of :func:`dsstne.model.save_network`), and
the layout's codes, which the reader (``_model_read``) shares: see :mod:`dsstne.model`."""

import numpy as np

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


def _text(value):
    """Bytes, so that netCDF4 writes NC_CHAR (never NC_STRING)."""
    return str(value).encode("utf-8")


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
