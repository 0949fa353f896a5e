# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's NetCDF data set files: read them into :class:`dsstne.DataSet` objects and write data
sets back in the same layout (docs/compatibility.md, "NetCDF data sets").

A file holds ``datasets`` data sets, each described by global attributes, dimensions and variables
suffixed with its index N (``name0``, ``sparseStart0``, …). :func:`read_netcdf` reads every data set
of a file; :func:`write_netcdf` writes DSSTNE's layout with DSSTNE's names and types (NC_CHAR text,
NC_UINT scalars, ``dataTypeN`` with a capital T), so files written here load in DSSTNE too, as far
as DSSTNE supports the data type (it refuses LLInt, ULLInt and RGB16).

Where this port differs from DSSTNE's loader:

* integer attributes of any integer type are accepted, and ``sparseStartN``/``sparseEndN`` of any
  integer type are *converted* (DSSTNE copied the bytes of non-NC_UINT offsets raw, so only
  NC_UINT, NC_UINT64 and NC_INT64 worked there); negative or fractional values are errors;
* DataType ``Int`` is read as int32 (DSSTNE widened it to 64 bits); values that do not fit raise;
  ``LLInt``, ``ULLInt`` and ``RGB16`` (fatal in DSSTNE) load as int64, uint64 and uint16;
* ``RGB8`` data load as ``UChar`` data (the same uint8 storage; DataSet has no RGB8 type), and
  Boolean data report the data type ``UInt`` whatever ``dataTypeN`` says (they store no values);
* offsets need not be contiguous or ordered: each record's ``[start, end)`` range is gathered in
  record order, so the loaded data set holds the same rows in CSR order;
* the checks DSSTNE skipped (variable lengths against dimensions, offsets in order and within the
  data, presence of ``dataN``) are made, and every error names the file, the data set index and the
  attribute, dimension or variable at fault;
