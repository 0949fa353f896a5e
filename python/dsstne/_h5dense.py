# SPDX-License-Identifier: Apache-2.0
"""HDF5's dense storage of links and attributes: the objects of a fractal heap, found through
the records of a version-2 B-tree. Groups with many members and objects with many attributes
(a model file's root group) keep them there, so checking what they point to means reading
these structures (docs/compatibility.md, "Damaged NetCDF files")."""

from __future__ import annotations

from ._h5format import Cursor, Damaged, Unknown, enc_size


class FractalHeap:
    """The managed objects of the fractal heap whose header is at `addr`."""

    def __init__(self, f, addr):
        self.f = f
        c = f.block(addr, 256 if f.size - f.base - addr >= 256 else f.size - f.base - addr,
                    "fractal heap header", b"FRHP")
        c.u8()  # version
        self.id_len = c.uint(2)
        self.filter_len = c.uint(2)
        self.flags = c.u8()
        self.max_object = c.uint(4)
        for _ in range(2):
            c.length(), c.addr_()  # huge object id and B-tree; free space and its manager
        for _ in range(8):
            c.length()  # space and object counts
        self.width = c.uint(2)
        self.start = c.length()
        self.max_direct = c.length()
        self.max_bits = c.uint(2)
        c.uint(2)  # starting rows of the root indirect block
        self.root = c.addr_()
        self.root_rows = c.uint(2)
        if not (self.width and self.start and self.max_direct and 0 < self.max_bits <= 64):
            raise Damaged(f"fractal heap header at address {addr}: a zero or impossible size")
        if self.width & (self.width - 1) or self.start & (self.start - 1) or \
                self.max_direct & (self.max_direct - 1) or self.max_direct < self.start:
            raise Damaged(f"fractal heap header at address {addr}: block sizes that are not "
                          "powers of two")
        self.addr = addr
        self.off_size = (self.max_bits + 7) // 8
        self.len_size = min(enc_size(self.max_direct), enc_size(self.max_object))
        self.direct_rows = (self.max_direct.bit_length() - self.start.bit_length()) + 2
        self.first_bits = (self.start.bit_length() - 1) + (self.width.bit_length() - 1)

    def _row_size(self, row):
        return self.start if row == 0 else self.start << (row - 1)

    def _row_offset(self, row):
        return 0 if row == 0 else (self.start * self.width) << (row - 1)

    def _block_prefix(self):
        return 5 + self.f.o + self.off_size

    def object(self, heap_id):
        """The bytes of the object with ID `heap_id`."""
        c = Cursor(heap_id, self.f, "fractal heap ID", self.addr)
        first = c.u8()
        kind = (first >> 4) & 3
        if first >> 6:
            raise Damaged(f"fractal heap at address {self.addr}: heap ID of unknown version")
        if kind == 2:  # tiny: stored in the ID itself
            return heap_id[1:1 + (first & 15) + 1]
        if kind != 0:
            raise Unknown("huge fractal heap object")
        offset, length = c.uint(self.off_size), c.uint(self.len_size)
        if self.filter_len:
            raise Unknown("filtered fractal heap")
        if self.f.undefined(self.root):
            raise Damaged(f"fractal heap at address {self.addr}: an object but no blocks")
        block, block_offset, size = self._locate(offset)
        inside = offset - block_offset
        if inside < self._block_prefix() or inside + length > size:
            raise Damaged(f"fractal heap at address {self.addr}: object at heap offset "
                          f"{offset} ({length} bytes) outside its direct block")
        return self.f.read(block + inside, length, "fractal heap object")

    def _locate(self, offset):
        """(address, heap offset, size) of the direct block holding heap offset `offset`."""
        if self.root_rows == 0:
            return self.root, 0, self.start
        addr, rows, base = self.root, self.root_rows, 0
        for _ in range(64):
            rel = offset - base
            if rel < self.start * self.width:
                row, col = 0, rel // self.start
            else:
                row = (rel.bit_length() - 1) - self.first_bits + 1
                col = (rel - self._row_offset(row)) // self._row_size(row)
            if row >= rows or col >= self.width:
                raise Damaged(f"fractal heap at address {self.addr}: heap offset {offset} "
                              "beyond its blocks")
            entry = row * self.width + col
            direct = min(rows, self.direct_rows) * self.width
            pos = self._block_prefix() + (entry * self.f.o if entry < direct else
                                          direct * self.f.o + (entry - direct) * self.f.o)
            c = self.f.block(addr, pos + self.f.o, "fractal heap indirect block", b"FHIB")
            c.pos = pos
            child = c.addr_()
            if self.f.undefined(child):
                raise Damaged(f"fractal heap at address {self.addr}: heap offset {offset} "
                              "in a block never written")
            if entry < direct:
                return child, base + self._row_offset(row) + col * self._row_size(row), \
                    self._row_size(row)
            base += self._row_offset(row) + col * self._row_size(row)
            size = self._row_size(row)
            rows = (size.bit_length() - 1) - self.first_bits + 1
            addr = child
        raise Damaged(f"fractal heap at address {self.addr}: indirect blocks nested too deep")


