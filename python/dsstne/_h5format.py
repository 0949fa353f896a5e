# SPDX-License-Identifier: Apache-2.0
"""Readers of the HDF5 on-disk structures that netCDF-4 files are made of: the superblock,
object headers and their messages, datatypes, fractal heaps and version-2 B-trees.

They serve :mod:`dsstne._h5check`, which looks at a file's metadata before the HDF5 library does
(docs/compatibility.md, "Damaged NetCDF files"). Every reader checks each address and size it
follows against the file, and raises :class:`Damaged` on anything inconsistent; what it does not
understand it reports as :class:`Unknown`, so that the caller can leave that part to HDF5 instead
of refusing a valid file.
"""

from __future__ import annotations

import struct

SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAX_STEPS = 1_000_000  # structures walked per file: far above real files, bounds a damaged one


class Damaged(Exception):
    """An inconsistency of the file's metadata (the message says which structure, where)."""


class Unknown(Exception):
    """A structure this reader does not handle; the check leaves it to the HDF5 library."""


class File:
    """Bounded reads of an open file, with its offset and length sizes once known."""

    def __init__(self, fh, size):
        self.fh = fh
        self.size = size
        self.base = 0
        self.o = 8  # size of offsets (addresses)
        self.l = 8  # size of lengths
        self.steps = 0

    def step(self):
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise Unknown("too many structures to check")

    def undefined(self, addr):
        return addr == (1 << (8 * self.o)) - 1

    def read(self, addr, n, what):
        """`n` bytes at relative address `addr` (relative to the base address)."""
        self.step()
        start = self.base + addr
        if addr < 0 or n < 0 or start + n > self.size:
            raise Damaged(f"{what} at address {addr} ({n} bytes) lies beyond the end of the file "
                          f"({self.size} bytes)")
        self.fh.seek(start)
        data = self.fh.read(n)
        if len(data) != n:
            raise Damaged(f"{what} at address {addr}: short read")
        return data

    def block(self, addr, n, what, signature=None):
        data = Cursor(self.read(addr, n, what), self, what, addr)
        if signature is not None and data.take(len(signature)) != signature:
            raise Damaged(f"{what} at address {addr}: no '{signature.decode()}' signature")
        return data


class Cursor:
    """Little-endian fields read in order from a byte string."""

    def __init__(self, data, f, what, addr=0):
        self.data = data
        self.pos = 0
        self.f = f
        self.what = what
        self.addr = addr

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise Damaged(f"{self.what} at address {self.addr}: a field runs past its end")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def uint(self, n):
        return int.from_bytes(self.take(n), "little")

    def u8(self):
        return self.uint(1)

    def addr_(self):
        return self.uint(self.f.o)

    def length(self):
        return self.uint(self.f.l)


def superblock(f):
    """Parses the superblock at the file's start (or after a user block); returns the root
    group's object header address, and for version 0/1 files the root symbol table's
    (B-tree, local heap) addresses or None. Returns None when the file is not HDF5."""
    at = 0
    while at + 8 <= f.size:
        f.fh.seek(at)
        if f.fh.read(8) == SIGNATURE:
            break
        at = 512 if at == 0 else at * 2
    else:
        return None
    head = f.read(at, min(f.size - at, 256), "superblock")
    c = Cursor(head, f, "superblock", at)
    c.take(8)
    version = c.u8()
    if version in (0, 1):
        c.take(4)  # versions of the free space, root group and shared header structures
        c.take(1)
        f.o, f.l = c.u8(), c.u8()
        c.take(1 + 4 + 4 + (4 if version == 1 else 0))
    elif version in (2, 3):
        f.o, f.l = c.u8(), c.u8()
        c.take(1)
    else:
        raise Unknown(f"superblock version {version}")
    if f.o not in (2, 4, 8, 16) or f.l not in (2, 4, 8, 16):
        raise Damaged(f"superblock: offsets of {f.o} bytes and lengths of {f.l} bytes")
    base = c.addr_()
    if version in (0, 1):
        c.addr_()  # free space info
        eof = c.addr_()
        c.addr_()  # driver info
        c.addr_()  # root entry: link name offset
        root = c.addr_()
        cache = c.uint(4)
        c.take(4)
        scratch = (c.addr_(), c.addr_()) if cache == 1 else None
    else:
        c.addr_()  # superblock extension
        eof = c.addr_()
        root = c.addr_()
        scratch = None
    if base != at and base != 0:
        raise Damaged(f"superblock: base address {base} but the signature is at {at}")
    f.base = base
    if f.undefined(eof) or base + eof > f.size:
        raise Damaged(f"superblock: the file should be {base + eof} bytes long but has "
                      f"{f.size} (truncated?)")
    if f.undefined(root) or root >= eof:
        raise Damaged(f"superblock: root group address {root} outside the file")
    return root, scratch


