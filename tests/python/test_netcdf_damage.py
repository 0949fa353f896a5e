# SPDX-License-Identifier: Apache-2.0
"""Damaged NetCDF files (data sets and models): each kind of damage that made the netCDF/HDF5
libraries hang or read garbage is refused with a ValueError naming the file. The reads run in a
worker process with a time limit, so a regression fails the test instead of stalling the run."""

import struct

import numpy as np
import pytest
import scipy.sparse as sp

netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import _h5check  # noqa: E402

from damage_helpers import bounded, model_file  # noqa: E402

def expect_refused(fn, path, *fragments):
    result = bounded(fn, str(path))
    assert result is not None, "the damaged file loaded"
    kind, message = result
    assert kind == "ValueError", result
    for fragment in (str(path),) + fragments:
        assert fragment in message, (fragment, message)


def data_file(path):
    m = sp.random(20, 30, density=0.2, format="csr", random_state=3, dtype=np.float32)
    m.data[:] = 1
    dsstne.write_netcdf(path, [dsstne.DataSet("input", m)])
    return path


def damage(path, edits):
    """Writes `edits` (offset -> bytes) into the file at `path`."""
    blob = bytearray(path.read_bytes())
    for offset, value in edits.items():
        blob[offset:offset + len(value)] = value
    path.write_bytes(bytes(blob))
    return path


def collection(path):
    """(offset, size) of the file's first global heap collection."""
    blob = path.read_bytes()
    at = blob.index(b"GCOL")
    return at, struct.unpack_from("<Q", blob, at + 8)[0]


READERS = {"data": (data_file, dsstne.read_netcdf), "model": (model_file, dsstne.load_network)}


@pytest.mark.parametrize("kind", READERS)
@pytest.mark.parametrize("field", ["free_space_size", "object_size", "object_index"])
def test_global_heap_objects_that_do_not_tile_the_collection(tmp_path, kind, field):
    # Zeroing the free space object's size made HDF5 loop forever on open.
    make, read = READERS[kind]
    path = make(tmp_path / "f.nc")
    at, size = collection(path)
    blob = path.read_bytes()
    p, last = at + 16, None
    while p < at + size:  # walk to the free space object (index 0)
        index, length = struct.unpack_from("<H", blob, p)[0], struct.unpack_from("<Q", blob,
                                                                                 p + 8)[0]
        if index == 0:
            break
        last = p
        p += 16 + (length + 7) // 8 * 8
    edits = {"free_space_size": {p + 8: bytes(8)},
             "object_size": {last + 8: struct.pack("<Q", size)},
             "object_index": {last: bytes(2)}}[field]
    damage(path, edits)
    expect_refused(read, path, "global heap")


@pytest.mark.parametrize("kind", READERS)
def test_global_heap_collection_larger_than_the_file(tmp_path, kind):
    make, read = READERS[kind]
    path = make(tmp_path / "f.nc")
    at, _ = collection(path)
    damage(path, {at + 8: struct.pack("<Q", 1 << 40)})
    expect_refused(read, path, "global heap collection", "beyond the end of the file")


@pytest.mark.parametrize("kind", READERS)
def test_hdf5_file_shorter_than_its_superblock_says(tmp_path, kind):
    make, read = READERS[kind]
    path = make(tmp_path / "f.nc")
    blob = path.read_bytes()
    path.write_bytes(blob[:-8])
    expect_refused(read, path, "truncated")


def test_every_zeroed_byte_of_a_global_heap_is_refused_or_harmless(tmp_path):
    good = data_file(tmp_path / "good.nc")
    at, size = collection(good)
    blob = good.read_bytes()
    path = tmp_path / "f.nc"
    for offset in range(at, at + 160):
        if blob[offset]:
            path.write_bytes(blob[:offset] + b"\0" + blob[offset + 1:])
            result = bounded(dsstne.read_netcdf, str(path))
            assert result is None or result[0] == "ValueError", (offset, result)


