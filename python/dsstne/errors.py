# SPDX-License-Identifier: Apache-2.0
"""Exceptions raised by dsstne besides ValueError, IndexError, MemoryError,
NotImplementedError and KeyboardInterrupt."""


class DsstneError(RuntimeError):
    """A failure inside the engine."""


class CudaError(DsstneError):
    """A CUDA runtime or library call failed."""


class CommunicationError(DsstneError):
    """Another rank failed, exited or did not answer in time."""


class NumericalError(DsstneError, ArithmeticError):
    """A computation produced NaN or infinity (e.g. training diverged)."""


class DataWarning(UserWarning):
    """Input data were changed to be usable, e.g. duplicate sparse entries merged."""