* the ``Compressed``, ``Recurrent`` and ``Mutable`` bits (no effect in DSSTNE) and ``kindN`` are
  ignored; a lower-case ``datatypeN`` (written by DSSTNE's broken ``SaveNetCDF``) is accepted when
  ``dataTypeN`` is missing.

Stored values are never rescaled here: 8-bit data keep their raw uint8/int8 values (the engine
applies DSSTNE's ÷256 / ÷128 scaling when it uses them).
"""

import os
import warnings

import numpy as np

from ._files import open_netcdf, replacing
from ._ncread import LIBRARY_ERRORS, Reader, check_finite, naming_the_file

__all__ = ["read_netcdf", "write_netcdf", "DATA_TYPES"]

#: DSSTNE's DataType codes, by the names DataSet.data_type reports.
DATA_TYPES = {"UInt": 0, "Int": 1, "LLInt": 2, "ULLInt": 3, "Float": 4, "Double": 5, "RGB8": 6,
              "RGB16": 7, "UChar": 8, "Char": 9}
_TYPE_NAMES = {v: k for k, v in DATA_TYPES.items()}
# In-memory element type per DataType code.
_NUMPY = {0: np.dtype(np.uint32), 1: np.dtype(np.int32), 2: np.dtype(np.int64),
          3: np.dtype(np.uint64), 4: np.dtype(np.float32), 5: np.dtype(np.float64),
          6: np.dtype(np.uint8), 7: np.dtype(np.uint16), 8: np.dtype(np.uint8),
          9: np.dtype(np.int8)}

_SPARSE, _BOOLEAN, _IGNORE_ZERO, _INDEXED, _WEIGHTED = 1, 2, 32, 64, 128
_ALL_BITS = 255
_UINT32_MAX = 2**32 - 1
_OFFSET32_MAX = 2**32 - 1  # largest sparse offset written as NC_UINT (else NC_UINT64)

# Formats with the unsigned types DSSTNE's layout needs.
_WRITE_FORMATS = ("NETCDF4", "NETCDF3_64BIT_DATA")
_NO_UNSIGNED = ("NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF4_CLASSIC")


def _netcdf4():
    try:
        import netCDF4
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("dsstne.netcdf needs the netCDF4 package (pip install 'netCDF4>=1.6')"
                          ) from e
    return netCDF4


class _CsrArrays:
    """A sparse matrix's CSR arrays, handed to DataSet as they are (DataSet accepts any object
    with ``tocsr()``), so loading a file makes no scipy copies."""

    def __init__(self, indptr, indices, data, shape):
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.shape = shape
        self.nnz = int(indices.size)

    def tocsr(self):
        return self


def _convert(arr, dtype, what):
    """`arr` as `dtype`, without a copy when it already is; integer targets accept only whole
    numbers in range (netCDF's own conversion would raise a range error)."""
    dtype = np.dtype(dtype)
    arr = np.asarray(arr)
    if arr.dtype.kind == "S":  # NC_CHAR: one byte per element
        if arr.dtype.itemsize != 1:
            raise ValueError(f"{what}: text of {arr.dtype.itemsize} bytes per element")
        arr = arr.view(np.int8 if dtype == np.int8 else np.uint8)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == dtype:
        return arr
    src = arr.dtype
    if src.kind not in "biuf":
        raise ValueError(f"{what}: has type {src}, expected numbers")
    if dtype.kind in "iu":
        if src.kind == "f" and arr.size:
            bad = ~np.isfinite(arr) | (arr != np.trunc(arr))
            if bad.any():
                k = int(np.argmax(bad))
                raise ValueError(f"{what}: element {k} is {arr[k]}, not a whole number")
        if arr.size and src.kind != "b":
            info = np.iinfo(dtype)
            lo, hi = arr.min(), arr.max()
            if src.kind != "f":
                lo, hi = int(lo), int(hi)  # exact comparisons for 64-bit values
            if lo < info.min or hi > info.max:
                k = int(np.argmax((arr < info.min) | (arr > info.max)))
                raise ValueError(f"{what}: element {k} = {arr[k]} does not fit in {dtype}")
    return arr.astype(dtype)


class _Reader(Reader):
    """The attributes, dimensions and variables of an open data set file, with errors naming
    the file, the data set and the field."""

    def __init__(self, nc, path, texts=None):
        super().__init__(nc, path, texts)
        self.names = {}  # data set index -> name, once read

    def where(self, n):
        if n is None:
            return self.path
        name = self.names.get(n)
        return f"{self.path}: data set {n}" + (f" ('{name}')" if name else "")

    def uint(self, name, n, *, required=True, fallback=None):
        if name not in self.attrs and fallback in self.attrs:
            name = fallback
        if name not in self.attrs:
            if not required:
                return None
            raise ValueError(f"{self.where(n)}: missing global attribute '{name}'")
        value = self.number(name, self.attribute(name, self.where(n)), "an integer",
                            self.where(n))
        if value != int(value) or value < 0:
            raise ValueError(f"{self.where(n)}: attribute '{name}' must be a whole number "
                             f">= 0, got {value}")
        return int(value)

    def text(self, name, n):
        if name not in self.attrs:
            raise ValueError(f"{self.where(n)}: missing global attribute '{name}'")
        return self.text_of(name, self.attribute(name, self.where(n)), self.where(n))

    def dim(self, name, n, *, required=True):
        try:
            d = self.nc.dimensions.get(name)
            size = None if d is None else len(d)
        except LIBRARY_ERRORS as e:
            raise ValueError(f"{self.where(n)}: cannot read dimension '{name}': {e}") from e
        if size is None and required:
            raise ValueError(f"{self.where(n)}: missing dimension '{name}'")
        return size

    def var(self, name, n, *, length=None, length_of=None):
        """Variable `name` read whole into a numpy array (1-D, `length` elements)."""
        v = self.variable(name, self.where(n))
        if length is not None and v.shape[0] != length:
            raise ValueError(f"{self.where(n)}: variable '{name}' has {v.shape[0]} elements but "
                             f"{length_of} is {length}")
        arr = self.values(v, name, self.where(n))
        check_finite(arr, f"{self.where(n)}: variable '{name}'")
        return arr


def read_netcdf(path, *, context=None):
    """Every data set of a DSSTNE NetCDF file, in file order (N = 0 … ``datasets`` − 1).

    Parameters
    ----------
    path : str or os.PathLike
        A netCDF-4 or classic (netCDF-3) file in DSSTNE's layout (see the module docstring).
    context : dsstne.Context, optional
        Where the data sets live (default: a CPU context per data set, as DataSet does).

    Returns
    -------
    list of dsstne.DataSet

    Raises
    ------
    FileNotFoundError
        `path` does not exist.
    ValueError
        The file is not NetCDF, is truncated, or does not follow the layout (the message names the
        file, the data set index and the attribute, dimension or variable at fault).
    IndexError
        A sparse index, a one-hot index or an ``indexN`` entry is out of range.
    """
    nc4 = _netcdf4()
    path = os.fspath(path)
    nc, texts = open_netcdf(nc4, path, "NetCDF data set file")
    with naming_the_file(path), nc:
        nc.set_auto_maskandscale(False)
        nc.set_auto_chartostring(False)
        nc.set_always_mask(False)
        f = _Reader(nc, path, texts)
        f.check_numbers()
        if "datasets" not in f.attrs:
            raise ValueError(f"{path}: missing global attribute 'datasets' (not a DSSTNE data "
                             "set file?)")
        count = f.uint("datasets", None)
        data_sets = []
        for n in range(count):
            data_sets.append(_read_one(f, n, context))
        return data_sets


def _read_one(f, n, context):
    from . import DataSet  # deferred: dsstne's __init__ may import this module

    where = f.where(n)
    name = f.text(f"name{n}", n)
    if not name:
        raise ValueError(f"{where}: attribute 'name{n}' is empty")
    f.names[n] = name
    attributes = f.uint(f"attributes{n}", n)
    if attributes & ~_ALL_BITS:
        raise ValueError(f"{where} ('{name}'): attribute 'attributes{n}' = {attributes} has "
                         f"unknown bits {attributes & ~_ALL_BITS}")
    code = f.uint(f"dataType{n}", n, fallback=f"datatype{n}")
    if code not in _NUMPY:
        raise ValueError(f"{where} ('{name}'): unknown dataType{n} {code}; DSSTNE's codes are "
                         + ", ".join(f"{c} {t}" for c, t in _TYPE_NAMES.items()))
    dtype = _NUMPY[code]
    dimensions = f.uint(f"dimensions{n}", n)
    if not 1 <= dimensions <= 3:
        raise ValueError(f"{where} ('{name}'): dimensions{n} must be 1, 2 or 3, got {dimensions}")
    width = f.uint(f"width{n}", n)
    height = f.uint(f"height{n}", n) if dimensions >= 2 else 1
    length = f.uint(f"length{n}", n) if dimensions >= 3 else 1
    for axis, size in (("width", width), ("height", height), ("length", length)):
        if size == 0 or size > _UINT32_MAX:
            raise ValueError(f"{where} ('{name}'): {axis}{n} must be 1 … {_UINT32_MAX}, got "
                             f"{size}")
    dims = (length, height, width)[3 - dimensions:]
    stride = width * height * length
    examples = f.dim(f"examplesDim{n}", n)
    if examples == 0:
        raise ValueError(f"{where} ('{name}'): examplesDim{n} is 0 (no examples)")
    sparse = bool(attributes & _SPARSE)
    boolean = bool(attributes & _BOOLEAN)
    ignore_zero = bool(attributes & _IGNORE_ZERO)
    where = f"{where} ('{name}')"

    index = None
    records = examples
    if attributes & _INDEXED:
        unique = f.dim(f"uniqueExamplesDim{n}", n, required=False)
        records = examples if unique is None else unique
        if records == 0:
            raise ValueError(f"{where}: uniqueExamplesDim{n} is 0 (no stored rows)")
        raw = f.var(f"index{n}", n, length=examples, length_of=f"examplesDim{n}")
        index = _to_index(raw, records, f"{where}: variable 'index{n}'", "example",
                          "stored rows (uniqueExamplesDim%d)" % n)
    weights = None
    if attributes & _WEIGHTED:
        raw = f.var(f"dataWeight{n}", n, length=examples, length_of=f"examplesDim{n}")
        weights = _convert(raw, np.float32, f"{where}: variable 'dataWeight{n}'")
    rows_dim = f"uniqueExamplesDim{n}" if index is not None else f"examplesDim{n}"

    try:
        if sparse:
            csr = _read_sparse(f, n, where, records, rows_dim, stride, boolean, code)
            return DataSet(name, csr, boolean=boolean, weights=weights, index=index, dims=dims,
                           sparse_ignore_zero=ignore_zero, context=context)
        if ignore_zero:
            raise ValueError(f"{where}: the SparseIgnoreZero bit needs sparse data (the Sparse "
                             f"bit of attributes{n} is clear)")
        data_dim = f.dim(f"dataDim{n}", n)
        if boolean:
            if data_dim != records:
                raise ValueError(f"{where}: dataDim{n} is {data_dim} but one-hot data hold one "
                                 f"hot index per stored row ({rows_dim} = {records})")
            raw = f.var(f"data{n}", n, length=data_dim, length_of=f"dataDim{n}")
            hot = _to_index(raw, stride, f"{where}: variable 'data{n}'", "example",
                            "units (width·height·length)")
            if dimensions > 1:
                warnings.warn(f"{where}: one-hot data of shape {dims} loaded as {stride} units "
                              "in one dimension (DataSet.one_hot takes a width only)",
                              stacklevel=3)
            return DataSet.one_hot(name, hot, stride, weights=weights, index=index,
                                   context=context)
        if data_dim != records * stride:
            raise ValueError(f"{where}: dataDim{n} is {data_dim} but {records} stored rows of "
                             f"{stride} units need {records * stride}")
        raw = f.var(f"data{n}", n, length=data_dim, length_of=f"dataDim{n}")
        data = _convert(raw, dtype, f"{where}: variable 'data{n}' ({_TYPE_NAMES[code]})")
        del raw
        return DataSet(name, data.reshape((records,) + dims), weights=weights, index=index,
                       context=context)
    except (ValueError, IndexError, TypeError, RuntimeError) as e:
        if str(e).startswith(f.path):
            raise
        raise type(e)(f"{where}: {e}") from e


def _to_index(raw, limit, what, item, limit_of):
    """Integer array `raw` as uint32 values < `limit` (IndexError naming the first bad one)."""
    if raw.dtype.kind == "S":
        raw = raw.view(np.uint8)
    if raw.dtype.kind in "iuf" and raw.size:
        lo, hi = raw.min(), raw.max()
        if raw.dtype.kind != "f":
            lo, hi = int(lo), int(hi)
        if lo < 0 or hi >= limit:
            k = int(np.argmax((raw < 0) | (raw >= limit)))
            raise IndexError(f"{what}: {item} {k}: {raw[k]} is outside the {limit} {limit_of}")
    return _convert(raw, np.uint32, what)


def _read_sparse(f, n, where, records, rows_dim, stride, boolean, code):
    nnz = f.dim(f"sparseDataDim{n}", n)
    if nnz == 0:
        raise ValueError(f"{where}: sparseDataDim{n} is 0 (sparse data need stored values)")
    start = _convert(f.var(f"sparseStart{n}", n, length=records, length_of=rows_dim), np.uint64,
                     f"{where}: variable 'sparseStart{n}'")
    end = _convert(f.var(f"sparseEnd{n}", n, length=records, length_of=rows_dim), np.uint64,
                   f"{where}: variable 'sparseEnd{n}'")
    bad = start > end
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{where}: example {r}: sparseStart{n} {start[r]} is after "
                         f"sparseEnd{n} {end[r]}")
    bad = end > nnz
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{where}: example {r}: sparseEnd{n} {end[r]} is beyond the {nnz} "
                         f"stored values (sparseDataDim{n})")
    indices = f.var(f"sparseIndex{n}", n, length=nnz, length_of=f"sparseDataDim{n}")
    if indices.dtype.kind not in "iu":
        raise ValueError(f"{where}: variable 'sparseIndex{n}' has type {indices.dtype}, "
                         "expected integers")
    values = None
    if not boolean:
        raw = f.var(f"sparseData{n}", n, length=nnz, length_of=f"sparseDataDim{n}")
        values = _convert(raw, _NUMPY[code], f"{where}: variable 'sparseData{n}' "
                                             f"({_TYPE_NAMES[code]})")
        del raw

    indptr = np.empty(records + 1, dtype=np.uint64)
    if start[0] == 0 and np.array_equal(start[1:], end[:-1]):
        # The usual layout: rows back to back from 0; use the arrays as they are.
        indptr[:-1] = start
        indptr[-1] = end[-1]
        total = int(end[-1])
        indices = indices[:total]
        values = values[:total] if values is not None else None
    else:
        # Rows anywhere (out of order, gaps, shared ranges): gather each row's range in order.
        lengths = (end - start).astype(np.int64)
        indptr[0] = 0
        np.cumsum(lengths, out=indptr[1:])
        total = int(indptr[-1])
        order = np.repeat(start.astype(np.int64) - indptr[:-1].astype(np.int64), lengths)
        order += np.arange(total, dtype=np.int64)
        indices = indices[order]
        values = values[order] if values is not None else None
        del order
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= stride:
            k = int(np.argmax((indices < 0) | (indices >= stride)))
            r = int(np.searchsorted(indptr, k, side="right")) - 1
            raise IndexError(f"{where}: example {r}: sparseIndex{n} {indices[k]} is beyond the "
                             f"{stride} units (width·height·length)")
    indices = _convert(indices, np.uint32, f"{where}: variable 'sparseIndex{n}'")
    if values is None:
        values = np.zeros(0, dtype=np.float32)
    return _CsrArrays(indptr, indices, values, (records, stride))


