# SPDX-License-Identifier: Apache-2.0
"""Every JSON network config in ../shared/dsstne-reference/configs/ loads (convolutional ones
with the clear "not supported yet" error), its structure reads back through the API, and the
MovieLens autoencoder and the 3×1024 benchmark configs train on generated sparse data with
falling error."""

import json

import numpy as np
import pytest

import dsstne
from dsstne import synthetic

from conftest import REFERENCE

CONFIG_DIR = REFERENCE / "configs"
CONFIGS = (sorted(p.name for p in CONFIG_DIR.glob("*.json")) if CONFIG_DIR.is_dir() else
           [pytest.param("<no reference configs>", marks=pytest.mark.skip(
               reason=f"DSSTNE reference configs not found at {CONFIG_DIR}"))])

EXAMPLES = 40        # examples of every generated data set
AUTO_WIDTH = 96      # units of a data set that sizes an "N": "auto" layer
DERIVED_TYPES = {"convolutional", "pooling"}  # hidden sizes derived from the sources
# Config spellings of activations → the engine's printed names (spec/formats.md §1.6).
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "linear": "Linear",
               "relu": "RectifiedLinear", "rectifiedlinear": "RectifiedLinear",
               "lrelu": "LeakyRectifiedLinear", "leakyrectifiedlinear": "LeakyRectifiedLinear",
               "softmax": "SoftMax", "elu": "ExponentialLinear", "selu": "ScaledExponentialLinear"}


def key(obj, name, default=None):
    """obj[name] with DSSTNE's case-insensitive keys."""
    for k, v in obj.items():
        if k.lower() == name.lower():
            return v
    return default


def layers_of(cfg):
    layers = key(cfg, "Layers")
    return layers if isinstance(layers, list) else [layers]


def default_kind(position, count):
    return "Input" if position == 0 else "Output" if position + 1 == count else "Hidden"


def layer_name(layer, position, count):
    """The written Name, or DSSTNE's default: kind + position (spec/formats.md §1.4)."""
    return key(layer, "Name") or f"{key(layer, 'Kind', default_kind(position, count))}{position}"


def fixed_units(layer):
    """Units of a layer with a numeric N, or None for "auto"."""
    n = key(layer, "N", 1)
    if isinstance(n, str):
        return None
    return int(np.prod(n)) if isinstance(n, list) else int(n)


def data_widths(cfg):
    """{data set name: width} for every distinct DataSet; no wider than any fixed N it feeds."""
    widths = {}
    for layer in layers_of(cfg):
        name = key(layer, "DataSet")
        if name is None:
            continue
        n = fixed_units(layer)
        widths[name] = min(widths.get(name, AUTO_WIDTH), n if n is not None else AUTO_WIDTH)
    return widths


