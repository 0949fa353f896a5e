# SPDX-License-Identifier: Apache-2.0
"""dsstne: deep learning on large sparse data, DSSTNE's engine rebuilt for CPU and CUDA.

Build a :class:`Network` from DSSTNE's JSON language, feed it :class:`DataSet` objects made
from numpy arrays or scipy.sparse matrices, train, predict and take the top-K.
"""

from ._core import (Context, DataSet, Layer, Network, Weight, cuda_built,  # noqa: F401
                    cuda_device_count, memory_usage, mpi_built, nccl_built)
from . import evaluate  # noqa: F401,E402
from .errors import (CommunicationError, CudaError, DataWarning, DsstneError,  # noqa: F401
                     NumericalError)
from .model import load_network, save_network  # noqa: F401
from .netcdf import read_netcdf, write_netcdf  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Context", "DataSet", "Layer", "Network", "Weight", "DsstneError", "CudaError",
           "NumericalError", "CommunicationError", "DataWarning", "cuda_built",
           "cuda_device_count", "memory_usage", "mpi_built", "nccl_built", "read_netcdf", "write_netcdf",
           "load_network", "save_network"]