# ---------------------------------------------------------------------------------------------
# Writing


def write_netcdf(path, data_sets, *, format="NETCDF4", overwrite=False):
    """Writes data sets to a DSSTNE NetCDF file (data set N = position in `data_sets`).

    Parameters
    ----------
    path : str or os.PathLike
    data_sets : dsstne.DataSet or sequence of them
    format : {"NETCDF4", "NETCDF3_64BIT_DATA"}
        NETCDF4 (DSSTNE's format) or CDF5; the other classic formats lack the unsigned types
        DSSTNE's layout uses and are refused.
    overwrite : bool
        Replace an existing file. The file is written under a temporary name in the same
        directory and renamed over `path` only when complete, so an interrupted write leaves any
        previous file intact.

    Raises
    ------
    FileExistsError
        `path` exists and `overwrite` is false.
    ValueError
        An unsupported `format`, no data sets, or a data set DSSTNE's layout cannot hold (sparse
        data with no stored values).
    """
    from . import DataSet

    nc4 = _netcdf4()
    if format in _NO_UNSIGNED:
        raise ValueError(f"format {format!r} has no unsigned integer types, which DSSTNE's data "
                         f"set layout needs; use one of {_WRITE_FORMATS}")
    if format not in _WRITE_FORMATS:
        raise ValueError(f"unknown format {format!r}; use one of {_WRITE_FORMATS}")
    if isinstance(data_sets, DataSet):
        data_sets = [data_sets]
    data_sets = list(data_sets)
    if not data_sets:
        raise ValueError(f"{os.fspath(path)}: no data sets to write")
    for n, ds in enumerate(data_sets):
        if not isinstance(ds, DataSet):
            raise TypeError(f"data set {n}: expected a dsstne.DataSet, got {type(ds).__name__}")
        if ds.sparse and ds.nnz == 0:
            raise ValueError(f"data set {n} ('{ds.name}') has no stored values; DSSTNE's layout "
                             f"needs sparseDataDim{n} > 0")
    with replacing(path, overwrite=overwrite) as tmp:
        nc = nc4.Dataset(tmp, "w", format=format, clobber=True)
        try:
            nc.set_auto_maskandscale(False)
            nc.setncattr("datasets", np.uint32(len(data_sets)))
            for n, ds in enumerate(data_sets):
                _write_one(nc, n, ds)
        finally:
            nc.close()


