# SPDX-License-Identifier: Apache-2.0
"""``dsstne generateNetCDF``: DSSTNE data text → a NetCDF data set (docs/tools.md; the data text
and index files: docs/formats.md).

DSSTNE's flags and output: ``-i`` text file or directory, ``-o`` NetCDF file, ``-d`` data set
name, ``-f`` feature index, ``-s`` sample index, ``-c`` new feature index, ``-m`` merge new
features into the index, ``-t indicator|analog``. The data set is written Sparse|Boolean
(indicator, dataType UInt) or Sparse analog (dataType Float), width = the feature index's size
rounded up to a multiple of 128; an index file is written only when entries were added.

Where it differs from DSSTNE (its traps):

* an existing ``-o`` file is replaced only with ``--force``, and ``-c`` replaces an existing
  non-empty ``-f`` file only with ``--force`` (DSSTNE overwrote both silently);
* points whose feature is not in a fixed index (neither ``-c`` nor ``-m``), analog points
  without a value (stored as 0.0), samples on several lines (the last line is kept) and rows that
  no longer equal their sample index are reported on stderr (DSSTNE: silence);
* malformed lines are errors naming the file, line and point (see dsstne.textformats), and every
  error exits with status 1 and a one-line message; ``--help`` exits 0;
* a flag given twice is an error (DSSTNE: the first one won), and unknown flags are errors;
* index files are written sorted by index, atomically.
"""

from __future__ import annotations

import os

import numpy as np

from .. import textformats as tf
from .common import Once as _Once
from .common import launched_rank, read_data_text, run_tool, tool_parser, warner
from .common import same_file as _same
from .files import blaming, check_input

_UINT32_MAX = 2**32 - 1


def _parser(prog):
    p = tool_parser(prog, "Convert DSSTNE data text (sample<TAB>feature[,value]:...) into a "
                          "NetCDF data set, growing or following a feature index and a "
                          "sample index.")
    p.add_argument("-i", action=_Once, required=True, metavar="PATH",
                   help="input text file, or a directory (all its files, sorted)")
    p.add_argument("-o", action=_Once, required=True, metavar="FILE",
                   help="output NetCDF file (must not exist unless --force)")
    p.add_argument("-d", action=_Once, required=True, metavar="NAME",
                   help="data set name (the layers' DataSet)")
    p.add_argument("-f", action=_Once, required=True, metavar="FILE",
                   help="feature index file (label<TAB>index); must exist unless -c")
    p.add_argument("-s", action=_Once, required=True, metavar="FILE",
                   help="sample index file; read if it exists, created or extended otherwise")
    p.add_argument("-c", action="store_true",
                   help="create a new feature index from the input")
    p.add_argument("-m", action="store_true",
                   help="merge: add the input's new features to the existing feature index")
    p.add_argument("-t", action=_Once, default="indicator", choices=("indicator", "analog"),
                   help="indicator (Boolean, values ignored; default) or analog (float values)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing -o file (and, with -c, an existing -f file)")
    p.epilog = ("Without -c or -m the feature index is used as it is and points whose feature "
                "is not in it are left out (reported on stderr).")
    return p


def main(argv=None, prog="dsstne generateNetCDF") -> int:
    return run_tool(_parser(prog), argv, prog, run)