def btree2_records(f, addr):
    """The records (bytes) of the version-2 B-tree whose header is at `addr`."""
    c = f.block(addr, 22 + f.o + f.l, "v2 B-tree header", b"BTHD")
    c.u8()  # version
    c.u8()  # type
    node_size, rec_size, depth = c.uint(4), c.uint(2), c.uint(2)
    c.take(2)
    root, root_count = c.addr_(), c.uint(2)
    if node_size < 16 or rec_size == 0 or depth > 32:
        raise Damaged(f"v2 B-tree header at address {addr}: impossible node or record size")
    if f.undefined(root):
        return []
    # Sizes of the child counts in internal nodes, as HDF5 derives them from the node size.
    max_recs = [(node_size - 10) // rec_size]
    cum = [max_recs[0]]
    ptr_sizes = [0]
    for d in range(1, depth + 1):
        ptr = f.o + enc_size(max_recs[d - 1]) + (enc_size(cum[d - 1]) if d > 1 else 0)
        max_recs.append((node_size - 10 - ptr) // (rec_size + ptr))
        cum.append((max_recs[d] + 1) * cum[d - 1] + max_recs[d])
        ptr_sizes.append(ptr)
    records, stack, seen = [], [(root, root_count, depth)], set()
    while stack:
        node, count, d = stack.pop()
        if node in seen:
            raise Damaged(f"v2 B-tree at address {addr}: node {node} reached twice")
        seen.add(node)
        if count > max_recs[d]:
            raise Damaged(f"v2 B-tree at address {addr}: node {node} with {count} records")
        n = f.block(node, min(node_size, f.size - f.base - node), "v2 B-tree node",
                    b"BTLF" if d == 0 else b"BTIN")
        n.take(2)
        for _ in range(count):
            records.append(n.take(rec_size))
        if d:
            for _ in range(count + 1):
                child = n.addr_()
                child_count = n.uint(enc_size(max_recs[d - 1]))
                if d > 1:
                    n.uint(enc_size(cum[d - 1]))
                stack.append((child, child_count, d - 1))
    return records


def dense_objects(f, heap_addr, btree_addr, id_at, what):
    """The heap objects (bytes) that the B-tree's records point to; a record's heap ID starts
    at byte `id_at`."""
    if f.undefined(heap_addr) or f.undefined(btree_addr):
        return []
    heap = FractalHeap(f, heap_addr)
    out = []
    for rec in btree2_records(f, btree_addr):
        hid = rec[id_at:id_at + heap.id_len]
        if len(hid) != heap.id_len:
            raise Damaged(f"{what}: B-tree record shorter than a heap ID")
        out.append(heap.object(hid))
    return out
