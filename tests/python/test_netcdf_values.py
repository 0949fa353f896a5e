# SPDX-License-Identifier: Apache-2.0
"""Values a NetCDF file must not smuggle in: NaN and infinity in a model's weights, biases,
optimizer state and attributes or in a data set's attributes and fields, text attributes with
NUL bytes or invalid UTF-8, and errors of the netCDF4 library that would not name the file."""

import numpy as np
import pytest

netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402

from damage_helpers import model_file  # noqa: E402
from netcdf_helpers import analog_file, write_raw  # noqa: E402


def refused(fn, path, *fragments):
    with pytest.raises(ValueError) as info:
        fn(path)
    for fragment in (str(path),) + fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


@pytest.fixture
def model(tmp_path):
    return model_file(tmp_path / "model.nc", train=True)


def edit(path, fn):
    with netCDF4.Dataset(path, "a") as nc:
        nc.set_auto_maskandscale(False)
        fn(nc)
    return path


@pytest.mark.parametrize("variable", ["weight0_weights", "weight1_bias",
                                      "weight0_dsstne_velocity2"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_model_variables(model, variable, value):
    def put(nc):
        nc.variables[variable][3] = value
    refused(dsstne.load_network, edit(model, put), f"'{variable}'", "element 3")


@pytest.mark.parametrize("attribute", ["layer1_pDropout", "decay", "weight0_norm"])
def test_non_finite_model_attributes(model, attribute):
    refused(dsstne.load_network,
            edit(model, lambda nc: nc.setncattr(attribute, np.float32(np.nan))),
            f"'{attribute}'", "NaN")


def test_non_finite_attributes_of_a_dsstne_model(model):
    def strip(nc):  # DSSTNE's layout: the description is rebuilt from the attributes
        nc.delncattr("dsstne_config")
        nc.setncattr("SMCE_oneTarget", np.float32(np.inf))
    refused(dsstne.load_network, edit(model, strip), "'SMCE_oneTarget'", "inf")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_the_saved_description(model, literal):
    def put(nc):
        nc.setncattr("dsstne_config", nc.getncattr("dsstne_config").replace(
            '"pDropout": 0.0', f'"pDropout": {literal}', 1).encode())
    path = edit(model, put)
    refused(dsstne.load_network, path, "'dsstne_config'")


@pytest.mark.parametrize("attribute", ["width0", "attributes0", "datasets"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_data_set_attributes(tmp_path, attribute, value):
    attrs, dims, variables = analog_file()
    attrs[attribute] = np.float64(value)
    refused(dsstne.read_netcdf, write_raw(tmp_path / "f.nc", attrs, dims, variables),
            f"'{attribute}'")


def test_non_finite_example_weights(tmp_path):
    attrs, dims, variables = analog_file()
    attrs["attributes0"] = np.uint32(1 | 128)
    variables["dataWeight0"] = ("f4", "examplesDim0", [1.0, np.inf, 2.0])
    refused(dsstne.read_netcdf, write_raw(tmp_path / "f.nc", attrs, dims, variables),
            "'dataWeight0'", "element 1")


@pytest.mark.parametrize("text, fragment", [(b"rat\0ings", "NUL byte"),
                                            (b"rat\xffings", "not UTF-8")])
@pytest.mark.parametrize("format", ["NETCDF4", "NETCDF3_64BIT_DATA"])
def test_text_attribute_with_nul_or_invalid_utf8(tmp_path, text, fragment, format):
    attrs, dims, variables = analog_file()
    attrs["name0"] = text
    path = write_raw(tmp_path / "f.nc", attrs, dims, variables, format=format)
    refused(dsstne.read_netcdf, path, "'name0'", fragment)


def test_trailing_nuls_of_a_text_attribute_are_dropped(tmp_path):
    attrs, dims, variables = analog_file()
    attrs["name0"] = b"ratings\0\0"
    [ds] = dsstne.read_netcdf(write_raw(tmp_path / "f.nc", attrs, dims, variables))
    assert ds.name == "ratings"


def test_model_text_attribute_with_a_nul(model):
    refused(dsstne.load_network,
            edit(model, lambda nc: nc.setncattr("dsstne_training_mode", b"Ad\0am")),
            "'dsstne_training_mode'", "NUL byte")
