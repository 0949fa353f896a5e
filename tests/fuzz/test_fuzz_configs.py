# SPDX-License-Identifier: Apache-2.0
"""CI-bounded fuzzing of the JSON network language: hypothesis edits a valid description (keys
set to values of every JSON type, extreme numbers, deep nesting, removed keys) or damages its
text, and every result must either be refused with a clean error or build a network that trains
or reports divergence, and that saves and loads back with the same description. Never a crash,
never a hang. Deterministic (derandomized); DSSTNE_FUZZ_CASES sets the number of cases."""

import copy
import faulthandler
import json
import os

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import dsstne  # noqa: E402

HANG_S = 60
CASES = int(os.environ.get("DSSTNE_FUZZ_CASES", "150"))
REFUSED = (ValueError, TypeError, IndexError, NotImplementedError, MemoryError)

BASE = {"Version": 0.8, "Name": "fuzz", "Kind": "FeedForward", "ErrorFunction": "CrossEntropy",
        "Layers": [
            {"Name": "in", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True},
            {"Name": "h", "Kind": "Hidden", "N": 4, "Source": "in", "Activation": "Sigmoid"},
            {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "x", "Source": "h",
             "Activation": "Sigmoid"}]}
TOP_KEYS = ["Version", "Name", "Kind", "ErrorFunction", "ShuffleIndices", "RELUSlope",
            "ELUAlpha", "SELULambda", "Decay", "LRN", "Maxout", "SparsenessPenalty",
            "Denoising", "DeltaBoost", "ScaledMarginalCrossEntropy", "WeightsData", "Layers"]
LAYER_KEYS = ["Kind", "Type", "Name", "Sparse", "N", "pDropout", "Source", "Skip",
              "Activation", "WeightInit", "WeightNorm", "DeltaNorm", "SharedWeights", "DataSet",
              "BatchNormalization", "SparsenessPenalty", "RELUSlope", "ELUAlpha", "Function",
              "Kernel", "KernelStride"]
BLOCK_KEYS = ["k", "n", "p", "beta", "alpha", "one", "zero", "oneTarget", "zeroTarget",
              "oneScale", "zeroScale", "Scheme", "Scale", "Bias", "InputLayer",
              "SourceInputLayer", "SourceOutputLayer", "Transposed"]
WORDS = ["auto", "in", "h", "out", "x", "y", "Sigmoid", "Tanh", "SoftMax", "RectifiedLinear",
         "Linear", "Input", "Hidden", "Output", "Target", "L2", "Hinge", "CrossEntropy",
         "ScaledMarginalCrossEntropy", "DataScaledMarginalCrossEntropy", "Xavier", "Gaussian",
         "Constant", "FullyConnected", "Pooling", "Max", "", "in\u0000", "\u00e9"]
# Sizes stay small or absurd: a size between (a few GB that fit) would only make CI slow.
NUMBERS = st.one_of(
    st.integers(-2, 12), st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**64]),
    st.floats(allow_nan=False), st.sampled_from([0.5, 0.999999, 1.0, 7.9, 1e38, 3.5e38, 1e39,
                                                 -1e308, 5e-324]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.floats(0, 1), st.integers(1, 8),
                    st.sampled_from(WORDS), st.sampled_from(WORDS), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(BLOCK_KEYS + TOP_KEYS[:4]), inner, max_size=4)),
    max_leaves=10)


def deep(depth):
    return "[" * depth + "1" + "]" * depth


TOP_EDIT = st.tuples(st.just("top"), st.sampled_from(TOP_KEYS), VALUES)
LAYER_EDIT = st.tuples(st.just("layer"), st.integers(0, 2), st.sampled_from(LAYER_KEYS), VALUES)
# Listed several times to be drawn more often than the rarer, cheaper-to-find edits.
EDIT = st.one_of(
    TOP_EDIT, TOP_EDIT, LAYER_EDIT, LAYER_EDIT, LAYER_EDIT,
    st.tuples(st.just("drop"), st.integers(0, 2), st.sampled_from(LAYER_KEYS)),
    st.tuples(st.just("deep"), st.sampled_from(LAYER_KEYS), st.sampled_from([40, 5000, 60000])))


def apply(edits):
    cfg = copy.deepcopy(BASE)
    text_patch = None
    for edit in edits:
        kind = edit[0]
        layers = cfg.get("Layers")
        if kind == "top":
            cfg[edit[1]] = edit[2]
        elif kind == "deep":
            text_patch = (edit[1], deep(edit[2]))
        elif isinstance(layers, list) and edit[1] < len(layers) and isinstance(
                layers[edit[1]], dict):
            if kind == "layer":
                layers[edit[1]][edit[2]] = edit[3]
            else:
                layers[edit[1]].pop(edit[2], None)
    text = json.dumps(cfg)
    if text_patch is not None:  # too deep for json.dumps: spliced into the text
        key, value = text_patch
        text = text.replace('"Name": "h"', f'"Name": "h", "{key}": {value}', 1)
    return text


@pytest.fixture(scope="module")
def data():
    m = sp.random(8, 6, density=0.4, format="csr", random_state=1, dtype=np.float32)
    m.data[:] = 1
    targets = np.random.default_rng(2).random((8, 6)).astype(np.float32)
    return [dsstne.DataSet("x", m), dsstne.DataSet("y", targets)]


def named(text, data):
    """The data sets whose names the description's layers use (a network refuses others)."""
    try:
        layers = json.loads(text).get("Layers", [])
        names = {layer.get("DataSet") for layer in layers if isinstance(layer, dict)}
    except (ValueError, AttributeError, TypeError, RecursionError):
        names = {"x"}
    return [d for d in data if d.name in names]


def check(config, data, path):
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        data = named(config if isinstance(config, str) else "{}", data)
        try:
            net = dsstne.Network(config, data, batch=4)
        except REFUSED:
            return
        try:
            net.train(1, alpha=0.1)
        except dsstne.NumericalError:
            pass
        except ValueError as e:
            # A network may be built before its data are attached; nothing else accepted by
            # the parser may be refused only when training starts.
            if "has no data" not in str(e):
                raise
        dsstne.save_network(net, path, overwrite=True)
        back = dsstne.load_network(path, data, batch=4)
        assert json.loads(back.config) == json.loads(net.config)
    finally:
        faulthandler.cancel_dump_traceback_later()


@settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(edits=st.lists(EDIT, min_size=1, max_size=4))
def test_edited_configs_are_refused_cleanly_or_round_trip(edits, data, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "m.nc"
    check(apply(edits), data, path)


@settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(cut=st.integers(0, 400), junk=st.binary(max_size=8))
def test_damaged_config_text_is_refused_cleanly(cut, junk, data, tmp_path_factory):
    text = json.dumps(BASE)
    cut %= len(text)
    damaged = (text[:cut].encode() + junk + text[cut + len(junk):].encode())
    path = tmp_path_factory.mktemp("txt") / "config.json"
    path.write_bytes(damaged)
    check(path, data, path.with_suffix(".nc"))
