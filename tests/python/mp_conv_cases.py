# SPDX-License-Identifier: Apache-2.0
"""The convolutional networks the model-parallel tests train on one rank and on N
(test_model_parallel_conv.py runs mp_conv_worker.py under mpirun): each case is a config and tiny
generated data; run_case trains it and returns what must agree across rank counts. On several
ranks a Convolutional layer's output channels are divided (each rank holds and computes its
channels' filters, then the ranks gather the maps), Pooling and batch-normalized layers are
replicated (every rank computes them whole; a convolutional or pooling output's error counts
once) and the other fully-connected layers are divided among the ranks."""

import numpy as np

import dsstne

EXAMPLES, CLASSES = 40, 4


def layer(name, kind, n, **keys):
    return {"Name": name, "Kind": kind, "N": n, **keys}


def net(layers, loss="CrossEntropy", **top):
    return {"Version": 0.8, "Name": "mpconv", "Kind": "FeedForward", "ErrorFunction": loss,
            "ShuffleIndices": True, "Layers": layers, **top}


def convnet():
    """6×6 images of 2 maps → 3×3 convolution (3 maps, batch-normalized) → 2×2 max pooling →
    LRN → 7 fully-connected units (divided unevenly among 2 or 3 ranks) → 5 batch-normalized
    units with dropout (replicated, reading the divided layer) → SoftMax (divided)."""
    return net([layer("img", "Input", "auto", Type="Convolutional", DataSet="x"),
                layer("c1", "Hidden", 3, Type="Convolutional", Kernel=[3, 3],
                      Activation="RectifiedLinear", BatchNormalization=True),
                layer("p1", "Hidden", None, Type="Pooling", Function="Max", Kernel=[2, 2],
                      KernelStride=[2, 2]),
                layer("lrn", "Hidden", None, Type="Pooling", Function="LRN"),
                layer("fc", "Hidden", 7, Activation="Tanh"),
                layer("bn", "Hidden", 5, Activation="Tanh", BatchNormalization=True,
                      pDropout=0.2),
                layer("out", "Output", "auto", DataSet="y", Activation="SoftMax")])


def branches():
    """1-D signals of 8 samples × 2 maps → convolution (3 maps) → average pooling, which feeds a
    divided layer both as its source and as a skip → a batch-normalized layer reading it → an
    output reading both the divided and the batch-normalized layer; AdaGrad-free momentum."""
    return net([layer("sig", "Input", "auto", Type="Convolutional", DataSet="x"),
                layer("c1", "Hidden", 3, Type="Convolutional", Kernel=3, Activation="Tanh"),
                layer("p1", "Hidden", None, Type="Pooling", Function="Average", Kernel=2,
                      KernelStride=2),
                layer("h", "Hidden", 12, Activation="Sigmoid", Skip="p1"),
                layer("bn", "Hidden", 6, Source="h", Activation="RectifiedLinear",
                      BatchNormalization=True),
                layer("out", "Output", "auto", Source=["bn", "h"], DataSet="y",
                      Activation="Sigmoid")], "L2")


def stack():
    """6×6 images of 2 maps → two convolutions of 2 maps each (fewer than 3 ranks, so one rank
    holds none of their channels) → a convolution of both (5 maps, batch-normalized, WeightNorm)
    → 2×2 max pooling → SoftMax (divided); trained with L2 weight decay."""
    return net([layer("img", "Input", "auto", Type="Convolutional", DataSet="x"),
                layer("c1", "Hidden", 2, Type="Convolutional", Kernel=[3, 3], Activation="Tanh"),
                layer("c2", "Hidden", 2, Type="Convolutional", Kernel=[2, 2], Source="img",
                      Activation="Sigmoid"),
                layer("c3", "Hidden", 5, Type="Convolutional", Kernel=[3, 3], Source=["c1", "c2"],
                      Activation="RectifiedLinear", BatchNormalization=True, WeightNorm=0.8),
                layer("p", "Hidden", None, Type="Pooling", Function="Max", Kernel=[2, 2],
                      KernelStride=[2, 2]),
                layer("out", "Output", "auto", DataSet="y", Activation="SoftMax")])


def conv_output():
    """1-D signals of 8 samples × 2 maps → convolution (3 maps, batch-normalized) → a
    convolutional output of 8 samples × 2 maps (every rank holds it whole and rank 0 adds its
    error) → beside it a Max pooling output of the hidden maps; L2 error."""
    return net([layer("sig", "Input", "auto", Type="Convolutional", DataSet="x"),
                layer("c1", "Hidden", 3, Type="Convolutional", Kernel=3, Activation="Tanh",
                      BatchNormalization=True),
                layer("out", "Output", [8, 2], Type="Convolutional", Kernel=3, Source="c1",
                      DataSet="y", Activation="Sigmoid"),
                layer("pool", "Output", [4, 3], Type="Pooling", Function="Max", Kernel=2,
                      KernelStride=2, Source="c1", DataSet="z")], "L2")


def _drop_none(config):
    for lyr in config["Layers"]:
        if lyr["N"] is None:
            del lyr["N"]
    return config


