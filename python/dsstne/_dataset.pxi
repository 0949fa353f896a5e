# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

# numpy dtype -> DSSTNE DataType (spec/formats.md §0.1).
_DTYPES = {
    np.dtype(np.uint32): cpp.DataType.UInt, np.dtype(np.int32): cpp.DataType.Int,
    np.dtype(np.int64): cpp.DataType.LLInt, np.dtype(np.uint64): cpp.DataType.ULLInt,
    np.dtype(np.float32): cpp.DataType.Float, np.dtype(np.float64): cpp.DataType.Double,
    np.dtype(np.uint8): cpp.DataType.UChar, np.dtype(np.int8): cpp.DataType.Char,
    np.dtype(np.uint16): cpp.DataType.RGB16,
}
_NUMPY_OF = {int(v): k for k, v in _DTYPES.items()}
_NUMPY_OF[int(cpp.DataType.RGB8)] = np.dtype(np.uint8)

ATTRIBUTE_BITS = {"Sparse": 1, "Boolean": 2, "Compressed": 4, "Recurrent": 8, "Mutable": 16,
                  "SparseIgnoreZero": 32, "Indexed": 64, "Weighted": 128}


def _data_type(dtype, what):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return cpp.DataType.Float, np.dtype(np.float32)
    if dtype not in _DTYPES:
        raise TypeError(f"{what}: unsupported dtype {dtype}; use one of "
                        f"{sorted(str(d) for d in _DTYPES)}")
    return _DTYPES[dtype], dtype


def _dims_of(shape, what):
    """(width, height, length, dimensions) for the per-example shape, x fastest."""
    shape = tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3:
        raise ValueError(f"{what}: examples must have 1 to 3 dimensions, got shape {shape}")
    rev = shape[::-1] + (1,) * (3 - len(shape))
    return rev[0], rev[1], rev[2], len(shape)


