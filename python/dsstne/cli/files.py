# SPDX-License-Identifier: Apache-2.0
"""The tools' input files. Whatever fails while a flag's file is used (a reader, netCDF4, the
engine) becomes one message that names the flag and the file, ``<flag> <file>: <what>``, so a
user learns which argument to fix without reading a traceback."""

from __future__ import annotations

import codecs
import contextlib
import os
import stat

from ..errors import CudaError
from .common import describe

# Not about a file: a CUDA failure, or --device cuda on a build without CUDA.
_NOT_THE_FILE = (NotImplementedError, CudaError)

# The first bytes of NetCDF files: a data set or model given where text is expected.
_MAGIC = {b"CDF\x01": "a NetCDF file", b"CDF\x02": "a NetCDF file", b"CDF\x05": "a NetCDF file",
          b"\x89HDF": "a NetCDF-4 (HDF5) file"}


class FlagError(ValueError):
    """A flag's file could not be used: ``<flag> <file>: <what>``."""


def flag_error(flag, path, what):
    """FlagError for `what` (text or an exception); a message that starts with the path (as
    readers write it, ``file: ...`` or ``file:LINE: ...``) keeps it, with the flag in front.
    An empty `flag` is a positional argument: the message names the file alone."""
    if isinstance(what, FlagError):
        return what
    text = describe(what) if isinstance(what, BaseException) else str(what)
    path = os.fspath(path)
    prefix = f"{flag} " if flag else ""
    if text.startswith(path) and text[len(path):len(path) + 1] == ":":
        return FlagError(prefix + text)
    return FlagError(f"{prefix}{path}: {text}")


@contextlib.contextmanager
def blaming(flag, path):
    """Any exception inside becomes a FlagError naming `flag` and `path`; MemoryError stays a
    MemoryError (the tools report it as one); device errors and KeyboardInterrupt pass."""
    try:
        yield
    except _NOT_THE_FILE:
        raise
    except MemoryError as e:
        raise MemoryError(str(flag_error(flag, path, describe(e) or "not enough memory"))) from e
    except Exception as e:
        raise flag_error(flag, path, e) from e


def check_input(flag, path, what, *, directory=False, text=False):
    """Refuses a missing `path`, a directory unless `directory`, and with `text` a NetCDF file
    (a data set or model given where a text file belongs)."""
    if not os.path.exists(path):
        raise flag_error(flag, path, f"no such {what}")
    if os.path.isdir(path):
        if not directory:
            raise flag_error(flag, path, f"is a directory; expected the {what}")
        return
    # A device or a pipe may never end (/dev/zero) and cannot be read twice (the checks here
    # read before the parsers do).
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise flag_error(flag, path, f"is not a regular file (a device or a pipe); expected the "
                                     f"{what}")
    if text:
        with blaming(flag, path):
            with open(path, "rb") as f:
                head = f.read(4)
        for magic, kind in _MAGIC.items():
            if head.startswith(magic):
                raise flag_error(flag, path, f"{kind}, not the {what}")


def check_text(flag, path, what):
    """Refuses a file that is not UTF-8 text (say, a NetCDF file given as the JSON) before a
    parser reports its bytes in a message nobody can read."""
    check_input(flag, path, what, text=True)
    with blaming(flag, path):
        if os.path.getsize(path) == 0:
            raise flag_error(flag, path, f"the file is empty; expected the {what}")
        decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                pending = len(decoder.getstate()[0])  # bytes of a character split by blocks
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as e:
                    at = offset - pending + e.start
                    raise flag_error(flag, path, f"not UTF-8 text (byte 0x{e.object[e.start]:02x}"
                                                 f" at offset {at}); expected the {what}") from None
                offset += len(block)


def origins(data):
    """{data set name: (flag, path, DataSet)} from ``[(flag, path, [DataSet, ...]), ...]``;
    refuses a name that two files (or one file twice) hold."""
    found = {}
    for flag, path, sets in data:
        for ds in sets:
            if ds.name in found:
                other_flag, other_path, _ = found[ds.name]
                other = other_path if other_flag == flag else f"{other_flag} {other_path}"
                raise flag_error(flag, path, f"data set '{ds.name}' is also in {other}")
            found[ds.name] = (flag, path, ds)
    return found


@contextlib.contextmanager
def building(flag, path, found):
    """Errors while a network is built from (`flag`, `path`) and bound to the data sets of
    `found` (:func:`origins`): one that names a data set blames that data set's file, anything
    else the network's file. Device and memory errors pass as they are."""
    try:
        yield
    except _NOT_THE_FILE + (MemoryError,):
        raise
    except Exception as e:
        text = describe(e)
        for name, (data_flag, data_path, _) in found.items():
            if f"data set '{name}'" in text:
                raise flag_error(data_flag, data_path, f"{text} (network {flag} {path})") from e
        raise flag_error(flag, path, e) from e


def check_index(flag, path, index, layer, net_flag, net_path):
    """Refuses a feature index that does not label `layer`'s units. It may leave fewer than 128
    units at the end unlabelled, DSSTNE's padding of widths to a multiple of 128; any other
    difference means the wrong index (say, the sample index given as the item index), whose
    labels would be written against the wrong units."""
    from .. import textformats as tf
    if not index:
        raise flag_error(flag, path, "the index is empty")
    span = tf.index_width(index)
    if not layer.size - 128 < span <= layer.size:
        raise flag_error(flag, path,
                         f"the index labels {span} units but {layer.kind.lower()} layer "
                         f"'{layer.name}' of {net_flag} {net_path} has {layer.size} (an index "
                         "labels every unit but at most the last 127, DSSTNE's padding)")
