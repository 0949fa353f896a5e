# SPDX-License-Identifier: Apache-2.0
"""Every tool given a bad file for any of its file flags fails with exit status 1 and exactly one
stderr line ``dsstne <tool>: error: <flag> <file>: <what>``: never a traceback, never a message
that cannot be read. The bad files are tiny: binary bytes, a truncated NetCDF file, a text file,
an empty file, a directory, a missing file and an endless device (/dev/zero)."""

import json

import numpy as np
import pytest

pytest.importorskip("netCDF4")

from cli_helpers import enter, make_job, run  # noqa: E402

USERS, ITEMS = 24, 20
BAD = ("binary.bin", "trunc.nc", "text.txt", "empty", "folder", "missing.nc", "/dev/zero")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good inputs for every tool and the bad files, in one folder."""
    d = tmp_path_factory.mktemp("bad_files")
    rng = np.random.default_rng(3)
    make_job(d, [f"u{u}\t" + ":".join(f"i{i}" for i in {u % ITEMS, *rng.choice(ITEMS, 3)})
                 for u in range(USERS)])
    (d / "binary.bin").write_bytes(bytes(range(256)) * 4)
    whole = (d / "in.nc").read_bytes()
    (d / "trunc.nc").write_bytes(whole[:len(whole) // 2])
    (d / "text.txt").write_text("this is text, not data\n")
    (d / "empty").write_bytes(b"")
    (d / "folder").mkdir()
    return d


@pytest.fixture
def work(files, monkeypatch, capsys):
    return enter(files, monkeypatch, capsys)


def one_error_line(capsys, tool, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"dsstne {tool}: error: "), err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def substituted(args, flag, bad):
    args = list(args)
    if flag in args:
        args[args.index(flag) + 1] = bad
    else:
        args += [flag, bad]
    return args


GENERATE = ("generateNetCDF", "-i", "data.txt", "-o", "new.nc", "-d", "x", "-f", "features",
            "-s", "samples", "--force")
TRAIN = ("train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc", "-n", "new.nc", "-e", 1,
         "-b", 8, "--force")
PREDICT = ("predict", "-n", "m.nc", "-r", "data.txt", "-i", "features", "-o", "features",
           "-s", "recs", "-k", 3, "--force")
EVALUATE = ("evaluate", "-r", "data.txt", "-k", 5, "--seeds", 1)
# (base command, flag, the bad files that are bad for it: some flags accept an empty file or
# a directory, and generateNetCDF creates a missing -s)
CASES = [
    (GENERATE, "-i", ("binary.bin", "trunc.nc", "empty", "folder", "missing.nc", "/dev/zero")),
    (GENERATE, "-f", BAD),
    (GENERATE, "-s", ("binary.bin", "trunc.nc", "text.txt", "folder", "/dev/zero")),
    (TRAIN, "-c", BAD),
    (TRAIN, "-i", BAD),
    (TRAIN, "-o", BAD),
    (PREDICT, "-n", BAD),
    (PREDICT, "-r", BAD),
    (PREDICT, "-i", BAD),
    (PREDICT, "-o", BAD),
    (PREDICT, "-f", ("binary.bin", "trunc.nc", "text.txt", "folder", "missing.nc",
                     "/dev/zero")),
    (EVALUATE, "-r", BAD),
    (EVALUATE, "-i", BAD),
    (("evaluate", "-k", 5, "--seeds", 1), "--netcdf", BAD),
    (EVALUATE + ("-e", 1, "-b", 8), "-c", BAD),
    (EVALUATE + ("-i", "features"), "-n", BAD),
]


@pytest.mark.parametrize("base, flag, bad", [(b, f, x) for b, f, bad in CASES for x in bad],
                         ids=lambda v: v[0] if isinstance(v, tuple) else str(v))
def test_a_bad_file_is_one_line_naming_flag_and_file(work, capsys, base, flag, bad):
    assert run(*substituted(base, flag, bad)) == 1
    one_error_line(capsys, base[0], f"{flag} {bad}")
    assert not (work / "new.nc").exists()


@pytest.mark.parametrize("bad", BAD)
def test_continue_with_a_bad_model(work, capsys, bad):
    assert run("train", "--continue", bad, *TRAIN[3:]) == 1
    one_error_line(capsys, "train", f"--continue {bad}")


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_cdl_file(work, capsys, bad):
    assert run("encoder", bad) == 1
    one_error_line(capsys, "encoder", bad)


@pytest.mark.parametrize("command, key", [("Train", "Network"), ("Train", "Data"),
                                          ("Predict", "Network"), ("Predict", "Data")])
@pytest.mark.parametrize("bad", BAD)
def test_a_cdl_naming_a_bad_file(work, capsys, command, key, bad):
    cdl = {"Command": command, "Network": "ae.json" if command == "Train" else "m.nc",
           "Data": ["in.nc", "out.nc"], "TrainingParameters": {"Epochs": 1, "MiniBatch": 8,
                                                               "Results": "new.nc"}}
    cdl[key] = bad if key == "Network" else ["in.nc", bad]
    (work / "job.cdl").write_text(json.dumps(cdl))
    assert run("encoder", "job.cdl", "--force") == 1
    one_error_line(capsys, "encoder", "job.cdl", f"{key} ", bad)


def test_infinite_attribute(work, capsys, tmp_path):
    import netCDF4
    path = tmp_path / "inf.nc"
    path.write_bytes((work / "in.nc").read_bytes())
    with netCDF4.Dataset(path, "a") as nc:
        nc.setncattr("width0", np.float64("inf"))
    assert run(*substituted(TRAIN, "-i", path)) == 1
    one_error_line(capsys, "train", f"-i {path}")


def test_model_file_as_a_data_set_and_back(work, capsys):
    assert run(*substituted(TRAIN, "-i", "m.nc")) == 1
    one_error_line(capsys, "train", "-i m.nc")
    assert run(*substituted(PREDICT, "-n", "in.nc")) == 1
    one_error_line(capsys, "predict", "-n in.nc")


def test_unexpected_exception_is_one_line(work, capsys, monkeypatch):
    from dsstne.cli import train

    def boom(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'shape'")
    monkeypatch.setattr(train, "run", boom)
    assert run(*TRAIN) == 1
    one_error_line(capsys, "train", "AttributeError", "no attribute 'shape'")


def test_interrupt_is_exit_130_in_one_line(work, capsys, monkeypatch):
    from dsstne.cli import generate

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(generate, "run", interrupt)
    assert run(*GENERATE) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err


def test_out_of_memory_says_so(work, capsys, monkeypatch):
    from dsstne.cli import predict

    def oom(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(predict, "run", oom)
    assert run(*PREDICT) == 1
    one_error_line(capsys, "predict", "out of memory")
