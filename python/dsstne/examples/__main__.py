# SPDX-License-Identifier: Apache-2.0
"""``python -m dsstne.examples [--path] [NAME]``: print an example config (or its file name), or
list them."""

import sys

from . import names, path


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    show_path = args[:1] == ["--path"]
    args = args[1:] if show_path else args
    if not args:
        print("\n".join(names()))
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python -m dsstne.examples [--path] [NAME]\n")
        return 1
    try:
        file = path(args[0])
    except ValueError as e:
        sys.stderr.write(f"python -m dsstne.examples: error: {e}\n")
        return 1
    sys.stdout.write(f"{file}\n" if show_path else file.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