def data_for(name):
    rng = np.random.default_rng(11)
    shape = {"convnet": (2, 6, 6), "branches": (2, 8), "stack": (2, 6, 6),
             "conv_output": (2, 8)}[name]
    x = rng.normal(size=(EXAMPLES,) + shape).astype(np.float32)
    if name == "conv_output":  # targets in (0, 1) of both outputs' shapes
        return [dsstne.DataSet("x", x),
                dsstne.DataSet("y", rng.random((EXAMPLES, 2, 8)).astype(np.float32)),
                dsstne.DataSet("z", rng.random((EXAMPLES, 3, 4)).astype(np.float32))]
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, EXAMPLES)]
    return [dsstne.DataSet("x", x), dsstne.DataSet("y", y)]


CASES = {"convnet": _drop_none(convnet()), "branches": _drop_none(branches()),
         "stack": _drop_none(stack()), "conv_output": _drop_none(conv_output())}
# Adam, RMSProp and AdaGrad divide a step by the gradient's own size: the bias of a
# batch-normalized layer, whose gradient is rounding noise around zero (normalization removes
# it), would take full steps in directions that differ with the rank count. These do not.
OPTIMIZER = {"convnet": "nesterov", "branches": "momentum", "stack": "nesterov",
             "conv_output": "momentum"}
WEIGHT_DECAY = {"convnet": 0.0, "branches": 0.0, "stack": 0.001, "conv_output": 0.0}
HIDDEN = {"convnet": "fc", "branches": "h", "stack": "c2", "conv_output": "c1"}  # a hidden layer whose units are kept
# The connections whose bias a batch normalization follows: their gradient is zero but for
# rounding, so they stay within rounding noise of zero instead of agreeing to 1e-5 relative.
BIAS_BEFORE_NORMALIZATION = {"convnet": {"b:img->c1", "b:fc->bn"}, "branches": {"b:h->bn"},
                             "stack": {"b:c1->c3", "b:c2->c3"}, "conv_output": {"b:sig->c1"}}


def _refused_configs():
    """name → (config, data set "y" units, what the error names) for networks several ranks
    refuse; one rank runs each of them."""
    sig = layer("sig", "Input", "auto", Type="Convolutional", DataSet="x")
    out = layer("out", "Output", "auto", DataSet="y", Activation="Sigmoid")
    return {
        # A pooling window over a divided layer would need the other ranks' units.
        "pooling_reads_divided": (net([
            sig, layer("h", "Hidden", 6, Activation="Tanh"),
            layer("a", "Hidden", 6, Source="sig", Activation="Tanh"),
            layer("p", "Hidden", 1, Type="Pooling", Function="DotProduct", Source=["a", "h"]),
            out], "L2"), CLASSES, ["layer 'p' is Pooling", "reads layer 'a'"]),
        "divided_skip_into_replicated": (net([
            sig, layer("h", "Hidden", 12, Activation="Tanh"),
            layer("bn", "Hidden", 12, Activation="Tanh", BatchNormalization=True, Skip="h"),
            out], "L2"), CLASSES, ["layer 'bn' is batch-normalized", "skips from layer 'h'"]),
        "shared_with_replicated": (net([
            sig, layer("a", "Hidden", 8, Activation="Tanh"),
            layer("b", "Hidden", 8, Activation="Tanh", BatchNormalization=True),
            layer("c", "Hidden", 8, Activation="Tanh",
                  SharedWeights={"InputLayer": "b", "SourceInputLayer": "a",
                                 "SourceOutputLayer": "b"}),
            out], "L2"), CLASSES,
            ["layer 'c' shares weights a->b", "layer 'b' is batch-normalized"]),
    }


REFUSED = _refused_configs()


def refused_data(name):
    """The data of refused case `name`: the signals of "branches" and targets of its width."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(EXAMPLES, 2, 8)).astype(np.float32)
    y = rng.random((EXAMPLES, REFUSED[name][1])).astype(np.float32)
    return [dsstne.DataSet("x", x), dsstne.DataSet("y", y)]


def run_case(name, context, epochs=3):
    """Trains case `name` `epochs` epochs on `context` and returns its results as arrays."""
    network = dsstne.Network(CASES[name], data_for(name), batch=16, context=context)
    history = network.train(epochs, alpha=0.02, lambda_=WEIGHT_DECAY[name],
                            optimizer=OPTIMIZER[name], mu=0.9)
    out = {"errors": np.array([h["error"] for h in history])}
    for w in network.weights:
        key = f"{w.input}->{w.output}"
        out[f"w:{key}"] = w.weights
        out[f"b:{key}"] = w.bias
    for lyr in network.layers:
        for buffer, values in (lyr.batch_norm or {}).items():
            out[f"bn:{lyr.name}:{buffer}"] = values
    out["predict"] = network.predict(layer="out")
    if name == "conv_output":
        out["predict_pool"] = network.predict(layer="pool")
    out["predict_hidden"] = network.predict(layer=HIDDEN[name])
    scores, top = network.predict_topk(2, layer="out")
    out["topk_scores"], out["topk_items"] = scores, top
    out["error"] = np.array([network.error()])
    return out
