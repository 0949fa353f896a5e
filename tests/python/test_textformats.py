# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's text formats (spec/formats.md §4.5): index files, data lines, filters and
recommendation lines."""

import os

import numpy as np
import pytest

from dsstne import textformats as tf
from dsstne.textformats import TextFormatError


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def rows_of(data):
    """{sample label: [(feature label, value), ...]} of a read_data result, in stored order."""
    names = {v: k for k, v in data.features.items()}
    m = data.matrix
    out = {}
    for r, label in enumerate(data.samples):
        a, b = m.indptr[r], m.indptr[r + 1]
        out[label] = [(names[int(i)], float(v)) for i, v in zip(m.indices[a:b], m.data[a:b])]
    return out


# ---------------------------------------------------------------------------------------------
# index files (§4.5.2 and TestNetCDFhelper, §7.2)


def test_index_valid_lines_load_every_entry(tmp_path):
    path = write(tmp_path / "idx", "110510\t26743\nfoo bar\t0\nx\t 7 \n")
    assert tf.read_index(path) == {"110510": 26743, "foo bar": 0, "x": 7}


def test_index_crlf_and_missing_final_newline(tmp_path):
    path = write(tmp_path / "idx", "a\t1\r\nb\t0")
    assert tf.read_index(path) == {"a": 1, "b": 0}


def test_empty_index_file_is_empty(tmp_path):
    assert tf.read_index(write(tmp_path / "idx", "")) == {}


@pytest.mark.parametrize("text,line,words", [
    ("a\t0\na\t0\n", 2, ["duplicate label 'a'", "first on line 1"]),   # exact duplicate line
    ("a\t0\nb\t1\na\t5\n", 3, ["duplicate label 'a'"]),                 # same label, new index
    ("a\t0\n\t123\n", 2, ["empty label"]),
    ("a\t0\n123\n", 2, ["no TAB"]),
    ("a\t0\tb\n", 1, ["3 TAB-separated fields"]),
    ("a\t0\n\nb\t1\n", 2, ["blank line"]),
    ("a\t0\n\n", 2, ["blank line"]),
    ("a\tseven\n", 1, ["'seven'", "not a non-negative integer"]),
    ("a\t-1\n", 1, ["'-1'", "not a non-negative integer"]),
    ("a\t12abc\n", 1, ["'12abc'"]),                      # atoi would have read 12
    ("a\t\n", 1, ["not a non-negative integer"]),
    ("a\t4294967296\n", 1, ["beyond 4294967295"]),
])
def test_index_errors_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path / "features.idx", text)
    with pytest.raises(TextFormatError) as info:
        tf.read_index(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert info.value.path == str(path) and info.value.line == line
    for w in words:
        assert w in message
    assert isinstance(info.value, ValueError)


def test_missing_index_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        tf.read_index(tmp_path / "nope")


def test_write_index_sorted_by_index_and_round_trips(tmp_path):
    index = {"zeta": 0, "alpha": 2, "mid": 1, "b": 10, "a": 10, "ü-é": 3}
    path = tmp_path / "idx"
    tf.write_index(path, index)
    assert path.read_bytes() == "zeta\t0\nmid\t1\nalpha\t2\nü-é\t3\na\t10\nb\t10\n".encode()
    assert tf.read_index(path) == index
    # deterministic: any insertion order gives the same bytes
    tf.write_index(tmp_path / "idx2", dict(reversed(list(index.items()))))
    assert (tmp_path / "idx2").read_bytes() == path.read_bytes()


def test_write_index_keeps_undecodable_bytes(tmp_path):
    path = write(tmp_path / "in", b"caf\xe9\t0\n")      # latin-1, not UTF-8
    index = tf.read_index(path)
    tf.write_index(tmp_path / "out", index)
    assert (tmp_path / "out").read_bytes() == b"caf\xe9\t0\n"


@pytest.mark.parametrize("index", [{"a\tb": 0}, {"a\nb": 0}, {"": 0}, {"a": -1},
                                   {"a": 2**32}])
def test_write_index_refuses_what_cannot_be_read_back(tmp_path, index):
    with pytest.raises(ValueError):
        tf.write_index(tmp_path / "idx", index)
    assert not (tmp_path / "idx").exists()


# ---------------------------------------------------------------------------------------------
# data lines (§4.5.1, §4.1 rules 2-6)


def test_feature_only_and_feature_value_points(tmp_path):
    path = write(tmp_path / "d.txt", "u1\ti12:i40,3.5\nu2\ti40,-1e-3:i7\n")
    data = tf.read_data(path)
    assert data.features == {"i12": 0, "i40": 1, "i7": 2}
    assert data.sample_index == {"u1": 0, "u2": 1}
    assert data.samples == ["u1", "u2"]
    np.testing.assert_array_equal(data.sample_rows, [0, 1])
    assert rows_of(data) == {"u1": [("i12", 0.0), ("i40", 3.5)],
                             "u2": [("i40", np.float32(-1e-3)), ("i7", 0.0)]}
    assert data.values.dtype == np.float32
    assert data.missing_values == 2           # i12 and i7: DSSTNE's default value 0.0
    assert data.matrix.shape == (2, 3)
    assert (data.features_added, data.samples_added) == (3, 2)


def test_default_value_is_configurable(tmp_path):
    path = write(tmp_path / "d.txt", "u1\ta:b,2\n")
    data = tf.read_data(path, default_value=1.0)
    np.testing.assert_array_equal(data.values, [1.0, 2.0])


def test_empty_points_and_empty_lines_are_skipped(tmp_path):
    path = write(tmp_path / "d.txt", "\nu1\t:a::b,1:\n\nu2\t\nu3\t:\n")
    data = tf.read_data(path)
    assert rows_of(data) == {"u1": [("a", 0.0), ("b", 1.0)], "u2": [], "u3": []}
    assert data.lines == 3


def test_sample_label_is_text_before_first_tab(tmp_path):
    path = write(tmp_path / "d.txt", "user one:x,1\ta\n")
    data = tf.read_data(path)
    assert data.samples == ["user one:x,1"]


def test_crlf_lines_read_like_lf(tmp_path):
    lf = tf.read_data(write(tmp_path / "lf.txt", "u1\ta:b\nu2\tb,2:c\n"))
    crlf = tf.read_data(write(tmp_path / "crlf.txt", "u1\ta:b\r\nu2\tb,2:c\r\n"))
    assert crlf.features == lf.features == {"a": 0, "b": 1, "c": 2}
    assert rows_of(crlf) == rows_of(lf)


def test_duplicate_points_in_a_line_are_kept(tmp_path):
    data = tf.read_data(write(tmp_path / "d.txt", "u1\ta:b:a\n"))
    np.testing.assert_array_equal(data.matrix.indices, [0, 1, 0])


@pytest.mark.parametrize("line,words", [
    ("u9 no tab here", ["no TAB", "'u9 no tab here'"]),
    ("\ta:b", ["empty sample label"]),
    ("u9\ta:b,1,2:c", ["point 2 'b,1,2'", "3 comma-separated fields"]),
    ("u9\ta:i40,abc", ["point 2 'i40,abc'", "value 'abc' is not a number"]),
    ("u9\ta,", ["point 1 'a,'", "empty value"]),
    ("u9\t,3.5", ["point 1 ',3.5'", "empty feature label"]),
    ("u9\ta,nan", ["value 'nan' is not finite"]),
    ("u9\ta,inf", ["value 'inf' is not finite"]),
    ("u9\ta,1e39", ["does not fit in float32"]),
    ("u9\ta\tb", ["second TAB"]),
])
def test_data_line_errors_name_file_line_and_point(tmp_path, line, words):
    path = write(tmp_path / "data.txt", f"u1\ta:b,1\n\nu2\tc\r\n{line}\nu3\td\n")
    with pytest.raises(TextFormatError) as info:
        tf.read_data(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: "), message
    for w in words:
        assert w in message, message


def test_first_bad_line_is_reported(tmp_path):
    path = write(tmp_path / "d.txt", "u1\ta,x\nu2\tb,1,2\n")  # a value error before a field error
    with pytest.raises(TextFormatError, match=r":1: point 1 'a,x'"):
        tf.read_data(path)
    path = write(tmp_path / "e.txt", "u1\tb,1,2\nu2\ta,x\n")
    with pytest.raises(TextFormatError, match=r":1: point 1 'b,1,2'"):
        tf.read_data(path)


def test_errors_and_results_do_not_depend_on_chunking(tmp_path, monkeypatch):
    lines = [f"u{k}\ti{k % 7}:i{k % 3},{k}" for k in range(200)]
    good = write(tmp_path / "good.txt", "\n".join(lines) + "\n")
    bad = write(tmp_path / "bad.txt", "\n".join(lines[:150] + ["u150\tx,1,2"] + lines[151:]))
    whole = tf.read_data(good)
    monkeypatch.setattr(tf, "_CHUNK_BYTES", 64)
    pieces = tf.read_data(good)
    assert pieces.features == whole.features and pieces.samples == whole.samples
    assert (pieces.matrix != whole.matrix).nnz == 0
    with pytest.raises(TextFormatError, match=rf"^{bad}:151: point 1 'x,1,2'"):
        tf.read_data(bad)


def test_last_line_of_a_sample_wins(tmp_path):
    path = write(tmp_path / "d.txt", "u1\ta:b\nu2\tc\nu1\td,4:e\n")
    data = tf.read_data(path)
    assert data.samples == ["u1", "u2"]
    assert rows_of(data) == {"u1": [("d", 4.0), ("e", 0.0)], "u2": [("c", 0.0)]}
    # features of the replaced line keep their indexes (DSSTNE numbers them while parsing)
    assert data.features == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}
    assert data.replaced_lines == 1 and data.lines == 3


def test_directory_files_in_sorted_order_not_recursive(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    write(d / "b.txt", "sb\tfb\n")
    write(d / "a.txt", "sa\tfa\n")
    write(d / "10.txt", "s10\tf10\n")
    write(d / "9.txt", "s9\tf9\n")
    write(d / "sub" / "0.txt", "hidden\tfh\n")
    assert [os.path.basename(p) for p in tf.input_files(d)] == ["10.txt", "9.txt", "a.txt",
                                                                "b.txt"]
    data = tf.read_data(d)
    assert data.samples == ["s10", "s9", "sa", "sb"]
    assert list(data.features) == ["f10", "f9", "fa", "fb"]
    # a later file's line replaces an earlier file's line of the same sample
    write(d / "c.txt", "sa\tfz\n")
    assert rows_of(tf.read_data(d))["sa"] == [("fz", 0.0)]


def test_empty_directory_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        tf.read_data(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        tf.read_data(tmp_path / "missing.txt")


def test_feature_modes_new_merge_fixed(tmp_path):
    path = write(tmp_path / "d.txt", "u1\ta:x:b\nu2\ty:a\n")
    index = {"a": 0, "b": 1}
    new = tf.read_data(path)
    assert new.features == {"a": 0, "x": 1, "b": 2, "y": 3}

    merged = tf.read_data(path, features=index, feature_mode="merge")
    assert merged.features == {"a": 0, "b": 1, "x": 2, "y": 3}
    assert merged.features_added == 2 and index == {"a": 0, "b": 1}   # caller's dict untouched
    assert rows_of(merged) == {"u1": [("a", 0.0), ("x", 0.0), ("b", 0.0)],
                               "u2": [("y", 0.0), ("a", 0.0)]}
    assert merged.matrix.shape == (2, 4)

    fixed = tf.read_data(path, features=index, feature_mode="fixed")
    assert fixed.features == index and fixed.features_added == 0
    assert rows_of(fixed) == {"u1": [("a", 0.0), ("b", 0.0)], "u2": [("a", 0.0)]}
    assert fixed.dropped_points == 2 and fixed.dropped_features == ["x", "y"]
    assert fixed.matrix.shape == (2, 2)

    with pytest.raises(ValueError):
        tf.read_data(path, features=index, feature_mode="new")
    with pytest.raises(ValueError):
        tf.read_data(path, feature_mode="fixed")
    with pytest.raises(ValueError):
        tf.read_data(path, feature_mode="grow")


def test_new_labels_continue_after_a_sparse_index(tmp_path):
    # a loaded index that is not 0..n-1: new entries go after its largest index (DSSTNE used
    # the entry count and collided)
    path = write(tmp_path / "d.txt", "u1\ta:new\n")
    data = tf.read_data(path, features={"a": 5}, feature_mode="merge")
    assert data.features == {"a": 5, "new": 6}
    assert data.matrix.shape == (1, 7) and tf.index_width(data.features) == 7


def test_sample_index_continues_and_orders_rows(tmp_path):
    path = write(tmp_path / "d.txt", "z\tc\ny\tb\nnew1\ta\nx\ta\nnew2\tb\n")
    data = tf.read_data(path, samples={"x": 0, "y": 1, "z": 2, "absent": 3})
    assert data.sample_index == {"x": 0, "y": 1, "z": 2, "absent": 3, "new1": 4, "new2": 5}
    assert data.samples_added == 2
    # rows: samples seen in the input, ascending sample index (gaps collapse, as DSSTNE)
    assert data.samples == ["x", "y", "z", "new1", "new2"]
    np.testing.assert_array_equal(data.sample_rows, [0, 1, 2, 4, 5])
    assert rows_of(data)["x"] == [("a", 0.0)]


def test_worked_example_2_10(tmp_path):
    data = tf.read_data(write(tmp_path / "d.txt", "u1\ta:b\nu2\tb:c:d\n"))
    assert data.features == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert data.sample_index == {"u1": 0, "u2": 1}
    np.testing.assert_array_equal(data.matrix.indptr, [0, 2, 5])
    np.testing.assert_array_equal(data.matrix.indices, [0, 1, 1, 2, 3])


def test_movielens_sample(reference_dir):
    path = reference_dir / "data" / "movielens_input_1024.txt"
    points, items, first = 0, {}, {}
    with open(path) as fh:
        for line in fh:
            user, rest = line.rstrip("\n").split("\t", 1)
            pts = [p.split(",") for p in rest.split(":") if p]
            points += len(pts)
            for item, _ in pts:
                items.setdefault(item, len(items))
            first.setdefault(user, [(item, float(ts)) for item, ts in pts])
    data = tf.read_data(path)
    assert data.matrix.shape == (1024, len(items))
    assert data.matrix.nnz == points and data.missing_values == 0
    assert data.features == items            # numbered in order of first appearance
    assert data.samples == list(first)
    row = rows_of(data)[data.samples[0]]
    assert row == [(i, float(np.float32(ts))) for i, ts in first[data.samples[0]]]
    assert data.values.dtype == np.float32 and data.values.min() > 7e8   # Unix times


# ---------------------------------------------------------------------------------------------
# filter files (§4.5.3)


def test_filters(tmp_path):
    samples = {"u1": 0, "u2": 1, "u3": 2}
    features = {"a": 0, "b": 1, "c": 2}
    path = write(tmp_path / "f.txt",
                 "u1\ta,2:zz,3:b\n"        # zz unknown: ignored; b has no value -> 0.0
                 "ghost\ta\n"              # unknown sample: ignored
                 "u2\tc,0.5\n"
                 "\n"                       # empty line: skipped (DSSTNE wiped u2's filter)
                 "u3\ta\n"
                 "u3\tb,7:c\n")           # later line replaces the earlier one
    filters = tf.read_filters(path, samples, features)
    assert filters == {0: [(0, 2.0), (1, 0.0)], 1: [(2, 0.5)], 2: [(1, 7.0), (2, 0.0)]}
    assert tf.read_filters(path, samples, features, missing_value=-1.0)[2] == [(1, 7.0),
                                                                               (2, -1.0)]


def test_filter_directory_and_errors(tmp_path):
    d = tmp_path / "filters"
    d.mkdir()
    write(d / "1", "u1\ta\n")
    write(d / "2", "u1\tb,1\n")
    assert tf.read_filters(d, {"u1": 0}, {"a": 0, "b": 1}) == {0: [(1, 1.0)]}
    write(d / "3", "u1 a\n")
    with pytest.raises(TextFormatError, match=r"3:1: no TAB"):
        tf.read_filters(d, {"u1": 0}, {"a": 0})


# ---------------------------------------------------------------------------------------------
# recommendation lines (§4.5.4)


def test_recommendation_line_format():
    line = tf.recommendation_line("2", ["1210", "260", 7], [0.8141, 0.768, 1.0])
    assert line == "2\t1210,0.814:260,0.768:7,1.000:\n"     # every entry followed by ':'
    assert tf.recommendation_line("u", [], []) == "u\t\n"
    assert tf.recommendation_line("u", ["a"], [np.float32(0.25)], "%.2e") == "u\ta,2.50e-01:\n"
    assert tf.recommendation_line("u", ["a"], [3.14159], "8.2f") == "u\ta,    3.14:\n"
    assert tf.recommendation_line("u", ["a"], [0.5], "lf") == "u\ta,0.500000:\n"
    assert tf.score_format("4.3f") == "%4.3f" and tf.score_format("%-+g") == "%-+g"


@pytest.mark.parametrize("fmt", ["d", "4.3", "s", "%f%f", "4.3fx", ""])
def test_bad_score_formats(fmt):
    with pytest.raises(ValueError, match="printf floating-point conversion"):
        tf.recommendation_line("u", ["a"], [0.5], fmt)


def test_recommendations_need_one_score_per_item():
    with pytest.raises(ValueError):
        tf.recommendation_line("u", ["a", "b"], [0.5])


def test_write_recommendations(tmp_path):
    rows = [("u1", ["a", "b"], [0.9, 0.1]), ("u2", ["c"], [0.5])]
    path = tmp_path / "recs.txt"
    assert tf.write_recommendations(path, rows) == 2
    assert path.read_text() == "u1\ta,0.900:b,0.100:\nu2\tc,0.500:\n"
    with pytest.raises(FileExistsError):
        tf.write_recommendations(path, rows)
    tf.write_recommendations(path, rows[1:], "g", overwrite=True)
    assert path.read_text() == "u2\tc,0.5:\n"