def object_header(f, addr):
    """The messages of the object header at `addr`: list of (type, flags, bytes)."""
    messages = []
    first = f.read(addr, 16, "object header")
    chunks = []
    if first[:4] == b"OHDR":
        c = f.block(addr, min(f.size - f.base - addr, 48), "object header", b"OHDR")
        if c.u8() != 2:
            raise Damaged(f"object header at address {addr}: unknown version")
        flags = c.u8()
        if flags & 0x20:
            c.take(16)
        if flags & 0x10:
            c.take(4)
        size = c.uint(1 << (flags & 3))
        chunks.append((addr + c.pos, size, 2, flags & 4))
        version = 2
    elif first[0] == 1:
        size = int.from_bytes(first[8:12], "little")
        chunks.append((addr + 16, size, 1, 0))
        version = 1
    else:
        raise Damaged(f"object header at address {addr}: neither version 1 nor 2")
    seen = set()
    while chunks:
        start, size, kind, order = chunks.pop(0)
        if start in seen:
            raise Damaged(f"object header at address {addr}: continuation chunks form a loop")
        seen.add(start)
        if len(seen) > 10_000:
            raise Damaged(f"object header at address {addr}: too many continuation chunks")
        body = f.block(start, size, "object header chunk")
        if kind == 3:  # continuation chunk of a version 2 header
            if body.take(4) != b"OCHK":
                raise Damaged(f"object header continuation at address {start}: no 'OCHK' "
                              "signature")
        end = size - 4 if kind == 3 else size  # OCHK chunks end with their checksum
        while True:
            need = 8 if version == 1 else 4 + (2 if order else 0)
            if end - body.pos < need:
                break
            if version == 1:
                mtype, msize, mflags = body.uint(2), body.uint(2), body.u8()
                body.take(3)
            else:
                mtype, msize, mflags = body.u8(), body.uint(2), body.u8()
                if order:
                    body.take(2)
            if body.pos + msize > end:
                raise Damaged(f"object header at address {addr}: message of {msize} bytes runs "
                              "past its chunk")
            data = body.take(msize)
            if mtype == 0x10:  # continuation
                cc = Cursor(data, f, "continuation message", start)
                chunks.append((cc.addr_(), cc.length(), 3 if version == 2 else 1, order))
            else:
                messages.append((mtype, mflags, data))
    return messages


def datatype(c):
    """Parses a datatype at cursor `c`; returns (element size, [(offset, vlen)]) where the list
    holds the byte offsets of variable-length pieces inside one element."""
    c.f.step()
    head = c.uint(4)
    cls, version, bits = head & 15, (head >> 4) & 15, head >> 8
    size = c.uint(4)
    if cls in (0, 4):
        c.take(4)
    elif cls == 1:
        c.take(12)
    elif cls == 2:
        c.take(2)
    elif cls in (3, 7):
        pass
    elif cls == 5:
        c.take(((bits & 255) + 7) // 8 * 8)  # the tag, padded to 8 bytes
    elif cls == 6:
        vlens = []
        for _ in range(bits & 0xFFFF):
            _member_name(c, version)
            if version < 3:
                offset = c.uint(4)
                c.take(28)
            else:
                offset = c.uint(1 if size < 256 else 2 if size < 65536 else
                                3 if size < 1 << 24 else 4)
            _, inner = datatype(c)
            vlens += [(offset + o, v) for o, v in inner]
        return size, vlens
    elif cls == 8:
        base_size, _ = datatype(c)
        for _ in range(bits & 0xFFFF):
            _member_name(c, version)
        c.take(base_size * (bits & 0xFFFF))
    elif cls == 9:
        datatype(c)
        return size, [(0, True)]
    elif cls == 10:
        ndims = c.u8()
        if version < 3:
            c.take(3)
        dims = [c.uint(4) for _ in range(ndims)]
        if version < 3:
            c.take(4 * ndims)
        base_size, inner = datatype(c)
        count = 1
        for d in dims:
            count *= d
        if inner and count > 1 << 20:
            raise Unknown("huge array of variable-length data")
        return size, [(k * base_size + o, v) for k in range(count if inner else 0)
                      for o, v in inner]
    else:
        raise Damaged(f"{c.what} at address {c.addr}: unknown datatype class {cls}")
    return size, []


def _member_name(c, version):
    """Skips a NUL-terminated member name (padded to 8 bytes before datatype version 3)."""
    start = c.pos
    while c.take(1) != b"\0":
        pass
    if version < 3:
        c.take((start - c.pos) % 8)


def dataspace(c):
    """Parses a dataspace at `c`; returns its number of elements."""
    version, ndims, flags = c.u8(), c.u8(), c.u8()
    kind = 1
    if version == 1:
        c.take(5)
    elif version == 2:
        kind = c.u8()
    else:
        raise Damaged(f"{c.what} at address {c.addr}: unknown dataspace version {version}")
    dims = [c.length() for _ in range(ndims)]
    if flags & 1:
        [c.length() for _ in range(ndims)]
    if kind == 2:
        return 0
    count = 1
    for d in dims:
        count *= d
    return count


def enc_size(n):
    """Bytes HDF5 uses to encode a count or offset up to `n`."""
    return (max(n, 1).bit_length() - 1) // 8 + 1
