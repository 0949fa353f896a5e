# SPDX-License-Identifier: Apache-2.0
"""CI-bounded fuzzing of the file readers (NetCDF data sets, NetCDF models, DSSTNE text files):
hypothesis damages the seed files of corpus.py and every damaged file must either load into
finite, consistent objects or fail with a clean error naming the file — never crash, never
hang. Deterministic (derandomized); the long campaign is campaign.py."""

import faulthandler
import os
import sys

import pytest

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("netCDF4")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import corpus  # noqa: E402

HANG_S = 20  # a case still running after this long ends the run with every thread's stack
CASES = int(os.environ.get("DSSTNE_FUZZ_CASES", "300"))


_REPORT = [None]  # where a hang's stacks go: the real stderr, past pytest's capture


@pytest.fixture(scope="module", autouse=True)
def hang_report(request):
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        fd = os.dup(2)
    else:
        with capman.global_and_fixture_disabled():
            fd = os.dup(2)
    _REPORT[0] = os.fdopen(fd, "w")
    yield
    _REPORT[0].close()
    _REPORT[0] = None


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return corpus.make_seeds(str(tmp_path_factory.mktemp("seeds")))


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    """A new file name for each case: HDF5 recognises a file it still holds open (a failed
    open can leave it so) by its inode, and a file rewritten in place keeps its inode."""
    directory = tmp_path_factory.mktemp("cases")
    count = iter(range(1 << 30))
    return lambda: str(directory / f"case{next(count)}.bin")


# Signatures of the HDF5 structures and the classic header: half of the edits land in the
# 256 bytes after one of them, where the metadata that can hang a reader lives.
_HOT = (b"GCOL", b"OHDR", b"OCHK", b"FRHP", b"FHDB", b"FHIB", b"BTHD", b"BTLF", b"HEAP",
        b"TREE", b"SNOD", b"CDF", b"\x89HDF")


def _hot_spots(blob):
    spots = []
    for sig in _HOT:
        at = blob.find(sig)
        while at >= 0:
            spots.append(at)
            at = blob.find(sig, at + 1)
    return sorted(spots) or [0]


def _damage():
    """A list of edits: (position as a fraction of the file or of 256 bytes after a hot spot,
    hot spot number or None, kind, byte)."""
    edit = st.tuples(st.floats(0, 1, allow_nan=False, exclude_max=True),
                     st.one_of(st.none(), st.integers(0, 1 << 16)),
                     st.sampled_from(["set", "zero", "flip", "cut", "run"]),
                     st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4)


def _apply(blob, edits):
    b = bytearray(blob)
    spots = _hot_spots(blob)
    for where, hot, kind, value in edits:
        if not b:
            break
        if hot is None:
            at = int(where * len(b))
        else:
            at = min(spots[hot % len(spots)] + int(where * 256), len(b) - 1)
        if kind == "set":
            b[at] = value
        elif kind == "zero":
            b[at] = 0
        elif kind == "flip":
            b[at] ^= 1 << (value % 8)
        elif kind == "cut":
            del b[at:]
        else:
            b[at:at + 1 + value % 16] = bytes([value]) * (1 + value % 16)
    return bytes(b)


def _check(target, path):
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=_REPORT[0] or sys.stderr)
    try:
        corpus.run_target(target, path)
    except corpus.Unclean:
        raise
    except BaseException as e:  # noqa: BLE001 - judged below
        if not corpus.clean(e, path):
            raise AssertionError(f"unclean failure on {path}: {type(e).__name__}: {e}") from e
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("target", sorted(corpus.SEEDS))
def test_damaged_files_fail_cleanly(seeds, case_path, target):
    @settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(which=st.integers(0, len(seeds[target]) - 1), edits=_damage())
    def run(which, edits):
        name, blob = seeds[target][which]
        path = case_path()
        with open(path, "wb") as fh:
            fh.write(_apply(blob, edits))
        _check(target, path)

    run()


@pytest.mark.parametrize("target", sorted(corpus.SEEDS))
def test_seed_files_load(seeds, case_path, target):
    for name, blob in seeds[target]:
        path = case_path()
        with open(path, "wb") as fh:
            fh.write(blob)
        corpus.run_target(target, path)


@pytest.mark.parametrize("target", ["data", "model"])
def test_zeroed_fields_near_structures(seeds, case_path, target):
    # Random edits seldom zero a whole size field of the metadata that can hang HDF5 (a global
    # heap's object sizes); this sweep zeroes each 8-byte field after every structure's
    # signature.
    for name, blob in seeds[target]:
        for spot in sorted(set(_hot_spots(blob))):
            for at in range(spot, min(spot + 192, len(blob)), 8):
                path = case_path()
                with open(path, "wb") as fh:
                    fh.write(blob[:at] + bytes(min(8, len(blob) - at)) + blob[at + 8:])
                _check(target, path)
