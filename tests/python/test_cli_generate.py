# SPDX-License-Identifier: Apache-2.0
"""The ``dsstne`` command and ``dsstne generateNetCDF`` (spec/formats.md §4.1, §2.8.1), end to
end in a temporary directory."""

import os
import subprocess
import sys

import numpy as np
import pytest

netCDF4 = pytest.importorskip("netCDF4")

import dsstne  # noqa: E402
from dsstne import cli, textformats as tf  # noqa: E402


def generate(tmp_path, *flags):
    """Runs ``dsstne generateNetCDF`` with paths relative to tmp_path."""
    args = ["generateNetCDF"]
    for flag in flags:
        args.append(str(tmp_path / flag[1:]) if flag.startswith("@") else flag)
    return cli.main(args)


def nc_contents(path):
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        attrs = {a: nc.getncattr(a) for a in nc.ncattrs()}
        dims = {k: len(v) for k, v in nc.dimensions.items()}
        variables = {k: (v.dtype, np.asarray(v[:])) for k, v in nc.variables.items()}
    return attrs, dims, variables


@pytest.fixture
def small(tmp_path):
    (tmp_path / "in.txt").write_text("u1\ta:b\nu2\tb:c:d\n")
    return tmp_path


# ---------------------------------------------------------------------------------------------
# the dispatcher


def test_dispatcher_lists_tools(capsys):
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert "generateNetCDF" in err and "usage: dsstne <tool>" in err
    assert cli.main(["--help"]) == 0
    assert "generateNetCDF" in capsys.readouterr().out


def test_dispatcher_unknown_tool_suggests(capsys):
    assert cli.main(["genNetCDF"]) == 1
    err = capsys.readouterr().err
    assert "unknown tool 'genNetCDF'" in err and "did you mean 'generateNetCDF'" in err


def test_dispatcher_table_is_importable():
    import importlib
    for name, (module, summary) in cli.TOOLS.items():
        assert callable(importlib.import_module(f"dsstne.cli.{module}").main) and summary


