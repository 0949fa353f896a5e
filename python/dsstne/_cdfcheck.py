# SPDX-License-Identifier: Apache-2.0
"""A check of a classic NetCDF (CDF-1, CDF-2, CDF-5) file's header against the file before the
netCDF library opens it.

netCDF reads past the end of a short classic file as zeros, so a truncated file would load
silently with zeros for its missing data, and a damaged count in the header makes it allocate
and parse for as long as the count says. :func:`check` reads only the header: every count and
name length must fit in the file, every type and dimension id must exist, and every
variable's data must lie inside the file, after the header (docs/compatibility.md, "Damaged
NetCDF files").
"""

from __future__ import annotations

import os

# Bytes per element of the classic types (NC_BYTE = 1 … NC_UINT64 = 11; CDF-5 has 7 … 11).
SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_DIMENSION, _VARIABLE, _ATTRIBUTE = 10, 11, 12
_STREAMING = 0xFFFFFFFF


class _Header:
    """Big-endian fields of the header, read in pieces so a huge file costs no more than its
    header."""

    def __init__(self, fh, size, path):
        self.fh, self.size, self.path = fh, size, path
        self.pos = 0
        self.buf = b""
        self.buf_at = 0

    def fail(self, message):
        raise ValueError(f"{self.path}: damaged NetCDF header: {message}")

    def take(self, n, what):
        if self.pos + n > self.size:
            self.fail(f"{what} at byte {self.pos} runs past the end of the file "
                      f"({self.size} bytes; truncated?)")
        end = self.pos + n
        if end > self.buf_at + len(self.buf):
            self.fh.seek(self.pos)
            self.buf = self.fh.read(max(n, 1 << 16))
            self.buf_at = self.pos
        b = self.buf[self.pos - self.buf_at:end - self.buf_at]
        self.pos = end
        return b

    def uint(self, n, what):
        return int.from_bytes(self.take(n, what), "big")


def check(path):
    """Raises ValueError naming `path` when it is a classic NetCDF file whose header does not
    fit the file. Returns None for files of other formats, and for sound classic files the raw
    bytes of their global text (NC_CHAR) attributes by name."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        magic = fh.read(4)
        if len(magic) < 4 or magic[:3] != b"CDF" or magic[3] not in (1, 2, 5):
            return None
        h = _Header(fh, size, path)
        h.pos = 4
        return _check(h, magic[3])


def _check(h, version):
    big = version == 5
    count_size = 8 if big else 4
    max_type = 11 if big else 6

    def count(what, each):
        n = h.uint(count_size, what)
        if n * each > h.size - h.pos:
            h.fail(f"{what} is {n}, more than the file can hold")
        return n

    def name(what):
        k = count(f"length of a {what} name", 1)
        return h.take((k + 3) // 4 * 4, f"{what} name")[:k].decode("utf-8", "replace")

    def list_tag(tag, what):
        t = h.uint(4, f"{what} list tag")
        n = count(f"number of {what}s", 8)
        if t not in (0, tag) or (t == 0 and n):
            h.fail(f"{what} list has tag {t}")
        return n

    def nc_type(what):
        t = h.uint(4, f"type of {what}")
        if not 1 <= t <= max_type:
            h.fail(f"{what} has unknown type {t}")
        return t

    def attributes(owner, texts=None):
        for _ in range(list_tag(_ATTRIBUTE, "attribute")):
            a = name("attribute")
            t = nc_type(f"attribute '{a}' of {owner}")
            n = count(f"length of attribute '{a}' of {owner}", SIZES[t])
            values = h.take((n * SIZES[t] + 3) // 4 * 4, f"values of attribute '{a}' of {owner}")
            if texts is not None and t == 2:
                texts[a] = values[:n]

    numrecs = h.uint(count_size, "number of records")
    if numrecs == _STREAMING or (big and numrecs == 2**64 - 1):
        numrecs = None
    dims = []
    for _ in range(list_tag(_DIMENSION, "dimension")):
        d = name("dimension")
        length = h.uint(count_size, f"length of dimension '{d}'")
        if length >= 1 << 63:  # no real length; Python's len() cannot even report it
            h.fail(f"dimension '{d}' has length {length}")
        dims.append((d, length))
    if sum(1 for _, n in dims if n == 0) > 1:
        h.fail("more than one unlimited dimension")
    texts = {}
    attributes("the file", texts)
    variables = []
    for _ in range(list_tag(_VARIABLE, "variable")):
        v = name("variable")
        ids = [h.uint(count_size, f"dimension id of variable '{v}'")
               for _ in range(count(f"number of dimensions of variable '{v}'", 4))]
        for k, i in enumerate(ids):
            if i >= len(dims):
                h.fail(f"variable '{v}' uses dimension id {i}, but the file has {len(dims)} "
                       "dimensions")
            if dims[i][1] == 0 and k:
                h.fail(f"variable '{v}' has the unlimited dimension '{dims[i][0]}' after its "
                       "first")
        attributes(f"variable '{v}'")
        t = nc_type(f"variable '{v}'")
        h.uint(count_size, f"size of variable '{v}'")  # vsize: clipped for huge variables
        begin = h.uint(4 if version == 1 else 8, f"data offset of variable '{v}'")
        shape = [dims[i][1] for i in ids]
        variables.append((v, t, shape, begin))
    header_end = h.pos
    record_bytes = 0
    for v, t, shape, begin in variables:
        if shape and shape[0] == 0:
            n = SIZES[t]
            for s in shape[1:]:
                n *= s
            record_bytes += (n + 3) // 4 * 4 if len(variables) > 1 else n
    for v, t, shape, begin in variables:
        record = bool(shape) and shape[0] == 0
        n = SIZES[t]
        for s in shape[1:] if record else shape:
            n *= s
        if begin < header_end:
            h.fail(f"variable '{v}' starts at byte {begin}, inside the header "
                   f"({header_end} bytes)")
        if record:
            if numrecs:
                n += (numrecs - 1) * record_bytes
            elif numrecs is None:
                continue
            else:
                n = 0
        if begin + n > h.size:
            h.fail(f"variable '{v}' needs bytes {begin} … {begin + n} but the file has "
                   f"{h.size} (truncated?)")
    return texts
