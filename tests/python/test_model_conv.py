# SPDX-License-Identifier: Apache-2.0
"""NetCDF model files of networks with Convolutional and Pooling layers and BatchNormalization
(spec/formats.md §3.2-§3.4): derived layer sizes and padding, filters in cuDNN order with
DSSTNE's weight geometry, the batch-norm variables; save → load → predict bitwise, continued
training exact, DSSTNE-style files without ``dsstne_config``, and wrong sizes refused naming the
variable. CPU only: the networks are tiny."""

import json

import numpy as np
import pytest

netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import model  # noqa: E402

from netcdf_helpers import NC_FLOAT, NC_UINT, NC_UINT64, NcTypes  # noqa: E402

CLASSES = 4
TRAIN = dict(alpha=0.02, mu=0.9, optimizer="adam")


def image_config():
    """2-D: 6×6 images of 2 maps → 3×3 convolution (3 maps, batch-normalized) → 2×2 max pooling
    with stride 2 → LRN → batch-normalized fully connected layer → SoftMax."""
    return {
        "Name": "cnn2d", "ErrorFunction": "CrossEntropy",
        "Layers": [
            {"Name": "img", "Kind": "Input", "Type": "Convolutional", "N": "auto",
             "DataSet": "x"},
            {"Name": "c1", "Kind": "Hidden", "Type": "Convolutional", "N": 3, "Kernel": [3, 3],
             "Activation": "RectifiedLinear", "BatchNormalization": True},
            {"Name": "p1", "Kind": "Hidden", "Type": "Pooling", "Function": "Max",
             "Kernel": [2, 2], "KernelStride": [2, 2]},
            {"Name": "lrn", "Kind": "Hidden", "Type": "Pooling", "Function": "LRN"},
            {"Name": "fc", "Kind": "Hidden", "N": 5, "Activation": "Tanh",
             "BatchNormalization": True},
            {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y",
             "Activation": "SoftMax"},
        ],
    }


def signal_config():
    """1-D: signals of 8 samples × 2 maps → convolution over 3 samples (3 maps) → average
    pooling 2 / 2 → convolution over 2 samples (2 maps, its source derived) → SoftMax."""
    return {
        "Name": "cnn1d", "ErrorFunction": "CrossEntropy",
        "Layers": [
            {"Name": "sig", "Kind": "Input", "Type": "Convolutional", "N": "auto",
             "DataSet": "x"},
            {"Name": "c1", "Kind": "Hidden", "Type": "Convolutional", "N": 3, "Kernel": 3,
             "Activation": "Tanh", "BatchNormalization": True},
            {"Name": "p1", "Kind": "Hidden", "Type": "Pooling", "Function": "Average",
             "Kernel": 2, "KernelStride": 2},
            {"Name": "c2", "Kind": "Hidden", "Type": "Convolutional", "N": 2, "Kernel": 2,
             "Activation": "RectifiedLinear"},
            {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y",
             "Activation": "SoftMax"},
        ],
    }


def volume_config():
    """3-D: 6×5×5 volumes of one map → a 2×3×4 (x, y, z) convolution with 2 maps → SoftMax."""
    return {
        "Name": "cnn3d", "ErrorFunction": "CrossEntropy",
        "Layers": [
            {"Name": "vol", "Kind": "Input", "Type": "Convolutional", "N": "auto",
             "DataSet": "x"},
            {"Name": "c1", "Kind": "Hidden", "Type": "Convolutional", "N": 2,
             "Kernel": [2, 3, 4], "Activation": "Tanh"},
            {"Name": "out", "Kind": "Output", "N": "auto", "DataSet": "y",
             "Activation": "SoftMax"},
        ],
    }


# name → (config maker, per-example shape of the dense input: slowest axis first)
CASES = {"2d": (image_config, (2, 6, 6)), "1d": (signal_config, (2, 8)),
         "3d": (volume_config, (5, 5, 6))}


