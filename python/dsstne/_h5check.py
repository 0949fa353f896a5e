# SPDX-License-Identifier: Apache-2.0
"""A check of a netCDF-4 (HDF5) file's metadata before the HDF5 library opens it.

HDF5 trusts some of its structures: a global heap collection whose objects do not add up to
its size makes it loop forever, and so does a local heap whose free list is a loop. So before
netCDF4 sees a file, :func:`check` walks its metadata from the superblock — every group, object
and attribute netCDF reads on open — and checks those structures against the file: signatures,
addresses and sizes within the file, heaps that tile exactly, lists and trees without loops
(docs/compatibility.md, "Damaged NetCDF files"). Only metadata is read, never the data.
"""

from __future__ import annotations

import os

from . import _h5format as h5
from ._h5dense import dense_objects
from ._h5format import Cursor, Damaged, Unknown


def check(path):
    """Raises ValueError naming `path` when its HDF5 metadata is damaged. Returns the raw bytes
    of the root group's fixed-length text attributes by name ({} for files that are not HDF5
    and where a structure is beyond this check, which leaves it to HDF5)."""
    walk = None
    try:
        with open(path, "rb") as fh:
            walk = _Walk(h5.File(fh, os.fstat(fh.fileno()).st_size))
            walk.run()
    except Damaged as e:
        raise ValueError(f"{path}: damaged HDF5 file: {e}") from None
    except Unknown:
        return {}
    return walk.texts


