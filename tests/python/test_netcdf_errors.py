# SPDX-License-Identifier: Apache-2.0
"""NetCDF data sets: bad files, writer protections, and training from a file."""

import ctypes
import ctypes.util
import glob
import os
import tracemalloc
import numpy as np
import pytest
import scipy.sparse as sp
netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import netcdf, synthetic  # noqa: E402

from netcdf_helpers import *  # noqa: F401,F403


# ---------------------------------------------------------------------------------------------
# bad files


def expect_error(path, exc, *fragments):
    with pytest.raises(exc) as info:
        netcdf.read_netcdf(path)
    msg = str(info.value)
    for fragment in (str(path),) + fragments:
        assert fragment in msg, (fragment, msg)
    return msg


def test_not_a_netcdf_file(tmp_path):
    path = tmp_path / "text.nc"
    path.write_text("datasets = 1\n")
    expect_error(path, ValueError, "not a readable NetCDF file")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        netcdf.read_netcdf(tmp_path / "absent.nc")
    assert "absent.nc" in str(info.value)


@pytest.mark.parametrize("format", ["NETCDF4", "NETCDF3_64BIT_DATA"])
def test_truncated_file(tmp_path, rng, format):
    good = tmp_path / "good.nc"
    netcdf.write_netcdf(good, [make_sparse(rng, np.float32, (64,), examples=200)], format=format)
    blob = good.read_bytes()
    for cut in (len(blob) // 3, len(blob) - 64):
        path = tmp_path / f"cut_{cut}.nc"
        path.write_bytes(blob[:cut])
        with pytest.raises(ValueError) as info:
            netcdf.read_netcdf(path)
        assert str(path) in str(info.value)


def test_missing_datasets_attribute(tmp_path):
    attrs, dims, variables = worked_example()
    del attrs["datasets"]
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError, "'datasets'")


@pytest.mark.parametrize("field", ["name0", "attributes0", "dataType0", "dimensions0",
                                   "width0"])
def test_missing_required_attribute(tmp_path, field):
    attrs, dims, variables = worked_example()
    del attrs[field]
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", f"'{field}'")


@pytest.mark.parametrize("dimensions,missing", [(2, "height0"), (3, "length0")])
def test_missing_height_or_length(tmp_path, dimensions, missing):
    attrs, dims, variables = worked_example()
    attrs["dimensions0"] = np.uint32(dimensions)
    attrs.update({"height0": np.uint32(2), "length0": np.uint32(2)})
    del attrs[missing]
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", f"'{missing}'")


@pytest.mark.parametrize("field", ["examplesDim0", "sparseDataDim0"])
def test_missing_dimension(tmp_path, field):
    attrs, dims, variables = worked_example()
    del dims[field]
    other = "sparseDataDim0" if field == "examplesDim0" else "examplesDim0"
    variables = {k: v for k, v in variables.items() if v[1] == other}
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", f"'{field}'")


@pytest.mark.parametrize("field", ["sparseStart0", "sparseEnd0", "sparseIndex0", "sparseData0"])
def test_missing_sparse_variable(tmp_path, field):
    attrs, dims, variables = analog_file()
    del variables[field]
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", f"'{field}'")


@pytest.mark.parametrize("field", ["dataDim0", "data0", "dataWeight0"])
def test_missing_dense_field(tmp_path, field):
    attrs, dims, variables = dense_file()
    if field == "dataDim0":
        del dims[field]
        del variables["data0"]
    else:
        del variables[field]
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", f"'{field}'")


def test_missing_index_variable(tmp_path):
    attrs, dims, variables = worked_example()
    attrs["attributes0"] = np.uint32(3 | 64)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "'index0'")


@pytest.mark.parametrize("code", [10, 255, 2**31])
def test_unknown_data_type(tmp_path, code):
    attrs, dims, variables = worked_example()
    attrs["dataType0"] = np.uint32(code)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "dataType0", str(code))


@pytest.mark.parametrize("dimensions", [0, 4])
def test_dimensions_out_of_range(tmp_path, dimensions):
    attrs, dims, variables = worked_example()
    attrs["dimensions0"] = np.uint32(dimensions)
    attrs.update({"height0": np.uint32(1), "length0": np.uint32(1)})
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "dimensions0")


