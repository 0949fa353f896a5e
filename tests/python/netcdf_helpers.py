# SPDX-License-Identifier: Apache-2.0
"""Helpers of the NetCDF data set tests (test_netcdf_data.py, test_netcdf_errors.py): data makers,
a raw writer in DSSTNE's layout, comparisons, and the netCDF C library's type codes."""

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

DTYPES = [np.uint32, np.int32, np.int64, np.uint64, np.float32, np.float64, np.uint8, np.int8,
          np.uint16]
TYPE_NAME = {np.uint32: "UInt", np.int32: "Int", np.int64: "LLInt", np.uint64: "ULLInt",
             np.float32: "Float", np.float64: "Double", np.uint8: "UChar", np.int8: "Char",
             np.uint16: "RGB16"}

# netCDF external type codes (netcdf.h)
NC_BYTE, NC_CHAR, NC_SHORT, NC_INT, NC_FLOAT, NC_DOUBLE = 1, 2, 3, 4, 5, 6
NC_UBYTE, NC_USHORT, NC_UINT, NC_INT64, NC_UINT64, NC_STRING = 7, 8, 9, 10, 11, 12
NC_GLOBAL = -1


# ---------------------------------------------------------------------------------------------
# helpers


def _libnetcdf():
    """The C library netCDF4 itself uses, to ask for the exact external types."""
    candidates = []
    try:
        with open("/proc/self/maps") as maps:
            candidates += sorted({line.split()[-1] for line in maps if "libnetcdf" in line})
    except OSError:
        pass
    base = os.path.dirname(netCDF4.__file__)
    candidates += glob.glob(os.path.join(base, "..", "netcdf4.libs", "libnetcdf*"))
    candidates += glob.glob(os.path.join(base, ".dylibs", "libnetcdf*"))
    found = ctypes.util.find_library("netcdf")
    if found:
        candidates.append(found)
    for c in candidates:
        try:
            return ctypes.CDLL(c)
        except OSError:
            continue
    pytest.skip("cannot locate libnetcdf to inspect external types")


class NcTypes:
    """External types of a file's global attributes and variables, through the C API."""

    def __init__(self, path):
        self.lib = _libnetcdf()
        self.ncid = ctypes.c_int()
        assert self.lib.nc_open(str(path).encode(), 0, ctypes.byref(self.ncid)) == 0

    def attr(self, name, varid=NC_GLOBAL):
        t = ctypes.c_int()
        rc = self.lib.nc_inq_atttype(self.ncid, varid, name.encode(), ctypes.byref(t))
        return t.value if rc == 0 else None

    def var(self, name):
        vid, t = ctypes.c_int(), ctypes.c_int()
        if self.lib.nc_inq_varid(self.ncid, name.encode(), ctypes.byref(vid)) != 0:
            return None
        assert self.lib.nc_inq_vartype(self.ncid, vid, ctypes.byref(t)) == 0
        return t.value

    def close(self):
        self.lib.nc_close(self.ncid)


def bits(a):
    """Bytes of an array, for bitwise comparison."""
    return None if a is None else np.ascontiguousarray(a).tobytes()


def assert_same(a, b):
    """Two data sets hold the same thing, bitwise."""
    assert (b.name, b.attributes, b.data_type, b.dims) == (a.name, a.attributes, a.data_type,
                                                          a.dims)
    assert (b.examples, b.records, b.sparse, b.boolean) == (a.examples, a.records, a.sparse,
                                                            a.boolean)
    assert bits(b.weights) == bits(a.weights)
    assert bits(b.index) == bits(a.index)
    if a.sparse:
        sa, sb = a.sparse_arrays(), b.sparse_arrays()
        for key in ("start", "end", "indices"):
            assert sb[key].dtype == sa[key].dtype and bits(sb[key]) == bits(sa[key]), key
        if a.boolean:
            assert sb["values"] is None
        else:
            assert sb["values"].dtype == sa["values"].dtype
            assert bits(sb["values"]) == bits(sa["values"])
    else:
        na, nb = a.to_numpy(), b.to_numpy()
        assert nb.dtype == na.dtype and nb.shape == na.shape and bits(nb) == bits(na)


def round_trip(tmp_path, data_sets, **kw):
    path = tmp_path / "round_trip.nc"
    netcdf.write_netcdf(path, data_sets, **kw)
    loaded = netcdf.read_netcdf(path)
    if isinstance(data_sets, dsstne.DataSet):
        data_sets = [data_sets]
    assert len(loaded) == len(data_sets)
    for a, b in zip(data_sets, loaded):
        assert_same(a, b)
    return loaded


