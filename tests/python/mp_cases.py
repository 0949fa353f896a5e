# SPDX-License-Identifier: Apache-2.0
"""The networks the model-parallel tests train on one rank and on N (test_model_parallel.py runs
mp_worker.py under mpirun): each case is a config and tiny generated data; run_case trains it and
returns what must agree across rank counts."""

import numpy as np
import scipy.sparse as sp

import dsstne

EXAMPLES, ITEMS = 40, 23


def items(seed=0, rows=EXAMPLES, cols=ITEMS, density=0.25):
    m = sp.random(rows, cols, density=density, format="csr", random_state=seed,
                  dtype=np.float32)
    m.data[:] = 1
    return m


def layer(name, kind, n, **keys):
    return {"Name": name, "Kind": kind, "N": n, **keys}


def net(layers, loss="CrossEntropy", **top):
    return {"Version": 0.8, "Name": "mp", "Kind": "FeedForward", "ErrorFunction": loss,
            "ShuffleIndices": True, "Layers": layers, **top}


def autoencoder(hidden=(9,), activation="Sigmoid", output="Sigmoid", loss="CrossEntropy",
                **top):
    layers = [layer("Input", "Input", "auto", DataSet="x", Sparse=True)]
    for i, n in enumerate(hidden):
        layers.append(layer(f"H{i}", "Hidden", n, Activation=activation))
    layers.append(layer("Output", "Output", "auto", DataSet="x", Activation=output))
    return net(layers, loss, **top)


def dense_chain():
    """Dense input; 16 → 6 is split by input rows (3·6 ≤ 2·16), 6 → 10 by output columns."""
    return net([layer("Input", "Input", 12, DataSet="d"),
                layer("H1", "Hidden", 16, Activation="Tanh"),
                layer("H2", "Hidden", 6, Activation="RectifiedLinear", pDropout=0.2),
                layer("Output", "Output", 10, DataSet="t", Activation="Linear")], "L2")


def narrow():
    """A dense input into a hidden layer narrower than the ranks: on 3 ranks one of them owns
    none of its units, so its products have no columns."""
    return net([layer("Input", "Input", 12, DataSet="d"),
                layer("H", "Hidden", 2, Activation="Tanh"),
                layer("Output", "Output", 10, DataSet="t", Activation="Linear")], "L2")


def branches():
    """Two sources, a skip, shared (untransposed) weights, dropout and denoising."""
    return net([layer("Input", "Input", "auto", DataSet="x", Sparse=True),
                layer("A", "Hidden", 10, Activation="Tanh", pDropout=0.3),
                layer("B", "Hidden", 10, Source="A", Activation="Sigmoid",
                      SharedWeights={"InputLayer": "A", "SourceInputLayer": "A",
                                     "SourceOutputLayer": "C"}),
                layer("C", "Hidden", 10, Source="A", Activation="Tanh"),
                layer("D", "Hidden", 7, Source=["B", "C"], Activation="Sigmoid"),
                layer("E", "Hidden", 7, Source="D", Skip=["D"], Activation="Tanh"),
                layer("Output", "Output", "auto", Source=["E", "C"], DataSet="x",
                      Activation="Sigmoid")],
               "CrossEntropy", Denoising={"p": 0.2})


def tied():
    """Transposed shared weights: H1 → H2 reads H0 → H1 (split by rows) as its transpose, and the
    output reads Input → H0 (split by columns) as its transpose."""
    def shared(a, b):
        return {"InputLayer": b if a == "Input" else "H1", "SourceInputLayer": a,
                "SourceOutputLayer": b, "Transposed": True}
    return net([layer("Input", "Input", "auto", DataSet="x", Sparse=True),
                layer("H0", "Hidden", 16, Activation="Tanh"),
                layer("H1", "Hidden", 6, Activation="Sigmoid"),
                layer("H2", "Hidden", 16, Activation="Tanh", SharedWeights=shared("H0", "H1")),
                layer("Output", "Output", "auto", Source="H2", DataSet="x", Activation="Sigmoid",
                      SharedWeights={"InputLayer": "H2", "SourceInputLayer": "Input",
                                     "SourceOutputLayer": "H0", "Transposed": True})])


def softmax():
    """SoftMax on a split hidden layer and on the split output: row maxima and sums over ranks."""
    return autoencoder((12,), "SoftMax", "SoftMax", "CrossEntropy")


def norms():
    """DeltaNorm (row norms of deltas over the ranks' units) and WeightNorm, H0 → H1 (16 → 6)
    split by rows, so its column norms add the ranks' parts."""
    return net([layer("Input", "Input", "auto", DataSet="x", Sparse=True),
                layer("H0", "Hidden", 16, Activation="Tanh", WeightNorm=0.6, DeltaNorm=0.002),
                layer("H1", "Hidden", 6, Activation="Sigmoid", WeightNorm=0.4, DeltaNorm=0.02),
                layer("Output", "Output", "auto", DataSet="x", Activation="Sigmoid",
                      WeightNorm=0.5, DeltaNorm=0.5)])


def data_for(name):
    rng = np.random.default_rng(3)
    if name in ("dense_chain", "narrow"):
        return [dsstne.DataSet("d", rng.standard_normal((EXAMPLES, 12)).astype(np.float32)),
                dsstne.DataSet("t", rng.standard_normal((EXAMPLES, 10)).astype(np.float32))]
    return [dsstne.DataSet("x", items())]


CASES = {
    "autoencoder": autoencoder(),
    "deep_relu_l2": autoencoder((15, 5, 11), "RectifiedLinear", "Linear", "L2"),
    "smce_tanh": autoencoder((8, 8), "Tanh", "Sigmoid", "ScaledMarginalCrossEntropy"),
    "dense_chain": dense_chain(),
    "branches": branches(),
    "tied": tied(),
    "softmax": softmax(),
    "norms": norms(),
    "narrow": narrow(),
}
# AdaGrad's first step is alpha·sign(g), which turns rounding noise in a near-zero gradient into
# a full step: it cannot agree across rank counts to 1e-5, so no case uses it.
OPTIMIZER = {"autoencoder": "adam", "deep_relu_l2": "momentum", "smce_tanh": "rmsprop",
             "dense_chain": "sgd", "branches": "nesterov", "tied": "momentum", "softmax": "adam", "norms": "sgd",
             "narrow": "momentum"}


def run_case(name, context):
    """Trains case `name` 3 epochs on `context` and returns its results as arrays."""
    data = data_for(name)
    network = dsstne.Network(CASES[name], data, batch=16, context=context)
    history = network.train(3, alpha=0.05, optimizer=OPTIMIZER[name], mu=0.9)
    out = {"errors": np.array([h["error"] for h in history])}
    for w in network.weights:
        key = f"{w.input}->{w.output}"
        out[f"w:{key}"] = w.weights
        out[f"b:{key}"] = w.bias
        out[f"split:{key}"] = np.array([w.split == "rows"])
    output = network.output_layers[0]
    out["predict"] = network.predict(layer=output)
    scores, top = network.predict_topk(5, layer=output)
    out["topk_scores"], out["topk_items"] = scores, top
    out["error"] = np.array([network.error()])
    return out