@pytest.mark.parametrize("axis", ["width0", "height0", "length0"])
def test_zero_width_height_or_length(tmp_path, axis):
    attrs, dims, variables = worked_example()
    attrs.update({"dimensions0": np.uint32(3), "width0": np.uint32(64), "height0": np.uint32(2),
                  "length0": np.uint32(1)})
    attrs[axis] = np.uint32(0)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", axis)


@pytest.mark.parametrize("bad", [{"attributes0": "three"}, {"width0": np.float64(2.5)},
                                 {"width0": np.int32(-4)},
                                 {"width0": np.array([1, 2], dtype=np.uint32)}])
def test_malformed_attribute_values(tmp_path, bad):
    attrs, dims, variables = worked_example()
    attrs.update(bad)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", next(iter(bad)))


def test_unknown_attribute_bits(tmp_path):
    attrs, dims, variables = worked_example()
    attrs["attributes0"] = np.uint32(3 | 256)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "attributes0")


def test_sparse_index_beyond_the_units(tmp_path):
    attrs, dims, variables = worked_example()
    attrs["width0"] = np.uint32(3)  # index 3 of example 1 is out of range
    msg = expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), IndexError,
                       "data set 0", "sparseIndex0")
    assert "example 1" in msg


def test_sparse_index_beyond_a_multi_dimensional_data_set(tmp_path):
    attrs, dims, variables = worked_example()
    attrs.update({"dimensions0": np.uint32(2), "width0": np.uint32(2), "height0": np.uint32(2)})
    variables["sparseIndex0"] = ("u4", "sparseDataDim0", [0, 1, 1, 2, 4])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), IndexError,
                 "data set 0", "example 1", "sparseIndex0", "4")


def test_start_after_end(tmp_path):
    attrs, dims, variables = worked_example()
    variables["sparseStart0"] = ("u4", "examplesDim0", [0, 4])
    variables["sparseEnd0"] = ("u4", "examplesDim0", [2, 3])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "example 1", "sparseStart0")


def test_end_beyond_the_data(tmp_path):
    attrs, dims, variables = worked_example()
    variables["sparseEnd0"] = ("u4", "examplesDim0", [2, 6])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "example 1", "sparseEnd0", "sparseDataDim0")


def test_negative_offsets(tmp_path):
    attrs, dims, variables = worked_example()
    variables["sparseStart0"] = ("i8", "examplesDim0", [-1, 2])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseStart0")


def test_float_offsets_are_refused(tmp_path):
    attrs, dims, variables = worked_example()
    variables["sparseEnd0"] = ("f4", "examplesDim0", [1.5, 5])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseEnd0")


def test_offsets_on_the_wrong_dimension(tmp_path):
    attrs, dims, variables = worked_example()
    dims["other"] = 3
    variables["sparseEnd0"] = ("u4", "other", [2, 5, 5])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseEnd0", "3 elements", "examplesDim0")


def test_sparse_data_of_the_wrong_length(tmp_path):
    attrs, dims, variables = analog_file()
    dims["short"] = 3
    variables["sparseData0"] = ("f4", "short", [1, 2, 3])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseData0", "sparseDataDim0")


def test_dense_data_dimension_mismatch(tmp_path):
    attrs, dims, variables = dense_file()
    dims["dataDim0"] = 10
    variables["data0"] = ("u1", "dataDim0", np.arange(10, dtype=np.uint8))
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "dataDim0", "12")


def test_dense_data_variable_shorter_than_its_dimension(tmp_path):
    attrs, dims, variables = dense_file()
    dims["eleven"] = 11
    variables["data0"] = ("u1", "eleven", np.arange(11, dtype=np.uint8))
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "'data0'", "dataDim0")


