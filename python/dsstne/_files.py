# SPDX-License-Identifier: Apache-2.0
"""File handling shared by the readers and writers: replacing a file atomically, and opening a
NetCDF file with errors that name it."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile

from . import _cdfcheck, _h5check


@contextlib.contextmanager
def replacing(path, *, overwrite=True):
    """Yields a temporary path beside `path` to write; when the block ends normally the temporary
    file replaces `path` (keeping an existing file's permissions), and when it fails (Ctrl-C
    included) the temporary file is removed and `path` is left as it was.

    Raises FileExistsError naming `path` when it exists and `overwrite` is false."""
    path = os.fspath(path)
    existing = os.path.exists(path)
    if existing and not overwrite:
        raise FileExistsError(errno.EEXIST, "file exists (pass overwrite=True to replace it)",
                              path)
    if existing:
        mode = os.stat(path).st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_netcdf(nc4, path, what):
    """`netCDF4.Dataset(path, "r")` after checking the file's metadata against the file
    (damaged metadata can make the netCDF and HDF5 libraries loop forever or read zeros for
    missing data), and the raw bytes of its global text attributes (netCDF4 hides NUL bytes
    and invalid UTF-8 in them). A missing file is FileNotFoundError and anything that is not
    sound, readable NetCDF a ValueError, both naming the file (`what` says what was expected)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, f"no such {what}", path)
    texts = _cdfcheck.check(path)
    if texts is None:
        texts = _h5check.check(path)
    try:
        return nc4.Dataset(path, "r"), texts or {}
    except PermissionError:
        raise
    except (OSError, RuntimeError, ValueError, TypeError, UnicodeError, IndexError,
            KeyError, AttributeError, OverflowError) as e:
        raise ValueError(f"{path}: not a readable NetCDF file (wrong format or truncated): {e}"
                         ) from e
