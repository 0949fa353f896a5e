# SPDX-License-Identifier: Apache-2.0
"""File handling shared by the readers and writers: replacing a file atomically (and clearing
what killed writers left), and opening a NetCDF file after checking it, with errors that name
it."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import tempfile

from . import _cdfcheck, _h5check


def _temporary_prefix(path):
    """Temporary files of `path` are ``.<name>.<host>.<pid>.<random>.tmp`` beside it, so that a
    later write can tell which writer left one behind."""
    return f".{os.path.basename(path)}."


def _host():
    return socket.gethostname().replace("/", "_")


def _writer_gone(host, pid):
    """Whether the writer `pid` on `host` is certainly dead (only provable on this host)."""
    if host != _host():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, or not ours to signal
        return False
    return False


def remove_stale_temporaries(path):
    """Removes the temporary files that writes of `path` killed before their rename left
    behind (those whose writer process is gone); returns their names."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        fields = name[len(prefix):-len(".tmp")].rsplit(".", 2)
        if len(fields) != 3 or not fields[1].isdigit():
            continue
        if _writer_gone(fields[0], int(fields[1])):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def replacing(path, *, overwrite=True):
    """Yields a temporary path beside `path` to write; when the block ends normally the temporary
    file replaces `path` (keeping an existing file's permissions), and when it fails (Ctrl-C
    included) the temporary file is removed and `path` is left as it was. A writer killed
    outright cannot remove its file; the next write of `path` does (docs/compatibility.md,
    "Damaged NetCDF files").

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
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{_host()}.{os.getpid()}.",
                               suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
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
