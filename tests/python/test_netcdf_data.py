# SPDX-License-Identifier: Apache-2.0
"""NetCDF data sets: round trips, files in DSSTNE's layout, and the types written."""

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
# round trips


@pytest.mark.parametrize("dims", [(6,), (2, 3), (2, 2, 3)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("layout", ["sparse", "dense"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: TYPE_NAME[d])
def test_round_trip_every_data_type(tmp_path, rng, dtype, layout, dims):
    if layout == "sparse":
        ds = make_sparse(rng, dtype, dims, **options(True, False, 7, rng))
    else:
        ds = make_dense(rng, dtype, dims, **options(False, True, 5, rng))
    assert ds.data_type == TYPE_NAME[dtype]
    (loaded,) = round_trip(tmp_path, [ds])
    if layout == "dense":
        np.testing.assert_array_equal(loaded.to_numpy(), ds.to_numpy())
        assert loaded.to_numpy().dtype == np.dtype(dtype)
    else:
        assert loaded.sparse_arrays()["values"].dtype == np.dtype(dtype)


def _layout_cases():
    cases = []
    for layout in ("analog", "boolean", "dense", "one_hot"):
        for dims in ((10,), (2, 5), (2, 1, 5)):
            if layout == "one_hot" and len(dims) > 1:
                continue  # DataSet.one_hot takes a width only
            for weighted in (False, True):
                for indexed in (False, True):
                    for ignore_zero in ((False, True) if layout in ("analog", "boolean")
                                        else (False,)):  # SparseIgnoreZero: sparse data only
                        flags = ("W" * weighted + "I" * indexed + "Z" * ignore_zero) or "-"
                        cases.append(pytest.param(layout, dims, weighted, indexed, ignore_zero,
                                                  id=f"{layout}-{len(dims)}d-{flags}"))
    return cases


@pytest.mark.parametrize("layout,dims,weighted,indexed,ignore_zero", _layout_cases())
def test_round_trip_every_layout_and_option(tmp_path, rng, layout, dims, weighted, indexed,
                                            ignore_zero):
    records = 6
    kw = options(weighted, indexed, records, rng)
    if layout == "analog":
        ds = make_sparse(rng, np.float32, dims, records, sparse_ignore_zero=ignore_zero, **kw)
    elif layout == "boolean":
        ds = make_sparse(rng, np.float32, dims, records, boolean=True,
                         sparse_ignore_zero=ignore_zero, **kw)
    elif layout == "dense":
        ds = make_dense(rng, np.float32, dims, records, **kw)
    else:
        ds = dsstne.DataSet.one_hot("hot", rng.integers(0, dims[0], size=records), dims[0], **kw)
    expected_bits = ({"analog": 1, "boolean": 3, "dense": 0, "one_hot": 2}[layout]
                     | 32 * ignore_zero | 64 * indexed | 128 * weighted)
    assert ds.attributes == expected_bits
    (loaded,) = round_trip(tmp_path, [ds])
    assert loaded.attributes == expected_bits and loaded.dims == dims
    assert loaded.examples == records + 4 * indexed and loaded.records == records


def test_round_trip_several_data_sets_in_one_file(tmp_path, rng):
    sets = [make_sparse(rng, np.float32, (12,), boolean=True),
            make_dense(rng, np.uint8, (2, 2, 3), **options(True, True, 5, rng)),
            dsstne.DataSet.one_hot("labels", [3, 0, 1], 4, weights=[1, 2, 3]),
            make_sparse(rng, np.int8, (3, 4), sparse_ignore_zero=True),
            make_dense(rng, np.float64, (4,))]
    for i, ds in enumerate(sets):
        ds.name = f"set_{i}"
    loaded = round_trip(tmp_path, sets)
    assert [d.name for d in loaded] == [f"set_{i}" for i in range(5)]
    with netCDF4.Dataset(tmp_path / "round_trip.nc") as nc:
        assert nc.getncattr("datasets") == 5
        assert {nc.getncattr(f"name{i}") for i in range(5)} == {d.name for d in sets}


def test_round_trip_cdf5_format(tmp_path, rng):
    sets = [make_sparse(rng, np.uint64, (9,), **options(True, True, 7, rng)),
            make_dense(rng, np.int8, (2, 3))]
    round_trip(tmp_path, sets, format="NETCDF3_64BIT_DATA")
    with netCDF4.Dataset(tmp_path / "round_trip.nc") as nc:
        assert nc.data_model == "NETCDF3_64BIT_DATA"


def test_round_trip_non_ascii_name_and_single_data_set_argument(tmp_path, rng):
    ds = make_dense(rng, np.float32, (3,))
    ds.name = "données_ünïcode"
    (loaded,) = round_trip(tmp_path, ds)  # a single DataSet, not a list
    assert loaded.name == "données_ünïcode"
    types = NcTypes(tmp_path / "round_trip.nc")
    try:
        assert types.attr("name0") == NC_CHAR  # netCDF4 would pick NC_STRING for such a str
    finally:
        types.close()


def test_wide_offsets_written_as_uint64(tmp_path, rng, monkeypatch):
    """Offsets beyond 32 bits (here: beyond a lowered limit) are written as NC_UINT64."""
    monkeypatch.setattr(netcdf, "_OFFSET32_MAX", 5)
    ds = make_sparse(rng, np.float32, (10,))
    assert ds.nnz > 5
    round_trip(tmp_path, [ds])
    types = NcTypes(tmp_path / "round_trip.nc")
    try:
        assert types.var("sparseStart0") == types.var("sparseEnd0") == NC_UINT64
        assert types.var("sparseIndex0") == NC_UINT
    finally:
        types.close()


def test_loading_keeps_one_copy_of_the_arrays(tmp_path):
    """A contiguous sparse file is handed to DataSet without further copies on the Python side.
    Peak of numpy allocations: the arrays read (1.0×) plus netCDF4's transient, never-touched
    np.empty for the variable being read (up to 0.5× here); any extra copy of the indices or
    values (as scipy.sparse would make) would push it to 2× or more."""
    nnz = 1_000_000
    rows = 1000
    m = sp.csr_matrix((np.linspace(0.1, 1.0, nnz, dtype=np.float32),
                       np.arange(nnz, dtype=np.int64) % 4096,
                       np.arange(rows + 1, dtype=np.int64) * (nnz // rows)), shape=(rows, 4096))
    path = tmp_path / "big.nc"
    netcdf.write_netcdf(path, dsstne.DataSet("big", m))
    payload = nnz * 8  # uint32 indices + float32 values
    tracemalloc.start()
    try:
        (ds,) = netcdf.read_netcdf(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.nnz == nnz
    assert peak < 1.75 * payload, f"peak {peak} bytes for {payload} bytes of arrays"


# ---------------------------------------------------------------------------------------------
# files written with plain netCDF4 calls in DSSTNE's layout


def test_worked_example_of_the_spec(tmp_path):
    path = write_raw(tmp_path / "example.nc", *worked_example())
    (ds,) = netcdf.read_netcdf(path)
    assert ds.name == "example"
    assert ds.attributes == 3 and ds.sparse and ds.boolean
    assert ds.data_type == "UInt" and ds.dims == (128,)
    assert ds.examples == ds.records == 2 and ds.nnz == 5
    s = ds.sparse_arrays()
    np.testing.assert_array_equal(s["start"], [0, 2])
    np.testing.assert_array_equal(s["end"], [2, 5])
    np.testing.assert_array_equal(s["indices"], [0, 1, 1, 2, 3])
    dense = ds.to_scipy().toarray()
    assert dense.shape == (2, 128)
    assert set(np.flatnonzero(dense[0])) == {0, 1} and set(np.flatnonzero(dense[1])) == {1, 2, 3}
    assert ds.weights is None and ds.index is None


def test_generate_netcdf_style_analog_file(tmp_path):
    path = write_raw(tmp_path / "analog.nc", *analog_file())
    (ds,) = netcdf.read_netcdf(path)
    assert (ds.name, ds.attributes, ds.data_type, ds.dims) == ("ratings", 1, "Float", (128,))
    expected = np.zeros((3, 128), np.float32)
    expected[0, [5, 100]] = [0.5, 4.0]
    expected[2, [0, 127]] = [-1.25, 3.0]
    np.testing.assert_array_equal(ds.to_scipy().toarray(), expected)


def test_dense_uchar_file(tmp_path):
    path = write_raw(tmp_path / "pixels.nc", *dense_file())
    (ds,) = netcdf.read_netcdf(path)
    assert (ds.name, ds.attributes, ds.data_type, ds.dims) == ("pixels", 128, "UChar", (2, 3))
    np.testing.assert_array_equal(ds.to_numpy(), (np.arange(12, dtype=np.uint8) * 20)
                                  .reshape(2, 2, 3))
    np.testing.assert_array_equal(ds.weights, [1.0, 0.5])


def test_non_contiguous_offsets_are_gathered_in_record_order(tmp_path):
    """Rows out of order, with gaps, a shared range and an empty row."""
    attrs = {"datasets": np.uint32(1), "name0": "scattered", "attributes0": np.uint32(1),
             "dataType0": np.uint32(5), "dimensions0": np.uint32(1), "width0": np.uint32(10)}
    dims = {"examplesDim0": 5, "sparseDataDim0": 8}
    variables = {
        "sparseStart0": ("u8", "examplesDim0", [6, 0, 3, 3, 5]),
        "sparseEnd0": ("u8", "examplesDim0", [8, 2, 5, 5, 5]),
        "sparseIndex0": ("u4", "sparseDataDim0", [1, 2, 9, 3, 4, 7, 8, 9]),
        "sparseData0": ("f8", "sparseDataDim0", [10., 20., 99., 30., 40., 99., 50., 60.])}
    path = write_raw(tmp_path / "scattered.nc", attrs, dims, variables)
    (ds,) = netcdf.read_netcdf(path)
    expected = np.zeros((5, 10))
    expected[0, [8, 9]] = [50, 60]
    expected[1, [1, 2]] = [10, 20]
    expected[2, [3, 4]] = [30, 40]
    expected[3, [3, 4]] = [30, 40]
    np.testing.assert_array_equal(ds.to_scipy().toarray(), expected)
    s = ds.sparse_arrays()
    np.testing.assert_array_equal(s["start"], [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(s["end"], [2, 4, 6, 8, 8])
    assert s["values"].dtype == np.float64 and ds.data_type == "Double"


def test_indexed_boolean_file(tmp_path):
    attrs = {"datasets": np.uint32(1), "name0": "idx", "attributes0": np.uint32(3 | 64),
             "dataType0": np.uint32(0), "dimensions0": np.uint32(1), "width0": np.uint32(4)}
    dims = {"examplesDim0": 4, "uniqueExamplesDim0": 2, "sparseDataDim0": 3}
    variables = {"sparseStart0": ("u4", "uniqueExamplesDim0", [0, 1]),
                 "sparseEnd0": ("u4", "uniqueExamplesDim0", [1, 3]),
                 "sparseIndex0": ("u4", "sparseDataDim0", [0, 2, 3]),
                 "index0": ("u4", "examplesDim0", [1, 1, 0, 1])}
    (ds,) = netcdf.read_netcdf(write_raw(tmp_path / "idx.nc", attrs, dims, variables))
    assert ds.examples == 4 and ds.records == 2 and ds.indexed
    np.testing.assert_array_equal(ds.index, [1, 1, 0, 1])
    np.testing.assert_array_equal(ds.to_scipy().toarray(), [[1, 0, 0, 0], [0, 0, 1, 1]])


def test_dense_one_hot_file(tmp_path):
    attrs = {"datasets": np.uint32(1), "name0": "labels", "attributes0": np.uint32(2),
             "dataType0": np.uint32(0), "dimensions0": np.uint32(1), "width0": np.uint32(5)}
    dims = {"examplesDim0": 3, "dataDim0": 3}
    variables = {"data0": ("u4", "dataDim0", [4, 0, 2])}
    (ds,) = netcdf.read_netcdf(write_raw(tmp_path / "hot.nc", attrs, dims, variables))
    assert not ds.sparse and ds.boolean and ds.dims == (5,)
    np.testing.assert_array_equal(ds.to_numpy(), np.eye(5, dtype=np.float32)[[4, 0, 2]])


def test_multi_dimensional_one_hot_file_loads_flattened_with_a_warning(tmp_path):
    attrs = {"datasets": np.uint32(1), "name0": "hot2d", "attributes0": np.uint32(2),
             "dataType0": np.uint32(0), "dimensions0": np.uint32(2), "width0": np.uint32(3),
             "height0": np.uint32(2)}
    dims = {"examplesDim0": 2, "dataDim0": 2}
    variables = {"data0": ("u4", "dataDim0", [5, 1])}
    path = write_raw(tmp_path / "hot2d.nc", attrs, dims, variables)
    with pytest.warns(UserWarning, match="one-hot"):
        (ds,) = netcdf.read_netcdf(path)
    np.testing.assert_array_equal(ds.to_numpy(), np.eye(6, dtype=np.float32)[[5, 1]])


def test_classic_file_with_signed_types(tmp_path):
    """NETCDF3_64BIT_OFFSET has no unsigned or 64-bit types: int attributes, int offsets and
    indices, NC_BYTE Char data and NC_CHAR names must load."""
    attrs = {"datasets": np.int32(2),
             "name0": "classic", "attributes0": np.int32(1 | 128), "kind0": np.int32(0),
             "dataType0": np.int32(9), "dimensions0": np.int32(2), "width0": np.int32(3),
             "height0": np.int16(2),
             "name1": "bytes", "attributes1": np.int32(0), "dataType1": np.int8(9),
             "dimensions1": np.int32(1), "width1": np.int32(2)}
    dims = {"examplesDim0": 2, "sparseDataDim0": 3, "examplesDim1": 2, "dataDim1": 4}
    variables = {"sparseStart0": ("i4", "examplesDim0", [0, 1]),
                 "sparseEnd0": ("i4", "examplesDim0", [1, 3]),
                 "sparseIndex0": ("i4", "sparseDataDim0", [5, 0, 2]),
                 "sparseData0": ("i1", "sparseDataDim0", [-128, 127, 0]),
                 "dataWeight0": ("f8", "examplesDim0", [0.25, 2.0]),
                 "data1": ("i1", "dataDim1", [-1, 2, -3, 4])}
    path = write_raw(tmp_path / "classic.nc", attrs, dims, variables,
                     format="NETCDF3_64BIT_OFFSET")
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF3_64BIT_OFFSET"
    a, b = netcdf.read_netcdf(path)
    assert (a.name, a.attributes, a.data_type, a.dims) == ("classic", 129, "Char", (2, 3))
    s = a.sparse_arrays()
    np.testing.assert_array_equal(s["start"], [0, 1])
    np.testing.assert_array_equal(s["end"], [1, 3])
    np.testing.assert_array_equal(s["indices"], [5, 0, 2])
    assert s["values"].dtype == np.int8
    np.testing.assert_array_equal(s["values"], [-128, 127, 0])
    np.testing.assert_array_equal(a.weights, [0.25, 2.0])
    assert (b.name, b.data_type, b.dims) == ("bytes", "Char", (2,))
    np.testing.assert_array_equal(b.to_numpy(), [[-1, 2], [-3, 4]])


def test_cdf5_file_with_int64_offsets_and_attributes(tmp_path):
    attrs = {"datasets": np.int64(1), "name0": "cdf5", "attributes0": np.int64(1),
             "dataType0": np.uint64(4), "dimensions0": np.int64(1), "width0": np.int64(8)}
    dims = {"examplesDim0": 2, "sparseDataDim0": 3}
    variables = {"sparseStart0": ("i8", "examplesDim0", [0, 2]),
                 "sparseEnd0": ("i8", "examplesDim0", [2, 3]),
                 "sparseIndex0": ("u4", "sparseDataDim0", [7, 1, 4]),
                 "sparseData0": ("f4", "sparseDataDim0", [1.5, 2.5, 3.5])}
    path = write_raw(tmp_path / "cdf5.nc", attrs, dims, variables, format="NETCDF3_64BIT_DATA")
    (ds,) = netcdf.read_netcdf(path)
    expected = np.zeros((2, 8), np.float32)
    expected[0, [7, 1]] = [1.5, 2.5]
    expected[1, 4] = 3.5
    np.testing.assert_array_equal(ds.to_scipy().toarray(), expected)


@pytest.mark.parametrize("offset_type", ["u4", "u8", "i8", "i4", "u2"])
@pytest.mark.parametrize("attr_type", [np.uint32, np.uint64, np.int64, np.int32, np.int16,
                                       np.uint8])
def test_lenient_integer_widths(tmp_path, attr_type, offset_type):
    attrs, dims, variables = worked_example()
    attrs = {k: (attr_type(v) if not isinstance(v, str) else v) for k, v in attrs.items()}
    for k in ("sparseStart0", "sparseEnd0"):
        variables[k] = (offset_type,) + variables[k][1:]
    variables["sparseIndex0"] = ("i8", "sparseDataDim0", [0, 1, 1, 2, 3])
    (ds,) = netcdf.read_netcdf(write_raw(tmp_path / "lenient.nc", attrs, dims, variables))
    np.testing.assert_array_equal(ds.sparse_arrays()["indices"], [0, 1, 1, 2, 3])
    assert ds.dims == (128,) and ds.examples == 2


@pytest.mark.parametrize("code,file_type,values,expected_type", [
    (0, "u4", [0, 4294967295], np.uint32),
    (1, "i4", [-2147483648, 2147483647], np.int32),
    (1, "i8", [-5, 2147483647], np.int32),   # DSSTNE widened Int; values that fit are kept
    (2, "i8", [-2**63, 2**63 - 1], np.int64),
    (3, "u8", [0, 2**64 - 1], np.uint64),
    (4, "f4", [-0.0, 3.5], np.float32),
    (4, "f8", [0.25, -1e30], np.float32),    # netCDF-style conversion
    (5, "f8", [1e300, -2.5], np.float64),
    (6, "u1", [0, 255], np.uint8),           # RGB8: same storage as UChar
    (7, "u2", [0, 65535], np.uint16),
    (8, "u1", [7, 255], np.uint8),
    (8, "S1", [7, 255], np.uint8),           # UChar stored as text
    (9, "S1", [-128, 127], np.int8),         # Char as NC_CHAR, as DSSTNE reads it
    (9, "i1", [0, -1], np.int8),
])
def test_every_data_type_code_from_a_plain_file(tmp_path, code, file_type, values,
                                                expected_type):
    attrs = {"datasets": np.uint32(1), "name0": "t", "attributes0": np.uint32(1),
             "dataType0": np.uint32(code), "dimensions0": np.uint32(1), "width0": np.uint32(4)}
    dims = {"examplesDim0": 2, "sparseDataDim0": 2, "examplesDim1": 1}
    raw = np.array(values, dtype=np.dtype(expected_type) if file_type == "S1" else file_type)
    variables = {"sparseStart0": ("u4", "examplesDim0", [0, 1]),
                 "sparseEnd0": ("u4", "examplesDim0", [1, 2]),
                 "sparseIndex0": ("u4", "sparseDataDim0", [3, 0]),
                 "sparseData0": (file_type, "sparseDataDim0", raw)}
    # the same values as a dense data set
    attrs.update({"datasets": np.uint32(2), "name1": "d", "attributes1": np.uint32(0),
                  "dataType1": np.uint32(code), "dimensions1": np.uint32(1),
                  "width1": np.uint32(2)})
    dims["dataDim1"] = 2
    variables["data1"] = (file_type, "dataDim1", raw)
    s, d = netcdf.read_netcdf(write_raw(tmp_path / "types.nc", attrs, dims, variables))
    got = s.sparse_arrays()["values"]
    assert got.dtype == np.dtype(expected_type)
    np.testing.assert_array_equal(got, np.array(values, dtype=expected_type))
    assert d.to_numpy().dtype == np.dtype(expected_type)
    np.testing.assert_array_equal(d.to_numpy()[0], np.array(values, dtype=expected_type))
    expected_name = {6: "UChar"}.get(code, netcdf._TYPE_NAMES[code])
    assert s.data_type == d.data_type == expected_name


def test_boolean_file_ignores_type_and_sparse_data(tmp_path):
    """A Boolean data set stores no values: dataType Float and a stray sparseData are fine."""
    attrs, dims, variables = worked_example()
    attrs["dataType0"] = np.uint32(4)
    variables["sparseData0"] = ("f4", "sparseDataDim0", [9, 9, 9, 9, 9])
    (ds,) = netcdf.read_netcdf(write_raw(tmp_path / "b.nc", attrs, dims, variables))
    assert ds.boolean and ds.sparse_arrays()["values"] is None


def test_lower_case_datatype_from_dsstne_save_netcdf(tmp_path):
    attrs, dims, variables = worked_example()
    attrs["datatype0"] = attrs.pop("dataType0")
    (ds,) = netcdf.read_netcdf(write_raw(tmp_path / "lower.nc", attrs, dims, variables))
    assert ds.nnz == 5


def test_zero_data_sets(tmp_path):
    path = write_raw(tmp_path / "empty.nc", {"datasets": np.uint32(0)}, {}, {})
    assert netcdf.read_netcdf(path) == []


def test_context_is_used(tmp_path):
    ctx = dsstne.Context("cpu")
    path = write_raw(tmp_path / "example.nc", *worked_example())
    (ds,) = netcdf.read_netcdf(path, context=ctx)
    assert ds.context is ctx


# ---------------------------------------------------------------------------------------------
# exact types written


def test_written_attribute_and_variable_types(tmp_path, rng):
    sets = [
        make_sparse(rng, np.float32, (4, 5), **options(True, True, 7, rng)),   # 0: 2-D analog
        make_sparse(rng, np.float32, (6,), boolean=True),                      # 1: Boolean
        make_dense(rng, np.int8, (2, 2, 3), **options(True, False, 5, rng)),   # 2: Char, 3-D
        dsstne.DataSet.one_hot("hot", [2, 0, 1], 3, index=[0, 0, 2, 1]),       # 3: one-hot
        make_dense(rng, np.uint8, (3,)),                                       # 4: UChar
        make_sparse(rng, np.float64, (6,)),                                    # 5: Double
    ]
    path = tmp_path / "types.nc"
    netcdf.write_netcdf(path, sets)
    t = NcTypes(path)
    try:
        assert t.attr("datasets") == NC_UINT
        for n, ds in enumerate(sets):
            assert t.attr(f"name{n}") == NC_CHAR, n
            for a in ("attributes", "kind", "dataType", "dimensions", "width"):
                assert t.attr(f"{a}{n}") == NC_UINT, (a, n)
            assert t.attr(f"height{n}") == (NC_UINT if len(ds.dims) >= 2 else None), n
            assert t.attr(f"length{n}") == (NC_UINT if len(ds.dims) == 3 else None), n
            assert t.attr(f"datatype{n}") is None  # not DSSTNE's broken lower-case spelling
            assert t.var(f"dataWeight{n}") == (NC_FLOAT if ds.weighted else None), n
            assert t.var(f"index{n}") == (NC_UINT if ds.indexed else None), n
            if ds.sparse:
                assert t.var(f"sparseStart{n}") == t.var(f"sparseEnd{n}") == NC_UINT, n
                assert t.var(f"sparseIndex{n}") == NC_UINT, n
                assert t.var(f"data{n}") is None
            else:
                assert t.var(f"sparseStart{n}") is None
        assert t.var("sparseData0") == NC_FLOAT
        assert t.var("sparseData1") is None        # Boolean: no values
        assert t.var("data2") == NC_CHAR           # Char as NC_CHAR (DSSTNE reads it as text)
        assert t.var("data3") == NC_UINT           # one-hot: hot indices
        assert t.var("data4") == NC_UBYTE
        assert t.var("sparseData5") == NC_DOUBLE
    finally:
        t.close()

    with netCDF4.Dataset(path) as nc:
        g = nc.__dict__
        assert type(g["datasets"]) is np.uint32 and g["datasets"] == 6
        assert g["name0"] == "sparse" and type(g["name0"]) is str
        assert [int(g[f"kind{n}"]) for n in range(6)] == [0] * 6
        assert [int(g[f"dataType{n}"]) for n in range(6)] == [4, 0, 9, 0, 8, 5]
        assert [int(g[f"attributes{n}"]) for n in range(6)] == [1 | 64 | 128, 3, 128, 2 | 64,
                                                                 0, 1]
        assert [int(g[f"dimensions{n}"]) for n in range(6)] == [2, 1, 3, 1, 1, 1]
        assert (g["width0"], g["height0"]) == (5, 4)
        assert (g["width2"], g["height2"], g["length2"]) == (3, 2, 2)
        v = nc.variables
        assert v["sparseStart0"].dimensions == ("uniqueExamplesDim0",)
        assert v["sparseIndex0"].dimensions == v["sparseData0"].dimensions == ("sparseDataDim0",)
        assert v["dataWeight0"].dimensions == v["index0"].dimensions == ("examplesDim0",)
        assert len(nc.dimensions["examplesDim0"]) == 11
        assert len(nc.dimensions["uniqueExamplesDim0"]) == 7
        assert v["sparseStart1"].dimensions == ("examplesDim1",)
        assert "uniqueExamplesDim1" not in nc.dimensions
        assert len(nc.dimensions["dataDim2"]) == 5 * 12
        assert len(nc.dimensions["dataDim3"]) == 3       # one hot index per stored row
        assert len(nc.dimensions["examplesDim3"]) == 4
        assert v["data2"].dtype == np.dtype("S1")
        assert v["sparseStart0"].dtype == np.uint32 and v["sparseData0"].dtype == np.float32
        assert len(nc.dimensions["sparseDataDim1"]) == sets[1].nnz
        assert not any(d.isunlimited() for d in nc.dimensions.values())
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"


