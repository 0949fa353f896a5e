# SPDX-License-Identifier: Apache-2.0
"""``dsstne train``: train a network on NetCDF data sets and save the model (docs/tools.md).

DSSTNE's flags: ``-c`` JSON config, ``-i`` input data sets (.nc), ``-o`` output (target) data
sets (.nc), ``-n`` model file to write, ``-b`` batch (1024), ``-e`` epochs (40), ``-alpha``
(0.025), ``-lambda`` (0.0001), ``-lambda1`` (0), ``-mu`` (0.5), ``-mu1`` (Adam's beta2: 0.999
with ``--optimizer adam``, else 0 as in DSSTNE). Every data set of ``-i`` and ``-o`` is loaded and
bound to the layers whose ``DataSet`` names it; ``"N": "auto"`` sizes are resolved against them.

Where it differs from DSSTNE (its traps):

* ``--optimizer`` picks the optimizer (DSSTNE: always SGD, still the default);
* ``--continue MODEL.nc`` loads a saved model (weights, optimizer state, epoch count) and trains
  on; ``-c`` is then optional. ``train -e 2`` then ``train --continue -e 2`` gives the same
  weights as ``train -e 4`` (same seed, batch and optimizer);
* an existing ``-n`` is refused as in DSSTNE, but ``--force`` replaces it; the model is written
  atomically (a temporary file renamed over ``-n``), so an interrupted save keeps the old file;
* checkpoints are off by default; ``--checkpoint N`` writes ``<stem><epoch>.nc`` next to ``-n``
  every N epochs (stem = ``-n`` without ``.nc``; epoch = the network's cumulative epoch count).
  DSSTNE always wrote ``<-n><epoch>.nc`` (e.g. ``gl.nc10.nc``) every 10 epochs;
* no ``initial_network.nc`` is written into the working directory (DSSTNE did, always);
  ``--save-initial FILE`` saves the untrained network there;
* a data set narrower or wider than the input or output layer it feeds is refused, naming its
  flag, file, the layer and both sizes;
* a flag given twice, an unknown flag, a bad number or a bad file is a one-line error, exit
  status 1 (DSSTNE: the first one won, unknown flags were ignored, bad numbers aborted).
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import FIXED_SEED, add_device_flag, at_least, run_tool, tool_context, tool_parser
from .common import Once as _Once
from .common import positive as _positive
from .common import same_file as _same
from .files import blaming, building, check_input, check_text, origins

OPTIMIZERS = ("sgd", "momentum", "adagrad", "nesterov", "rmsprop", "adadelta", "adam")


_count = at_least(0)


def real(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def add_training_flags(p, optimizer_help="optimizer (default sgd as in DSSTNE)"):
    """DSSTNE train's training flags (-b -e -alpha -lambda -lambda1 -mu -mu1) and --optimizer,
    for every tool that trains; read them back with :func:`training_params`."""
    p.add_argument("-b", action=_Once, type=_positive, default=1024, metavar="N",
                   help="mini-batch size (default 1024)")
    p.add_argument("-e", action=_Once, type=_count, default=40, metavar="N",
                   help="epochs to train (default 40)")
    p.add_argument("-alpha", action=_Once, type=real, default=0.025, metavar="F",
                   help="learning rate (default 0.025)")
    p.add_argument("-lambda", dest="lambda_", action=_Once, type=real, default=0.0001,
                   metavar="F", help="L2 weight decay (default 0.0001)")
    p.add_argument("-lambda1", action=_Once, type=real, default=0.0, metavar="F",
                   help="L1 weight decay (default 0)")
    p.add_argument("-mu", action=_Once, type=real, default=0.5, metavar="F",
                   help="momentum / RMSProp decay / Adam beta1 / AdaDelta rho (default 0.5)")
    p.add_argument("-mu1", action=_Once, type=real, default=None, metavar="F",
                   help="Adam beta2 (default 0.999 for adam, else 0 as in DSSTNE)")
    p.add_argument("--optimizer", action=_Once, type=str.lower, default=None,
                   choices=OPTIMIZERS,
                   help=optimizer_help)


def training_params(opts, optimizer=None):
    """Network.train's keyword arguments from parsed training flags; `optimizer` replaces a
    missing --optimizer (default sgd). Adam's beta2 defaults to 0.999, DSSTNE's -mu1 to 0."""
    optimizer = opts.optimizer or optimizer or "sgd"
    mu1 = opts.mu1 if opts.mu1 is not None else (0.999 if optimizer == "adam" else 0.0)
    return dict(alpha=opts.alpha, lambda_=opts.lambda_, lambda1=opts.lambda1, mu=opts.mu,
                mu1=mu1, optimizer=optimizer)


def _parser(prog):
    p = tool_parser(prog, "Train a network described in DSSTNE's JSON language on NetCDF data "
                          "sets and save it as a NetCDF model file.")
    p.add_argument("-c", action=_Once, metavar="JSON",
                   help="network description (required unless --continue)")
    p.add_argument("-i", action=_Once, required=True, metavar="NC",
                   help="NetCDF file with the input data set(s)")
    p.add_argument("-o", action=_Once, required=True, metavar="NC",
                   help="NetCDF file with the output (target) data set(s)")
    p.add_argument("-n", action=_Once, required=True, metavar="NC",
                   help="model file to write (must not exist unless --force)")
    p.add_argument("-d", action=_Once, metavar="NAME",
                   help="accepted for DSSTNE's usage line and ignored: data sets bind by the "
                        "names stored in -i and -o")
    add_training_flags(p, "optimizer (default sgd as in DSSTNE; with --continue, the saved one)")
    p.add_argument("--checkpoint", action=_Once, type=_count, default=0, metavar="N",
                   help="save <stem><epoch>.nc next to -n every N epochs (default 0: never)")
    p.add_argument("--continue", dest="resume", action=_Once, metavar="MODEL",
                   help="load this saved model and keep training it")
    p.add_argument("--save-initial", action=_Once, metavar="FILE",
                   help="also save the network before training to FILE")
    p.add_argument("--force", action="store_true",
                   help="replace an existing -n (and checkpoint / --save-initial files)")
    p.add_argument("--seed", action=_Once, type=int, default=FIXED_SEED, metavar="N",
                   help=f"random seed (default {FIXED_SEED}, DSSTNE's fixed seed)")
    add_device_flag(p, "where to train")
    return p


def main(argv=None, prog="dsstne train") -> int:
    def interrupted(opts, prog):
        sys.stderr.write(f"{prog}: interrupted; {opts.n} was not written\n")

    return run_tool(_parser(prog), argv, prog, run, interrupted)


def checkpoint_path(model, epoch):
    """``<stem><epoch>.nc`` next to `model` (stem: `model` without a final ``.nc``)."""
    stem = model[:-3] if model.endswith(".nc") else model
    return f"{stem}{epoch}.nc"


def _load_data(paths):
    """{data set name: (flag, path, DataSet)} of the NetCDF files of `paths` ((flag, path)
    pairs; a file given twice is read once)."""
    from ..netcdf import read_netcdf
    loaded, seen = [], []
    for flag, path in paths:
        check_input(flag, path, "data set file")
        if any(_same(path, p) for p in seen):
            continue
        seen.append(path)
        with blaming(flag, path):
            loaded.append((flag, path, read_netcdf(path)))
    return origins(loaded)


def _progress(stats, first, last, tty):
    epoch = stats["epoch"]
    text = f"epoch {epoch:>4}  error {stats['error']:.6g}  {stats['seconds']:.2f} s"
    if tty:
        done, total = epoch - first + 1, last - first + 1
        width = 20
        bar = "#" * (done * width // total) + "." * (width - done * width // total)
        text = f"[{bar}] {done}/{total}  " + text
    print(text, flush=True)


def run(opts, prog="dsstne train"):
    """Runs the tool on parsed options; raises ValueError/OSError on bad input."""
    from .. import Network
    from ..model import load_network, save_network

    if opts.c is None and opts.resume is None:
        raise ValueError("-c (network description) is required unless --continue MODEL is given")
    if opts.c is not None:
        check_text("-c", opts.c, "JSON network description")
    if opts.resume is not None:
        check_input("--continue", opts.resume, "model file")
    if os.path.isdir(opts.n):
        raise ValueError(f"-n {opts.n}: is a directory")
    if os.path.exists(opts.n) and not opts.force:
        raise ValueError(f"-n {opts.n} exists; pass --force to replace it")
    for flag, path in (("-i", opts.i), ("-o", opts.o), ("-c", opts.c)):
        if path is not None and _same(path, opts.n):
            raise ValueError(f"{flag} and -n name the same file {path}")
    if opts.save_initial is not None and os.path.exists(opts.save_initial) and not opts.force:
        raise ValueError(f"--save-initial {opts.save_initial} exists; pass --force to replace it")

    found = _load_data((("-i", opts.i), ("-o", opts.o)))
    data = [ds for _, _, ds in found.values()]
    if opts.resume is not None:
        if opts.c is not None:
            sys.stderr.write(f"{prog}: warning: -c {opts.c} is ignored with --continue (the "
                             f"network is the one saved in {opts.resume})\n")
        flag, path = "--continue", opts.resume
        with building(flag, path, found):
            net = load_network(path, data, batch=opts.b,
                               context=tool_context(opts.device, opts.seed, opts.precision))
    else:
        flag, path = "-c", opts.c
        with building(flag, path, found):
            net = Network(path, data, batch=opts.b,
                          context=tool_context(opts.device, opts.seed, opts.precision))
    if net.examples == 0:
        raise ValueError(f"-i {opts.i}: the input data set has no examples")

    saved = (net.training_mode or "").lower() if opts.resume is not None else ""
    params = training_params(opts, saved if saved in OPTIMIZERS else None)
    optimizer = params["optimizer"]
    if opts.save_initial is not None:
        save_network(net, opts.save_initial, overwrite=opts.force)

    first = net.epochs_trained + 1
    last = net.epochs_trained + opts.e
    print(f"{net.name}: {net.examples} examples, batch {opts.b}, {optimizer}, epochs {first} to "
          f"{last} on {opts.device}", flush=True)
    if opts.checkpoint:
        for epoch in range(first, last + 1):
            path = checkpoint_path(opts.n, epoch)
            if epoch % opts.checkpoint == 0 and os.path.exists(path) and not opts.force:
                raise ValueError(f"checkpoint {path} exists; pass --force to replace it")
    tty = sys.stdout.isatty()
    stats = None
    for _ in range(opts.e):
        (stats,) = net.train(1, **params)
        _progress(stats, first, last, tty)
        if opts.checkpoint and stats["epoch"] % opts.checkpoint == 0:
            path = checkpoint_path(opts.n, stats["epoch"])
            save_network(net, path, overwrite=opts.force)
            print(f"checkpoint {path}", flush=True)
    save_network(net, opts.n, overwrite=opts.force)
    error = f", error {stats['error']:.6g}" if stats else ""
    print(f"{opts.n}: {net.epochs_trained} epochs trained{error}")
    return 0
