# SPDX-License-Identifier: Apache-2.0
"""Convolutional and pooling layers and batch normalization in whole networks: finite-difference
gradient checks of every layer type and pooling function, alone and with several sources, skips,
dropout and each error function on a convolutional output, on the CPU and (where present) the
GPU; and the errors a bad geometry gets."""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne
from dsstne.gradcheck import check_gradients

EXAMPLES = 12


def images(shape, seed=0, name="x", context=None):
    """`EXAMPLES` random images of `shape` (slowest axis first: maps, y, x)."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(-1.0, 1.0, (EXAMPLES,) + tuple(shape)).astype(np.float32)
    return dsstne.DataSet(name, data, context=context)


def classes(count, seed=1, name="y", context=None):
    rng = np.random.default_rng(seed)
    y = np.zeros((EXAMPLES, count), np.float32)
    y[np.arange(EXAMPLES), rng.integers(0, count, EXAMPLES)] = 1.0
    return dsstne.DataSet(name, y, context=context)


def network(device, layers, data, loss="CrossEntropy", batch=6, seed=5, extra=None):
    ctx = dsstne.Context(device, seed)
    cfg = {"Version": 0.81, "Name": "conv", "ErrorFunction": loss, "Layers": layers}
    cfg.update(extra or {})
    net = dsstne.Network(cfg, [d.to(ctx) for d in data], batch=batch, context=ctx)
    rng = np.random.default_rng(seed)
    for w in net.weights:  # nonzero biases, so their gradients are exercised
        w.bias = rng.normal(0.0, 0.2, w.bias.size)
    return net


def passes(net, samples=12):
    result = check_gradients(net, weight_samples=samples, bias_samples=4, seed=3)
    assert result.passed, "\n".join(str(c) for c in result.connections)
    return result


IMG = {"Name": "img", "Kind": "Input", "Type": "Convolutional", "N": "auto", "DataSet": "x"}
OUT = {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y", "Activation": "SoftMax"}


def conv(name, maps, kernel, stride=None, activation="Tanh", **more):
    layer = {"Name": name, "Kind": "Hidden", "Type": "Convolutional", "N": maps,
             "Kernel": kernel, "KernelStride": stride or [1] * len(kernel),
             "Activation": activation}
    layer.update(more)
    return layer


def pool(name, function, **more):
    layer = {"Name": name, "Kind": "Hidden", "Type": "Pooling", "Function": function}
    layer.update(more)
    return layer


@pytest.mark.parametrize("kernel,stride,shape", [
    ([3, 3], [1, 1], (2, 6, 6)),    # "same" convolution, padded
    ([3, 2], [2, 1], (3, 7, 5)),    # uneven kernel and stride
    ([4, 4], [1, 1], (1, 3, 3)),    # kernel wider than the input
    ([3], [2], (2, 9)),             # 1-D
    ([2, 2, 2], [1, 1, 1], (3, 4, 4)),  # 3-D over one input map
])
def test_convolution_gradients(device, kernel, stride, shape):
    net = network(device, [IMG, conv("c", 3, kernel, stride), OUT],
                  [images(shape), classes(4)])
    result = passes(net)
    assert [c.connection for c in result.connections] == ["img -> c", "c -> out"]


def test_convolution_with_two_sources_and_a_skip(device):
    layers = [IMG, {"Name": "img2", "Kind": "Input", "Type": "Convolutional", "N": "auto",
                    "DataSet": "x2"},
              conv("c1", 2, [3, 3], Source=["img"]),
              conv("c2", 2, [3, 3], Source=["img", "img2"], Skip=["c1"]),
              OUT | {"Source": ["c2"]}]
    net = network(device, layers, [images((2, 5, 5)), images((2, 5, 5), 7, "x2"), classes(3)])
    passes(net)


@pytest.mark.parametrize("function,more", [
    ("Max", {"Kernel": [2, 2], "KernelStride": [2, 2]}),
    ("Max", {"Kernel": [3, 3], "KernelStride": [1, 1]}),   # overlapping, padded windows
    ("Average", {"Kernel": [2, 2], "KernelStride": [2, 2]}),
    ("Average", {"Kernel": [3, 3], "KernelStride": [2, 2]}),
    ("LRN", {}),
])
def test_spatial_pooling_gradients(device, function, more):
    layers = [IMG, conv("c", 6, [3, 3]), pool("p", function, **more), OUT]
    passes(network(device, layers, [images((2, 6, 6)), classes(3)],
                   extra={"LocalResponseNormalization": {"k": 1.5, "n": 3, "alpha": 0.5,
                                                         "beta": 0.75}}))


@pytest.mark.parametrize("function,units", [("Maxout", 5), ("DotProduct", 2), ("Cosine", 2)])
def test_pooling_of_several_sources(device, function, units):
    x = {"Name": "in", "Kind": "Input", "N": "auto", "DataSet": "x"}
    hidden = [{"Name": f"h{k}", "Kind": "Hidden", "N": 5, "Activation": "Tanh", "Source": "in"}
              for k in range(3)]
    layers = [x] + hidden + [pool("p", function, Source=["h0", "h1", "h2"]),
                             OUT | {"Source": "p"}]
    net = network(device, layers, [images((8,)), classes(3)])
    assert net.layer("p").size == units
    passes(net)


def test_dropout_on_a_convolution(device):
    layers = [IMG, conv("c", 3, [3, 3], pDropout=0.3), OUT]
    net = network(device, layers, [images((2, 5, 5)), classes(3)])
    passes(net)
    net.train(1, alpha=0.01)  # and training draws its masks


@pytest.mark.parametrize("loss,activation", [
    ("CrossEntropy", "Sigmoid"), ("L2", "Linear"), ("L1", "Tanh"),
    ("ScaledMarginalCrossEntropy", "Sigmoid"), ("DataScaledMarginalCrossEntropy", "Sigmoid"),
    ("Hinge", "Linear"), ("L2Hinge", "Tanh"),
])
def test_every_error_function_on_a_convolutional_output(device, loss, activation):
    out = {"Name": "out", "Kind": "Output", "Type": "Convolutional", "N": [4, 4, 2],
           "Kernel": [3, 3], "DataSet": "t", "Activation": activation}
    rng = np.random.default_rng(4)
    values = rng.integers(0, 2, (EXAMPLES, 2, 4, 4)).astype(np.float32)
    # DataScaledMarginalCrossEntropy scales by the stored values: it takes sparse targets.
    targets = dsstne.DataSet("t", sp.csr_matrix(values.reshape(EXAMPLES, -1))
                             if loss.startswith("DataScaled") else values)
    net = network(device, [IMG, out], [images((3, 4, 4)), targets], loss=loss)
    passes(net)


@pytest.mark.parametrize("conv_layer", [False, True])
def test_batch_normalization_gradients(device, conv_layer):
    hidden = (conv("h", 3, [3, 3], BatchNormalization=True) if conv_layer else
              {"Name": "h", "Kind": "Hidden", "N": 6, "Activation": "Tanh",
               "BatchNormalization": True})
    net = network(device, [IMG, hidden, OUT], [images((2, 4, 4)), classes(3)])
    features = 3 if conv_layer else 6
    before = net.layer("h").batch_norm
    assert before["scale"].size == features
    passes(net)
    after = net.layer("h").batch_norm  # the check put the running statistics back
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


def test_batch_normalization_trains_its_parameters_and_running_statistics():
    layers = [IMG, conv("h", 3, [3, 3], BatchNormalization=True, Activation="RectifiedLinear"),
              OUT]
    net = network("cpu", layers, [images((2, 4, 4)), classes(3)])
    net.train(2, alpha=0.05)
    bn = net.layer("h").batch_norm
    assert not np.array_equal(bn["scale"], np.ones(3, np.float32))
    assert not np.array_equal(bn["running_mean"], np.zeros(3, np.float32))
    # Prediction uses the running statistics: it is the same for one example or a batch.
    one = net.predict()[:1]
    assert np.allclose(one, net.predict()[:1])


def test_geometry_errors_name_the_layer():
    wrong = {"Name": "out", "Kind": "Output", "Type": "Convolutional", "N": [9, 9, 2],
             "Kernel": [3, 3], "DataSet": "t", "Activation": "Linear"}
    with pytest.raises(ValueError, match="'out'.*axis x.*'img'"):
        network("cpu", [IMG, wrong], [images((1, 4, 4)), images((2, 9, 9), 1, "t")])
    with pytest.raises(ValueError, match="needs exactly one source"):
        network("cpu", [IMG, conv("a", 2, [3, 3]), conv("b", 2, [3, 3], Source="img"),
                        pool("p", "Max", Kernel=[2, 2], Source=["a", "b"]), OUT],
                [images((1, 6, 6)), classes(2)])
    with pytest.raises(ValueError, match="'p': source 'b' gives size 5x1x1"):
        x = {"Name": "in", "Kind": "Input", "N": "auto", "DataSet": "x"}
        network("cpu", [x, {"Name": "a", "N": 4, "Source": "in"},
                        {"Name": "b", "N": 5, "Source": "in"},
                        pool("p", "Maxout", Source=["a", "b"]), OUT | {"Source": "p"}],
                [images((8,)), classes(2)])


def test_never_implemented_pooling_functions_are_refused():
    # DSSTNE's JSON language has no spelling for them (the C++ tests check the engine's refusal).
    with pytest.raises(ValueError, match="LCN"):
        network("cpu", [IMG, pool("p", "LCN"), OUT], [images((1, 4, 4)), classes(2)])


def test_weight_norm_bounds_each_output_maps_filters(device):
    layers = [IMG, conv("c", 4, [3, 3], WeightNorm=0.5,
                        WeightInit={"Scheme": "Gaussian", "Scale": 1.0}), OUT]
    net = network(device, layers, [images((2, 5, 5)), classes(3)])
    net.train(2, alpha=0.1)
    filters = net.weight("img", "c").weights  # out maps × (in maps · kernel volume)
    assert np.all(np.linalg.norm(filters, axis=1) <= 0.5 * (1 + 1e-6))


def test_conv_algorithm_sets_are_each_deterministic_and_agree(device):
    """Context(conv_algorithms=...): cuDNN's FFT and Winograd (allowed by default) round
    differently from the GEMM-order algorithms, so on the GPU the two sets train to nearby
    weights, each the same bits every run; the CPU has one algorithm, so they are identical."""
    assert dsstne.Context("cpu").conv_algorithms == "deterministic"
    assert dsstne.Context("cpu", conv_algorithms="GEMM-order").conv_algorithms == "gemm-order"
    with pytest.raises(ValueError, match="conv_algorithms must be one of deterministic, "
                                         "gemm-order, got 'fastest'"):
        dsstne.Context("cpu", conv_algorithms="fastest")
    layers = [IMG, conv("c1", 8, [5, 5]), pool("p", "Max", Kernel=[2, 2], KernelStride=[2, 2]),
              conv("c2", 8, [5, 5]), OUT]

    def trained(algorithms):
        ctx = dsstne.Context(device, 7, conv_algorithms=algorithms)
        cfg = {"Version": 0.81, "Name": "conv", "ErrorFunction": "CrossEntropy",
               "Layers": layers}
        net = dsstne.Network(cfg, [images((3, 16, 16), context=ctx), classes(4, context=ctx)],
                             batch=6, context=ctx)
        errors = [h["error"] for h in net.train(3, alpha=0.05, optimizer="sgd")]
        return errors, [w.weights.copy() for w in net.weights]

    fast, plain = trained("deterministic"), trained("gemm-order")
    for run in (fast, plain):
        assert run[0][-1] < run[0][0]
    again = trained("deterministic")
    assert again[0] == fast[0]
    for a, b in zip(again[1], fast[1]):
        np.testing.assert_array_equal(a, b)
    if device == "cpu":
        assert plain[0] == fast[0]
    np.testing.assert_allclose(plain[0], fast[0], rtol=1e-3)
    for a, b in zip(plain[1], fast[1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())