cdef class DataSet:
    """Examples stored for a network: dense or sparse, Boolean or analog, optionally Weighted,
    Indexed and SparseIgnoreZero (DSSTNE's data set, spec/formats.md §2).

    Parameters
    ----------
    name : str
        Matched (case-sensitively) against the ``DataSet`` of Input and Output layers.
    data : numpy.ndarray or scipy.sparse matrix
        Dense: shape (examples, width) or (examples, height, width) or
        (examples, length, height, width). Sparse: examples × units (any scipy.sparse format).
    boolean : bool, optional
        Sparse only: store no values, every listed unit is 1. Default: True when every stored
        value is 1.
    weights : array of float, optional
        One weight per example (Weighted): scales its inputs and its error.
    index : array of int, optional
        Indexed data: example e uses stored row ``index[e]``.
    dims : tuple, optional
        Sparse only: per-example shape (width,), (height, width) or (length, height, width);
        default (number of columns,).
    sparse_ignore_zero : bool
        Errors and deltas only at the stored units of each example.
    context : Context, optional
    """
    cdef shared_ptr[cpp.DataSet] c_ptr
    cdef readonly Context context

    def __init__(self, name, data, *, boolean=None, weights=None, index=None, dims=None,
                 sparse_ignore_zero=False, Context context=None):
        self.context = context if context is not None else Context()
        cdef cpp.DataSetArrays a
        a.name = _bytes(name)
        keep = []  # arrays whose memory DataSetArrays points into during construction
        if hasattr(data, "tocsr"):
            csr = data.tocsr()
            if dims is None:
                dims = (csr.shape[1],)
            a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of(dims, name)
            start = np.ascontiguousarray(csr.indptr[:-1], dtype=np.uint64)
            end = np.ascontiguousarray(csr.indptr[1:], dtype=np.uint64)
            if csr.nnz and (csr.indices.min() < 0):
                raise ValueError(f"data set '{name}': negative sparse index")
            indices = np.ascontiguousarray(csr.indices, dtype=np.uint32)
            values = np.ascontiguousarray(csr.data)
            if boolean is None:
                boolean = bool(np.all(values == 1))
            a.attributes = 1 | (2 if boolean else 0) | (32 if sparse_ignore_zero else 0)
            a.records = csr.shape[0]
            a.nnz = csr.nnz
            a.sparse_start = <const uint64_t*>_address(start)
            a.sparse_end = <const uint64_t*>_address(end)
            a.sparse_indices = <const uint32_t*>_address(indices)
            if boolean:
                a.type = cpp.DataType.UInt
            else:
                a.type, dtype = _data_type(values.dtype, name)
                values = np.ascontiguousarray(values, dtype=dtype)
                a.sparse_values = _address(values)
            keep += [start, end, indices, values]
        else:
            arr = np.asarray(data)
            if arr.ndim < 2:
                raise ValueError(f"data set '{name}': dense data needs shape (examples, units...), "
                                 f"got {arr.shape}")
            if dims is not None:
                raise ValueError(f"data set '{name}': dims applies to sparse data only; the "
                                 "shape of dense data gives its dimensions")
            if boolean:
                raise ValueError(f"data set '{name}': use DataSet.one_hot for Boolean dense data")
            a.type, dtype = _data_type(arr.dtype, name)
            arr = np.ascontiguousarray(arr, dtype=dtype)
            a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of(arr.shape[1:], name)
            a.attributes = 32 if sparse_ignore_zero else 0
            a.records = arr.shape[0]
            a.dense_data = _address(arr)
            a.dense_count = arr.size
            keep.append(arr)
        self._add_options(&a, name, weights, index, keep)
        with nogil:
            self.c_ptr = make_shared[cpp.DataSet](self.context.c_ctx, a)

    cdef _add_options(self, cpp.DataSetArrays* a, name, weights, index, list keep):
        if index is not None:
            idx = np.asarray(index)
            if idx.ndim != 1 or (idx.size and idx.min() < 0):
                raise ValueError(f"data set '{name}': index must be a 1-D array of rows >= 0")
            if idx.size and idx.max() >= a.records:
                bad = int(np.argmax(idx >= a.records))
                raise IndexError(f"data set '{name}', example {bad}: index {idx[bad]} is beyond "
                                 f"the {a.records} stored records")
            idx = np.ascontiguousarray(idx, dtype=np.uint32)
            a.attributes |= 64
            a.index = <const uint32_t*>_address(idx)
            a.index_count = idx.size
            keep.append(idx)
        if weights is not None:
            w = np.ascontiguousarray(weights, dtype=np.float32)
            if w.ndim != 1:
                raise ValueError(f"data set '{name}': weights must be 1-D, one per example")
            a.attributes |= 128
            a.weights = <const float*>_address(w)
            a.weight_count = w.size
            keep.append(w)

    @staticmethod
    def one_hot(name, hot, width, *, weights=None, index=None, Context context=None):
        """A dense Boolean data set: example e has the single unit ``hot[e]`` set."""
        cdef DataSet self = DataSet.__new__(DataSet)
        self.context = context if context is not None else Context()
        cdef cpp.DataSetArrays a
        hot_arr = np.ascontiguousarray(hot, dtype=np.int64)
        if hot_arr.ndim != 1 or (hot_arr.size and hot_arr.min() < 0):
            raise ValueError(f"data set '{name}': hot indices must be a 1-D array of units >= 0")
        if hot_arr.size and hot_arr.max() >= int(width):
            bad = int(np.argmax(hot_arr >= int(width)))
            raise IndexError(f"data set '{name}', example {bad}: hot index {hot_arr[bad]} is "
                             f"beyond the width {width}")
        hot_arr = hot_arr.astype(np.uint32)
        a.name = _bytes(name)
        a.attributes = 2
        a.type = cpp.DataType.UInt
        a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of((width,), name)
        a.records = hot_arr.size
        a.dense_data = _address(hot_arr)
        a.dense_count = hot_arr.size
        keep = [hot_arr]
        self._add_options(&a, name, weights, index, keep)
        with nogil:
            self.c_ptr = make_shared[cpp.DataSet](self.context.c_ctx, a)
        return self

    def to(self, Context context):
        """This data set on `context`'s device (itself when already there)."""
        if context.device == self.context.device:
            return self
        cdef DataSet out = DataSet.__new__(DataSet)
        out.context = context
        with nogil:
            out.c_ptr = self.c_ptr.get().to(context.c_ctx)
        return out

    @property
    def name(self):
        return _str(self.c_ptr.get().name())

    @name.setter
    def name(self, value):
        self.c_ptr.get().set_name(_bytes(value))

    @property
    def examples(self):
        return self.c_ptr.get().examples()

    def __len__(self):
        return self.c_ptr.get().examples()

    @property
    def records(self):
        """Stored rows (differs from examples for Indexed data)."""
        return self.c_ptr.get().records()

    @property
    def dims(self):
        """Per-example shape (width,), (height, width) or (length, height, width)."""
        cdef cpp.Dims d = self.c_ptr.get().dims()
        return (d.length, d.height, d.width)[3 - d.dimensions:]

    @property
    def width(self):
        return self.c_ptr.get().dims().width

    @property
    def units(self):
        return self.c_ptr.get().stride()

    @property
    def attributes(self):
        """DSSTNE attribute bits (Sparse=1, Boolean=2, SparseIgnoreZero=32, Indexed=64,
        Weighted=128)."""
        return self.c_ptr.get().attributes()

    @property
    def data_type(self):
        return _str(cpp.to_string(self.c_ptr.get().type()))

    @property
    def sparse(self):
        return self.c_ptr.get().sparse()

    @property
    def boolean(self):
        return self.c_ptr.get().boolean()

    @property
    def weighted(self):
        return self.c_ptr.get().weighted()

    @property
    def indexed(self):
        return self.c_ptr.get().indexed()

    @property
    def sparse_ignore_zero(self):
        return self.c_ptr.get().ignore_zero()

    @sparse_ignore_zero.setter
    def sparse_ignore_zero(self, on):
        self.c_ptr.get().set_sparse_ignore_zero(bool(on))

    @property
    def nnz(self):
        return self.c_ptr.get().nnz()

    @property
    def density(self):
        return self.c_ptr.get().density()

    def _values(self, count):
        raw = self.c_ptr.get().raw_values()
        buf = np.frombuffer(bytes(raw), dtype=np.uint8) if raw.size() else np.zeros(0, np.uint8)
        if self.c_ptr.get().boolean() and not self.c_ptr.get().sparse():
            return buf.view(np.uint32)
        return buf.view(_NUMPY_OF[int(self.c_ptr.get().type())])[:count]

    @property
    def weights(self):
        """Example weights (Weighted data) or None."""
        if not self.c_ptr.get().weighted():
            return None
        return np.asarray(self.c_ptr.get().weights(), dtype=np.float32)

    @property
    def index(self):
        """Stored row of each example (Indexed data) or None."""
        if not self.c_ptr.get().indexed():
            return None
        return np.asarray(self.c_ptr.get().index(), dtype=np.uint32)

    def sparse_arrays(self):
        """The stored sparse records: dict of start, end, indices and values (None if Boolean)."""
        if not self.c_ptr.get().sparse():
            raise ValueError(f"data set '{self.name}' is dense")
        return {
            "start": np.asarray(self.c_ptr.get().sparse_start(), dtype=np.uint64),
            "end": np.asarray(self.c_ptr.get().sparse_end(), dtype=np.uint64),
            "indices": np.asarray(self.c_ptr.get().sparse_indices(), dtype=np.uint32),
            "values": None if self.boolean else self._values(self.nnz),
        }

    def to_scipy(self):
        """The stored records as a scipy.sparse.csr_matrix (records × units)."""
        import scipy.sparse as sp
        s = self.sparse_arrays()
        rows = []
        for r, (b, e) in enumerate(zip(s["start"], s["end"])):
            rows.append(np.arange(b, e, dtype=np.int64))
        order = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        indptr = np.zeros(self.records + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(s["end"].astype(np.int64) - s["start"].astype(np.int64))
        values = (np.ones(order.size, dtype=np.float32) if s["values"] is None
                  else s["values"][order])
        return sp.csr_matrix((values, s["indices"][order], indptr),
                             shape=(self.records, self.units))

    def to_numpy(self):
        """Dense data as (records, *dims); one-hot data expanded."""
        if self.c_ptr.get().sparse():
            raise ValueError(f"data set '{self.name}' is sparse; use to_scipy()")
        if self.c_ptr.get().boolean():
            hot = self._values(self.records)
            out = np.zeros((self.records, self.units), dtype=np.float32)
            out[np.arange(self.records), hot] = 1
            return out.reshape((self.records,) + self.dims)
        return self._values(self.records * self.units).reshape((self.records,) + self.dims).copy()

    def __repr__(self):
        kind = "sparse" if self.sparse else "dense"
        return (f"DataSet('{self.name}', {kind}, {self.data_type}, examples={self.examples}, "
                f"dims={self.dims}, attributes={self.attributes})")
