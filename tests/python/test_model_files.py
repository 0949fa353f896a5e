# SPDX-License-Identifier: Apache-2.0
"""NetCDF network (model) files (spec/formats.md §3): save → load → predict bitwise, training
continued from a file equals uninterrupted training, DSSTNE's names and types, DSSTNE-style files
written by hand, safe saving and errors that name the file and the field."""

import json
import os

import numpy as np
import pytest

netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import model, synthetic  # noqa: E402

from netcdf_helpers import (NC_CHAR, NC_FLOAT, NC_INT, NC_UINT, NC_UINT64,  # noqa: E402
                            NcTypes)


def autoencoder_config():
    return {
        "Name": "ae", "Kind": "AutoEncoder", "ShuffleIndices": True,
        "Denoising": {"p": 0.2}, "ErrorFunction": "CrossEntropy",
        "Layers": [
            {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": True},
            {"Name": "Hidden", "Kind": "Hidden", "N": 8, "Activation": "Sigmoid",
             "pDropout": 0.25, "WeightInit": {"Scheme": "Gaussian", "Scale": 0.1, "Bias": 0.05}},
            {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
             "Activation": "Sigmoid", "WeightNorm": 3.0},
        ],
    }


def graph_config():
    """Skip edges, layers with several sources and a transposed shared weight."""
    return {
        "Name": "graph", "ErrorFunction": "L2", "ShuffleIndices": True, "RELUSlope": 0.1,
        "Layers": [
            {"Name": "In", "Kind": "Input", "N": 12, "DataSet": "x"},
            {"Name": "H1", "Kind": "Hidden", "N": 6, "Source": "In", "Activation": "Tanh",
             "pDropout": 0.1},
            {"Name": "H2", "Kind": "Hidden", "N": 6, "Source": ["In", "H1"], "Skip": "H1",
             "Activation": "LeakyRectifiedLinear"},
            {"Name": "Out", "Kind": "Output", "N": 12, "DataSet": "x", "Source": ["H2", "H1"],
             "Skip": ["In"], "Activation": "Linear",
             "SharedWeights": {"InputLayer": "H1", "SourceInputLayer": "In",
                               "SourceOutputLayer": "H1", "Transposed": True}},
        ],
    }


@pytest.fixture
def items():
    return synthetic.interactions(96, 40, per_user=6, seed=5)


@pytest.fixture
def dense_x():
    return np.random.default_rng(7).normal(size=(80, 12)).astype(np.float32)


def ae_net(items, device, **kw):
    ctx = dsstne.Context(device)
    return dsstne.Network(autoencoder_config(), dsstne.DataSet("items", items, context=ctx),
                          batch=32, context=ctx, **kw)


def graph_net(x, device):
    ctx = dsstne.Context(device)
    return dsstne.Network(graph_config(), dsstne.DataSet("x", x, context=ctx), batch=16,
                          context=ctx)


def assert_same_network(a, b):
    assert [lyr.name for lyr in b.layers] == [lyr.name for lyr in a.layers]
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        assert (wb.input, wb.output, wb.shared, wb.transposed) == (wa.input, wa.output, wa.shared,
                                                                   wa.transposed)
        assert np.array_equal(wa.weights, wb.weights), (wa.input, wa.output)
        assert np.array_equal(wa.bias, wb.bias), (wa.input, wa.output)
        assert (wb.norm, wb.locked) == (wa.norm, wa.locked)


def strip_extras(path):
    """Deletes the dsstne_ attributes: what is left is DSSTNE's own layout."""
    with netCDF4.Dataset(path, "a") as nc:
        for name in list(nc.ncattrs()):
            if name.startswith("dsstne_"):
                nc.delncattr(name)


def edit(path, **attrs):
    """Sets (value) or deletes (None) global attributes of a file."""
    with netCDF4.Dataset(path, "a") as nc:
        for name, value in attrs.items():
            if value is None:
                nc.delncattr(name)
            else:
                nc.setncattr(name, value)


def same_config(a, b):
    """Two JSON descriptions equal, except the network-level slopes DSSTNE does not store."""
    a, b = json.loads(a), json.loads(b)
    for c in (a, b):
        for key in ("RELUSlope", "ELUAlpha", "SELULambda"):
            c.pop(key)
    assert a == b


# ---------------------------------------------------------------------------------------------
# round trips


def test_autoencoder_round_trip_predicts_bitwise(device, tmp_path, items):
    net = ae_net(items, device)
    net.train(2, alpha=0.05, optimizer="momentum", mu=0.8)
    net.weights[1].locked = True
    path = tmp_path / "ae.nc"
    model.save_network(net, path)
    ctx = dsstne.Context(device)
    loaded = model.load_network(path, dsstne.DataSet("items", items, context=ctx), batch=32,
                                context=ctx)
    assert loaded.config == net.config
    assert (loaded.epochs_trained, loaded.steps, loaded.training_mode) == (2, 6, "Momentum")
    assert_same_network(net, loaded)
    assert np.array_equal(loaded.predict(), net.predict())
    for wa, wb in zip(net.weights, loaded.weights):
        for name, values in wa.optimizer_state.items():
            assert np.array_equal(wb.optimizer_state[name], values), name
    # Without the dsstne_ extras (DSSTNE's own layout) the description is rebuilt from the
    # attributes: same network, same predictions (only the training progress is missing).
    strip_extras(path)
    plain = model.load_network(path, dsstne.DataSet("items", items, context=ctx), batch=32,
                               context=ctx)
    same_config(plain.config, net.config)
    assert plain.layer("Input").sparse and plain.steps == 0
    assert_same_network(net, plain)
    assert np.array_equal(plain.predict(), net.predict())


def test_graph_round_trip_with_skips_sources_and_shared_weight(device, tmp_path, dense_x):
    net = graph_net(dense_x, device)
    net.train(2, alpha=0.01, optimizer="adam", mu=0.9)
    path = tmp_path / "graph.nc"
    model.save_network(net, path)
    with netCDF4.Dataset(path) as nc:
        shared = [j for j in range(nc.weights) if nc.getncattr(f"weight{j}_bShared")]
        assert len(shared) == 1
        j = shared[0]
        assert (nc.getncattr(f"weight{j}_inputLayer"), nc.getncattr(f"weight{j}_outputLayer"),
                nc.getncattr(f"weight{j}_bTransposed"), nc.getncattr(f"weight{j}_sourceInputLayer"),
                nc.getncattr(f"weight{j}_sourceOutputLayer")) == ("H1", "Out", 1, "In", "H1")
        assert f"weight{j}_weights" not in nc.variables
        assert f"weight{j}_weightDim" not in nc.dimensions
        assert nc.variables[f"weight{j}_bias"].shape == (12,)
        assert nc.getncattr(f"weight{j}_width") == 12 and nc.getncattr(f"weight{j}_height") == 6
        out = [i for i in range(nc.layers) if nc.getncattr(f"layer{i}_name") == "Out"][0]
        assert [nc.getncattr(f"layer{out}_source{k}") for k in range(2)] == ["H2", "H1"]
        assert nc.getncattr(f"layer{out}_skips") == 1
        assert nc.getncattr(f"layer{out}_skip0") == "In"
        assert nc.getncattr("layer2_RELUSlope") == np.float32(0.1)
    ctx = dsstne.Context(device)
    for extras in (True, False):
        if not extras:
            strip_extras(path)
        loaded = model.load_network(path, dsstne.DataSet("x", dense_x, context=ctx), batch=16,
                                    context=ctx)
        assert_same_network(net, loaded)
        assert np.array_equal(loaded.predict(), net.predict())
        assert np.array_equal(loaded.predict(layer="H2"), net.predict(layer="H2"))
        assert loaded.layer("H2").skips == ["H1"]
        if extras:
            assert loaded.config == net.config
        else:
            same_config(loaded.config, net.config)


# ---------------------------------------------------------------------------------------------
# continued training


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_continued_training_equals_uninterrupted(device, tmp_path, items, optimizer):
    params = dict(alpha=0.05, lambda_=0.001, mu=0.8, optimizer=optimizer)
    ctx = dsstne.Context(device)
    straight = ae_net(items, device)
    straight.train(4, **params)
    first = ae_net(items, device)
    first.train(2, **params)
    path = tmp_path / f"{optimizer}.nc"
    model.save_network(first, path)
    resumed = model.load_network(path, dsstne.DataSet("items", items, context=ctx), batch=32,
                                 context=ctx)
    assert resumed.training_mode == first.training_mode
    resumed.train(2, **params)
    assert (resumed.epochs_trained, resumed.steps) == (straight.epochs_trained, straight.steps)
    assert_same_network(straight, resumed)
    for wa, wb in zip(straight.weights, resumed.weights):
        for name, values in wa.optimizer_state.items():
            assert np.array_equal(wb.optimizer_state[name], values), name
    assert np.array_equal(resumed.predict(), straight.predict())


def test_optimizer_state_variables_written(tmp_path, items):
    net = ae_net(items, "cpu")
    path = tmp_path / "sgd.nc"
    net.train(1, alpha=0.05, optimizer="sgd")
    model.save_network(net, path)
    with netCDF4.Dataset(path) as nc:
        assert not [v for v in nc.variables if "_dsstne_" in v]  # SGD keeps no state
        assert nc.dsstne_training_mode == "SGD" and nc.dsstne_epochs == 1
    net.train(1, alpha=0.01, optimizer="adam", mu=0.9)
    model.save_network(net, path, overwrite=True)
    with netCDF4.Dataset(path) as nc:
        for j, w in enumerate(net.weights):
            for name, values in w.optimizer_state.items():
                var = nc.variables[f"weight{j}_dsstne_{name}"]
                assert var.dimensions == (f"weight{j}_dsstne_{name}Dim",)
                assert np.array_equal(var[:], values)
        # a new optimizer restarts the step counter (Adam's bias correction): 3 Adam steps
        assert (nc.dsstne_training_mode, nc.dsstne_epochs, nc.dsstne_steps) == ("Adam", 2, 3)


# ---------------------------------------------------------------------------------------------
# DSSTNE's names and types


GLOBAL_ATTRS = {
    "version": NC_FLOAT, "name": NC_CHAR, "kind": NC_UINT, "errorFunction": NC_UINT,
    "maxout_k": NC_INT, "decay": NC_FLOAT, "LRN_k": NC_FLOAT, "LRN_n": NC_INT,
    "LRN_alpha": NC_FLOAT, "LRN_beta": NC_FLOAT, "bSparsenessPenalty": NC_UINT,
    "sparsenessPenalty_p": NC_FLOAT, "sparsenessPenalty_beta": NC_FLOAT, "bDenoising": NC_UINT,
    "denoising_p": NC_FLOAT, "deltaBoost_one": NC_FLOAT, "deltaBoost_zero": NC_FLOAT,
    "SMCE_oneScale": NC_FLOAT, "SMCE_zeroScale": NC_FLOAT, "SMCE_oneTarget": NC_FLOAT,
    "SMCE_zeroTarget": NC_FLOAT, "ShuffleIndices": NC_UINT, "checkpoint_name": NC_CHAR,
    "checkpoint_interval": NC_INT, "checkpoint_epochs": NC_INT, "layers": NC_UINT,
    "weights": NC_UINT, "dsstne_config": NC_CHAR, "dsstne_training_mode": NC_CHAR,
}
LAYER_ATTRS = dict(
    {"name": NC_CHAR, "kind": NC_UINT, "type": NC_UINT, "poolingfunction": NC_UINT,
     "dataSet": NC_CHAR, "dimensions": NC_UINT, "kernelDimensions": NC_UINT,
     "pDropout": NC_FLOAT, "weightInit": NC_UINT, "weightInitScale": NC_FLOAT,
     "biasInit": NC_FLOAT, "weightNorm": NC_FLOAT, "deltaNorm": NC_FLOAT, "activation": NC_UINT,
     "sparsenessPenalty_p": NC_FLOAT, "sparsenessPenalty_beta": NC_FLOAT, "RELUSlope": NC_FLOAT,
     "ELUAlpha": NC_FLOAT, "SELULambda": NC_FLOAT, "attributes": NC_UINT, "sources": NC_UINT,
     "skips": NC_UINT},
    **{f"N{a}": NC_UINT for a in "xyzw"},
    **{f"{k}{a}": NC_UINT for k in ("kernel", "kernelStride", "kernelPadding") for a in "XYZ"})
WEIGHT_ATTRS = dict({"inputLayer": NC_CHAR, "outputLayer": NC_CHAR, "bShared": NC_UINT,
                     "bLocked": NC_UINT, "norm": NC_FLOAT},
                    **{k: NC_UINT64 for k in ("width", "height", "length", "depth", "breadth")})
SHARED_ATTRS = {"bTransposed": NC_UINT, "sourceInputLayer": NC_CHAR,
                "sourceOutputLayer": NC_CHAR}


def test_names_and_types_are_dsstnes(tmp_path, dense_x, items):
    net = graph_net(dense_x, "cpu")
    net.train(1, alpha=0.01, optimizer="adam")
    path = tmp_path / "graph.nc"
    model.save_network(net, path)
    types = NcTypes(path)
    try:
        for name, t in GLOBAL_ATTRS.items():
            assert types.attr(name) == t, name
        for i, layer in enumerate(net.layers):
            for name, t in LAYER_ATTRS.items():
                assert types.attr(f"layer{i}_{name}") == t, f"layer{i}_{name}"
            for k in range(len(layer.sources) if layer.kind != "Input" else 0):
                assert types.attr(f"layer{i}_source{k}") == NC_CHAR
            for k in range(len(layer.skips)):
                assert types.attr(f"layer{i}_skip{k}") == NC_CHAR
        for j, w in enumerate(net.weights):
            attrs = dict(WEIGHT_ATTRS, **(SHARED_ATTRS if w.shared else {}))
            for name, t in attrs.items():
                assert types.attr(f"weight{j}_{name}") == t, f"weight{j}_{name}"
            if not w.shared:
                for name in SHARED_ATTRS:
                    assert types.attr(f"weight{j}_{name}") is None
            assert types.var(f"weight{j}_bias") == NC_FLOAT
            assert types.var(f"weight{j}_weights") == (None if w.shared else NC_FLOAT)
        assert types.attr("dsstne_epochs") in (NC_UINT, NC_UINT64)
        assert types.attr("dsstne_steps") in (NC_UINT, NC_UINT64)
    finally:
        types.close()
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.version == np.float32(0.9) and nc.getncattr("errorFunction") == 1  # L2
        assert (nc.layers, nc.weights) == (4, len(net.weights))
        assert json.loads(nc.dsstne_config) == json.loads(net.config)
        for j, w in enumerate(net.weights):  # input-major n_in·n_out floats, layers in file order
            assert (nc.getncattr(f"weight{j}_inputLayer"),
                    nc.getncattr(f"weight{j}_outputLayer")) == (w.input, w.output)
            if not w.shared:
                assert np.array_equal(nc.variables[f"weight{j}_weights"][:], w.weights.ravel())
                assert nc.getncattr(f"weight{j}_width") == net.layer(w.output).size
                assert nc.getncattr(f"weight{j}_height") == net.layer(w.input).size
    # autoencoder: enum codes and the Sparse | Denoising bits of the sparse input layer
    net = ae_net(items, "cpu")
    model.save_network(net, tmp_path / "ae.nc")
    with netCDF4.Dataset(tmp_path / "ae.nc") as nc:
        assert (nc.kind, nc.errorFunction, nc.bDenoising) == (1, 2, 1)
        assert nc.denoising_p == np.float32(0.2)
        assert (nc.layer0_kind, nc.layer0_attributes, nc.layer0_dataSet) == (0, 3, "items")
        assert (nc.layer1_kind, nc.layer1_activation, nc.layer1_weightInit) == (1, 0, 2)
        assert nc.layer1_weightInitScale == np.float32(0.1)
        assert nc.layer1_biasInit == np.float32(0.05)
        assert nc.layer1_pDropout == np.float32(0.25)
        assert (nc.layer2_kind, nc.layer2_attributes, nc.layer2_Nx) == (2, 0, 40)
        assert nc.layer2_weightNorm == np.float32(3.0) and nc.weight1_norm == np.float32(3.0)


# ---------------------------------------------------------------------------------------------
# a file as DSSTNE writes it, built with plain netCDF4 calls


def write_dsstne_file(path, w0, b0, w1, b1, *, enum=np.uint32, size=np.uint64, drop=(),
                      **override):
    """A 3-layer autoencoder 5 → 3 → 5 in DSSTNE's layout, without any dsstne_ extras."""
    g = {"version": np.float32(0.9), "name": b"dsstne_ae", "kind": enum(1),
         "errorFunction": enum(1), "maxout_k": np.int32(2), "LRN_k": np.float32(2),
         "LRN_n": np.int32(5), "LRN_alpha": np.float32(1e-4), "LRN_beta": np.float32(0.75),
         "bSparsenessPenalty": np.uint32(0), "sparsenessPenalty_p": np.float32(0),
         "sparsenessPenalty_beta": np.float32(0), "bDenoising": np.uint32(0),
         "denoising_p": np.float32(0), "deltaBoost_one": np.float32(1),
         "deltaBoost_zero": np.float32(1), "SMCE_oneScale": np.float32(1),
         "SMCE_zeroScale": np.float32(1), "SMCE_oneTarget": np.float32(0.9),
         "SMCE_zeroTarget": np.float32(0.1), "ShuffleIndices": np.uint32(1),
         "checkpoint_name": b"checkpoint", "checkpoint_interval": np.int32(0),
         "checkpoint_epochs": np.int32(0), "layers": np.uint32(3), "weights": np.uint32(2)}
    layers = [("Input", 0, 5, b"data", 1, 3, []), ("Hidden", 1, 3, b"", 0, 1, ["Input"]),
              ("Output", 2, 5, b"data", 0, 0, ["Hidden"])]  # 3 Linear, 1 Tanh, 0 Sigmoid
    for i, (name, kind, n, data_set, attributes, activation, sources) in enumerate(layers):
        p = f"layer{i}_"
        g.update({p + "name": name.encode(), p + "kind": enum(kind), p + "type": enum(0),
                  p + "poolingfunction": enum(0), p + "dataSet": data_set,
                  p + "Nx": np.uint32(n), p + "Ny": np.uint32(1), p + "Nz": np.uint32(1),
                  p + "Nw": np.uint32(1), p + "dimensions": np.uint32(1),
                  p + "kernelDimensions": np.uint32(1), p + "pDropout": np.float32(0),
                  p + "weightInit": enum(0), p + "weightInitScale": np.float32(1),
                  p + "biasInit": np.float32(0), p + "weightNorm": np.float32(0),
                  p + "deltaNorm": np.float32(0), p + "activation": enum(activation),
                  p + "sparsenessPenalty_p": np.float32(0),
                  p + "sparsenessPenalty_beta": np.float32(0), p + "RELUSlope": np.float32(1),
                  p + "ELUAlpha": np.float32(1), p + "SELULambda": np.float32(1.050701),
                  p + "attributes": np.uint32(attributes), p + "sources": np.uint32(len(sources)),
                  p + "skips": np.uint32(0)})
        for axis in "XYZ":
            g.update({p + f"kernel{axis}": np.uint32(1), p + f"kernelStride{axis}": np.uint32(1),
                      p + f"kernelPadding{axis}": np.uint32(0)})
        for k, s in enumerate(sources):
            g[p + f"source{k}"] = s.encode()
    for j, (a, b, wt) in enumerate([("Input", "Hidden", w0), ("Hidden", "Output", w1)]):
        p = f"weight{j}_"
        g.update({p + "inputLayer": a.encode(), p + "outputLayer": b.encode(),
                  p + "width": size(wt.shape[1]), p + "height": size(wt.shape[0]),
                  p + "length": size(1), p + "depth": size(1), p + "breadth": size(1),
                  p + "bShared": np.uint32(0), p + "bLocked": np.uint32(0),
                  p + "norm": np.float32(0)})
    g.update(override)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for name, value in g.items():
            if name not in drop:
                nc.setncattr(name, value)
        for j, (wt, bias) in enumerate([(w0, b0), (w1, b1)]):
            for var, values in (("weights", wt.ravel()), ("bias", bias)):
                dim = f"weight{j}_{'weightDim' if var == 'weights' else 'biasDim'}"
                nc.createDimension(dim, values.size)
                nc.createVariable(f"weight{j}_{var}", "f4", (dim,))[:] = values


@pytest.fixture
def dsstne_weights():
    r = np.random.default_rng(11)
    return (r.normal(size=(5, 3)).astype(np.float32), r.normal(size=3).astype(np.float32),
            r.normal(size=(3, 5)).astype(np.float32), r.normal(size=5).astype(np.float32))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("widths", ["dsstne", "other"])
def test_dsstne_file_loads_and_predicts_by_hand(device, tmp_path, dsstne_weights, widths):
    path = tmp_path / "dsstne.nc"
    kw = {} if widths == "dsstne" else {"enum": np.int64, "size": np.uint32}  # lenient reader
    write_dsstne_file(path, *dsstne_weights, **kw)
    x = (np.random.default_rng(2).random((9, 5)) < 0.4).astype(np.float32)
    x[0, 0] = 1.0
    ctx = dsstne.Context(device)
    net = model.load_network(path, dsstne.DataSet("data", x, context=ctx), batch=4, context=ctx)
    assert net.name == "dsstne_ae" and net.error_function == "L2"
    assert [(lyr.name, lyr.kind, lyr.size) for lyr in net.layers] == [
        ("Input", "Input", 5), ("Hidden", "Hidden", 3), ("Output", "Output", 5)]
    assert net.layer("Hidden").activation == "Tanh" and net.layer("Output").activation == "Sigmoid"
    assert net.layer("Input").sparse and net.layer("Output").data_set == "data"
    assert (net.epochs_trained, net.steps, net.training_mode) == (0, 0, "SGD")
    w0, b0, w1, b1 = dsstne_weights
    assert np.array_equal(net.weight("Input", "Hidden").weights, w0)
    assert np.array_equal(net.weight("Hidden", "Output").bias, b1)
    x64 = x.astype(np.float64)
    expected = sigmoid(np.tanh(x64 @ w0 + b0) @ w1 + b1)
    np.testing.assert_allclose(net.predict(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.predict(layer="Hidden"), np.tanh(x64 @ w0 + b0), rtol=1e-5,
                               atol=1e-6)
    # and it saves back and reloads identically
    model.save_network(net, tmp_path / "again.nc")
    again = model.load_network(tmp_path / "again.nc", dsstne.DataSet("data", x, context=ctx),
                               batch=4, context=ctx)
    assert np.array_equal(again.predict(), net.predict())


# ---------------------------------------------------------------------------------------------
# safe saving


def test_existing_file_is_protected(tmp_path, dense_x):
    a, b = graph_net(dense_x, "cpu"), graph_net(dense_x, "cpu")
    b.train(1, alpha=0.05)
    path = tmp_path / "m.nc"
    model.save_network(a, path)
    with pytest.raises(FileExistsError, match="m.nc"):
        model.save_network(b, path)
    assert_same_network(a, model.load_network(path, batch=16))
    model.save_network(b, path, overwrite=True)
    assert_same_network(b, model.load_network(path, batch=16))
    assert sorted(os.listdir(tmp_path)) == ["m.nc"]


def test_interrupted_save_leaves_the_old_file(tmp_path, dense_x, monkeypatch):
    a, b = graph_net(dense_x, "cpu"), graph_net(dense_x, "cpu")
    b.train(1, alpha=0.05)
    path = tmp_path / "m.nc"
    model.save_network(a, path)
    before = path.read_bytes()
    real = model._write_weight

    def failing(nc, j, *args):
        if j == 2:
            raise KeyboardInterrupt
        return real(nc, j, *args)

    monkeypatch.setattr(model, "_write_weight", failing)
    with pytest.raises(KeyboardInterrupt):
        model.save_network(b, path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.nc"]
    with pytest.raises(KeyboardInterrupt):  # a new file: nothing left behind at all
        model.save_network(b, tmp_path / "new.nc")
    assert sorted(os.listdir(tmp_path)) == ["m.nc"]
    monkeypatch.undo()
    assert_same_network(a, model.load_network(path, batch=16))


# ---------------------------------------------------------------------------------------------
# bad files


def test_not_a_netcdf_file(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"Layers": []}')
    with pytest.raises(ValueError, match="model.json.*NetCDF"):
        model.load_network(path)
    with pytest.raises(FileNotFoundError):
        model.load_network(tmp_path / "missing.nc")


def test_not_a_model_file(tmp_path):
    path = tmp_path / "data.nc"
    dsstne.write_netcdf(path, dsstne.DataSet("d", np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match="data.nc.*'layers'"):
        model.load_network(path)


@pytest.mark.parametrize("missing", ["layer2_activation", "layer1_source0", "errorFunction",
                                     "weight1_outputLayer", "weight0_height", "layer0_Nx"])
def test_missing_attribute_is_named(tmp_path, dsstne_weights, missing):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights, drop=(missing,))
    with pytest.raises(ValueError, match=f"bad.nc: missing attribute '{missing}'"):
        model.load_network(path)


@pytest.mark.parametrize("name, code", [("layer1_activation", 99), ("kind", 2),
                                        ("errorFunction", 7), ("layer0_kind", 4),
                                        ("layer2_weightInit", 7), ("layer1_type", 3)])
def test_unknown_enum_code(tmp_path, dsstne_weights, name, code):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights, **{name: np.uint32(code)})
    with pytest.raises(ValueError, match=f"bad.nc: attribute '{name}' = {code} is not"):
        model.load_network(path)


def test_enum_code_without_json_spelling(tmp_path, dsstne_weights):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights, layer1_activation=np.uint32(4))
    with pytest.raises(ValueError, match="bad.nc: attribute 'layer1_activation': "
                                         "ParametricRectifiedLinear"):
        model.load_network(path)


def test_weights_of_the_wrong_size(tmp_path, dsstne_weights):
    w0, b0, w1, b1 = dsstne_weights
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, w0[:4], b0, w1, b1)
    with pytest.raises(ValueError, match=r"bad.nc: variable 'weight0_weights' has 12 values"):
        model.load_network(path)
    write_dsstne_file(path, w0, b0, w1, b1[:3])
    with pytest.raises(ValueError, match=r"bad.nc: variable 'weight1_bias' has 3 values"):
        model.load_network(path)


