# SPDX-License-Identifier: Apache-2.0
"""The ``dsstne`` command: DSSTNE's tools as subcommands, with DSSTNE's flags.

``dsstne generateNetCDF -i data.txt -o data.nc -d name -f features -s samples -c``

Each tool is a module of this package with ``main(argv, prog) -> int``; :data:`TOOLS` maps the
tool's name (DSSTNE's spelling) to that module, so a new tool is one line there.
"""

from __future__ import annotations

import difflib
import importlib
import sys

__all__ = ["TOOLS", "main"]

#: tool name -> (module of dsstne.cli, one-line summary)
TOOLS = {
    "generateNetCDF": ("generate", "convert DSSTNE data text into a NetCDF data set"),
    "train": ("train", "train a network on NetCDF data sets and save the model"),
    "predict": ("predict", "write top-k recommendations of a trained model"),
    "encoder": ("encoder", "train, evaluate or gradient-check a network as a CDL file says"),
    "evaluate": ("evaluate", "measure recommendation quality against popularity and EASE"),
}


def _usage():
    width = max(len(name) for name in TOOLS)
    tools = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in TOOLS.items())
    return ("usage: dsstne <tool> [flags]   (dsstne <tool> --help for a tool's flags)\n\n"
            f"tools:\n{tools}\n")


def _resolve(name):
    """The tool `name` names: exact, else a case-insensitive match, else None."""
    if name in TOOLS:
        return name
    folded = {tool.lower(): tool for tool in TOOLS}
    return folded.get(name.lower())


def main(argv=None) -> int:
    """Runs ``dsstne <tool> [flags]``; returns the exit status (0 success, 1 error)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        sys.stderr.write("dsstne: no tool given\n" + _usage())
        return 1
    if args[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage())
        return 0
    if args[0] == "--version":
        from .. import __version__
        print(f"dsstne {__version__}")
        return 0
    tool = _resolve(args[0])
    if tool is None:
        close = difflib.get_close_matches(args[0], list(TOOLS), n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        sys.stderr.write(f"dsstne: unknown tool '{args[0]}'{hint}\n" + _usage())
        return 1
    module = importlib.import_module(f".{TOOLS[tool][0]}", __name__)
    return module.main(args[1:], prog=f"dsstne {tool}")