class _Walk:
    def __init__(self, f):
        self.f = f
        self.objects = set()
        self.heaps = {}  # global heap collection address -> object indices present
        self.texts = {}  # root group text attributes: name -> bytes
        self.root = None

    def run(self):
        found = h5.superblock(self.f)
        if found is None:
            return
        root, scratch = found
        self.root = root
        if scratch is not None:
            self.symbol_table(*scratch)
        self.object(root)

    def object(self, addr):
        if addr in self.objects:
            return
        self.objects.add(addr)
        if self.f.undefined(addr):
            raise Damaged("a link to an undefined address")
        elements = element_size = stored = None
        for mtype, mflags, data in h5.object_header(self.f, addr):
            if mflags & 2:  # shared message: stored elsewhere; its owner is walked on its own
                continue
            c = Cursor(data, self.f, f"message {mtype} of the object at", addr)
            if mtype == 0x01:
                elements = h5.dataspace(c)
            elif mtype == 0x03:
                element_size = h5.datatype(c)[0]
            elif mtype == 0x06:
                self.link(c)
            elif mtype == 0x02:
                self.link_info(c)
            elif mtype == 0x11:
                self.symbol_table(c.addr_(), c.addr_())
            elif mtype == 0x0C:
                self.attribute(c, addr == self.root)
            elif mtype == 0x15:
                self.attribute_info(c, addr == self.root)
            elif mtype == 0x08:
                stored = self.layout(c)
        if None not in (elements, element_size, stored) and elements * element_size > stored:
            raise Damaged(f"data of the object at address {addr}: {elements} elements of "
                          f"{element_size} bytes but {stored} bytes stored")

    # links and groups

    def link(self, c):
        if c.u8() != 1:
            raise Damaged(f"link message in the object at address {c.addr}: unknown version")
        flags = c.u8()
        kind = c.u8() if flags & 8 else 0
        if flags & 4:
            c.take(8)
        if flags & 16:
            c.take(1)
        c.take(c.uint(1 << (flags & 3)))
        if kind == 0:
            self.object(c.addr_())

    def link_info(self, c):
        for data in self.dense(c, 8, 4, "group links"):
            self.link(Cursor(data, self.f, "link in a fractal heap", c.addr))

    def dense(self, c, index_bytes, id_at, what):
        """The fractal heap objects that a link info or attribute info message points to
        (`index_bytes`: size of its creation index; `id_at`: where a B-tree record's heap ID
        starts)."""
        c.u8()
        flags = c.u8()
        if flags & 1:
            c.take(index_bytes)
        heap, names = c.addr_(), c.addr_()
        return dense_objects(self.f, heap, names, id_at, what)

    def symbol_table(self, btree, heap):
        self.local_heap(heap)
        self.group_btree(btree)

    def local_heap(self, addr):
        c = self.f.block(addr, 8 + 2 * self.f.l + self.f.o, "local heap", b"HEAP")
        c.take(4)
        size, free, data = c.length(), c.length(), c.addr_()
        self.f.read(data, size, "local heap data")
        seen = set()
        while free != 1 and not self.f.undefined(free):  # 1: HDF5's "no free block"
            if free in seen or free + 2 * self.f.l > size:
                raise Damaged(f"local heap at address {addr}: its free list loops or leaves "
                              "the heap")
            seen.add(free)
            b = self.f.block(data + free, 2 * self.f.l, "local heap free block")
            free, length = b.length(), b.length()
            if length == 0:
                raise Damaged(f"local heap at address {addr}: a free block of size 0")

    def group_btree(self, addr):
        stack, seen = [(addr, None)], set()
        while stack:
            node, level = stack.pop()
            if node in seen:
                raise Damaged(f"group B-tree at address {addr}: node {node} reached twice")
            seen.add(node)
            c = self.f.block(node, 8 + 2 * self.f.o, "group B-tree node", b"TREE")
            kind, lvl, used = c.u8(), c.u8(), c.uint(2)
            if kind != 0 or (level is not None and lvl != level):
                raise Damaged(f"group B-tree node at address {node}: wrong type or level")
            step = self.f.l + self.f.o
            c = self.f.block(node + 8 + 2 * self.f.o, self.f.l + used * step,
                             "group B-tree node")
            for _ in range(used):
                c.length()
                child = c.addr_()
                if lvl:
                    stack.append((child, lvl - 1))
                else:
                    self.symbol_node(child)

    def symbol_node(self, addr):
        c = self.f.block(addr, 8, "symbol table node", b"SNOD")
        c.take(2)
        count = c.uint(2)
        entry = 2 * self.f.o + 24
        c = self.f.block(addr + 8, count * entry, "symbol table node")
        for _ in range(count):
            c.addr_()
            target = c.addr_()
            c.take(24)
            self.object(target)

    # attributes

    def attribute(self, c, at_root):
        version = c.u8()
        flags = c.u8()
        name_len, type_len, space_len = c.uint(2), c.uint(2), c.uint(2)
        if version == 3:
            c.take(1)
        pad = (lambda n: (n + 7) // 8 * 8) if version == 1 else (lambda n: n)
        name = c.take(pad(name_len))[:name_len].rstrip(b"\0")
        t = Cursor(c.take(pad(type_len)), self.f, "attribute datatype", c.addr)
        s = Cursor(c.take(pad(space_len)), self.f, "attribute dataspace", c.addr)
        if flags & 2:
            return  # shared dataspace
        count = h5.dataspace(s)
        if flags & 1:
            t = self.committed_type(t)
            if t is None:
                return
        text = t.left() and t.data[t.pos] & 15 == 3  # fixed-length string
        size, vlens = h5.datatype(t)
        if size * count > c.left():
            raise Damaged(f"attribute in the object at address {c.addr}: {count} values of "
                          f"{size} bytes but {c.left()} bytes of data")
        if text and at_root:
            self.texts[name.decode("utf-8", "replace")] = c.data[c.pos:c.pos + size * count]
        for k in range(count if vlens else 0):
            for offset, _ in vlens:
                v = Cursor(c.data, self.f, "variable-length attribute value", c.addr)
                v.pos = c.pos + k * size + offset
                length, heap, index = v.uint(4), v.addr_(), v.uint(4)
                if length or heap:
                    self.global_heap(heap, index)

    def committed_type(self, c):
        """The datatype of a committed (named) type that an attribute refers to, or None."""
        version = c.u8()
        kind = c.u8()
        if version == 1:
            c.take(6)
        elif version == 3 and kind != 2:
            return None  # in the shared-message heap
        addr = c.addr_()
        for mtype, mflags, data in h5.object_header(self.f, addr):
            if mtype == 0x03 and not mflags & 2:
                return Cursor(data, self.f, "committed datatype", addr)
        raise Damaged(f"committed datatype at address {addr}: no datatype message")

    def attribute_info(self, c, at_root):
        for data in self.dense(c, 2, 0, "dense attributes"):
            self.attribute(Cursor(data, self.f, "attribute in a fractal heap", c.addr), at_root)

    def global_heap(self, addr, index):
        """Checks the global heap collection at `addr` (once) and that it holds `index`."""
        if addr not in self.heaps:
            self.heaps[addr] = self.collection(addr)
        if index not in self.heaps[addr]:
            raise Damaged(f"global heap collection at address {addr}: no object {index}")

    def collection(self, addr):
        f = self.f
        c = f.block(addr, 8 + f.l, "global heap collection", b"GCOL")
        c.take(4)
        size = c.length()
        head = 8 + f.l
        if size < head:
            raise Damaged(f"global heap collection at address {addr}: size {size}")
        body = f.block(addr, size, "global heap collection")
        body.pos = head
        indices = set()
        obj_head = 8 + f.l
        while body.left() >= obj_head:
            start = body.pos
            index = body.uint(2)
            body.take(6)
            length = body.length()
            need = length if index == 0 else obj_head + (length + 7) // 8 * 8
            if index == 0 and length < obj_head or need > size - start:
                raise Damaged(f"global heap collection at address {addr} ({size} bytes): "
                              f"object {index} at byte {start} has size {length}, so the objects "
                              "do not add up to the collection")
            indices.add(index)
            body.pos = start + need
        # A tail too small for an object header is free space to HDF5.
        return indices

    # data

    def layout(self, c):
        """Checks contiguous data lie in the file; returns their size (None for others)."""
        version = c.u8()
        if version < 3 or c.u8() != 1:
            return None
        addr, size = c.addr_(), c.length()
        if not self.f.undefined(addr) and self.f.base + addr + size > self.f.size:
            raise Damaged(f"contiguous data at address {addr} ({size} bytes) beyond the end "
                          "of the file")
        return None if self.f.undefined(addr) else size