def test_weight_state_of_the_wrong_size(tmp_path, items):
    net = ae_net(items, "cpu")
    net.train(1, alpha=0.01, optimizer="adam")
    path = tmp_path / "bad.nc"
    model.save_network(net, path)
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("weight0_dsstne_velocity", "weight0_dsstne_old")
        nc.createDimension("short", 3)
        nc.createVariable("weight0_dsstne_velocity", "f4", ("short",))[:] = [1, 2, 3]
    with pytest.raises(ValueError, match="bad.nc: variable 'weight0_dsstne_velocity'"):
        model.load_network(path, dsstne.DataSet("items", items))


@pytest.mark.parametrize("name", ["layer1_source0", "layer2_source0", "weight0_inputLayer"])
def test_source_naming_no_layer(tmp_path, dsstne_weights, name):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights, **{name: b"Nowhere"})
    with pytest.raises(ValueError, match=f"bad.nc: attribute '{name}' names 'Nowhere'"):
        model.load_network(path)


def test_edited_model_file_errors(tmp_path, items):
    net = ae_net(items, "cpu")
    path = tmp_path / "ae.nc"
    model.save_network(net, path)
    strip_extras(path)
    edit(path, layer2_activation=None)
    with pytest.raises(ValueError, match="ae.nc: missing attribute 'layer2_activation'"):
        model.load_network(path)
    edit(path, layer2_activation=np.uint32(0), layer1_source0=b"Ghost")
    with pytest.raises(ValueError, match="ae.nc: attribute 'layer1_source0' names 'Ghost'"):
        model.load_network(path)
    edit(path, layer1_source0=b"Input", dsstne_config='{"Layers": [')
    with pytest.raises(ValueError, match="ae.nc: attribute 'dsstne_config' is not valid JSON"):
        model.load_network(path)


