# SPDX-License-Identifier: Apache-2.0
"""Flag parsing and error reporting shared by the dsstne tools: DSSTNE's single-dash flags, a
flag given twice is an error, and every failure is one line on stderr with exit status 1 (the
files a flag names are checked and blamed by :mod:`dsstne.cli.files`)."""

from __future__ import annotations

import argparse
import os
import sys

FIXED_SEED = 12134  # DSSTNE's train and predict seed


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def tool_parser(prog, description):
    """A tool's flag parser: errors raise UsageError, no abbreviated flags, -h/--help."""
    p = Parser(prog=prog, add_help=False, allow_abbrev=False, description=description)
    p.add_argument("-h", "--help", action="help", help="show this help and exit")
    return p


class Once(argparse.Action):
    """Stores a flag's value and refuses a second occurrence."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, f"_given_{self.dest}", False):
            raise UsageError(f"{option_string} given twice")
        setattr(namespace, f"_given_{self.dest}", True)
        setattr(namespace, self.dest, values)


def given(opts, dest):
    """Whether the flag of `dest` was on the command line (set by :class:`Once`)."""
    return getattr(opts, f"_given_{dest}", False)


def at_least(minimum):
    """An argparse `type` that reads an integer >= `minimum`."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


positive = at_least(1)


def default_device():
    """$DSSTNE_DEVICE, else cuda when this build has CUDA and sees a GPU, else cpu."""
    env = os.environ.get("DSSTNE_DEVICE")
    if env:
        return env
    from .. import cuda_built, cuda_device_count
    return "cuda" if cuda_built() and cuda_device_count() > 0 else "cpu"


def add_device_flag(p, what):
    """--device (left unset it becomes :func:`default_device` when the flags are parsed) and
    --precision, the arithmetic of the dense products (``dsstne.Context(precision=...)``)."""
    p.add_argument("--device", action=Once, default=None, choices=("cpu", "cuda"),
                   help=f"{what} (default: $DSSTNE_DEVICE, else cuda when a GPU is present, "
                        "else cpu)")
    p.add_argument("--precision", action=Once, default="fp32", choices=("fp32", "tf32", "bf16"),
                   help="arithmetic of the dense products: exact float32 (default), TF32 tensor "
                        "cores (GPU only), or bfloat16 inputs with float32 sums")


def warner(prog):
    """A function printing ``<prog>: warning: <message>`` on stderr."""
    def warn(message):
        sys.stderr.write(f"{prog}: warning: {message}\n")
    return warn


def read_data_text(path, warn, *, index_path=None, index_role="feature index", features=None,
                   mode="new", samples=None, hint=""):
    """DSSTNE data text read as every tool reads it: ``textformats.read_data(path, ...)``, an
    error when it has no data line, warnings for points whose feature is not in the index
    (`index_path`; `hint` ends that warning) and for samples given on several lines."""
    from .. import textformats as tf

    data = tf.read_data(path, features=features, feature_mode=mode, samples=samples)
    if data.matrix.shape[0] == 0:
        raise ValueError(f"{path}: no data lines (expected 'sample<TAB>feature[,value]:...')")
    if data.dropped_points:
        shown = ", ".join(repr(f) for f in data.dropped_features[:5])
        more = ", ..." if len(data.dropped_features) > 5 else ""
        warn(f"{data.dropped_points} data points of {path} name features that are not in the "
             f"{index_role} {index_path} ({len(data.dropped_features)} distinct: {shown}{more}); "
             f"they were left out{hint}")
    if data.replaced_lines:
        warn(f"{data.replaced_lines} lines of {path} name a sample that appears again later; "
             "each sample keeps only its last line")
    return data


def message(e):
    """The text of exception `e` on one line (an OSError as ``file: reason``)."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        text = f"{os.fspath(e.filename)}: {e.strerror}"
    else:
        text = str(e)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


# Exceptions whose message is the whole story; any other type is named after its message, so a
# one-line report of a bug still says what broke.
_EXPECTED = (ValueError, OSError, TypeError, NotImplementedError, MemoryError, RuntimeError)


def describe(e):
    """One line for exception `e`: its message, followed by its type when that is unexpected."""
    text = message(e)
    if isinstance(e, _EXPECTED):
        return text
    return f"{text} ({type(e).__name__})" if text else type(e).__name__


def same_file(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def _say(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# What Open MPI, MPICH (Hydra) and PMIx tell the processes mpirun starts.
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def _launch_number(names, default):
    for name in names:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return default


def launched_ranks():
    """How many processes mpirun started this tool in (1 when it runs alone)."""
    return _launch_number(_SIZE_VARIABLES, 1)


def launched_rank():
    """This process's rank among them (0 when alone)."""
    return _launch_number(_RANK_VARIABLES, 0)


def tool_context(device, seed, precision="fp32"):
    """The context the tools' networks run on: shared by every rank of MPI.COMM_WORLD when
    mpirun started several processes (model parallelism), this process alone otherwise."""
    from .. import Context
    if launched_ranks() > 1:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError("running under mpirun needs mpi4py (pip install mpi4py)") from None
        return Context(device, seed, comm=MPI.COMM_WORLD, precision=precision)
    return Context(device, seed, precision=precision)


def one_process(tool):
    """Refuses to run `tool` in several processes: it does not share its work across ranks."""
    if launched_ranks() > 1:
        raise ValueError(f"{tool} runs in one process; start it without mpirun (only train and "
                         "predict share a network across ranks)")


def run_tool(parser, argv, prog, run, interrupted=None) -> int:
    """Parses `argv` and calls `run(opts, prog)`. Usage errors print the usage line and the
    error; any exception of the run prints one line ``<prog>: error: <what>``; both exit 1.
    Ctrl-C exits 130 after `interrupted(opts, prog)` (default: ``<prog>: interrupted``).
    DSSTNE_TRACEBACK=1 lets exceptions through, for debugging the tools themselves."""
    try:
        opts = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except UsageError as e:
        sys.stderr.write(parser.format_usage())
        _say(f"{prog}: error: {e}")
        return 1
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    # Under mpirun rank 0 alone prints; the others' errors show only when they are their own.
    quiet = launched_rank() > 0
    stdout = sys.stdout
    if quiet:
        sys.stdout = open(os.devnull, "w")
    try:
        if getattr(opts, "device", "") is None:
            opts.device = default_device()
        return run(opts, prog)
    except KeyboardInterrupt:
        if interrupted is None:
            _say(f"{prog}: interrupted")
        else:
            interrupted(opts, prog)
        return 130
    except Exception as e:  # every failure is one line, not a traceback
        if os.environ.get("DSSTNE_TRACEBACK") == "1":
            raise
        what = describe(e)
        if isinstance(e, MemoryError):
            what = f"out of memory: {what}" if what else "out of memory"
        if not quiet or type(e).__name__ == "CommunicationError":
            rank = f" (rank {launched_rank()})" if launched_ranks() > 1 else ""
            _say(f"{prog}: error{rank}: {what}")
        return 1
    finally:
        if quiet:
            sys.stdout.close()
            sys.stdout = stdout