def _put(nc, name, nc_type, dim, values):
    # One contiguous write without fill values (as fast as the disk).
    var = nc.createVariable(name, nc_type, (dim,), fill_value=False, contiguous=True)
    values = np.ascontiguousarray(values).reshape(-1)
    var[:] = values.view("S1") if nc_type == "S1" else values


def _write_one(nc, n, ds):
    code = DATA_TYPES[ds.data_type]
    dims = ds.dims
    uint = np.uint32
    nc.setncattr(f"name{n}", ds.name.encode("utf-8"))  # bytes: always NC_CHAR, never NC_STRING
    nc.setncattr(f"attributes{n}", uint(ds.attributes))
    nc.setncattr(f"kind{n}", uint(0))
    nc.setncattr(f"dataType{n}", uint(code))
    nc.setncattr(f"dimensions{n}", uint(len(dims)))
    nc.setncattr(f"width{n}", uint(dims[-1]))
    if len(dims) >= 2:
        nc.setncattr(f"height{n}", uint(dims[-2]))
    if len(dims) >= 3:
        nc.setncattr(f"length{n}", uint(dims[-3]))
    examples_dim = f"examplesDim{n}"
    nc.createDimension(examples_dim, ds.examples)
    rows_dim = examples_dim
    if ds.indexed:
        rows_dim = f"uniqueExamplesDim{n}"
        nc.createDimension(rows_dim, ds.records)
    value_type = "S1" if code == DATA_TYPES["Char"] else _NUMPY[code].str[1:]
    if ds.sparse:
        s = ds.sparse_arrays()
        nc.createDimension(f"sparseDataDim{n}", ds.nnz)
        offset_type = "u4" if ds.nnz <= _OFFSET32_MAX else "u8"
        _put(nc, f"sparseStart{n}", offset_type, rows_dim, s["start"])
        _put(nc, f"sparseEnd{n}", offset_type, rows_dim, s["end"])
        _put(nc, f"sparseIndex{n}", "u4", f"sparseDataDim{n}", s["indices"])
        if not ds.boolean:
            _put(nc, f"sparseData{n}", value_type, f"sparseDataDim{n}", s["values"])
    else:
        if ds.boolean:  # one hot index per stored row
            data, value_type = ds._values(ds.records), "u4"
        else:
            data = ds._values(ds.records * ds.units)
        nc.createDimension(f"dataDim{n}", data.size)
        _put(nc, f"data{n}", value_type, f"dataDim{n}", data)
    if ds.weighted:
        _put(nc, f"dataWeight{n}", "f4", examples_dim, ds.weights)
    if ds.indexed:
        _put(nc, f"index{n}", "u4", examples_dim, ds.index)
