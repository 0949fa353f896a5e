# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's text files: data lines, index files, filter files and recommendation lines
(docs/compatibility.md, "Text formats and dsstne generateNetCDF").

* **Data text** — one sample per line, ``sample<TAB>point:point:…``, each point ``feature`` or
  ``feature,value`` (the input of ``generateNetCDF`` and ``predict -r``). :func:`read_data` turns a
  file or a directory of files into a scipy CSR matrix, growing or following a feature index and a
  sample index.
* **Index files** — ``label<TAB>index`` per line (:func:`read_index`, :func:`write_index`).
* **Filter files** — the data grammar again, read per sample by :func:`read_filters`.
* **Recommendations** — ``sample<TAB>item,score:item,score:…:`` (:func:`recommendation_line`).

Where this module differs from DSSTNE (DSSTNE warned, crashed or silently dropped data; here every
malformed line is an error naming the file, the line and the point):

* a data line without a TAB, an empty sample label, a point with more than two comma fields
  (DSSTNE: warning, extra fields dropped), an empty feature label with a value, an empty value,
  a TAB among the points, or a value that is not a finite float32 (DSSTNE: crash or garbage) are
  errors; empty lines and empty points (``a::b``, a trailing ``:``) are skipped as in DSSTNE;
* one trailing ``\\r`` is removed from every line, so CRLF files read like LF files (DSSTNE kept it
  in the last label of the line);
* a new label gets index ``max(index) + 1`` (DSSTNE: the number of entries, which collides with
  loaded entries when a loaded index is not dense 0 … n−1; identical for dense indexes);
* index files are written sorted by index (DSSTNE: hash order), atomically (temporary file and
  rename), so the same data give the same bytes;
* in filter files empty lines are skipped (DSSTNE: an empty line wiped the previous sample's
  filter).

Kept from DSSTNE: the sample label is the text before the first TAB; a sample that appears on
several lines keeps its last line; new samples and features are numbered in order of first
appearance (features of a replaced line are numbered too); duplicate points in one line are kept;
a point without a value has the value 0.0 (``default_value``); in a filter file a later line for a
sample replaces the earlier one and unknown samples and features are ignored.

