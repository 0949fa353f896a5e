# SPDX-License-Identifier: Apache-2.0
# cython: language_level=3, embedsignature=True, binding=True
"""Cython classes over libdsstne: Context, DataSet, Layer, Weight, Network (tier 2)."""

import atexit
import json
import logging
import math
import operator
import os
import signal
import threading

import numpy as np

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libcpp.memory cimport shared_ptr, make_shared
from libcpp.pair cimport pair
from libcpp.string cimport string
from libcpp.utility cimport move
from libcpp.vector cimport vector

from _lib cimport cpp

from .errors import CommunicationError, CudaError, DsstneError, NumericalError

cpp.register_errors(DsstneError, CudaError, NumericalError, CommunicationError)


def _log_to_python(level, message):
    logging.getLogger("dsstne").log(level, message)


def _restore_default_log_sink():
    cpp.set_python_log_sink(<PyObject*>None)


# The engine logs (each epoch at INFO, warnings at WARNING) through logging.getLogger("dsstne");
# at exit the sink lets go of Python before the interpreter goes away.
cpp.set_python_log_sink(<PyObject*>_log_to_python)
atexit.register(_restore_default_log_sink)


cdef string _bytes(s):
    return str(s).encode("utf-8")


cdef str _str(const string& s):
    return s.decode("utf-8", "replace")


cdef const void* _address(arr):
    return <const void*><uintptr_t>arr.ctypes.data


_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


def _whole(value, what, minimum, maximum=_INT64_MAX):
    """`value` as an int in [minimum, maximum]: an integer, or a float with no fraction; 2.7 is
    an error, never truncated to 2."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a whole number, not {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        if not isinstance(value, (float, np.floating)):
            raise TypeError(f"{what} must be a whole number, not {type(value).__name__} "
                            f"{value!r}") from None
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{what} must be a whole number, got {value!r}") from None
        n = int(value)
    if n < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {n}")
    if n > maximum:
        raise ValueError(f"{what} must be <= {maximum}, got {n}")
    return n


def _real(value, what):
    """`value` as a float (the engine checks the range of each parameter)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{what} must be a number, not {type(value).__name__} {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, not {type(value).__name__} {value!r}") \
            from None


def mpi_built():
    """Whether this libdsstne contains the MPI communicator (Context(comm=...))."""
    return cpp.mpi_built()


def nccl_built():
    """Whether this libdsstne contains the NCCL communicator (Context(comm=..., transport="nccl"))."""
    return cpp.nccl_built()


def cuda_built():
    """Whether this libdsstne contains the CUDA backend."""
    return cpp.Context.cuda_built()


def cuda_device_count():
    """Number of CUDA devices this build can use (0 without the CUDA backend or a GPU)."""
    return cpp.device_count() if cpp.Context.cuda_built() else 0


def memory_usage():
    """Bytes held by dsstne's buffers: dict with cpu, cuda and their peaks."""
    cdef cpp.MemoryUsage m = cpp.memory_usage()
    return {"cpu": m.cpu_bytes, "cuda": m.cuda_bytes, "cpu_peak": m.cpu_peak,
            "cuda_peak": m.cuda_peak}


include "_memory.pxi"
include "_context.pxi"
include "_inputs.pxi"
include "_dataset.pxi"
include "_views.pxi"
include "_network.pxi"