@pytest.mark.parametrize("field", ["dataWeight0", "index0"])
def test_per_example_variable_of_the_wrong_length(tmp_path, field):
    attrs, dims, variables = dense_file()
    attrs["attributes0"] = np.uint32(128 | 64)
    dims["uniqueExamplesDim0"] = 2
    dims["examplesDim0"] = 3
    dims["one"] = 1
    variables["dataWeight0"] = ("f4", "examplesDim0", [1, 1, 1])
    variables["index0"] = ("u4", "examplesDim0", [0, 1, 1])
    variables[field] = (variables[field][0], "one", [0])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", field, "examplesDim0")


def test_index_beyond_the_stored_rows(tmp_path):
    attrs, dims, variables = dense_file()
    attrs["attributes0"] = np.uint32(64)
    dims["examplesDim0"] = 3
    dims["uniqueExamplesDim0"] = 2
    del variables["dataWeight0"]
    variables["index0"] = ("u4", "examplesDim0", [0, 2, 1])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), IndexError,
                 "data set 0", "index0", "example 1")


def test_one_hot_index_beyond_the_width(tmp_path):
    attrs = {"datasets": np.uint32(1), "name0": "labels", "attributes0": np.uint32(2),
             "dataType0": np.uint32(0), "dimensions0": np.uint32(1), "width0": np.uint32(5)}
    dims = {"examplesDim0": 3, "dataDim0": 3}
    variables = {"data0": ("u4", "dataDim0", [4, 5, 2])}
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), IndexError,
                 "data set 0", "data0", "example 1")


def test_int_values_that_do_not_fit(tmp_path):
    attrs, dims, variables = analog_file()
    attrs["dataType0"] = np.uint32(1)
    variables["sparseData0"] = ("i8", "sparseDataDim0", [1, 2**40, 3, 4])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseData0", "int32")


def test_non_finite_values_name_the_file(tmp_path):
    attrs, dims, variables = analog_file()
    variables["sparseData0"] = ("f4", "sparseDataDim0", [1, np.nan, 3, 4])
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "ratings", "NaN")


def test_sparse_ignore_zero_on_dense_data(tmp_path):
    attrs, dims, variables = dense_file()
    attrs["attributes0"] = np.uint32(128 | 32)
    expect_error(write_raw(tmp_path / "f.nc", attrs, dims, variables), ValueError,
                 "data set 0", "SparseIgnoreZero")


def test_zero_examples_and_zero_sparse_data(tmp_path):
    attrs, dims, variables = worked_example()
    dims["sparseDataDim0"] = None  # unlimited, length 0
    variables = {"sparseStart0": ("u4", "examplesDim0", [0, 0]),
                 "sparseEnd0": ("u4", "examplesDim0", [0, 0])}
    expect_error(write_raw(tmp_path / "a.nc", attrs, dims, variables), ValueError,
                 "data set 0", "sparseDataDim0")
    attrs, dims, variables = worked_example()
    dims["examplesDim0"] = None
    variables = {"sparseIndex0": variables["sparseIndex0"]}
    expect_error(write_raw(tmp_path / "b.nc", attrs, dims, variables), ValueError,
                 "data set 0", "examplesDim0")


def test_error_names_the_second_data_set(tmp_path, rng):
    path = tmp_path / "two.nc"
    netcdf.write_netcdf(path, [make_dense(rng, np.float32, (3,)),
                               make_sparse(rng, np.float32, (8,))])
    with netCDF4.Dataset(path, "a") as nc:
        nc.delncattr("width1")
    expect_error(path, ValueError, "data set 1", "'width1'")


# ---------------------------------------------------------------------------------------------
# writer: refusals, existing files, atomic replacement


@pytest.mark.parametrize("format", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF4_CLASSIC",
                                    "HDF5"])
