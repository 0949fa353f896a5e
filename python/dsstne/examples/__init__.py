# SPDX-License-Identifier: Apache-2.0
"""The example network descriptions, installed with the package so they work outside the
source checkout::

    net = dsstne.Network(dsstne.examples.path("autoencoder.json"), data)

``python -m dsstne.examples NAME`` prints one (``> config.json`` to start your own from it),
``--path NAME`` its file name, and no argument lists them. ``examples/README.md`` in the
repository says what each is for and how well the recommendation configs do.
"""

from __future__ import annotations

import importlib.resources
import pathlib

__all__ = ["names", "path"]


def names() -> list[str]:
    """The file names of the example configs, sorted."""
    return sorted(entry.name for entry in importlib.resources.files(__name__).iterdir()
                  if entry.name.endswith(".json"))


def path(name: str) -> pathlib.Path:
    """The installed file of example config `name` (``"autoencoder.json"``; the ``.json`` may be
    left out)."""
    known = names()
    file = name if name.endswith(".json") else f"{name}.json"
    if file not in known:
        raise ValueError(f"no example config {name!r} (there are: {', '.join(known)})")
    return pathlib.Path(str(importlib.resources.files(__name__).joinpath(file)))