def run(opts, prog="dsstne generateNetCDF"):
    """Runs the tool on parsed options; raises ValueError/OSError on bad input."""
    if launched_rank() > 0:  # the file is the same whoever writes it: rank 0 does
        return 0
    from .. import DataSet
    from ..netcdf import write_netcdf

    warn = warner(prog)

    if opts.c and opts.m:
        raise ValueError("-c (new feature index) and -m (merge into the existing index) exclude "
                         "each other")
    if not opts.d:
        raise ValueError("-d: the data set name is empty")
    for a, b, what in ((opts.o, opts.f, "-o and -f"), (opts.o, opts.s, "-o and -s"),
                       (opts.f, opts.s, "-f and -s"), (opts.i, opts.o, "-i and -o"),
                       (opts.i, opts.f, "-i and -f"), (opts.i, opts.s, "-i and -s")):
        if _same(a, b):
            raise ValueError(f"{what} name the same file {a}")
    if os.path.isdir(opts.i):
        for flag, path in (("-o", opts.o), ("-f", opts.f), ("-s", opts.s)):
            if _same(os.path.dirname(os.path.abspath(path)), opts.i):
                raise ValueError(f"{flag} {path} lies in the input directory {opts.i}, whose "
                                 "files are all read as data")
    if os.path.isdir(opts.o):
        raise ValueError(f"-o {opts.o}: is a directory")
    if os.path.exists(opts.o) and not opts.force:
        raise ValueError(f"-o {opts.o} exists; pass --force to replace it")
    check_input("-i", opts.i, "input file or directory", directory=True, text=True)
    for flag, path in (("-f", opts.f), ("-s", opts.s)):
        if os.path.isdir(path):
            raise ValueError(f"{flag} {path}: is a directory, not an index file")

    mode = "new" if opts.c else "merge" if opts.m else "fixed"
    features = None
    if mode == "new":
        if os.path.isfile(opts.f) and os.path.getsize(opts.f) > 0 and not opts.force:
            raise ValueError(f"-f {opts.f} exists and -c would replace it with a new feature "
                             "index; pass --force to replace it, -m to add to it, or neither "
                             "-c nor -m to use it as it is")
    else:
        check_input("-f", opts.f, "feature index (pass -c to create one)", text=True)
        with blaming("-f", opts.f):
            features = tf.read_index(opts.f)
        if not features and mode == "fixed":
            raise ValueError(f"-f {opts.f}: the feature index is empty; pass -m to add the "
                             "input's features to it or -c to create a new one")
    samples = None
    if os.path.exists(opts.s):
        check_input("-s", opts.s, "sample index", text=True)
        with blaming("-s", opts.s):
            samples = tf.read_index(opts.s)

    with blaming("-i", opts.i):
        data = read_data_text(opts.i, warn, index_path=opts.f, features=features, mode=mode,
                              samples=samples, hint=" (-m adds them to the index)")
    rows = data.matrix.shape[0]
    if data.matrix.nnz == 0:
        raise ValueError(f"-i {opts.i}: no data points to write")
    width = tf.round_up(tf.index_width(data.features), 128)
    if width > _UINT32_MAX:
        raise ValueError(f"-f {opts.f}: the feature index spans {width} units, more than a data "
                         "set can hold")
    analog = opts.t == "analog"
    if analog and data.missing_values:
        warn(f"{data.missing_values} data points have no value; they were stored as 0.0 "
             "(DSSTNE's default)")
    if not np.array_equal(data.sample_rows, np.arange(rows)):
        warn(f"the rows of {opts.o} are not numbered as the sample index {opts.s} (it lists "
             "samples that are not in the input, or is not 0, 1, 2, ...); data sets made from "
             "other inputs with the same sample index may not line up row by row")

    m = data.matrix
    values = m.data if analog else np.ones(m.nnz, dtype=np.float32)
    csr = type(m)((values, m.indices, m.indptr), shape=(rows, width))
    with blaming("-o", opts.o):
        write_netcdf(opts.o, DataSet(opts.d, csr, boolean=not analog), overwrite=opts.force)
    for flag, path, index, added in (("-f", opts.f, data.features, data.features_added),
                                     ("-s", opts.s, data.sample_index, data.samples_added)):
        if added:
            with blaming(flag, path):
                tf.write_index(path, index)

    kind = "analog (Float)" if analog else "indicator (Boolean)"
    print(f"{opts.o}: data set '{opts.d}', {rows} examples, width {width}, {m.nnz} points, "
          f"{kind}")
    for path, index, added in ((opts.f, data.features, data.features_added),
                               (opts.s, data.sample_index, data.samples_added)):
        state = f"{added} added, written" if added else "unchanged"
        print(f"{path}: {len(index)} entries ({state})")
    return 0
