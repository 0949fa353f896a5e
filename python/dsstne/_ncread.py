# SPDX-License-Identifier: Apache-2.0
"""Reading a NetCDF file's attributes and variables for the data set and model readers: every
failure, whether netCDF4's, numpy's or a bad value's, becomes a ValueError that names the file
and the attribute or variable (docs/compatibility.md, "Damaged NetCDF files")."""

from __future__ import annotations

import contextlib
import math

import numpy as np

#: What netCDF4 and numpy raise on a damaged file or value, turned into ValueError here.
LIBRARY_ERRORS = (IndexError, AttributeError, OverflowError, KeyError, TypeError, RuntimeError,
                  UnicodeError, ValueError, OSError, MemoryError, SystemError)


class Reader:
    """Typed access to the global attributes and the variables of an open file.

    `texts` holds the raw bytes of text attributes as the file stores them (from the metadata
    check), because netCDF4 drops NUL bytes and replaces invalid UTF-8 silently."""

    def __init__(self, nc, path, texts=None):
        self.nc = nc
        self.path = path
        self.texts = texts or {}
        try:
            self.attrs = set(nc.ncattrs())
        except LIBRARY_ERRORS as e:
            raise ValueError(f"{path}: cannot read the names of the global attributes: {e}"
                             ) from e

    def check_numbers(self):
        """Every floating-point global attribute must be finite, read or not (DSSTNE reads
        the ones this port ignores)."""
        for name in sorted(self.attrs):
            value = self.attribute(name, self.path)
            if not isinstance(value, (str, bytes)):
                arr = np.asarray(value)
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise ValueError(f"{self.path}: attribute '{name}' is {_short(value)}; NaN "
                                     "and infinity are refused")

    def attribute(self, name, where):
        try:
            return self.nc.getncattr(name)
        except LIBRARY_ERRORS as e:
            raise ValueError(f"{where}: cannot read attribute '{name}': {e}") from e

    def text_of(self, name, value, where):
        """`value` of text attribute `name` as str, trailing NULs removed; a NUL inside the
        text or bytes that are not UTF-8 are errors."""
        raw = self.texts.get(name)
        if isinstance(value, bytes):
            raw = value
        if raw is not None:
            raw = raw.rstrip(b"\0")
            nul = raw.find(b"\0")
            if nul >= 0:
                raise ValueError(f"{where}: attribute '{name}' holds a NUL byte inside its text "
                                 f"(at byte {nul}: {raw[:60]!r})")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{where}: attribute '{name}' is not UTF-8 text (byte "
                                 f"{e.start}: {raw[:60]!r})") from None
        if not isinstance(value, str):
            raise ValueError(f"{where}: attribute '{name}' must be text, got {value!r}")
        if "\ufffd" in value:
            raise ValueError(f"{where}: attribute '{name}' is not UTF-8 text ({value[:60]!r})")
        return value.rstrip("\x00")

    def number(self, name, value, what, where):
        """One finite number of any numeric type."""
        if isinstance(value, (str, bytes)):
            raise ValueError(f"{where}: attribute '{name}' is text ({value[:60]!r}), expected "
                             f"{what}")
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in "biuf":
            raise ValueError(f"{where}: attribute '{name}' must be one number ({what}), got "
                             f"{_short(value)}")
        number = arr.reshape(()).item()
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{where}: attribute '{name}' is {number} ({what}); NaN and "
                             "infinity are refused")
        return number

    def variable(self, name, where, *, required=True):
        """The netCDF4 variable `name` (1-D), or None when absent and not required."""
        try:
            v = self.nc.variables.get(name)
        except LIBRARY_ERRORS as e:
            raise ValueError(f"{where}: cannot read variable '{name}': {e}") from e
        if v is None:
            if required:
                raise ValueError(f"{where}: missing variable '{name}'")
            return None
        if v.ndim != 1:
            raise ValueError(f"{where}: variable '{name}' must be 1-D, it has shape {v.shape}")
        return v

    def values(self, v, name, where):
        """All values of variable `v` as a numpy array."""
        try:
            return np.asarray(v[:])
        except LIBRARY_ERRORS as e:
            raise ValueError(f"{where}: cannot read variable '{name}' (is the file truncated?): "
                             f"{e}") from e


@contextlib.contextmanager
def naming_the_file(path):
    """Re-raises what escapes the block as ValueError naming `path`, unless it already names
    it (the readers' own errors do)."""
    try:
        yield
    except LIBRARY_ERRORS as e:
        if str(e).startswith(path) or isinstance(e, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{path}: cannot read the file ({type(e).__name__}: {e})") from e


def check_finite(arr, what):
    """ValueError naming `what` and the first NaN or infinite element of float array `arr`."""
    if arr.dtype.kind == "f" and arr.size:
        ok = np.isfinite(arr)
        if not ok.all():
            k = int(np.argmin(ok))
            value = "NaN" if np.isnan(arr[k]) else f"{arr[k]} (infinite)"
            raise ValueError(f"{what}: element {k} is {value}; NaN and infinity are refused")


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