def generated_data(cfg, examples=EXAMPLES, seed=0):
    return [dsstne.DataSet(name, synthetic.interactions(examples, width, per_user=min(6, width),
                                                        seed=seed + i))
            for i, (name, width) in enumerate(sorted(data_widths(cfg).items()))]


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("config", CONFIGS)
def test_reference_config_loads(reference_dir, config):
    path = reference_dir / "configs" / config
    cfg = load(path)
    layers = layers_of(cfg)
    data = generated_data(cfg)
    assert data, f"{config} names no DataSet"
    net = dsstne.Network(path, data, batch=16)
    widths = {d.name: d.width for d in data}
    assert net.name == key(cfg, "Name")
    assert net.examples == EXAMPLES
    assert [l.name for l in net.layers] == [layer_name(l, i, len(layers))
                                           for i, l in enumerate(layers)]
    assert net.error_function.lower() == key(cfg, "ErrorFunction").lower()
    for written, layer in zip(layers, net.layers):
        assert layer.kind == key(written, "Kind"), layer
        n = fixed_units(written)
        derived = layer.kind == "Hidden" and layer.type.lower() in DERIVED_TYPES
        if not derived:
            assert layer.size == (n if n is not None else widths[key(written, "DataSet")]), layer
        if key(written, "Activation") is not None:
            assert layer.activation == ACTIVATIONS[key(written, "Activation").lower()], layer
        if key(written, "DataSet") is not None:
            assert layer.data_set == key(written, "DataSet")
        source = key(written, "Source")
        if source is not None:
            assert layer.sources == ([source] if isinstance(source, str) else source)
        if key(written, "pDropout") is not None:
            assert layer.p_dropout == pytest.approx(key(written, "pDropout"))
    # one weight per (source, layer) edge, shaped (source units, layer units)
    # (a convolution's: out maps x in maps · kernel volume filters, a bias per out map)
    for w in net.weights:
        if w.convolutional:
            out_maps, in_maps = w.filter_shape[:2]
            assert w.weights.shape == (out_maps, in_maps * int(np.prod(w.filter_shape[2:])))
            assert w.bias.shape == (out_maps,)
            continue
        assert w.weights.shape == (net.layer(w.input).size, net.layer(w.output).size)
        assert w.bias.shape == (net.layer(w.output).size,)
    # the network runs forward
    last = net.layers[-1]
    out = net.predict(layer=last.name)
    assert out.shape == (EXAMPLES, last.size) and np.all(np.isfinite(out))


def test_reference_config_parsed_details(reference_dir):
    """Values the generic test does not look at: inherited slopes, initial biases, kinds."""
    path = reference_dir / "configs" / "benchmark_movielens_3x1024.json"
    cfg = load(path)
    net = dsstne.Network(path, generated_data(cfg), batch=8)
    assert [l.name for l in net.layers] == ["Input", "Hidden1", "Hidden2", "Hidden3", "Output"]
    assert [l.size for l in net.layers] == [AUTO_WIDTH, 1024, 1024, 1024, AUTO_WIDTH]
    assert [l.kind for l in net.layers] == ["Input", "Hidden", "Hidden", "Hidden", "Output"]
    assert net.layer("Input").sparse and not net.layer("Hidden1").sparse
    assert net.error_function == "ScaledMarginalCrossEntropy"
    assert net.input_layers == ["Input"] and net.output_layers == ["Output"]
    # "Bias": -10.2 sets every initial output bias
    np.testing.assert_allclose(net.weight("Hidden3", "Output").bias, -10.2, rtol=1e-6)
    # Gaussian scale 0.01 initial weights are small and not all equal
    w = net.weight("Input", "Hidden1").weights
    assert 0 < w.std() < 0.05

    # encoder_embedding ends on a Hidden layer and has no Output layer at all
    path = reference_dir / "configs" / "encoder_embedding.json"
    net = dsstne.Network(path, generated_data(load(path)), batch=8)
    assert [(l.name, l.kind, l.activation) for l in net.layers] == [
        ("Input_asin", "Input", net.layer("Input_asin").activation),
        ("Hidden_asin", "Hidden", "Tanh")]
    assert net.output_layers == [] and net.error_function == "L2Hinge"


@pytest.mark.parametrize("config, users", [("movielens_autoencoder.json", 300),
                                           ("benchmark_movielens_3x1024.json", 200)])
def test_reference_config_trains(reference_dir, device, config, users):
    path = reference_dir / "configs" / config
    cfg = load(path)
    names = sorted(data_widths(cfg))
    assert names == ["gl_input", "gl_output"]
    ctx = dsstne.Context(device)
    ratings = synthetic.interactions(users, 200, per_user=10, seed=1)
    data = [dsstne.DataSet(name, ratings, context=ctx) for name in names]
    net = dsstne.Network(path, data, batch=64, context=ctx)
    assert net.layer("Input").size == net.layer("Output").size == 200
    history = net.train(3, alpha=0.05, optimizer="sgd")
    errors = [h["error"] for h in history]
    assert len(errors) == 3 and net.epochs_trained == 3
    assert all(np.isfinite(errors)), errors
    assert errors[-1] < errors[0], errors
    assert net.error() < errors[0]