def test_tool_help_exits_zero(capsys):
    assert cli.main(["generateNetCDF", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("-i", "-o", "-d", "-f", "-s", "-c", "-m", "-t", "--force"):
        assert flag in out
    assert cli.main(["generatenetcdf", "-h"]) == 0   # tool names are case-insensitive


def test_python_dash_m_runs_the_command(small):
    proc = subprocess.run([sys.executable, "-m", "dsstne.cli", "generateNetCDF", "-i",
                           str(small / "in.txt"), "-o", str(small / "x.nc"), "-d", "x", "-f",
                           str(small / "f"), "-s", str(small / "s"), "-c"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (small / "x.nc").exists()
    proc = subprocess.run([sys.executable, "-m", "dsstne.cli", "nope"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "generateNetCDF" in proc.stderr


# ---------------------------------------------------------------------------------------------
# output files


def test_worked_example_2_10(small, capsys):
    assert generate(small, "-i", "@in.txt", "-o", "@out.nc", "-d", "gl_input", "-f", "@feat",
                    "-s", "@samp", "-c") == 0
    assert (small / "feat").read_text() == "a\t0\nb\t1\nc\t2\nd\t3\n"
    assert (small / "samp").read_text() == "u1\t0\nu2\t1\n"
    attrs, dims, variables = nc_contents(small / "out.nc")
    assert attrs == {"datasets": 1, "name0": "gl_input", "attributes0": 3, "kind0": 0,
                     "dataType0": 0, "dimensions0": 1, "width0": 128}
    assert all(np.asarray(v).dtype == np.uint32 for k, v in attrs.items() if k != "name0")
    assert dims == {"examplesDim0": 2, "sparseDataDim0": 5}
    assert set(variables) == {"sparseStart0", "sparseEnd0", "sparseIndex0"}
    for name, expected in (("sparseStart0", [0, 2]), ("sparseEnd0", [2, 5]),
                           ("sparseIndex0", [0, 1, 1, 2, 3])):
        dtype, values = variables[name]
        assert dtype == np.uint32
        np.testing.assert_array_equal(values, expected)
    (ds,) = dsstne.read_netcdf(small / "out.nc")
    assert ds.name == "gl_input" and ds.boolean and ds.sparse and ds.width == 128
    out = capsys.readouterr()
    assert "2 examples" in out.out and out.err == ""


def test_analog_values_and_missing_value_warning(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("u1\ta,1.5:b\r\nu2\tb,-2:c,1e9\r\n")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-c", "-t", "analog") == 0
    attrs, dims, variables = nc_contents(tmp_path / "out.nc")
    assert attrs["attributes0"] == 1 and attrs["dataType0"] == 4
    dtype, values = variables["sparseData0"]
    assert dtype == np.float32
    np.testing.assert_array_equal(values, np.float32([1.5, 0.0, -2.0, 1e9]))
    np.testing.assert_array_equal(variables["sparseIndex0"][1], [0, 1, 1, 2])
    err = capsys.readouterr().err
    assert "warning: 1 data points have no value" in err and "0.0" in err
    (ds,) = dsstne.read_netcdf(tmp_path / "out.nc")
    assert not ds.boolean and ds.data_type == "Float"


def test_width_rounds_up_the_index_size(tmp_path):
    (tmp_path / "in.txt").write_text("u\t" + ":".join(f"f{k}" for k in range(129)) + "\n")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@o.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-c") == 0
    assert nc_contents(tmp_path / "o.nc")[0]["width0"] == 256


def test_directory_input(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "part-1").write_text("u2\tb\n")
    (d / "part-0").write_text("u1\ta\nu2\tz\n")
    assert generate(tmp_path, "-i", "@in", "-o", "@o.nc", "-d", "x", "-f", "@f", "-s", "@s",
                    "-c") == 0
    assert tf.read_index(tmp_path / "s") == {"u1": 0, "u2": 1}
    assert tf.read_index(tmp_path / "f") == {"a": 0, "z": 1, "b": 2}
    (ds,) = dsstne.read_netcdf(tmp_path / "o.nc")
    np.testing.assert_array_equal(ds.sparse_arrays()["indices"], [0, 2])  # u2: last line wins


# ---------------------------------------------------------------------------------------------
# index handling


def test_fixed_index_drops_unknown_features_with_a_warning(tmp_path, capsys):
    (tmp_path / "f").write_text("a\t0\nb\t1\n")
    (tmp_path / "in.txt").write_text("u1\ta:x:b\nu2\tx:y:a\n")
    before = os.stat(tmp_path / "f")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@o.nc", "-d", "x", "-f", "@f", "-s",
                    "@s") == 0
    err = capsys.readouterr().err
    assert (f"warning: 3 data points of {tmp_path / 'in.txt'} name features that are not in "
            "the feature index") in err
    assert "2 distinct: 'x', 'y'" in err
    after = os.stat(tmp_path / "f")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    (ds,) = dsstne.read_netcdf(tmp_path / "o.nc")
    assert ds.width == 128
    np.testing.assert_array_equal(ds.sparse_arrays()["indices"], [0, 1, 0])


def test_merge_adds_features_after_the_existing_ones(tmp_path):
    (tmp_path / "f").write_text("b\t1\na\t0\n")
    (tmp_path / "in.txt").write_text("u1\tc:a\n")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@o.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-m") == 0
    assert (tmp_path / "f").read_text() == "a\t0\nb\t1\nc\t2\n"
    (ds,) = dsstne.read_netcdf(tmp_path / "o.nc")
    np.testing.assert_array_equal(ds.sparse_arrays()["indices"], [2, 0])


def test_sample_index_continues_and_is_written_only_when_it_grows(tmp_path, capsys):
    (tmp_path / "s").write_text("old\t0\nu1\t1\n")
    (tmp_path / "in.txt").write_text("u2\ta\nu1\tb\n")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@o.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-c") == 0
    assert (tmp_path / "s").read_text() == "old\t0\nu1\t1\nu2\t2\n"
    # 'old' is not in the input: rows 0, 1 hold samples 1, 2 (DSSTNE's gaps) -> warned
    assert "not numbered as the sample index" in capsys.readouterr().err
    (ds,) = dsstne.read_netcdf(tmp_path / "o.nc")
    np.testing.assert_array_equal(ds.sparse_arrays()["indices"], [1, 0])  # u1 (b), u2 (a)
    before = os.stat(tmp_path / "s")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@o2.nc", "-d", "y", "-f", "@f", "-s",
                    "@s") == 0
    after = os.stat(tmp_path / "s")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_existing_output_needs_force(small, capsys):
    base = ["-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s", "@s"]
    assert generate(small, *base, "-c") == 0
    first = (small / "out.nc").read_bytes()
    (small / "in.txt").write_text("u1\ta\n")
    capsys.readouterr()
    assert generate(small, *base) == 1
    err = capsys.readouterr().err
    assert "out.nc exists; pass --force" in err and "Traceback" not in err
    assert (small / "out.nc").read_bytes() == first
    assert generate(small, *base, "--force") == 0
    (ds,) = dsstne.read_netcdf(small / "out.nc")
    assert ds.examples == 1


def test_new_index_does_not_silently_replace_an_existing_one(small, capsys):
    (small / "f").write_text("keep\t0\n")
    base = ["-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s", "@s", "-c"]
    assert generate(small, *base) == 1
    assert "-c would replace it" in capsys.readouterr().err
    assert (small / "f").read_text() == "keep\t0\n" and not (small / "out.nc").exists()
    assert generate(small, *base, "--force") == 0
    assert tf.read_index(small / "f") == {"a": 0, "b": 1, "c": 2, "d": 3}


# ---------------------------------------------------------------------------------------------
# errors: one line, exit status 1, nothing written


@pytest.mark.parametrize("flags,words", [
    (["-c", "-m"], ["-c (new feature index) and -m"]),
    (["-t", "binary"], ["invalid choice: 'binary'"]),
    (["-i", "@other.txt"], ["-i given twice"]),
    (["--frobnicate"], ["unrecognized arguments: --frobnicate"]),
])
def test_bad_flags(small, capsys, flags, words):
    args = ["-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s", "@s"]
    if "-c" not in flags:
        args.append("-c")
    assert generate(small, *args, *flags) == 1
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert "Traceback" not in err and not (small / "out.nc").exists()


def test_missing_required_flag(small, capsys):
    assert generate(small, "-i", "@in.txt", "-o", "@out.nc", "-f", "@f", "-s", "@s", "-c") == 1
    assert "-d" in capsys.readouterr().err


def test_fixed_mode_needs_the_feature_index(small, capsys):
    assert generate(small, "-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s",
                    "@s") == 1
    assert "no such feature index" in capsys.readouterr().err


@pytest.mark.parametrize("text,words", [
    ("u1\ta:b\nu2 b c\n", [":2: no TAB"]),
    ("u1\ta:b,x\n", [":1: point 2 'b,x'", "not a number"]),
    ("u1\ta:b,1,2\n", [":1: point 2 'b,1,2'", "3 comma-separated fields"]),
    ("", ["no data lines"]),
    ("u1\t\n", ["no data points"]),
])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, text, words):
    (tmp_path / "in.txt").write_text(text)
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-c") == 1
    err = capsys.readouterr().err
    assert err.startswith("dsstne generateNetCDF: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err
    for name in ("out.nc", "f", "s"):
        assert not (tmp_path / name).exists()


def test_outputs_inside_the_input_directory_are_refused(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part-0").write_text("u1\ta\n")
    assert generate(tmp_path, "-i", "@in", "-o", "@in/out.nc", "-d", "x", "-f", "@f", "-s",
                    "@s", "-c") == 1
    assert "lies in the input directory" in capsys.readouterr().err
    assert generate(tmp_path, "-i", "@in", "-o", "@out.nc", "-d", "x", "-f", "@in/f", "-s",
                    "@s", "-c") == 1
    assert sorted(os.listdir(tmp_path / "in")) == ["part-0"]


def test_same_file_for_two_flags_is_refused(small, capsys):
    assert generate(small, "-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@idx", "-s",
                    "@idx", "-c") == 1
    assert "-f and -s name the same file" in capsys.readouterr().err


def test_bad_index_file_and_missing_input(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("u1\ta\n")
    (tmp_path / "f").write_text("a\t0\na\t1\n")
    assert generate(tmp_path, "-i", "@in.txt", "-o", "@out.nc", "-d", "x", "-f", "@f", "-s",
                    "@s") == 1
    assert f"{tmp_path / 'f'}:2: duplicate label 'a'" in capsys.readouterr().err
    assert generate(tmp_path, "-i", "@nope.txt", "-o", "@out.nc", "-d", "x", "-f", "@f2", "-s",
                    "@s", "-c") == 1
    assert "nope.txt: no such input" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# DSSTNE's walkthrough on the real MovieLens sample


def test_movielens_input_and_output_share_the_sample_index(reference_dir, tmp_path, capsys):
    text = reference_dir / "data" / "movielens_input_1024.txt"
    points, items = 0, set()
    with open(text) as fh:
        for line in fh:
            pts = [p.split(",")[0] for p in line.rstrip("\n").split("\t", 1)[1].split(":") if p]
            points += len(pts)
            items.update(pts)
    common = ["-i", str(text), "-s", "@samples"]
    assert generate(tmp_path, *common, "-o", "@gl_input.nc", "-d", "gl_input", "-f",
                    "@features", "-c") == 0
    feature_stat, sample_stat = os.stat(tmp_path / "features"), os.stat(tmp_path / "samples")
    assert generate(tmp_path, *common, "-o", "@gl_output.nc", "-d", "gl_output", "-f",
                    "@features") == 0
    assert capsys.readouterr().err == ""
    for path, stat in ((tmp_path / "features", feature_stat),
                       (tmp_path / "samples", sample_stat)):     # nothing new: not rewritten
        assert (os.stat(path).st_ino, os.stat(path).st_mtime_ns) == (stat.st_ino,
                                                                     stat.st_mtime_ns)
    features = tf.read_index(tmp_path / "features")
    samples = tf.read_index(tmp_path / "samples")
    assert len(features) == len(items) and len(samples) == 1024
    assert sorted(samples.values()) == list(range(1024))

    (inp,) = dsstne.read_netcdf(tmp_path / "gl_input.nc")
    (out,) = dsstne.read_netcdf(tmp_path / "gl_output.nc")
    assert (inp.name, out.name) == ("gl_input", "gl_output")
    for ds in (inp, out):
        assert ds.examples == 1024 and ds.nnz == points and ds.boolean
        assert ds.width % 128 == 0 and len(features) <= ds.width < len(features) + 128
    a, b = inp.sparse_arrays(), out.sparse_arrays()
    for key in ("start", "end", "indices"):
        np.testing.assert_array_equal(a[key], b[key])
    # row r is the sample with index r, holding exactly its line's items
    names = {v: k for k, v in features.items()}
    user = next(k for k, v in samples.items() if v == 17)
    with open(text) as fh:
        line = next(ln for ln in fh if ln.split("\t", 1)[0] == user)
    expected = [p.split(",")[0] for p in line.rstrip("\n").split("\t", 1)[1].split(":") if p]
    row = a["indices"][a["start"][17]:a["end"][17]]
    assert [names[int(i)] for i in row] == expected


@pytest.mark.parametrize("tool", ["train", "predict", "evaluate", "encoder"])
def test_every_training_tool_documents_its_default_device(tool, capsys):
    assert cli.main([tool, "--help"]) == 0
    assert "$DSSTNE_DEVICE, else cuda when a GPU is present" in " ".join(
        capsys.readouterr().out.split())


def test_default_device_follows_the_environment_then_the_hardware(monkeypatch):
    from dsstne.cli.common import default_device
    monkeypatch.setenv("DSSTNE_DEVICE", "cuda")
    assert default_device() == "cuda"
    monkeypatch.setenv("DSSTNE_DEVICE", "cpu")
    assert default_device() == "cpu"
    monkeypatch.delenv("DSSTNE_DEVICE")
    gpu = dsstne.cuda_built() and dsstne.cuda_device_count() > 0
    assert default_device() == ("cuda" if gpu else "cpu")
