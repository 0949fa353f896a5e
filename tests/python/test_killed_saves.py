# SPDX-License-Identifier: Apache-2.0
"""A save killed outright (SIGKILL) leaves the previous file intact, and its temporary file is
removed by the next save of the same target: data sets, models and index files."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import _files, textformats  # noqa: E402

from damage_helpers import model_file  # noqa: E402

# The child saves through a `replacing` that stops once the temporary file is written, before
# the rename, tells the parent, and waits to be killed.
CHILD = textwrap.dedent("""
    import contextlib, sys, time
    import numpy as np, scipy.sparse as sp
    import dsstne
    from dsstne import _files, model, netcdf, textformats

    @contextlib.contextmanager
    def stalled(path, **kw):
        with _files.replacing(path, **kw) as tmp:
            yield tmp
            print(tmp, flush=True)
            time.sleep(600)

    kind, path = sys.argv[1], sys.argv[2]
    if kind == "model":
        model.replacing = stalled
        net = dsstne.load_network(path)
        net.weights[0].bias = net.weights[0].bias + 1
        dsstne.save_network(net, path, overwrite=True)
    elif kind == "data":
        netcdf.replacing = stalled
        m = sp.random(9, 7, density=0.4, format="csr", random_state=2, dtype=np.float32)
        dsstne.write_netcdf(path, dsstne.DataSet("other", m), overwrite=True)
    else:
        textformats.replacing = stalled
        textformats.write_index(path, {"x": 0, "y": 1})
""")


def kill_mid_save(kind, path):
    """Runs a save of `path` in a child process, SIGKILLs it after it wrote its temporary file;
    returns that file's name."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(path)],
                             stdout=subprocess.PIPE, env=env, text=True)
    try:
        tmp = child.stdout.readline().strip()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert tmp and os.path.exists(tmp), "the child did not get to write its temporary file"
    return tmp


def test_killed_model_save(tmp_path):
    path = model_file(tmp_path / "m.nc")
    before = dsstne.load_network(path).weights[0].bias.copy()
    tmp = kill_mid_save("model", path)
    assert os.path.basename(tmp).startswith(".m.nc.")
    np.testing.assert_array_equal(dsstne.load_network(path).weights[0].bias, before)
    net = dsstne.load_network(path)
    dsstne.save_network(net, path, overwrite=True)
    assert not os.path.exists(tmp)
    assert sorted(os.listdir(tmp_path)) == ["m.nc"]


def test_killed_data_set_write(tmp_path):
    path = tmp_path / "d.nc"
    m = np.arange(12, dtype=np.float32).reshape(4, 3)
    dsstne.write_netcdf(path, dsstne.DataSet("dense", m))
    tmp = kill_mid_save("data", path)
    [ds] = dsstne.read_netcdf(path)
    assert ds.name == "dense"
    dsstne.write_netcdf(path, dsstne.DataSet("dense", m), overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["d.nc"] and not os.path.exists(tmp)


def test_killed_index_write(tmp_path):
    path = tmp_path / "features.idx"
    textformats.write_index(path, {"a": 0})
    tmp = kill_mid_save("text", path)
    assert textformats.read_index(path) == {"a": 0}
    textformats.write_index(path, {"b": 0})
    assert sorted(os.listdir(tmp_path)) == ["features.idx"] and not os.path.exists(tmp)


def test_temporaries_of_live_writers_and_other_targets_are_kept(tmp_path):
    path = tmp_path / "f.idx"
    live = tmp_path / f".f.idx.{_files._host()}.{os.getpid()}.abc123.tmp"
    elsewhere = tmp_path / ".f.idx.some-other-host.1.abc123.tmp"
    other_target = tmp_path / ".g.idx.{}.999999999.abc.tmp".format(_files._host())
    for p in (live, elsewhere, other_target):
        p.write_bytes(b"partial")
    textformats.write_index(path, {"a": 0})
    assert live.exists() and elsewhere.exists() and other_target.exists()