def values_of(dtype, rng, n):
    """n values of `dtype` including its extremes (and -0.0, tiny and huge floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        special = np.array([-0.0, info.tiny, info.max, -info.max, 1.5, -2.25], dtype=dtype)
        v = rng.normal(size=n).astype(dtype)
    else:
        info = np.iinfo(dtype)
        special = np.array([info.min, info.max, 0, 1, info.max - 1], dtype=dtype)
        v = rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)
    v[: min(n, special.size)] = special[: min(n, special.size)]
    return v


def make_sparse(rng, dtype, dims, examples=7, boolean=False, **kw):
    units = int(np.prod(dims))
    m = sp.random(examples, units, density=0.35, format="csr", random_state=rng,
                  dtype=np.float64)
    m.data = np.ones(m.nnz) if boolean else np.zeros(m.nnz)
    m = m.astype(np.float32 if boolean else dtype)
    if not boolean:
        m.data = values_of(dtype, rng, m.nnz)
    return dsstne.DataSet("sparse", m, boolean=boolean, dims=dims, **kw)


def make_dense(rng, dtype, dims, examples=5, **kw):
    data = values_of(dtype, rng, examples * int(np.prod(dims))).reshape((examples,) + dims)
    return dsstne.DataSet("dense", data, **kw)


def options(weighted, indexed, examples, rng):
    kw = {}
    n = examples
    if indexed:
        kw["index"] = rng.integers(0, examples, size=examples + 4)
        kw["index"][:2] = [examples - 1, 0]
        n = examples + 4
    if weighted:
        kw["weights"] = rng.uniform(0.1, 3.0, size=n).astype(np.float32)
    return kw


def write_raw(path, attrs, dims, variables, format="NETCDF4"):
    """A file made with plain netCDF4 calls: attrs name -> value (numpy scalars keep their type,
    str is written as NC_CHAR), dims name -> size, variables name -> (type, dim, values)."""
    with netCDF4.Dataset(path, "w", format=format) as nc:
        nc.set_auto_maskandscale(False)
        for k, v in attrs.items():
            nc.setncattr(k, v)
        for k, v in dims.items():
            nc.createDimension(k, v)
        for k, (t, d, v) in variables.items():
            var = nc.createVariable(k, t, (d,))
            var[:] = np.asarray(v).view("S1") if t == "S1" else v
    return path


def worked_example():
    """spec/formats.md §2.10: u1 -> a:b, u2 -> b:c:d, indicator mode."""
    attrs = {"datasets": np.uint32(1), "name0": "example", "attributes0": np.uint32(3),
             "kind0": np.uint32(0), "dataType0": np.uint32(0), "dimensions0": np.uint32(1),
             "width0": np.uint32(128)}
    dims = {"examplesDim0": 2, "sparseDataDim0": 5}
    variables = {"sparseStart0": ("u4", "examplesDim0", [0, 2]),
                 "sparseEnd0": ("u4", "examplesDim0", [2, 5]),
                 "sparseIndex0": ("u4", "sparseDataDim0", [0, 1, 1, 2, 3])}
    return attrs, dims, variables


def analog_file():
    """generateNetCDF-style analog file: attributes 1, Float, uint32 offsets, float values."""
    attrs = {"datasets": np.uint32(1), "name0": "ratings", "attributes0": np.uint32(1),
             "kind0": np.uint32(0), "dataType0": np.uint32(4), "dimensions0": np.uint32(1),
             "width0": np.uint32(128)}
    dims = {"examplesDim0": 3, "sparseDataDim0": 4}
    variables = {"sparseStart0": ("u4", "examplesDim0", [0, 2, 2]),
                 "sparseEnd0": ("u4", "examplesDim0", [2, 2, 4]),
                 "sparseIndex0": ("u4", "sparseDataDim0", [5, 100, 0, 127]),
                 "sparseData0": ("f4", "sparseDataDim0", [0.5, 4.0, -1.25, 3.0])}
    return attrs, dims, variables


def dense_file():
    """A dense 2-D UChar data set (like the CIFAR converter), weighted."""
    attrs = {"datasets": np.uint32(1), "name0": "pixels", "attributes0": np.uint32(128),
             "kind0": np.uint32(1), "dataType0": np.uint32(8), "dimensions0": np.uint32(2),
             "width0": np.uint32(3), "height0": np.uint32(2)}
    dims = {"examplesDim0": 2, "dataDim0": 12}
    variables = {"data0": ("u1", "dataDim0", np.arange(12, dtype=np.uint8) * 20),
                 "dataWeight0": ("f4", "examplesDim0", [1.0, 0.5])}
    return attrs, dims, variables


