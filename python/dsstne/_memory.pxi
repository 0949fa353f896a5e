# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx: numpy arrays over memory that dsstne holds or that the caller gave it,
# without copies on the CPU backend.

from cpython.buffer cimport PyBUF_WRITABLE, PyBUF_FORMAT


cdef char* _BYTE_FORMAT = b"B"


cdef class _HostMemory:
    """Bytes of host memory that `owner` keeps alive, offered read-only through the buffer
    protocol, so that numpy arrays made from it view the memory instead of copying it."""
    cdef object owner
    cdef const void* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __init__(self):
        raise TypeError("_HostMemory objects are made by dsstne")

    @staticmethod
    cdef _HostMemory wrap(object owner, const void* ptr, Py_ssize_t nbytes):
        cdef _HostMemory self = _HostMemory.__new__(_HostMemory)
        self.owner = owner
        self.ptr = ptr
        self.nbytes = nbytes
        return self

    def __getbuffer__(self, Py_buffer* buf, int flags):
        if self.ptr == NULL:
            raise BufferError("this memory object does not belong to a dsstne array")
        if flags & PyBUF_WRITABLE:
            raise BufferError("memory held by dsstne is read-only")
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        buf.buf = <void*>self.ptr
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 1
        buf.itemsize = 1
        buf.format = NULL
        if flags & PyBUF_FORMAT:
            buf.format = _BYTE_FORMAT
        buf.ndim = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer* buf):
        pass


cdef object _stored_array(object owner, const void* ptr, size_t count, object dtype,
                          cpp.Device device):
    """`count` elements of `dtype` at `ptr` (memory of `device`) as a 1-D numpy array: a
    read-only view that keeps `owner` alive on the CPU, a copy from a GPU (made on the stream of
    `owner.context`, the context of the data set that holds the memory)."""
    dtype = np.dtype(dtype)
    cdef size_t nbytes = count * dtype.itemsize
    if device == cpp.Device.CPU:
        if count == 0:
            empty = np.zeros(0, dtype)
            empty.flags.writeable = False
            return empty
        return np.asarray(_HostMemory.wrap(owner, ptr, nbytes)).view(dtype)
    out = np.empty(count, dtype)
    cdef void* dst = <void*><uintptr_t>out.ctypes.data
    cdef Context context = owner.context
    if nbytes:
        with nogil:
            cpp.copy_to_host(context.c_ctx, dst, ptr, nbytes)
    return out


def _check_host_memory(what, nbytes):
    """MemoryError naming `what` when `nbytes` more bytes of host memory are not available."""
    cdef vector[cpp.MemoryItem] items
    cdef cpp.MemoryItem item
    item.what = _bytes(what)
    item.bytes = float(nbytes)
    items.push_back(item)
    cpp.check_fits(cpp.Device.CPU, items, _bytes(what))