def test_writer_refuses_formats_without_unsigned_types(tmp_path, rng, format):
    path = tmp_path / "f.nc"
    with pytest.raises(ValueError, match="NETCDF4"):
        netcdf.write_netcdf(path, [make_dense(rng, np.float32, (3,))], format=format)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_writer_refuses_empty_and_foreign_input(tmp_path):
    with pytest.raises(ValueError, match="no data sets"):
        netcdf.write_netcdf(tmp_path / "f.nc", [])
    with pytest.raises(TypeError, match="data set 0"):
        netcdf.write_netcdf(tmp_path / "f.nc", [np.zeros((2, 2))])
    empty = dsstne.DataSet("empty", sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="sparseDataDim0"):
        netcdf.write_netcdf(tmp_path / "f.nc", [empty])
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_protected(tmp_path, rng):
    path = tmp_path / "data.nc"
    first = make_dense(rng, np.float32, (3,))
    netcdf.write_netcdf(path, first)
    before = path.read_bytes()
    with pytest.raises(FileExistsError) as info:
        netcdf.write_netcdf(path, make_dense(rng, np.float32, (4,)))
    assert str(path) in str(info.value) and "overwrite=True" in str(info.value)
    assert path.read_bytes() == before
    second = make_dense(rng, np.float64, (4,))
    path.chmod(0o640)
    netcdf.write_netcdf(path, second, overwrite=True)
    (loaded,) = netcdf.read_netcdf(path)
    assert_same(second, loaded)
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.nc"]


@pytest.mark.parametrize("stage", ["mid_write", "replace"])
def test_interrupted_write_keeps_the_old_file(tmp_path, rng, monkeypatch, stage):
    path = tmp_path / "data.nc"
    old = make_sparse(rng, np.float32, (8,))
    netcdf.write_netcdf(path, old)
    before = path.read_bytes()

    if stage == "mid_write":
        real = netcdf._write_one

        def failing(nc, n, ds):
            if n == 1:
                raise KeyboardInterrupt("interrupted while writing data set 1")
            real(nc, n, ds)

        monkeypatch.setattr(netcdf, "_write_one", failing)
        exc = KeyboardInterrupt
    else:
        def failing_replace(src, dst):
            raise OSError("disk full")

        monkeypatch.setattr(netcdf.os, "replace", failing_replace)
        exc = OSError
    new = [make_dense(rng, np.float32, (3,)), make_dense(rng, np.float32, (5,))]
    with pytest.raises(exc):
        netcdf.write_netcdf(path, new, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.nc"], "temporary file left"
    monkeypatch.undo()
    (loaded,) = netcdf.read_netcdf(path)
    assert_same(old, loaded)
    # a failed first write leaves nothing behind
    monkeypatch.setattr(netcdf, "_write_one", lambda nc, n, ds: (_ for _ in ()).throw(
        RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        netcdf.write_netcdf(tmp_path / "fresh.nc", new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.nc"]


# ---------------------------------------------------------------------------------------------
# a data set read from a file trains a network


def autoencoder(name):
    return {
        "Version": 0.8, "Name": "ae", "ShuffleIndices": False,
        "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0,
                                       "zeroScale": 1.0},
        "Layers": [
            {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": name, "Sparse": True},
            {"Name": "Hidden", "Kind": "Hidden", "N": 16, "Activation": "Sigmoid"},
            {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": name,
             "Activation": "Sigmoid"},
        ],
        "ErrorFunction": "ScaledMarginalCrossEntropy",
    }


def test_data_set_from_a_file_trains(tmp_path, device):
    items = synthetic.interactions(200, 64, per_user=8, groups=4, taste=0.9, seed=5)
    path = tmp_path / "items.nc"
    netcdf.write_netcdf(path, dsstne.DataSet("items", items))
    ctx = dsstne.Context(device)
    (from_file,) = netcdf.read_netcdf(path, context=ctx)
    net = dsstne.Network(autoencoder("items"), from_file, batch=50, device=device)
    errors = [h["error"] for h in net.train(8, alpha=0.02, optimizer="adam", mu=0.9,
                                            lambda_=0.0)]
    assert np.all(np.isfinite(errors)) and errors[-1] < 0.7 * errors[0], errors
    # the same training from the in-memory data set gives the same errors
    in_memory = dsstne.DataSet("items", items, context=dsstne.Context(device))
    twin = dsstne.Network(autoencoder("items"), in_memory, batch=50, device=device)
    twin_errors = [h["error"] for h in twin.train(8, alpha=0.02, optimizer="adam", mu=0.9,
                                                  lambda_=0.0)]
    np.testing.assert_allclose(errors, twin_errors, rtol=1e-6)