def test_truncated_model_file(tmp_path, items):
    net = ae_net(items, "cpu")
    good = tmp_path / "good.nc"
    model.save_network(net, good)
    blob = good.read_bytes()
    for cut in (len(blob) // 4, len(blob) // 2, len(blob) - 32):
        path = tmp_path / f"cut_{cut}.nc"
        path.write_bytes(blob[:cut])
        with pytest.raises(ValueError) as info:
            model.load_network(path, dsstne.DataSet("items", items))
        assert str(path) in str(info.value)


@pytest.mark.parametrize("name, value", [("layer0_Nx", b"five"), ("layer1_activation", b"Tanh"),
                                         ("errorFunction", np.float32(1.5)),
                                         ("weight0_width", b"3"), ("layers", np.float64(3.0)),
                                         ("layer1_pDropout", b"none")])
def test_mistyped_attribute_is_named(tmp_path, dsstne_weights, name, value):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights, **{name: value})
    with pytest.raises(ValueError, match=f"bad.nc: attribute '{name}'"):
        model.load_network(path)


def test_mistyped_weight_variable_is_named(tmp_path, dsstne_weights):
    path = tmp_path / "bad.nc"
    write_dsstne_file(path, *dsstne_weights)
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("weight0_weights", "weight0_old")
        nc.createDimension("chars", 15)
        nc.createVariable("weight0_weights", "S1", ("chars",))[:] = list(b"not a weight!!!")
    with pytest.raises(ValueError, match="bad.nc: variable 'weight0_weights'"):
        model.load_network(path)
