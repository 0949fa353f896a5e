# SPDX-License-Identifier: Apache-2.0
# cython: language_level=3, embedsignature=True, binding=True
"""Cython classes over libdsstne: Context, DataSet, Layer, Weight, Network (tier 2)."""

import atexit
import json
import logging
import os

import numpy as np

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libcpp.memory cimport shared_ptr, make_shared
from libcpp.pair cimport pair
from libcpp.string cimport string
from libcpp.utility cimport move
from libcpp.vector cimport vector

from _lib cimport cpp

from .errors import CudaError, DsstneError, NumericalError

cpp.register_errors(DsstneError, CudaError, NumericalError)


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


include "_context.pxi"
include "_dataset.pxi"
include "_views.pxi"
include "_network.pxi"
