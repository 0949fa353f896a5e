# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx: the arrays a DataSet is made from, checked against their own metadata
# before C++ sees a pointer, and converted only where their type or layout does not fit.

import warnings

from .errors import DataWarning

_UINT32_LIMIT = 2**32


def _integer_vector(arr, name, what):
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"data set '{name}': {what} must be a 1-D array of integers, got "
                         f"{arr.dtype} of shape {arr.shape}")
    return arr


def _as_uint32(arr, name, what):
    """`arr` (1-D integers, checked >= 0 by the caller) as uint32: a view when the bits fit."""
    if arr.dtype == np.uint32 or (arr.dtype == np.int32):
        return np.ascontiguousarray(arr).view(np.uint32)
    if arr.size and int(arr.max()) >= _UINT32_LIMIT:
        raise IndexError(f"data set '{name}': {what} {int(arr.max())} does not fit 32 bits")
    return arr.astype(np.uint32)


def _first_negative(arr):
    """Position of the first negative entry, or -1."""
    if arr.dtype.kind != "i" or not arr.size:
        return -1
    negative = arr < 0
    return int(np.argmax(negative)) if negative.any() else -1


cdef class _Csr:
    """The checked CSR arrays of a sparse input, and the caller's arrays they may view."""
    cdef public object indptr, indices, values, shape, boolean, originals, merged

    def __init__(self, indptr, indices, values, shape, boolean, originals, merged):
        self.indptr, self.indices, self.values = indptr, indices, values
        self.shape, self.boolean, self.originals = shape, boolean, originals
        self.merged = merged  # repeated entries the conversion to CSR already merged


def _csr_parts(data, name, boolean):
    """The CSR arrays (a _Csr) of a scipy.sparse matrix or any object whose ``tocsr()`` gives
    them, after checking the arrays agree with each other and with the shape."""
    csr = data.tocsr()
    # scipy's COO → CSR conversion sums repeated entries, which turns a set into counts.
    merged = 0
    if csr is not data and isinstance(getattr(data, "nnz", None), int) and \
            isinstance(getattr(csr, "nnz", None), int):
        merged = max(0, data.nnz - csr.nnz)
    if merged and boolean is not False and isinstance(getattr(data, "data", None), np.ndarray) \
            and np.all(data.data == 1):
        csr.data[:] = 1  # csr is the conversion's own copy
        boolean = True
    try:
        indptr, indices, values = csr.indptr, csr.indices, csr.data
        originals = (indptr, indices, values)
        shape = tuple(operator.index(s) for s in csr.shape)
    except (AttributeError, TypeError) as e:
        raise TypeError(f"data set '{name}': {type(data).__name__}.tocsr() must give CSR arrays "
                        f"(indptr, indices, data) and an integer shape: {e}") from None
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"data set '{name}': a sparse matrix has a 2-D shape, got {shape}")
    indptr = _integer_vector(indptr, name, "the CSR indptr")
    indices = _integer_vector(indices, name, "the CSR indices")
    values = np.asarray(values)
    rows = shape[0]
    if indptr.size != rows + 1:
        raise ValueError(f"data set '{name}': the CSR indptr has {indptr.size} entries for "
                         f"{rows} rows (it needs rows + 1)")
    if _first_negative(indptr[:1]) == 0:
        raise ValueError(f"data set '{name}': the CSR indptr starts at {int(indptr[0])}")
    steps = indptr[1:] < indptr[:-1]
    if steps.any():
        r = int(np.argmax(steps))
        raise ValueError(f"data set '{name}', example {r}: the CSR indptr decreases from "
                         f"{int(indptr[r])} to {int(indptr[r + 1])}")
    nnz = int(indptr[-1]) if indptr.size else 0
    if nnz > indices.size:
        raise ValueError(f"data set '{name}': the CSR indptr ends at {nnz} but there are only "
                         f"{indices.size} indices")
    indices = indices[:nnz]
    bad = _first_negative(indices)
    if bad >= 0:
        r = int(np.searchsorted(indptr, bad, side="right")) - 1
        raise IndexError(f"data set '{name}', example {r}: negative sparse index "
                         f"{int(indices[bad])}")
    if boolean is not True:
        if values.ndim != 1 or values.size < nnz:
            raise ValueError(f"data set '{name}': the CSR data has {values.size} values for "
                             f"{nnz} stored entries")
        values = values[:nnz]
        if boolean is None:
            boolean = bool(np.all(values == 1))
    return _Csr(indptr, indices, None if boolean else values, shape, boolean, originals, merged)


def _without_duplicates(_Csr csr):
    """A Boolean CSR with each repeated (row, unit) entry kept once (a copy)."""
    import scipy.sparse as sp

    merged = sp.csr_matrix((np.ones(csr.indices.size, np.float32), csr.indices,
                            csr.indptr - csr.indptr[0]), shape=csr.shape, copy=True)
    merged.sum_duplicates()
    return _Csr(merged.indptr, merged.indices, None, csr.shape, True, (), csr.merged)


def _freeze(original, used):
    """Makes the caller's array read-only when the data set views its memory: a change made
    afterwards would bypass the checks the data set was built on."""
    if isinstance(original, np.ndarray) and np.may_share_memory(original, used):
        original.flags.writeable = False


cdef class _Arrays:
    """The arrays of one DataSet under construction, kept alive for as long as the data set when
    it views them."""
    cdef list keep
    cdef list originals
    cdef bint borrow

    def __init__(self, bint borrow):
        self.keep = []
        self.originals = []
        self.borrow = borrow

    cdef const void* use(self, original, arr):
        """The address of `arr`, a C-contiguous version of `original` (or a conversion)."""
        self.keep.append(arr)
        self.originals.append(original)
        return <const void*><uintptr_t>arr.ctypes.data

    def freeze(self):
        if self.borrow:
            for original, used in zip(self.originals, self.keep):
                _freeze(original, used)