Files are read as bytes and decoded as UTF-8 with ``surrogateescape``, so labels in any encoding
round-trip unchanged into index files.
"""

from __future__ import annotations

import errno
import functools
import itertools
import operator
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ._files import replacing
import scipy.sparse as sp

__all__ = ["TextFormatError", "TextData", "read_index", "write_index", "index_width",
           "input_files", "read_data", "read_filters", "score_format", "recommendation_line",
           "write_recommendations", "round_up"]

_UINT32_MAX = 2**32 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_CHUNK_BYTES = 64 << 20  # data files are parsed in pieces of about this many bytes
_COLON, _COMMA, _NEWLINE = ord(":"), ord(","), ord("\n")
_ENCODING = ("utf-8", "surrogateescape")


class TextFormatError(ValueError):
    """A malformed line of a text file; ``path`` and ``line`` (1-based, or None) say where."""

    def __init__(self, path, line, message):
        self.path = os.fspath(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


def round_up(n, multiple=128):
    """`n` rounded up to a multiple of `multiple` (DSSTNE's feature width alignment is 128)."""
    return (int(n) + multiple - 1) // multiple * multiple


# ---------------------------------------------------------------------------------------------
# index files


def _lines_of(path):
    with open(path, "rb") as fh:
        text = fh.read().decode(*_ENCODING)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_index(path):
    """The ``label<TAB>index`` lines of an index file as a dict.

    Every line must be exactly two TAB-separated fields, a non-empty label and a decimal index
    0 … 2³²−1 (spaces around it are allowed); labels must be distinct. Anything else — a blank
    line, a missing TAB, a third field, an empty label, a duplicate label, an index that is not a
    non-negative integer — raises :class:`TextFormatError` naming the file and the line.
    """
    path = os.fspath(path)
    index, first_line = {}, {}
    for no, line in enumerate(_lines_of(path), 1):
        if not line:
            raise TextFormatError(path, no, "blank line (every line must be 'label<TAB>index')")
        fields = line.split("\t")
        if len(fields) == 1:
            raise TextFormatError(path, no, f"no TAB in {line!r} (expected 'label<TAB>index')")
        if len(fields) > 2:
            raise TextFormatError(path, no, f"{len(fields)} TAB-separated fields in {line!r} "
                                            "(expected 2: 'label<TAB>index')")
        label, value = fields
        if not label:
            raise TextFormatError(path, no, f"empty label before the TAB (index {value!r})")
        digits = value.strip(" ")
        if not (digits.isascii() and digits.isdigit()):
            raise TextFormatError(path, no, f"index {value!r} of label {label!r} is not a "
                                            "non-negative integer")
        number = int(digits)
        if number > _UINT32_MAX:
            raise TextFormatError(path, no, f"index {number} of label {label!r} is beyond "
                                            f"{_UINT32_MAX}")
        if label in index:
            raise TextFormatError(path, no, f"duplicate label {label!r} (first on line "
                                            f"{first_line[label]})")
        index[label] = number
        first_line[label] = no
    return index


def _atomic_write(path, data):
    """Writes `data` (bytes) to `path` through a temporary file renamed over it."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def write_index(path, index):
    """Writes a label → index mapping as ``label<TAB>index`` lines, sorted by index (then label),
    replacing `path` atomically. Labels must be non-empty without TAB or newline; indexes
    0 … 2³²−1."""
    items = sorted(((str(k), int(v)) for k, v in index.items()), key=lambda kv: (kv[1], kv[0]))
    for label, number in items:
        if not label or "\t" in label or "\n" in label:
            raise ValueError(f"{os.fspath(path)}: label {label!r} cannot be written to an index "
                             "file (labels must be non-empty, without TAB or newline)")
        if not 0 <= number <= _UINT32_MAX:
            raise ValueError(f"{os.fspath(path)}: index {number} of label {label!r} is outside "
                             f"0 … {_UINT32_MAX}")
    text = "".join(f"{label}\t{number}\n" for label, number in items)
    _atomic_write(path, text.encode(*_ENCODING))


def index_width(index):
    """Units an index spans: its number of entries, or max index + 1 when larger (an index that
    is not dense 0 … n−1)."""
    if not index:
        return 0
    return max(len(index), max(index.values()) + 1)


def _next_index(index):
    return max(index.values()) + 1 if index else 0


# ---------------------------------------------------------------------------------------------
# data lines


def input_files(path):
    """The files a data path names: the file itself, or every regular file of a directory
    (not recursive) in sorted (byte) order, as DSSTNE read them."""
    path = os.fspath(path)
    if os.path.isdir(path):
        names = sorted(os.listdir(path), key=os.fsencode)
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        if not files:
            raise ValueError(f"{path}: the directory holds no files")
        return files
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", path)
    return [path]


def _chunks(path):
    """(line number of the first line, lines) for pieces of the file of about _CHUNK_BYTES."""
    with open(path, "rb") as fh:
        first = 1
        while True:
            raw = fh.readlines(_CHUNK_BYTES)
            if not raw:
                return
            lines = b"".join(raw).decode(*_ENCODING).split("\n")
            if lines[-1] == "":
                lines.pop()
            yield first, lines
            first += len(raw)


def _take(seq, positions):
    positions = positions.tolist()
    if len(positions) == 0:
        return []
    if len(positions) == 1:
        return [seq[positions[0]]]
    return list(operator.itemgetter(*positions)(seq))


def _value(path, line, k, point, text):
    """The float value `text` of point `k`, or a TextFormatError naming it."""
    where = f"point {k} {point!r}"
    if not text:
        raise TextFormatError(path, line, f"{where}: empty value after the comma")
    try:
        value = float(text)
    except ValueError:
        raise TextFormatError(path, line, f"{where}: value {text!r} is not a number") from None
    if not np.isfinite(value):
        raise TextFormatError(path, line, f"{where}: value {text!r} is not finite")
    if abs(value) > _FLOAT32_MAX:
        raise TextFormatError(path, line, f"{where}: value {text!r} does not fit in float32")
    return value


def _diagnose(path, line, rest):
    """Raises the TextFormatError of the first bad point of a data line (the slow path, run
    only once the fast path has found a bad line)."""
    if "\t" in rest:
        raise TextFormatError(path, line, "a second TAB: only the first TAB separates the sample "
                                          "label, and feature labels cannot contain TABs")
    for k, point in enumerate(rest.split(":"), 1):
        if not point:
            continue
        fields = point.split(",")
        if len(fields) > 2:
            raise TextFormatError(path, line, f"point {k} {point!r} has {len(fields)} "
                                              "comma-separated fields (expected 'feature' or "
                                              "'feature,value')")
        if not fields[0]:
            raise TextFormatError(path, line, f"point {k} {point!r} has an empty feature label")
        if len(fields) == 2:
            _value(path, line, k, point, fields[1])
    raise TextFormatError(path, line, "malformed data line")  # not reached


@dataclass
class _Lines:
    """The data lines of one chunk, tokenised: per line its sample label and line number, per
    non-empty point its line (0-based in the chunk), feature label and value."""
    labels: list
    numbers: np.ndarray
    features: list
    point_line: np.ndarray
    values: np.ndarray      # float64; meaningful where has_value
    has_value: np.ndarray


def _tokenize(path, first, lines):
    labels, rests, numbers = [], [], []
    for k, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        label, tab, rest = line.partition("\t")
        if not tab:
            raise TextFormatError(path, first + k, f"no TAB in {line[:60]!r} (expected "
                                                   "'sample<TAB>feature[,value]:…')")
        if not label:
            raise TextFormatError(path, first + k, "empty sample label before the TAB")
        labels.append(label)
        rests.append(rest)
        numbers.append(first + k)
    numbers = np.asarray(numbers, dtype=np.int64)
    if not labels:
        empty = np.zeros(0, dtype=np.int64)
        return _Lines([], numbers, [], empty, np.zeros(0), np.zeros(0, dtype=bool))

    # One pass over all points of the chunk: tokens are the texts between ':' ',' and the line
    # breaks; the separator before a token says whether it is a feature (':' or line start) or
    # a value (',').
    blob = "\n".join(rests)
    tokens = blob.replace(",", ":").replace("\n", ":").split(":")
    raw = np.frombuffer(blob.encode(*_ENCODING), dtype=np.uint8)
    sep_at = np.flatnonzero((raw == _COLON) | (raw == _COMMA) | (raw == _NEWLINE))
    before = np.empty(len(tokens), dtype=np.uint8)
    before[0] = _NEWLINE
    before[1:] = raw[sep_at]
    bounds = np.concatenate(([-1], sep_at, [raw.size]))
    empty = (bounds[1:] - bounds[:-1]) == 1
    token_line = np.cumsum(before == _NEWLINE) - 1
    is_value = before == _COMMA
    feature_at = np.flatnonzero(~is_value)
    value_at = np.flatnonzero(is_value)
    after = feature_at + 1
    has_value = np.zeros(feature_at.size, dtype=bool)
    inside = after < len(tokens)
    has_value[inside] = is_value[after[inside]]

    bad = [token_line[1:][is_value[1:] & is_value[:-1]],          # a third field
           token_line[feature_at[empty[feature_at] & has_value]],  # ",value"
           token_line[value_at[empty[value_at]]]]                  # "feature,"
    bad.append(np.asarray([k for k, r in enumerate(rests) if "\t" in r], dtype=np.int64))
    value_texts = _take(tokens, value_at)
    try:
        values = np.fromiter(map(float, value_texts), dtype=np.float64, count=len(value_texts))
        wrong = ~(np.abs(values) <= _FLOAT32_MAX)  # also NaN
        bad.append(token_line[value_at[wrong]])
    except ValueError:
        for k, text in enumerate(value_texts):
            try:
                float(text)
            except ValueError:
                bad.append(token_line[value_at[k:k + 1]])
                break
    bad = np.concatenate(bad)
    if bad.size:
        k = int(bad.min())
        _diagnose(path, int(numbers[k]), rests[k])

    keep = ~empty[feature_at]
    point_values = np.zeros(feature_at.size, dtype=np.float64)
    point_values[has_value] = values
    return _Lines(labels, numbers, _take(tokens, feature_at[keep]), token_line[feature_at[keep]],
                  point_values[keep], has_value[keep])


def _parse(paths):
    """Tokenised chunks of every file named by `paths` (a path or a list of paths)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    files = [f for p in paths for f in input_files(p)]
    for path in files:
        for first, lines in _chunks(path):
            yield path, _tokenize(path, first, lines)


@dataclass
class TextData:
    """What :func:`read_data` read.

    ``matrix`` has one row per sample seen in the input, in ascending sample index (new samples:
    order of first appearance), and ``index_width(features)`` columns; its ``data`` holds the
    values as float32 (``default_value`` where a point has none)."""
    matrix: sp.csr_matrix
    samples: list                    # label of each row
    sample_rows: np.ndarray          # sample index of each row
    features: dict                   # the feature index after reading
    sample_index: dict               # the sample index after reading
    features_added: int = 0
    samples_added: int = 0
    lines: int = 0                   # data lines read
    replaced_lines: int = 0          # lines replaced by a later line of the same sample
    dropped_points: int = 0          # points of kept lines whose feature is not in a fixed index
    dropped_features: list = field(default_factory=list)  # those features' labels
    missing_values: int = 0          # points of the matrix without a value

    @property
    def values(self):
        return self.matrix.data


def read_data(path, *, features=None, feature_mode="new", samples=None, default_value=0.0):
    """Reads DSSTNE data text from a file, a directory (its files in
    sorted order) or a list of them.

    Parameters
    ----------
    features : dict, optional
        The feature index (label → unit); not modified (the result holds the updated copy).
    feature_mode : {"new", "merge", "fixed"}
        ``new`` (``generateNetCDF -c``): start an empty index; ``merge`` (``-m``): add unseen
        features to `features`; ``fixed`` (neither): leave `features` as it is and drop points
        whose feature is not in it (counted in ``dropped_points``).
    samples : dict, optional
        A sample index to continue (label → index); new samples get the next indexes.
    default_value : float
        Value of a point written without one (DSSTNE: 0.0).

    Raises
    ------
    TextFormatError
        A malformed line (the message names the file, the line and the point).
    """
    if feature_mode not in ("new", "merge", "fixed"):
        raise ValueError(f"feature_mode must be 'new', 'merge' or 'fixed', got {feature_mode!r}")
    if feature_mode == "new":
        if features:
            raise ValueError("feature_mode 'new' starts an empty feature index; pass "
                             "features=None (or use 'merge')")
        features = {}
    elif feature_mode == "fixed" and features is None:
        raise ValueError("feature_mode 'fixed' needs a feature index (features=...)")
    features = dict(features or {})
    sample_index = dict(samples or {})
    n_features, n_samples = len(features), len(sample_index)
    next_feature, next_sample = _next_index(features), _next_index(sample_index)
    seen = {}             # sample label -> ordinal of first appearance in the input
    line_keys, point_ids, point_values, point_has, point_lines, counts = [], [], [], [], [], []
    unknown = {}
    lines_so_far = 0
    for _, chunk in _parse(path):
        if feature_mode != "fixed":
            new = [f for f in dict.fromkeys(chunk.features) if f not in features]
            features.update(zip(new, range(next_feature, next_feature + len(new))))
            next_feature += len(new)
        new = [s for s in dict.fromkeys(chunk.labels) if s not in sample_index]
        sample_index.update(zip(new, range(next_sample, next_sample + len(new))))
        next_sample += len(new)
        for s in chunk.labels:
            if s not in seen:
                seen[s] = len(seen)
        line_keys.append(np.fromiter(map(seen.__getitem__, chunk.labels), dtype=np.int64,
                                     count=len(chunk.labels)))
        ids = np.fromiter(map(features.get, chunk.features, itertools.repeat(-1)),
                          dtype=np.int64, count=len(chunk.features))
        if feature_mode == "fixed":
            for k in np.flatnonzero(ids < 0).tolist():
                unknown.setdefault(chunk.features[k], None)
        point_ids.append(ids)
        point_values.append(chunk.values)
        point_has.append(chunk.has_value)
        point_lines.append(chunk.point_line + lines_so_far)
        lines_so_far += len(chunk.labels)

    keys = np.concatenate(line_keys) if line_keys else np.zeros(0, dtype=np.int64)
    ids = np.concatenate(point_ids) if point_ids else np.zeros(0, dtype=np.int64)
    values = np.concatenate(point_values) if point_values else np.zeros(0)
    has = np.concatenate(point_has) if point_has else np.zeros(0, dtype=bool)
    plines = np.concatenate(point_lines) if point_lines else np.zeros(0, dtype=np.int64)
    n_lines = keys.size

    # The last line of each sample, rows in ascending sample index (ties: first appearance).
    labels = list(seen)
    _, first_rev = np.unique(keys[::-1], return_index=True)
    last = (n_lines - 1 - first_rev).astype(np.int64)          # by key = first appearance
    row_index = np.fromiter(map(sample_index.__getitem__, labels), dtype=np.int64,
                            count=len(labels))
    order_rows = np.argsort(row_index, kind="stable")
    last = last[order_rows]

    known = ids >= 0
    dropped = np.bincount(plines[~known], minlength=n_lines)
    ids, values, has, plines = ids[known], values[known], has[known], plines[known]
    line_ptr = np.zeros(n_lines + 1, dtype=np.int64)
    np.cumsum(np.bincount(plines, minlength=n_lines), out=line_ptr[1:])
    lengths = line_ptr[last + 1] - line_ptr[last]
    indptr = np.zeros(last.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    gather = np.repeat(line_ptr[last] - indptr[:-1], lengths) + np.arange(indptr[-1])
    data = np.where(has[gather], values[gather], default_value).astype(np.float32)
    matrix = sp.csr_matrix((data, ids[gather], indptr),
                           shape=(last.size, index_width(features)))
    return TextData(
        matrix=matrix, samples=[labels[k] for k in order_rows.tolist()],
        sample_rows=row_index[order_rows], features=features, sample_index=sample_index,
        features_added=len(features) - n_features, samples_added=len(sample_index) - n_samples,
        lines=n_lines, replaced_lines=n_lines - len(labels),
        dropped_points=int(dropped[last].sum()) if last.size else 0,
        dropped_features=list(unknown), missing_values=int((~has[gather]).sum()))


# ---------------------------------------------------------------------------------------------
# filter files


def read_filters(path, samples, features, *, missing_value=0.0):
    """Reads sample filter files (a file, a directory or a list).

    Returns ``{sample index: [(feature index, value), …]}`` for the samples of `samples` (the
    sample index of the data being predicted) that have a filter line. Features are looked up in
    `features` (the output feature index); unknown samples and unknown features are ignored; a
    later line for a sample replaces the earlier one; a point without a value gets
    `missing_value` (DSSTNE: 0.0). Empty lines are skipped.
    """
    filters = {}
    for _, chunk in _parse(path):
        ids = np.fromiter(map(features.get, chunk.features, itertools.repeat(-1)),
                          dtype=np.int64, count=len(chunk.features))
        values = np.where(chunk.has_value, chunk.values, missing_value)
        known = ids >= 0
        ptr = np.zeros(len(chunk.labels) + 1, dtype=np.int64)
        np.cumsum(np.bincount(chunk.point_line[known], minlength=len(chunk.labels)),
                  out=ptr[1:])
        ids, values = ids[known].tolist(), values[known].tolist()
        for k, label in enumerate(chunk.labels):
            row = samples.get(label)
            if row is not None:
                a, b = ptr[k], ptr[k + 1]
                filters[row] = list(zip(ids[a:b], values[a:b]))
    return filters


# ---------------------------------------------------------------------------------------------
# recommendations


_SCORE_FORMAT = re.compile(r"%?([-+ #0]*\d*(?:\.\d*)?)l?([eEfFgG])")


@functools.lru_cache(maxsize=64)
def score_format(spec="4.3f"):
    """The %-format of a DSSTNE score spec (``predict -p``: a printf conversion with or without
    its ``%``, e.g. ``4.3f``, ``.5e``, ``%g``); only floating-point conversions are accepted."""
    match = _SCORE_FORMAT.fullmatch(str(spec))
    if not match:
        raise ValueError(f"score format {spec!r} is not a printf floating-point conversion "
                         "(e.g. '4.3f', '.5e', 'g')")
    return "%" + match.group(1) + match.group(2)


def recommendation_line(sample, items, scores, fmt="4.3f"):
    """One line of ``predict -s`` output, newline included:
    ``sample<TAB>item,score:item,score:…:`` — every entry, the last too, is followed by ``:``."""
    f = score_format(fmt)
    return f"{sample}\t" + "".join(f"{item},{f % score}:" for item, score in
                                   zip(items, scores, strict=True)) + "\n"


def write_recommendations(file, rows, fmt="4.3f", *, overwrite=False):
    """Writes recommendation lines for `rows` (iterable of ``(sample, items, scores)``) to an
    open text file or a path (an existing path only with `overwrite`); returns the line count."""
    f = score_format(fmt)
    if isinstance(file, (str, bytes, os.PathLike)):
        with open(file, "w" if overwrite else "x", encoding="utf-8",
                  errors="surrogateescape", newline="\n") as fh:
            return write_recommendations(fh, rows, f)
    count = 0
    for sample, items, scores in rows:
        file.write(recommendation_line(sample, items, scores, f))
        count += 1
    return count