def test_local_heap_free_list_loop():
    # Version 0 files keep group member names in a local heap; HDF5 follows its free list
    # without looking for loops.
    header = b"HEAP" + bytes(4) + struct.pack("<QQQ", 64, 16, 64)  # size, free list, data at
    data = bytearray(64)
    data[16:32] = struct.pack("<QQ", 32, 16)  # free block at 16: next at 32
    data[32:48] = struct.pack("<QQ", 16, 16)  # free block at 32: next at 16 again
    blob = header.ljust(64, b"\0") + bytes(data)
    f = _h5check.h5.File(_Bytes(bytes(blob)), len(blob))
    with pytest.raises(_h5check.Damaged, match="free list loops"):
        _h5check._Walk(f).local_heap(0)


class _Bytes:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def seek(self, pos):
        self.pos = pos

    def read(self, n):
        self.pos += n
        return self.data[self.pos - n:self.pos]


def test_sound_files_pass_the_check(tmp_path):
    for make in (data_file, model_file):
        path = make(tmp_path / f"{make.__name__}.nc")
        _h5check.check(path)
    path = tmp_path / "strings.nc"
    with netCDF4.Dataset(path, "w") as nc:  # vlen strings and dense attribute storage
        nc.setncattr_string("text", "héllo")
        for k in range(40):
            nc.setncattr(f"a{k}", np.uint32(k))
            nc.createDimension(f"d{k}", k + 1)
            nc.createVariable(f"v{k}", "f4", (f"d{k}",))
    _h5check.check(path)


# ---------------------------------------------------------------------------------------------
# classic (CDF-5) headers


def classic_file(path):
    m = sp.random(20, 30, density=0.2, format="csr", random_state=3, dtype=np.float32)
    dsstne.write_netcdf(path, [dsstne.DataSet("input", m)], format="NETCDF3_64BIT_DATA")
    return path


def after_name(blob, name):
    """Offset of the first field after the (padded) name `name` in a CDF-5 header."""
    return blob.index(name) + (len(name) + 3) // 4 * 4


@pytest.mark.parametrize("edit, fragment", [
    ("attribute count", "more than the file can hold"),
    ("data offset", "needs bytes"),
    ("data offset inside the header", "inside the header"),
    ("variable type", "unknown type"),
    ("dimension id", "dimension id"),
    ("name length", "more than the file can hold"),
])
def test_damaged_classic_header(tmp_path, edit, fragment):
    path = classic_file(tmp_path / "f.nc")
    blob = path.read_bytes()
    # After a variable's name: its dimension count (+0), dimension id (+8), attribute list
    # (+16: tag and count), type (+28), size (+32) and data offset (+40).
    at = after_name(blob, b"sparseIndex0")
    edits = {
        "attribute count": {blob.index(b"\0\0\0\x0c", 40) + 4: struct.pack(">Q", 1 << 40)},
        "data offset": {at + 40: struct.pack(">Q", len(blob) + 100)},
        "data offset inside the header": {at + 40: struct.pack(">Q", 8)},
        "variable type": {at + 28: struct.pack(">I", 99)},
        "dimension id": {at + 8: struct.pack(">Q", 7)},
        "name length": {blob.index(b"sparseIndex0") - 8: struct.pack(">Q", 1 << 50)},
    }[edit]
    damage(path, edits)
    expect_refused(dsstne.read_netcdf, path, "damaged NetCDF header", fragment)


def test_truncated_classic_file_is_refused_before_netcdf_reads_zeros(tmp_path):
    path = classic_file(tmp_path / "f.nc")
    path.write_bytes(path.read_bytes()[:-16])
    expect_refused(dsstne.read_netcdf, path, "truncated")


def test_classic_dimension_of_impossible_length(tmp_path):
    # A CDF-5 length of 2^64 - 2^56 + 3 made len() of the netCDF4 dimension raise SystemError.
    path = classic_file(tmp_path / "f.nc")
    blob = path.read_bytes()
    at = after_name(blob, b"sparseDataDim0")
    damage(path, {at: b"\xff" + blob[at + 1:at + 8]})
    expect_refused(dsstne.read_netcdf, path, "damaged NetCDF header", "sparseDataDim0")
