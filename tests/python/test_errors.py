# SPDX-License-Identifier: Apache-2.0
"""Bad input raises a typed exception whose message names the culprit, never a crash."""

import copy
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne


def config(**top):
    """Input(sparse, auto) → Hidden(8) → Output(auto), both ends on data set "items"."""
    cfg = {
        "Version": 0.8, "Name": "err", "Kind": "FeedForward",
        "Layers": [
            {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": True},
            {"Name": "Hidden", "Kind": "Hidden", "N": 8, "Activation": "Sigmoid"},
            {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
             "Activation": "Sigmoid"},
        ],
        "ErrorFunction": "CrossEntropy",
    }
    cfg.update(top)
    return cfg


def with_layer(cfg, index, **keys):
    cfg = copy.deepcopy(cfg)
    cfg["Layers"][index].update(keys)
    return cfg


def linear(n_in, n_out, in_set="x", out_set="y", sparse=True):
    return {"Version": 0.8, "Name": "lin", "ErrorFunction": "L2", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": n_in, "DataSet": in_set, "Sparse": sparse},
        {"Name": "Output", "Kind": "Output", "N": n_out, "DataSet": out_set,
         "Activation": "Linear"}]}


def items(rows=20, cols=12, seed=0):
    m = sp.random(rows, cols, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    m.data[:] = 1
    return m


@pytest.fixture
def data():
    return dsstne.DataSet("items", items())


# ---- the JSON language ------------------------------------------------------------------------

def test_malformed_json():
    with pytest.raises(ValueError, match="malformed JSON"):
        dsstne.Network('{"Version": 0.8, "Layers": [', [])


def test_unknown_top_level_key(data):
    with pytest.raises(ValueError, match="unknown top-level key 'Colour'"):
        dsstne.Network(config(Colour="blue"), data)


def test_unknown_layer_key(data):
    cfg = with_layer(config(), 1, Widht=3)
    with pytest.raises(ValueError, match="unknown key 'Widht' in layer 'Hidden'"):
        dsstne.Network(cfg, data)


def test_unknown_activation(data):
    cfg = with_layer(config(), 1, Activation="Swish")
    with pytest.raises(ValueError, match=r"unknown value 'Swish' for key 'Activation' in layer "
                                         r"'Hidden'"):
        dsstne.Network(cfg, data)


def test_unknown_source(data):
    cfg = with_layer(config(), 2, Source="Hiden")
    with pytest.raises(ValueError, match="layer 'Output' names Source 'Hiden'"):
        dsstne.Network(cfg, data)


def test_source_cycle(data):
    cfg = config()
    cfg["Layers"].insert(2, {"Name": "Loop", "Kind": "Hidden", "N": 8, "Source": "Hidden"})
    cfg["Layers"][1]["Source"] = ["Input", "Loop"]
    cfg["Layers"][3]["Source"] = "Loop"
    with pytest.raises(ValueError, match="cycle") as info:
        dsstne.Network(cfg, data)
    assert "'Hidden'" in str(info.value) and "'Loop'" in str(info.value), str(info.value)


def test_duplicate_layer_names(data):
    cfg = config()
    cfg["Layers"].insert(2, {"Name": "Hidden", "Kind": "Hidden", "N": 4})
    with pytest.raises(ValueError, match="duplicate layer name 'Hidden'"):
        dsstne.Network(cfg, data)


def test_auto_size_without_data():
    with pytest.raises(ValueError, match="layer 'Input'.*\"auto\".*'items'"):
        dsstne.Network(config(), [])
    other = dsstne.DataSet("other", items())
    with pytest.raises(ValueError, match="'items'"):
        dsstne.Network(config(), other)


def test_missing_config_file(tmp_path):
    path = tmp_path / "no_such_network.json"
    with pytest.raises(ValueError, match=re.escape(str(path))):
        dsstne.Network(path, [])


# ---- data sets --------------------------------------------------------------------------------

def test_sparse_index_beyond_dataset_width():
    m = sp.csr_matrix((np.ones(3, np.float32), [1, 7, 2], [0, 2, 3]), shape=(2, 10))
    with pytest.raises(IndexError, match="data set 'narrow', example 0: index 7 is beyond the "
                                         "width 5"):
        dsstne.DataSet("narrow", m, dims=(5,))


def test_sparse_data_wider_than_layer():
    wide = dsstne.DataSet("x", items(20, 10))
    with pytest.raises(ValueError, match="data set 'x' has 10 units per example .* but layer "
                                         "'Input' has 5"):
        dsstne.Network(linear(5, 3, out_set="x"), wide)


def test_sparse_data_narrower_than_layer():
    narrow = dsstne.DataSet("x", items(20, 4))
    with pytest.raises(ValueError, match="data set 'x' has 4 units per example .* but layer "
                                         "'Input' has 5"):
        dsstne.Network(linear(5, 3, out_set="x"), narrow)


def test_dense_shape_mismatch():
    dense = dsstne.DataSet("x", np.ones((4, 6), np.float32))
    with pytest.raises(ValueError, match="data set 'x' has 6 units per example .* but layer "
                                         "'Input' has 5"):
        dsstne.Network(linear(5, 3, sparse=False), dense)


def test_different_example_counts():
    x = dsstne.DataSet("x", items(20, 5))
    y = dsstne.DataSet("y", np.zeros((15, 3), np.float32))
    with pytest.raises(ValueError, match="data set '[xy]'.*20.*15|data set '[xy]'.*15.*20") as e:
        dsstne.Network(linear(5, 3), [x, y])
    assert "'x'" in str(e.value) and "'y'" in str(e.value), str(e.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_dense_values(bad, dtype):
    arr = np.ones((5, 4), dtype)
    arr[3, 2] = bad
    with pytest.raises(ValueError, match="data set 'dense', example 3, unit 2: .*NaN or infinite"):
        dsstne.DataSet("dense", arr)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_sparse_values(bad, dtype):
    m = sp.csr_matrix((np.array([0.5, 2.0, bad, 1.5], dtype), [0, 3, 1, 2], [0, 2, 2, 4]),
                      shape=(3, 4))
    with pytest.raises(ValueError, match="data set 'sparse', example 2: .*NaN or infinite"):
        dsstne.DataSet("sparse", m)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_example_weights(bad):
    w = np.ones(20, np.float32)
    w[11] = bad
    with pytest.raises(ValueError, match="data set 'weighted', example 11: weight is NaN"):
        dsstne.DataSet("weighted", items(), weights=w)


def test_empty_data_sets():
    with pytest.raises(ValueError, match="data set 'none' is empty"):
        dsstne.DataSet("none", np.zeros((0, 5), np.float32))
    with pytest.raises(ValueError, match="data set 'none' is empty"):
        dsstne.DataSet("none", sp.csr_matrix((0, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="data set 'none' is empty"):
        dsstne.DataSet("none", items(), index=np.zeros(0, np.int64))


@pytest.mark.parametrize("dtype", [np.float16, np.complex64, np.int16])
def test_wrong_dtype(dtype):
    with pytest.raises(TypeError, match=f"typed: unsupported dtype {np.dtype(dtype)}"):
        dsstne.DataSet("typed", np.ones((3, 4), dtype))


@pytest.mark.parametrize("dtype", [np.complex64, np.int16])
def test_wrong_sparse_dtype(dtype):
    m = sp.csr_matrix(np.array([[0, 2], [3, 0]], dtype))
    with pytest.raises(TypeError, match=f"typed: unsupported dtype {np.dtype(dtype)}"):
        dsstne.DataSet("typed", m)


def test_strings_are_not_data():
    with pytest.raises(TypeError, match="words"):
        dsstne.DataSet("words", np.array([["a", "b"], ["c", "d"]]))


def test_index_out_of_range():
    with pytest.raises(IndexError, match="data set 'ix', example 2: index 20 is beyond the 20 "
                                         "stored records"):
        dsstne.DataSet("ix", items(), index=[0, 19, 20, 3])
    with pytest.raises(ValueError, match="'ix'.*index"):
        dsstne.DataSet("ix", items(), index=[0, -1])


def test_index_beyond_32_bits_is_not_wrapped():
    """An index that does not fit the stored uint32 must be rejected, not wrapped to row 0."""
    with pytest.raises(IndexError, match="data set 'ix'.*4294967296|data set 'ix'.*index"):
        dsstne.DataSet("ix", items(), index=[0, 2**32])


def test_hot_index_beyond_32_bits_is_not_wrapped():
    """2**32 + 1 is beyond the width 4; it must not become unit 1."""
    with pytest.raises(IndexError, match="data set 'oh'.*4294967297|data set 'oh'.*hot index"):
        dsstne.DataSet.one_hot("oh", [1, 2**32 + 1], 4)


def test_weights_of_wrong_length():
    with pytest.raises(ValueError, match="data set 'w' has 20 examples but 19 weights"):
        dsstne.DataSet("w", items(), weights=np.ones(19))
    # Indexed and Weighted: one weight per example, not per stored record
    with pytest.raises(ValueError, match="data set 'w' has 3 examples but 20 weights"):
        dsstne.DataSet("w", items(), index=[0, 1, 2], weights=np.ones(20))


# ---- networks ---------------------------------------------------------------------------------

def test_output_without_data_when_training():
    x = dsstne.DataSet("x", items(20, 5))
    net = dsstne.Network(linear(5, 3), x, batch=8)
    assert net.predict().shape == (20, 3)  # prediction needs no targets
    with pytest.raises(ValueError, match="output layer 'Output' has no data \\(DataSet 'y'\\)"):
        net.train(1)
    with pytest.raises(ValueError, match="output layer 'Output' has no data"):
        net.error()


def test_negative_epochs(data):
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises(ValueError, match="epochs must be >= 0, got -1"):
        net.train(-1)
    assert net.train(0) == [] and net.epochs_trained == 0


def test_unknown_optimizer(data):
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises(ValueError, match="unknown training mode 'adamw'"):
        net.train(1, optimizer="adamw")


def test_bad_alpha(data):
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises(ValueError, match="alpha"):
        net.train(1, alpha=float("nan"))


def test_batch_size(data):
    with pytest.raises(ValueError, match="batch must be >= 1, got 0"):
        dsstne.Network(config(), data, batch=0)


def test_topk_k_zero(data):
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        net.predict_topk(0)


def test_topk_k_too_large_names_k(data):
    """k = 10**12 cannot be allocated: the error must say so (not a bare 'std::bad_alloc')."""
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises((MemoryError, ValueError), match="top-k|k = |k="):
        net.predict_topk(10**12)


def test_weights_of_wrong_shape(data):
    net = dsstne.Network(config(), data, batch=8)
    w = net.weight("Input", "Hidden")
    assert w.weights.shape == (12, 8)
    with pytest.raises(ValueError, match=r"Input->Hidden: expected shape \(12, 8\), got \(8, 12\)"):
        w.weights = np.zeros((8, 12))
    with pytest.raises(ValueError, match="bias Input->Hidden: expected 8 values, got 7"):
        w.bias = np.zeros(7)
    bad = np.zeros((12, 8))
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="Input->Hidden: NaN"):
        w.weights = bad


def test_unknown_layer_and_weight(data):
    net = dsstne.Network(config(), data, batch=8)
    with pytest.raises(ValueError, match="no layer named 'Hiden'"):
        net.layer("Hiden")
    with pytest.raises(ValueError, match="no weight from layer 'Input' to layer 'Output'"):
        net.weight("Input", "Output")
    with pytest.raises(ValueError, match="no layer named 'Hiden'"):
        net.predict(layer="Hiden")


def test_data_set_matching_no_layer(data):
    with pytest.raises(ValueError, match="data set 'stray' matches no layer"):
        dsstne.Network(config(), [data, dsstne.DataSet("stray", items())])


@pytest.mark.skipif(dsstne.cuda_built(), reason="this build has the CUDA backend")
def test_cuda_device_on_cpu_build(data):
    with pytest.raises(NotImplementedError, match="built without CUDA"):
        dsstne.Context("cuda")
    with pytest.raises(NotImplementedError, match="built without CUDA"):
        dsstne.Network(config(), data, device="cuda")
    with pytest.raises(NotImplementedError, match="built without CUDA"):
        dsstne.Context("cuda:1")


@pytest.mark.skipif(not dsstne.cuda_built() or dsstne.cuda_device_count() > 0,
                    reason="needs a CUDA build on a machine without a GPU")
def test_cuda_device_missing(data):
    with pytest.raises(dsstne.CudaError, match="CUDA device 0 does not exist"):
        dsstne.Context("cuda")
    with pytest.raises(dsstne.CudaError, match="CUDA device 0 does not exist"):
        dsstne.Network(config(), data, device="cuda")


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        dsstne.Context("tpu")


def test_config_text_round_trip_still_works(data):
    """The error paths above must not break the good path: same config as JSON text."""
    net = dsstne.Network(json.dumps(config()), data, batch=8)
    assert [l.name for l in net.layers] == ["Input", "Hidden", "Output"]
