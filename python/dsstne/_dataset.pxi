# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

# numpy dtype -> DSSTNE DataType code (docs/design.md "Data sets").
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
    shape = tuple(_whole(s, f"{what}: size", 1) for s in shape)
    if not 1 <= len(shape) <= 3:
        raise ValueError(f"{what}: examples must have 1 to 3 dimensions, got shape {shape}")
    rev = shape[::-1] + (1,) * (3 - len(shape))
    return rev[0], rev[1], rev[2], len(shape)


cdef class DataSet:
    """DataSet(name, data, *, boolean=None, weights=None, index=None, dims=None, sparse_ignore_zero=False, context=None, copy=False)
--

    Examples stored for a network: dense or sparse, Boolean or analog, optionally Weighted,
    Indexed and SparseIgnoreZero (DSSTNE's data set; docs/design.md "Data sets").

    On the CPU backend the data set uses the arrays it is given in place when their dtype and
    layout fit (no copy) and marks them read-only, since a later change would bypass the checks
    made here; pass ``copy=True`` to keep them writable at the cost of one copy.

    Parameters
    ----------
    name : str
        Matched (case-sensitively) against the ``DataSet`` of Input and Output layers.
    data : numpy.ndarray or scipy.sparse matrix
        Dense: shape (examples, width) or (examples, height, width) or
        (examples, length, height, width). Sparse: examples × units (any scipy.sparse format,
        or an object whose ``tocsr()`` gives ``indptr``, ``indices``, ``data`` and ``shape``).
        Duplicate (example, unit) entries are merged with a :class:`dsstne.DataWarning`.
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
    copy : bool
        Copy the arrays even where they could be used in place.
    """
    cdef shared_ptr[cpp.DataSet] c_ptr
    cdef readonly Context context
    cdef _Arrays _arrays

    def __init__(self, name, data, *, boolean=None, weights=None, index=None, dims=None,
                 sparse_ignore_zero=False, Context context=None, copy=False):
        if self.c_ptr.get() != NULL:
            raise RuntimeError(f"data set '{self.name}' is already initialised")
        context = context if context is not None else Context()
        arrays = _Arrays(not copy and not context.is_cuda)
        cdef cpp.DataSetArrays a
        a.name = _bytes(name)
        a.borrow = arrays.borrow
        csr = _csr_parts(data, name, boolean) if hasattr(data, "tocsr") else None
        if csr is not None:
            self._sparse(&a, arrays, name, csr, dims, sparse_ignore_zero)
        else:
            self._dense(&a, arrays, name, data, boolean, dims, sparse_ignore_zero)
        self._add_options(&a, arrays, name, weights, index)
        with nogil:
            self.c_ptr = make_shared[cpp.DataSet](context.c_ctx, a)
        cdef int64_t duplicates = self.c_ptr.get().duplicates()
        if duplicates and csr.boolean:
            # The engine sums repeated units, which would make a set count one twice.
            arrays = _Arrays(False)
            a.borrow = False
            self._sparse(&a, arrays, name, _without_duplicates(csr), dims, sparse_ignore_zero)
            self._add_options(&a, arrays, name, weights, index)
            with nogil:
                self.c_ptr = make_shared[cpp.DataSet](context.c_ctx, a)
        duplicates += csr.merged if csr is not None else 0
        if duplicates:
            what = "kept once (the data stay Boolean)" if csr.boolean else "summed, as scipy does"
            warnings.warn(f"data set '{name}': {duplicates} repeated (example, unit) entries were "
                          f"{what}", DataWarning, stacklevel=2)
        arrays.freeze()
        self._arrays = arrays if arrays.borrow else None
        self.context = context

    cdef _sparse(self, cpp.DataSetArrays* a, _Arrays arrays, name, _Csr csr, dims,
                 bint ignore_zero):
        indptr_in, indices_in, values_in = csr.originals or (None, None, None)
        if dims is None:
            dims = (csr.shape[1],)
        a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of(dims, name)
        a.attributes = 1 | (2 if csr.boolean else 0) | (32 if ignore_zero else 0)
        a.records = csr.shape[0]
        a.nnz = csr.indices.size
        # start and end are two views of one uint64 indptr, one entry apart.
        offsets = csr.indptr
        if offsets.dtype not in (np.int64, np.uint64):
            offsets = offsets.astype(np.uint64)
        offsets = np.ascontiguousarray(offsets).view(np.uint64)
        a.sparse_start = <const uint64_t*>arrays.use(indptr_in, offsets)
        a.sparse_end = a.sparse_start + 1
        a.sparse_indices = <const uint32_t*>arrays.use(
            indices_in, _as_uint32(csr.indices, name, "sparse index"))
        if csr.boolean:
            a.type = cpp.DataType.UInt
        else:
            a.type, dtype = _data_type(csr.values.dtype, name)
            a.sparse_values = arrays.use(values_in, np.ascontiguousarray(csr.values, dtype=dtype))

    cdef _dense(self, cpp.DataSetArrays* a, _Arrays arrays, name, data, boolean, dims,
                bint ignore_zero):
        original = data
        arr = np.asarray(data)
        if arr.ndim < 2:
            raise ValueError(f"data set '{name}': dense data needs shape (examples, units...), "
                             f"got {arr.shape}")
        if dims is not None:
            raise ValueError(f"data set '{name}': dims applies to sparse data only; the "
                             "shape of dense data gives its dimensions")
        if boolean:
            raise ValueError(f"data set '{name}': use DataSet.one_hot for Boolean dense data")
        if ignore_zero:
            raise ValueError(f"data set '{name}': sparse_ignore_zero needs sparse data")
        a.type, dtype = _data_type(arr.dtype, name)
        a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of(arr.shape[1:],
                                                                                 name)
        a.records = arr.shape[0]
        a.dense_data = arrays.use(original, np.ascontiguousarray(arr, dtype=dtype))
        a.dense_count = arr.size

    cdef _add_options(self, cpp.DataSetArrays* a, _Arrays arrays, name, weights, index):
        if index is not None:
            idx = np.asarray(index)
            if idx.ndim != 1 or idx.dtype.kind not in "iu" or _first_negative(idx) >= 0:
                raise ValueError(f"data set '{name}': index must be a 1-D array of rows >= 0")
            if idx.size and idx.max() >= a.records:
                bad = int(np.argmax(idx >= a.records))
                raise IndexError(f"data set '{name}', example {bad}: index {idx[bad]} is beyond "
                                 f"the {a.records} stored records")
            a.attributes |= 64
            a.index = <const uint32_t*>arrays.use(index, _as_uint32(idx, name, "index"))
            a.index_count = idx.size
        if weights is not None:
            w = np.ascontiguousarray(weights, dtype=np.float32)
            if w.ndim != 1:
                raise ValueError(f"data set '{name}': weights must be 1-D, one per example")
            a.attributes |= 128
            a.weights = <const float*>arrays.use(weights, w)
            a.weight_count = w.size

    @staticmethod
    def one_hot(name, hot, width, *, weights=None, index=None, Context context=None):
        """A dense Boolean data set: example e has the single unit ``hot[e]`` set."""
        cdef DataSet self = DataSet.__new__(DataSet)
        context = context if context is not None else Context()
        cdef cpp.DataSetArrays a
        hot_arr = _integer_vector(hot, name, "hot indices")
        width = _whole(width, "width", 1)
        if _first_negative(hot_arr) >= 0:
            raise ValueError(f"data set '{name}': hot indices must be units >= 0")
        if hot_arr.size and hot_arr.max() >= width:
            bad = int(np.argmax(hot_arr >= width))
            raise IndexError(f"data set '{name}', example {bad}: hot index {hot_arr[bad]} is "
                             f"beyond the width {width}")
        arrays = _Arrays(False)
        a.name = _bytes(name)
        a.attributes = 2
        a.type = cpp.DataType.UInt
        a.dims.width, a.dims.height, a.dims.length, a.dims.dimensions = _dims_of((width,), name)
        a.records = hot_arr.size
        a.dense_data = arrays.use(hot, hot_arr.astype(np.uint32))
        a.dense_count = hot_arr.size
        self._add_options(&a, arrays, name, weights, index)
        with nogil:
            self.c_ptr = make_shared[cpp.DataSet](context.c_ctx, a)
        self.context = context
        return self

    cdef cpp.DataSet* _ds(self) except NULL:
        if self.c_ptr.get() == NULL:
            raise RuntimeError("this DataSet was never initialised: make one with "
                               "DataSet(name, data, ...) (a subclass's __init__ must call "
                               "super().__init__)")
        return self.c_ptr.get()

    def to(self, Context context not None):
        """This data set on `context`'s device (itself when already there)."""
        cdef cpp.DataSet* ds = self._ds()
        if context.device == self.context.device:
            return self
        cdef DataSet out = DataSet.__new__(DataSet)
        with nogil:
            out.c_ptr = ds.to(context.c_ctx)
        out.context = context
        return out

    @property
    def name(self):
        return _str(self._ds().name())

    @name.setter
    def name(self, value):
        text = str(value)
        if not text or "\0" in text:
            raise ValueError(f"a data set name must be non-empty text without NUL, got {text!r}")
        self._ds().set_name(_bytes(text))

    @property
    def examples(self):
        return self._ds().examples()

    def __len__(self):
        return self._ds().examples()

    @property
    def records(self):
        """Stored rows (differs from examples for Indexed data)."""
        return self._ds().records()

    @property
    def dims(self):
        """Per-example shape (width,), (height, width) or (length, height, width)."""
        cdef cpp.Dims d = self._ds().dims()
        return (d.length, d.height, d.width)[3 - d.dimensions:]

    @property
    def width(self):
        return self._ds().dims().width

    @property
    def units(self):
        return self._ds().stride()

    @property
    def attributes(self):
        """DSSTNE attribute bits (Sparse=1, Boolean=2, SparseIgnoreZero=32, Indexed=64,
        Weighted=128)."""
        return self._ds().attributes()

    @property
    def data_type(self):
        return _str(cpp.to_string(self._ds().type()))

    @property
    def sparse(self):
        return self._ds().sparse()

    @property
    def boolean(self):
        return self._ds().boolean()

    @property
    def weighted(self):
        return self._ds().weighted()

    @property
    def indexed(self):
        return self._ds().indexed()

    @property
    def sparse_ignore_zero(self):
        return self._ds().ignore_zero()

    @sparse_ignore_zero.setter
    def sparse_ignore_zero(self, on):
        self._ds().set_sparse_ignore_zero(bool(on))

    @property
    def nnz(self):
        return self._ds().nnz()

    @property
    def density(self):
        return self._ds().density()

    @property
    def shares_memory(self):
        """Whether the data set uses the caller's arrays in place (CPU backend, no copy)."""
        return self._ds().borrowed()

    cdef cpp.Device _device(self):
        return self.context.c_ctx.device()

    def _values(self, count=None):
        """The stored values (sparse values or dense data, or one-hot indices), typed; the first
        `count` of them when given."""
        if count is not None:
            return self._values()[:count]
        cdef cpp.DataSet* ds = self._ds()
        cdef const cpp.DeviceBuffer[unsigned char]* buf = &ds.values_buffer()
        dtype = np.dtype(np.uint32) if ds.boolean() and not ds.sparse() else \
            _NUMPY_OF[int(ds.type())]
        return _stored_array(self, buf.data(), buf.size() // dtype.itemsize, dtype,
                             self._device())

    @property
    def weights(self):
        """Example weights (Weighted data) or None (read-only on the CPU)."""
        cdef cpp.DataSet* ds = self._ds()
        if not ds.weighted():
            return None
        cdef const cpp.DeviceBuffer[float]* buf = &ds.weights_buffer()
        return _stored_array(self, buf.data(), buf.size(), np.float32, self._device())

    @property
    def index(self):
        """Stored row of each example (Indexed data) or None (read-only on the CPU)."""
        cdef cpp.DataSet* ds = self._ds()
        if not ds.indexed():
            return None
        cdef const cpp.DeviceBuffer[uint32_t]* buf = &ds.index_buffer()
        return _stored_array(self, buf.data(), buf.size(), np.uint32, self._device())

    def sparse_arrays(self):
        """The stored sparse records: dict of start, end, indices and values (None if Boolean);
        read-only views of the data set's memory on the CPU."""
        cdef cpp.DataSet* ds = self._ds()
        if not ds.sparse():
            raise ValueError(f"data set '{self.name}' is dense")
        cdef cpp.Device device = self._device()
        cdef const cpp.DeviceBuffer[uint64_t]* start = &ds.sparse_start_buffer()
        cdef const cpp.DeviceBuffer[uint64_t]* end = &ds.sparse_end_buffer()
        cdef const cpp.DeviceBuffer[uint32_t]* indices = &ds.sparse_indices_buffer()
        return {
            "start": _stored_array(self, start.data(), start.size(), np.uint64, device),
            "end": _stored_array(self, end.data(), end.size(), np.uint64, device),
            "indices": _stored_array(self, indices.data(), indices.size(), np.uint32, device),
            "values": None if ds.boolean() else self._values(),
        }

    def to_scipy(self):
        """The stored records as a scipy.sparse.csr_matrix (records × units)."""
        import scipy.sparse as sp
        s = self.sparse_arrays()
        start, end = s["start"].astype(np.int64), s["end"].astype(np.int64)
        lengths = end - start
        indptr = np.zeros(self.records + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if start.size and start[0] == 0 and np.array_equal(start[1:], end[:-1]):
            order = slice(0, int(indptr[-1]))  # records back to back: no gather
        else:
            order = np.repeat(start - indptr[:-1], lengths) + np.arange(indptr[-1])
        values = (np.ones(int(indptr[-1]), dtype=np.float32) if s["values"] is None
                  else s["values"][order])
        return sp.csr_matrix((values, s["indices"][order], indptr),
                             shape=(self.records, self.units))

    def to_numpy(self):
        """Dense data as (records, *dims): a read-only view on the CPU; one-hot data expanded."""
        cdef cpp.DataSet* ds = self._ds()
        if ds.sparse():
            raise ValueError(f"data set '{self.name}' is sparse; use to_scipy()")
        shape = (self.records,) + self.dims
        if ds.boolean():
            hot = self._values()
            out = np.zeros((self.records, self.units), dtype=np.float32)
            out[np.arange(self.records), hot] = 1
            return out.reshape(shape)
        return self._values().reshape(shape)

    def __repr__(self):
        if self.c_ptr.get() == NULL:
            return "DataSet(<not initialised>)"
        kind = "sparse" if self.sparse else "dense"
        return (f"DataSet('{self.name}', {kind}, {self.data_type}, examples={self.examples}, "
                f"dims={self.dims}, attributes={self.attributes})")