def make_data(case, examples=24):
    shape = CASES[case][1]
    r = np.random.default_rng(17)
    x = r.normal(size=(examples,) + shape).astype(np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[r.integers(0, CLASSES, examples)]
    return x, y


def bind(case, data):
    """The data sets of a case on a fresh CPU context (same seed every time)."""
    x, y = data
    ctx = dsstne.Context("cpu")
    return [dsstne.DataSet("x", x, context=ctx), dsstne.DataSet("y", y, context=ctx)], ctx


def build(case, data, config=None):
    sets, ctx = bind(case, data)
    return dsstne.Network(config or CASES[case][0](), sets, batch=8, context=ctx)


def load(case, data, path):
    sets, ctx = bind(case, data)
    return model.load_network(path, sets, batch=8, context=ctx)


@pytest.fixture(params=["2d", "1d"])
def case(request):
    return request.param


def assert_same_parameters(a, b):
    """Weights, biases, optimizer state and batch-norm buffers bitwise equal."""
    assert [lyr.name for lyr in a.layers] == [lyr.name for lyr in b.layers]
    for la, lb in zip(a.layers, b.layers):
        assert la.dims == lb.dims, la.name
        bn_a, bn_b = la.batch_norm, lb.batch_norm
        assert (bn_a is None) == (bn_b is None), la.name
        for name, values in (bn_a or {}).items():
            assert np.array_equal(bn_b[name], values), (la.name, name)
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        assert (wb.input, wb.output, wb.convolutional) == (wa.input, wa.output, wa.convolutional)
        assert wb.filter_shape == wa.filter_shape
        assert np.array_equal(wa.weights, wb.weights), (wa.input, wa.output)
        assert np.array_equal(wa.bias, wb.bias), (wa.input, wa.output)
        for name, values in wa.optimizer_state.items():
            assert np.array_equal(wb.optimizer_state[name], values), (wa.input, name)


def strip_extras(path):
    """Deletes the dsstne_ attributes: DSSTNE's own layout remains (the dsstne_ variables stay
    but are only read with the training progress)."""
    with netCDF4.Dataset(path, "a") as nc:
        for name in list(nc.ncattrs()):
            if name.startswith("dsstne_"):
                nc.delncattr(name)


def replace_variable(path, name, values):
    """Gives variable `name` new values of any length (the old one is renamed away)."""
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable(name, "old_" + name)
        nc.createDimension("new_" + name, len(values))
        nc.createVariable(name, "f4", ("new_" + name,))[:] = values


def same_config(a, b):
    """Two JSON descriptions equal, except the network-level slopes DSSTNE does not store."""
    a, b = json.loads(a), json.loads(b)
    for c in (a, b):
        for key in ("RELUSlope", "ELUAlpha", "SELULambda"):
            c.pop(key)
    assert a == b


# ---------------------------------------------------------------------------------------------
# round trips and continued training


def test_round_trip_predicts_bitwise(tmp_path, case):
    data = make_data(case)
    net = build(case, data)
    net.train(2, **TRAIN)
    assert any(w.convolutional for w in net.weights)
    assert any(lyr.batch_norm is not None for lyr in net.layers)
    path = tmp_path / f"{case}.nc"
    model.save_network(net, path)
    loaded = load(case, data, path)
    assert loaded.config == net.config
    assert (loaded.epochs_trained, loaded.steps, loaded.training_mode) == (
        net.epochs_trained, net.steps, net.training_mode)
    assert_same_parameters(net, loaded)
    assert np.array_equal(loaded.predict(), net.predict())
    assert np.array_equal(loaded.predict(layer="c1"), net.predict(layer="c1"))


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_continued_training_is_exact(tmp_path, case, optimizer):
    data = make_data(case)
    params = dict(TRAIN, optimizer=optimizer)
    net = build(case, data)
    net.train(2, **params)
    path = tmp_path / f"{case}.nc"
    model.save_network(net, path)
    loaded = load(case, data, path)
    net.train(2, **params)
    loaded.train(2, **params)
    assert (loaded.epochs_trained, loaded.steps) == (net.epochs_trained, net.steps)
    assert_same_parameters(net, loaded)
    assert np.array_equal(loaded.predict(), net.predict())
    # and both equal training without the interruption
    straight = build(case, data)
    straight.train(4, **params)
    assert_same_parameters(straight, loaded)


# ---------------------------------------------------------------------------------------------
# what the file holds


def test_layer_attributes_are_the_derived_ones(tmp_path):
    data = make_data("2d")
    net = build("2d", data)
    net.train(1, **TRAIN)
    path = tmp_path / "cnn.nc"
    model.save_network(net, path)
    with netCDF4.Dataset(path) as nc:
        sizes = {}
        for i, layer in enumerate(net.layers):
            p = f"layer{i}_"
            sizes[layer.name] = (tuple(int(nc.getncattr(p + f"N{a}")) for a in "xyzw"),
                                 int(nc.getncattr(p + "dimensions")))
        assert sizes == {"img": ((6, 6, 2, 1), 3), "c1": ((6, 6, 3, 1), 3),
                         "p1": ((3, 3, 3, 1), 3), "lrn": ((3, 3, 3, 1), 3),
                         "fc": ((5, 1, 1, 1), 1), "out": ((4, 1, 1, 1), 1)}
        # c1: 3×3 kernel at stride 1 over 6×6 keeps the size with padding 1 (DSSTNE's rule)
        assert [int(nc.getncattr(f"layer1_kernel{k}{a}")) for k in ("", "Stride", "Padding")
                for a in "XYZ"] == [3, 3, 1, 1, 1, 1, 1, 1, 0]
        assert int(nc.layer1_kernelDimensions) == 2 and int(nc.layer1_type) == 1
        assert [int(nc.getncattr(f"layer2_kernel{k}{a}")) for k in ("", "Stride", "Padding")
                for a in "XY"] == [2, 2, 2, 2, 0, 0]
        assert (int(nc.layer2_type), int(nc.layer2_poolingfunction)) == (2, 1)  # Pooling, Max
        assert int(nc.layer3_poolingfunction) == 3  # LRN
        # batch normalization: bit 4, one value per map (c1) or unit (fc)
        for i, features in ((1, 3), (4, 5)):
            assert int(nc.getncattr(f"layer{i}_attributes")) & 4
            assert nc.dimensions[f"layer{i}_bnDim"].size == features
            bn = net.layers[i].batch_norm
            for suffix, name in (("scaleBN", "scale"), ("biasBN", "bias"),
                                 ("runningMeanBN", "running_mean"),
                                 ("runningVarianceBN", "running_variance"),
                                 ("dsstne_scale_velocity", "scale_velocity"),
                                 ("dsstne_scale_velocity2", "scale_velocity2"),
                                 ("dsstne_bias_velocity", "bias_velocity"),
                                 ("dsstne_bias_velocity2", "bias_velocity2")):
                var = nc.variables[f"layer{i}_{suffix}"]
                assert var.dimensions == (f"layer{i}_bnDim",)
                assert np.array_equal(var[:], bn[name]), (i, name)
        for i in (0, 2, 3, 5):
            assert not int(nc.getncattr(f"layer{i}_attributes")) & 4
            assert f"layer{i}_bnDim" not in nc.dimensions
    types = NcTypes(path)
    try:
        for name in ("layer1_Nz", "layer1_kernelPaddingX", "layer1_attributes"):
            assert types.attr(name) == NC_UINT, name
        for suffix in ("scaleBN", "biasBN", "runningMeanBN", "runningVarianceBN",
                       "dsstne_scale_velocity"):
            assert types.var(f"layer4_{suffix}") == NC_FLOAT
        for key in ("width", "height", "length", "depth", "breadth"):
            assert types.attr(f"weight0_{key}") == NC_UINT64
    finally:
        types.close()


@pytest.mark.parametrize("case, kernel", [("1d", (3,)), ("2d", (3, 3)), ("3d", (4, 3, 2))])
def test_filter_geometry(tmp_path, case, kernel):
    """width = out maps, height = in maps, then length/depth/breadth = the kernel sizes in filter
    order (kz, ky, kx over the axes the kernel has), 1 beyond them."""
    data = make_data(case)
    net = build(case, data)
    w = net.weights[0]
    in_maps = {"1d": 2, "2d": 2, "3d": 1}[case]
    assert w.convolutional and w.filter_shape == (3 if case != "3d" else 2, in_maps) + kernel
    path = tmp_path / f"{case}.nc"
    model.save_network(net, path)
    with netCDF4.Dataset(path) as nc:
        geometry = [int(nc.getncattr(f"weight0_{k}"))
                    for k in ("width", "height", "length", "depth", "breadth")]
        assert geometry == list(w.filter_shape) + [1] * (5 - len(w.filter_shape))
        assert np.array_equal(nc.variables["weight0_weights"][:], w.weights.ravel())
        assert nc.variables["weight0_weights"].size == np.prod(w.filter_shape)
        assert nc.variables["weight0_bias"].size == w.filter_shape[0]


def test_filters_are_in_cudnn_order(tmp_path):
    """The file's filters [out][in][ky][kx] and biases reproduce the convolution by hand
    (cross-correlation over the zero-padded input, units x fastest)."""
    config = image_config()
    config["Layers"][1].update(Kernel=[3, 2], Activation="Linear", BatchNormalization=False)
    data = make_data("2d", examples=5)
    net = build("2d", data, config)
    path = tmp_path / "cnn.nc"
    model.save_network(net, path)
    with netCDF4.Dataset(path) as nc:
        filters = np.asarray(nc.variables["weight0_weights"][:]).reshape(3, 2, 2, 3)  # o i ky kx
        bias = np.asarray(nc.variables["weight0_bias"][:])
        pad_x, pad_y = int(nc.layer1_kernelPaddingX), int(nc.layer1_kernelPaddingY)
    x = data[0].astype(np.float64)  # (examples, maps, y, x)
    padded = np.pad(x, ((0, 0), (0, 0), (pad_y, pad_y), (pad_x, pad_x)))
    expected = np.zeros((x.shape[0], 3, 6, 6))
    for ky in range(2):
        for kx in range(3):
            window = padded[:, :, ky:ky + 6, kx:kx + 6]  # (examples, in, y, x)
            expected += np.einsum("eiyx,oi->eoyx", window, filters[:, :, ky, kx])
    expected += bias[None, :, None, None]
    got = net.predict(layer="c1").reshape(x.shape[0], 3, 6, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# DSSTNE's own files (no dsstne_config)


def test_dsstne_style_file_loads_and_predicts(tmp_path, case):
    data = make_data(case)
    net = build(case, data)
    net.train(2, **TRAIN)
    path = tmp_path / f"{case}.nc"
    model.save_network(net, path)
    strip_extras(path)
    plain = load(case, data, path)
    # The description rebuilt from the attributes: a hidden convolution's N is its maps again.
    same_config(plain.config, net.config)
    layers = {lc["Name"]: lc for lc in json.loads(plain.config)["Layers"]}
    assert layers["c1"]["N"] == 3
    assert plain.steps == 0 and plain.training_mode == "SGD"
    for la, lb in zip(net.layers, plain.layers):
        assert la.dims == lb.dims and la.kernel == lb.kernel, la.name
        if la.batch_norm is not None:
            for name in ("scale", "bias", "running_mean", "running_variance"):
                assert np.array_equal(lb.batch_norm[name], la.batch_norm[name]), name
    for wa, wb in zip(net.weights, plain.weights):
        assert np.array_equal(wa.weights, wb.weights) and np.array_equal(wa.bias, wb.bias)
    assert np.array_equal(plain.predict(), net.predict())


def test_dsstne_file_without_batch_norm_variables_keeps_the_defaults(tmp_path):
    data = make_data("2d")
    net = build("2d", data)
    net.train(2, **TRAIN)
    path = tmp_path / "cnn.nc"
    model.save_network(net, path)
    strip_extras(path)
    with netCDF4.Dataset(path, "a") as nc:
        for name in list(nc.variables):
            if name.startswith("layer4_"):  # fc's; c1 keeps its own
                nc.renameVariable(name, "gone_" + name)
    plain = load("2d", data, path)
    fresh = build("2d", data)
    for name, values in fresh.layer("fc").batch_norm.items():  # scale 1, variance 1, others 0
        assert np.array_equal(plain.layer("fc").batch_norm[name], values), name
    assert np.array_equal(plain.layer("fc").batch_norm["running_variance"], np.ones(5))
    c1 = net.layer("c1").batch_norm
    for name in ("scale", "bias", "running_mean", "running_variance"):
        assert np.array_equal(plain.layer("c1").batch_norm[name], c1[name]), name


def test_hidden_convolution_with_its_derived_n(tmp_path):
    """A hidden convolution's N may also be the derived size array (maps on the axis after the
    kernel's): the same network, and the same file contents."""
    config = image_config()
    config["Layers"][1]["N"] = [6, 6, 3]
    data = make_data("2d")
    net, same = build("2d", data), build("2d", data, config)
    assert same.config == net.config
    assert_same_parameters(net, same)
    path = tmp_path / "cnn.nc"
    net.train(1, **TRAIN)
    model.save_network(net, path)
    with netCDF4.Dataset(path, "a") as nc:
        edited = json.loads(nc.dsstne_config)
        edited["Layers"][1]["N"] = [6, 6, 3]
        nc.dsstne_config = json.dumps(edited).encode()
    loaded = load("2d", data, path)
    assert loaded.config == net.config
    assert np.array_equal(loaded.predict(), net.predict())


# ---------------------------------------------------------------------------------------------
# wrong sizes


@pytest.mark.parametrize("extras", [True, False])
def test_conv_weights_of_the_wrong_size(tmp_path, monkeypatch, extras):
    """Refused naming the variable, before the build where the description makes the size
    certain (c1 of the image net reads the input) and after it otherwise (c2 of the 1-D net reads
    a pooling layer)."""
    built = []
    network = dsstne.Network

    def counting(*args, **kwargs):
        built.append(True)
        return network(*args, **kwargs)

    for case, j, good, before in (("2d", 0, 3 * 2 * 3 * 3, True), ("1d", 1, 2 * 3 * 2, False)):
        data = make_data(case)
        path = tmp_path / f"{case}.nc"
        model.save_network(build(case, data), path, overwrite=True)
        if not extras:
            strip_extras(path)
        replace_variable(path, f"weight{j}_weights", np.ones(good + 1, np.float32))
        built.clear()
        with monkeypatch.context() as m:
            m.setattr(dsstne, "Network", counting)
            with pytest.raises(ValueError, match=rf"{case}.nc: variable 'weight{j}_weights' "
                                                 rf"has {good + 1} values .*\({good} expected\)"):
                load(case, data, path)
        assert built == ([] if before else [True]), case
        model.save_network(build(case, data), path, overwrite=True)
        replace_variable(path, f"weight{j}_bias", np.ones(7, np.float32))
        with pytest.raises(ValueError, match=rf"variable 'weight{j}_bias' has 7 values .*"
                                             "feature maps"):
            load(case, data, path)


def test_batch_norm_variables_of_the_wrong_size(tmp_path):
    data = make_data("2d")
    path = tmp_path / "cnn.nc"
    net = build("2d", data)
    net.train(1, **TRAIN)
    for name in ("layer1_scaleBN", "layer4_runningVarianceBN", "layer4_dsstne_bias_velocity"):
        model.save_network(net, path, overwrite=True)
        replace_variable(path, name, np.ones(4, np.float32))
        with pytest.raises(ValueError, match=f"cnn.nc: variable '{name}' has 4 values"):
            load("2d", data, path)
    model.save_network(net, path, overwrite=True)
    replace_variable(path, "layer4_runningVarianceBN", -np.ones(5, np.float32))
    with pytest.raises(ValueError, match="cnn.nc: variable 'layer4_runningVarianceBN'.*negative"):
        load("2d", data, path)


def test_batch_norm_variables_on_a_layer_without_it(tmp_path):
    data = make_data("2d")
    path = tmp_path / "cnn.nc"
    model.save_network(build("2d", data), path)
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("layer5_bnDim", 4)
        nc.createVariable("layer5_scaleBN", "f4", ("layer5_bnDim",))[:] = np.ones(4)
    with pytest.raises(ValueError, match="variable 'layer5_scaleBN'.*'out' has no "
                                         "BatchNormalization"):
        load("2d", data, path)
